import { describe, expect, it } from 'vitest';

import { computeLetterbox, letterboxNormalise } from '../../pipeline/letterbox.js';
import { dice, maskToFrame } from '../../pipeline/mask.js';
import type { ModelInputSpec } from '../../pipeline/manifest.js';

const spec = (width: number, height: number, mean = 0, std = 1, pad = 0): ModelInputSpec => ({
  name: 'image', width, height, mean, std, letterbox_pad_value: pad,
});

describe('computeLetterbox', () => {
  it('carotid frame into 256 square', () => {
    // 709 × 749 into 256 × 256: scale = 256 / 749; width 709 × scale = 242.33 -> 242; margin 14 -> offset 7.
    const box = computeLetterbox(709, 749, 256, 256);
    expect(box.scale).toBeCloseTo(256 / 749, 12);
    expect(box.contentWidth).toBe(242);
    expect(box.contentHeight).toBe(256);
    expect(box.offsetX).toBe(7);
    expect(box.offsetY).toBe(0);
  });

  it('wide frame pads top and bottom', () => {
    // 400 × 100 into 200 × 200: scale 0.5, content 200 × 50, margin 150 -> offset 75.
    expect(computeLetterbox(400, 100, 200, 200)).toEqual({
      modelWidth: 200, modelHeight: 200, scale: 0.5, offsetX: 0, offsetY: 75, contentWidth: 200, contentHeight: 50,
    });
  });

  it('rounds half to even', () => {
    // 5 × 20 into 10 × 10: scale 0.5, width 2.5 -> 2 (Python round), not 3.
    const box = computeLetterbox(5, 20, 10, 10);
    expect(box.contentWidth).toBe(2);
    expect(box.offsetX).toBe(4);
  });
});

describe('letterboxNormalise', () => {
  it('bilinear upscale by two', () => {
    // Frame [[0, 100], [200, 255]] into 4 × 4 (per-axis ratio 0.5). Column sources: -0.25 -> 0,
    // 0.25, 0.75, 1.25 -> clamped to the last pixel. Row 0 is then 0, 25, 75, 100.
    const { tensor, letterbox } = letterboxNormalise(Uint8Array.from([0, 100, 200, 255]), 2, 2, spec(4, 4, 0, 1 / 255));
    expect(letterbox.scale).toBe(2);
    const row = (y: number) => [...tensor.subarray(y * 4, y * 4 + 4)].map((v) => Math.round(v * 1000) / 1000);
    expect(row(0)).toEqual([0, 25, 75, 100]);
    // Row 1 samples 0.25 of the way to row 1: 0.75 × [0, 25, 75, 100] + 0.25 × [200, 213.75, 241.25, 255].
    expect(row(1)).toEqual([50, 72.188, 116.563, 138.75]);
    expect(row(3)).toEqual([200, 213.75, 241.25, 255]);
  });

  it('pads with normalised pad value', () => {
    // 4 × 2 frame into 4 × 4: content rows 1..2, rows 0 and 3 are padding 10 -> (10/255 - 0.5) / 0.25.
    const gray = new Uint8Array(8).fill(200);
    const { tensor, letterbox } = letterboxNormalise(gray, 4, 2, spec(4, 4, 0.5, 0.25, 10));
    expect(letterbox.offsetY).toBe(1);
    const padValue = (10 / 255 - 0.5) / 0.25;
    const contentValue = (200 / 255 - 0.5) / 0.25;
    for (const i of [0, 1, 2, 3, 12, 13, 14, 15]) expect(tensor[i]).toBeCloseTo(padValue, 5);
    for (let i = 4; i < 12; i++) expect(tensor[i]).toBeCloseTo(contentValue, 5);
  });

  it('constant frame stays constant', () => {
    const { tensor, letterbox } = letterboxNormalise(new Uint8Array(709 * 749).fill(128), 709, 749, spec(256, 256, 0, 1 / 255));
    const { offsetX, contentWidth } = letterbox;
    for (let y = 0; y < 256; y += 51) {
      expect(tensor[y * 256 + offsetX]).toBeCloseTo(128, 4);
      expect(tensor[y * 256 + offsetX + contentWidth - 1]).toBeCloseTo(128, 4);
      expect(tensor[y * 256 + offsetX - 1]).toBe(0);
    }
  });
});

describe('maskToFrame', () => {
  it('maps through the letterbox', () => {
    // 2 × 1 frame in a 4 × 4 model input: scale 2, content 4 × 2 at offset y 1.
    const box = computeLetterbox(2, 1, 4, 4);
    const mask = new Uint8Array(16);
    // Frame pixel (1, 0) has its centre at model (1.5 × 2, 0.5 × 2 + 1) = (3, 2).
    mask[2 * 4 + 3] = 1;
    expect([...maskToFrame(mask, box, 2, 1)]).toEqual([0, 1]);
  });

  it('round trip keeps a large disc', () => {
    const box = computeLetterbox(709, 749, 256, 256);
    const mask = new Uint8Array(256 * 256);
    for (let y = 0; y < 256; y++) for (let x = 0; x < 256; x++) mask[y * 256 + x] = (x - 128) ** 2 + (y - 128) ** 2 < 40 ** 2 ? 1 : 0;
    const frameMask = maskToFrame(mask, box, 709, 749);
    const area = frameMask.reduce((sum, v) => sum + v, 0);
    // π (40 / scale)² frame pixels, within 2% for the staircase edge.
    const expected = Math.PI * (40 / box.scale) ** 2;
    expect(Math.abs(area - expected) / expected).toBeLessThan(0.02);
  });
});

describe('dice', () => {
  it('half overlap', () => {
    // |A| = 2, |B| = 2, overlap 1 -> 2 × 1 / 4.
    expect(dice(Uint8Array.from([1, 1, 0, 0]), Uint8Array.from([0, 1, 1, 0]))).toBe(0.5);
  });

  it('both empty is one', () => {
    expect(dice(new Uint8Array(4), new Uint8Array(4))).toBe(1);
  });

  it('size mismatch throws', () => {
    expect(() => dice(new Uint8Array(3), new Uint8Array(4))).toThrow(/one size/);
  });
});
