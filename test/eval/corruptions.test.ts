import { describe, expect, it } from 'vitest';

import {
  CORRUPTION_IDS,
  HELD_OUT_CORRUPTIONS,
  SEVERITIES,
  TRAINING_CORRUPTIONS,
  applyCorruption,
  type CorruptionId,
  type GrayImage,
  type Severity,
} from '../../pipeline/eval/corruptions.js';
import { createRandom } from '../../pipeline/eval/random.js';
import { makeSyntheticScan } from './syntheticScan.js';

function meanAbsoluteDifference(a: Uint8Array, b: Uint8Array): number {
  let total = 0;
  for (let i = 0; i < a.length; i++) total += Math.abs(a[i] - b[i]);
  return total / a.length;
}

function countNonZero(values: Uint8Array): number {
  let count = 0;
  for (const value of values) if (value !== 0) count++;
  return count;
}

function uniformImage(value: number, width = 64, height = 48): GrayImage {
  return { pixels: new Uint8Array(width * height).fill(value), width, height };
}

describe('corruption families', () => {
  it('held-out list marks unseen families', () => {
    expect([...HELD_OUT_CORRUPTIONS].sort()).toEqual(['depth_zoom', 'motion_blur']);
    expect(TRAINING_CORRUPTIONS).toHaveLength(5);
    for (const id of HELD_OUT_CORRUPTIONS) expect(TRAINING_CORRUPTIONS).not.toContain(id);
    expect(new Set(CORRUPTION_IDS).size).toBe(7);
  });

  describe.each(CORRUPTION_IDS.map((id) => [id]))('%s', (id: CorruptionId) => {
    const scan = makeSyntheticScan();

    it(`${id} is deterministic per seed`, () => {
      const first = applyCorruption(scan, id, 2, 17);
      const second = applyCorruption(scan, id, 2, 17);
      expect(second.pixels).toEqual(first.pixels);
      expect(second.mask).toEqual(first.mask);
    });

    it(`${id} leaves the input untouched`, () => {
      const pixels = Uint8Array.from(scan.pixels);
      const mask = Uint8Array.from(scan.mask);
      applyCorruption(scan, id, 3, 5);
      expect(scan.pixels).toEqual(pixels);
      expect(scan.mask).toEqual(mask);
    });

    it(`${id} grows with severity`, () => {
      const differences = SEVERITIES.map((severity: Severity) =>
        meanAbsoluteDifference(scan.pixels, applyCorruption(scan, id, severity, 9).pixels),
      );
      expect(differences[0]).toBeGreaterThan(0);
      expect(differences[1]).toBeGreaterThan(differences[0]);
      expect(differences[2]).toBeGreaterThan(differences[1]);
    });

    it(`${id} keeps size and mask presence`, () => {
      const withMask = applyCorruption(scan, id, 1, 3);
      const withoutMask = applyCorruption({ pixels: scan.pixels, width: scan.width, height: scan.height }, id, 1, 3);
      expect(withMask.pixels).toHaveLength(scan.pixels.length);
      expect(withMask.mask).toHaveLength(scan.mask.length);
      expect(withoutMask.mask).toBeUndefined();
    });
  });
});

describe('lift_off', () => {
  it('lift_off blackens one side only', () => {
    const scan = makeSyntheticScan({ seed: 2 });
    for (let seed = 0; seed < 6; seed++) {
      const { pixels } = applyCorruption(scan, 'lift_off', 2, seed);
      const column = (x: number) => Array.from({ length: scan.height }, (_, y) => pixels[y * scan.width + x]);
      const originalColumn = (x: number) => Array.from({ length: scan.height }, (_, y) => scan.pixels[y * scan.width + x]);
      const leftBlack = column(0).every((value) => value === 0);
      const rightBlack = column(scan.width - 1).every((value) => value === 0);
      expect(leftBlack !== rightBlack).toBe(true);
      const intactEdge = leftBlack ? scan.width - 1 : 0;
      expect(column(intactEdge)).toEqual(originalColumn(intactEdge));
    }
  });
});

describe('gain_contrast', () => {
  it('gain_contrast keeps grey order', () => {
    const ramp = Uint8Array.from({ length: 256 }, (_, i) => i);
    const image = { pixels: ramp, width: 16, height: 16 };
    for (let seed = 0; seed < 4; seed++) {
      const { pixels } = applyCorruption(image, 'gain_contrast', 3, seed);
      for (let i = 1; i < 256; i++) expect(pixels[i]).toBeGreaterThanOrEqual(pixels[i - 1]);
      expect(pixels[255] - pixels[0]).toBeLessThan(255);
    }
  });
});

describe('depth_zoom', () => {
  it('depth_zoom moves mask with pixels', () => {
    const scan = makeSyntheticScan({ width: 90, height: 90, centreY: 0.3, radius: 0.12 });
    // Make the image a picture of its mask, so a transformed image must match the transformed mask.
    const picture = Uint8Array.from(scan.mask, (value) => (value ? 220 : 20));
    const areaBefore = countNonZero(scan.mask);
    const ratios = new Set<string>();
    for (let seed = 0; seed < 8; seed++) {
      const zoomed = applyCorruption({ ...scan, pixels: picture }, 'depth_zoom', 3, seed);
      const mask = zoomed.mask!;
      let agree = 0;
      for (let i = 0; i < mask.length; i++) if ((zoomed.pixels[i] > 120) === (mask[i] !== 0)) agree++;
      expect(agree / mask.length).toBeGreaterThan(0.99);

      // Scaling by 1.5 about the top centre multiplies the area by 1.5² or 1/1.5².
      const ratio = countNonZero(mask) / areaBefore;
      const zoomedIn = Math.abs(ratio - 2.25) < 0.15;
      const zoomedOut = Math.abs(ratio - 1 / 2.25) < 0.05;
      expect(zoomedIn || zoomedOut).toBe(true);
      ratios.add(zoomedIn ? 'in' : 'out');
    }
    expect(ratios.size).toBe(2);
  });

  it('depth_zoom pads with black when zooming out', () => {
    const image = uniformImage(150, 60, 60);
    const corners = new Set<number>();
    for (let seed = 0; seed < 8; seed++) {
      const { pixels } = applyCorruption(image, 'depth_zoom', 2, seed);
      // The top centre is the fixed point of the scaling.
      expect(pixels[30]).toBe(150);
      corners.add(pixels[59 * 60]);
    }
    // Zooming in keeps the corner inside the image; zooming out leaves it as padding.
    expect([...corners].sort((a, b) => a - b)).toEqual([0, 150]);
  });
});

describe('speckle', () => {
  it('speckle keeps black pixels black', () => {
    const { pixels } = applyCorruption(uniformImage(0), 'speckle', 3, 1);
    expect(countNonZero(pixels)).toBe(0);
  });

  it('speckle is mean-one multiplicative noise', () => {
    const { pixels } = applyCorruption(uniformImage(100, 200, 200), 'speckle', 1, 4);
    let total = 0;
    let squares = 0;
    for (const value of pixels) {
      total += value;
      squares += value * value;
    }
    const mean = total / pixels.length;
    const deviation = Math.sqrt(squares / pixels.length - mean * mean);
    expect(Math.abs(mean - 100)).toBeLessThan(1);
    // σ = 0.15 of 100 grey levels; the 3 × 3 smoothing is rescaled to unit variance.
    expect(deviation).toBeGreaterThan(12);
    expect(deviation).toBeLessThan(18);
  });
});

describe('motion_blur', () => {
  it('motion_blur keeps flat image flat', () => {
    const { pixels } = applyCorruption(uniformImage(77), 'motion_blur', 3, 2);
    expect(pixels.every((value) => value === 77)).toBe(true);
  });

  it('motion_blur lowers texture variance', () => {
    const random = createRandom(8);
    const width = 200;
    const noise = Uint8Array.from({ length: width * width }, () => random.nextInt(256));
    const { pixels } = applyCorruption({ pixels: noise, width, height: width }, 'motion_blur', 3, 2);
    const variance = (values: Uint8Array) => {
      const mean = values.reduce((a, b) => a + b, 0) / values.length;
      return values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length;
    };
    expect(variance(pixels)).toBeLessThan(0.3 * variance(noise));
  });
});

describe('acoustic_shadow', () => {
  it('acoustic_shadow darkens the structure below', () => {
    const scan = makeSyntheticScan({ seed: 3 });
    const maskTop = Math.floor(scan.mask.findIndex((value) => value !== 0) / scan.width);
    for (let seed = 0; seed < 5; seed++) {
      const { pixels } = applyCorruption(scan, 'acoustic_shadow', 3, seed);
      // The reflector sits at most 10% of the height above the structure.
      const untouchedRows = Math.floor(maskTop - 0.1 * scan.height) - 1;
      expect(pixels.subarray(0, untouchedRows * scan.width)).toEqual(scan.pixels.subarray(0, untouchedRows * scan.width));
      let darkened = 0;
      for (let i = 0; i < pixels.length; i++) if (scan.mask[i] && pixels[i] < scan.pixels[i]) darkened++;
      expect(darkened).toBeGreaterThan(10);
    }
  });
});

describe('occlusion', () => {
  it('occlusion paints a band across the structure', () => {
    const scan = makeSyntheticScan({ seed: 4 });
    for (let seed = 0; seed < 6; seed++) {
      const { pixels } = applyCorruption(scan, 'occlusion', 2, seed);
      const changed = new Uint8Array(pixels.length);
      for (let i = 0; i < pixels.length; i++) changed[i] = pixels[i] !== scan.pixels[i] ? 1 : 0;
      let maskCovered = 0;
      const values = new Set<number>();
      for (let i = 0; i < pixels.length; i++) {
        if (changed[i]) values.add(pixels[i]);
        if (changed[i] && scan.mask[i]) maskCovered++;
      }
      expect(values.size).toBe(1);
      expect(maskCovered).toBeGreaterThan(0);
    }
  });
});

describe('applyCorruption validation', () => {
  const scan = makeSyntheticScan();

  it('rejects severity outside one to three', () => {
    expect(() => applyCorruption(scan, 'speckle', 4 as Severity, 0)).toThrow(/severity/);
  });

  it('rejects pixel count mismatch', () => {
    expect(() => applyCorruption({ ...scan, width: scan.width + 1 }, 'speckle', 1, 0)).toThrow(/expected/);
  });

  it('rejects unknown family', () => {
    expect(() => applyCorruption(scan, 'fog' as CorruptionId, 1, 0)).toThrow(/unknown corruption/);
  });
});
