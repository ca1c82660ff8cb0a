import { describe, expect, it } from 'vitest';

import { computeLetterbox } from '../../pipeline/letterbox.js';
import {
  contentRegion,
  groundTruthToModel,
  marginUncertainty,
  meanProbabilities,
  nearContourBand,
  normalisedEntropy,
  pixelErrors,
  softmax,
} from '../../pipeline/eval/pixels.js';
import { TTA_TRANSFORMS, applyTtaToInput, ttaTransforms, undoTtaOnMaps } from '../../pipeline/eval/tta.js';

function count(values: Uint8Array): number {
  return values.reduce((total, value) => total + (value ? 1 : 0), 0);
}

describe('pixel helpers', () => {
  it('content region excludes padding', () => {
    // A 40 × 20 frame in a 16 × 16 input: scale 0.4, content 16 × 8, offset y 4.
    const letterbox = computeLetterbox(40, 20, 16, 16);
    const region = contentRegion(letterbox);
    expect(count(region)).toBe(16 * 8);
    expect(region[3 * 16]).toBe(0);
    expect(region[4 * 16]).toBe(1);
    expect(region[11 * 16 + 15]).toBe(1);
    expect(region[12 * 16]).toBe(0);
  });

  it('ground truth follows the letterbox', () => {
    // The left half of a 40 × 20 frame is structure: the left 8 columns of the content rows.
    const mask = new Uint8Array(40 * 20);
    for (let y = 0; y < 20; y++) mask.fill(255, y * 40, y * 40 + 20);
    const truth = groundTruthToModel(mask, 40, 20, 16, 16);
    expect(count(truth)).toBe(8 * 8);
    expect(truth[4 * 16 + 7]).toBe(1);
    expect(truth[4 * 16 + 8]).toBe(0);
    expect(truth[3 * 16]).toBe(0);
  });

  it('pixel errors compare classes', () => {
    expect(Array.from(pixelErrors(Uint8Array.of(0, 1, 1, 0), Uint8Array.of(0, 1, 0, 1)))).toEqual([0, 0, 1, 1]);
  });

  it('near-contour band of a square', () => {
    // A 10 × 10 square in a 40 × 40 map, band radius 2: the ring from 2 outside to 2 inside the edge.
    const width = 40;
    const label = new Uint8Array(width * width);
    for (let y = 15; y < 25; y++) label.fill(1, y * width + 15, y * width + 25);
    const band = nearContourBand(label, width, width, 2);
    expect(band[20 * width + 20]).toBe(0);
    expect(band[20 * width + 17]).toBe(1);
    expect(band[20 * width + 18]).toBe(0);
    expect(band[20 * width + 13]).toBe(1);
    expect(band[20 * width + 12]).toBe(0);
    // Corners: (13, 13) is √8 > 2 from the contour corner (15, 15).
    expect(band[13 * width + 13]).toBe(0);
    expect(band[14 * width + 14]).toBe(1);
  });

  it('near-contour band empty without structure', () => {
    expect(count(nearContourBand(new Uint8Array(100), 10, 10))).toBe(0);
  });

  it('softmax entropy and margin', () => {
    // Two pixels, two classes, layout [C, H, W]: pixel 0 undecided, pixel 1 confident.
    const probabilities = softmax(Float32Array.of(0, 2, 0, 12), 2);
    expect(probabilities[0]).toBeCloseTo(0.5, 6);
    expect(probabilities[3]).toBeCloseTo(1 / (1 + Math.exp(-10)), 6);
    const entropy = normalisedEntropy(probabilities, 2);
    expect(entropy[0]).toBeCloseTo(1, 6);
    expect(entropy[1]).toBeLessThan(0.01);
    const margin = marginUncertainty(probabilities, 2);
    expect(margin[0]).toBeCloseTo(1, 6);
    expect(margin[1]).toBeCloseTo(2 / (1 + Math.exp(10)), 6);
  });

  it('softmax survives large logits', () => {
    const probabilities = softmax(Float32Array.of(1000, 0), 2);
    expect(Array.from(probabilities)).toEqual([1, 0]);
  });

  it('mean probabilities of passes', () => {
    expect(Array.from(meanProbabilities([Float32Array.of(0.2, 1), Float32Array.of(0.4, 0)]))).toEqual([
      Math.fround(0.3),
      0.5,
    ]);
  });
});

describe('test-time augmentation', () => {
  const normalisation = { mean: 0.2, std: 0.25, letterbox_pad_value: 0 };
  const width = 12;
  const height = 3;
  const raw = Array.from({ length: width * height }, (_, i) => (i % width < 2 || i % width > 9 ? 0 : 20 * (i % width)));
  const input = Float32Array.from(raw, (value) => (value / 255 - normalisation.mean) / normalisation.std);

  it('lists eight transforms in order', () => {
    expect(TTA_TRANSFORMS.map((t) => t.id)).toEqual([
      'identity',
      'flip',
      'gain_0.9',
      'gain_1.1',
      'flip_gain_0.9',
      'flip_gain_1.1',
      'shift_left_4',
      'shift_right_4',
    ]);
    expect(ttaTransforms(4)).toHaveLength(4);
    expect(() => ttaTransforms(9)).toThrow(/from 1 to 8/);
  });

  it('undo restores an equivariant model', () => {
    // An "equivariant model" whose output is its input: undoing must give back the original grid
    // (away from the columns a shift moves out of view).
    for (const transform of TTA_TRANSFORMS.filter((t) => t.gain === 1)) {
      const restored = undoTtaOnMaps(applyTtaToInput(input, width, height, transform, normalisation), 1, width, height, transform);
      for (let y = 0; y < height; y++) {
        for (let x = 4; x < width - 4; x++) expect(restored[y * width + x]).toBeCloseTo(input[y * width + x], 6);
      }
    }
  });

  it('gain scales raw grey and clips', () => {
    const bright = Float32Array.from([0, 100, 250], (value) => (value / 255 - normalisation.mean) / normalisation.std);
    const gained = applyTtaToInput(bright, 3, 1, TTA_TRANSFORMS[3], normalisation);
    const toRaw = (value: number) => (value * normalisation.std + normalisation.mean) * 255;
    expect(toRaw(gained[0])).toBeCloseTo(0, 4);
    expect(toRaw(gained[1])).toBeCloseTo(110, 4);
    expect(toRaw(gained[2])).toBeCloseTo(255, 4);
  });

  it('shift fills with padding value', () => {
    const shifted = applyTtaToInput(input, width, height, TTA_TRANSFORMS[7], normalisation);
    const pad = (0 / 255 - normalisation.mean) / normalisation.std;
    for (let x = 0; x < 4; x++) expect(shifted[x]).toBeCloseTo(pad, 6);
    expect(shifted[6]).toBeCloseTo(input[2], 6);
  });

  it('undo handles several channels', () => {
    const maps = Float32Array.from({ length: 2 * width * height }, (_, i) => i);
    const flip = TTA_TRANSFORMS[1];
    const twice = undoTtaOnMaps(undoTtaOnMaps(maps, 2, width, height, flip), 2, width, height, flip);
    expect(Array.from(twice)).toEqual(Array.from(maps));
    expect(undoTtaOnMaps(maps, 2, width, height, flip)[width * height]).toBe(width * height + width - 1);
  });
});
