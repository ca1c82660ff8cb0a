import { describe, expect, it } from 'vitest';

import { labelAndTemperedForeground } from '../../pipeline/postprocess.js';
import { pixelSpacingWarning } from '../../pipeline/pixel-spacing.js';

describe('labelAndTemperedForeground', () => {
  it('two classes, hand-computed tempering', () => {
    // Pixel 0: logits (0, 2), calibration 3 -> T = 2, p1 = sigmoid(2 / 2) = 0.731059.
    // Pixel 1: logits (1, -1), calibration 0 -> T = 1, p1 = sigmoid(-2) = 0.119203, label 0.
    // Pixel 2: logits (0, 1), calibration -0.5 -> T = max(1, sqrt(0.5)) = 1, p1 = sigmoid(1) = 0.731059.
    // Pixel 3: a tie (0.5, 0.5) -> label 0, p1 = 0.5.
    const logits = Float32Array.from([0, 1, 0, 0.5, /* class 1 */ 2, -1, 1, 0.5]);
    const calibration = Float32Array.from([3, 0, -0.5, 8]);
    const { labelMask, temperedForeground } = labelAndTemperedForeground(
      { logits, calibration, errorProbability: new Float32Array(4), frameRisk: 0 },
      2,
    );
    expect([...labelMask]).toEqual([1, 0, 1, 0]);
    expect(temperedForeground[0]).toBeCloseTo(0.731059, 5);
    expect(temperedForeground[1]).toBeCloseTo(0.119203, 5);
    expect(temperedForeground[2]).toBeCloseTo(0.731059, 5);
    expect(temperedForeground[3]).toBeCloseTo(0.5, 6);
  });

  it('three classes, general path', () => {
    // Logits (0, 1, 2) with calibration 3 -> T = 2: softmax(0, 0.5, 1)[1] = e^0.5 / (1 + e^0.5 + e) = 1.648721 / 5.367003 = 0.307196.
    const logits = Float32Array.from([0, 1, 2]);
    const { labelMask, temperedForeground } = labelAndTemperedForeground(
      { logits, calibration: Float32Array.from([3]), errorProbability: new Float32Array(1), frameRisk: 0 },
      3,
    );
    expect([...labelMask]).toEqual([2]);
    expect(temperedForeground[0]).toBeCloseTo(0.307196, 5);
  });

  it('tempering never changes the argmax', () => {
    const logits = Float32Array.from([5, -3, /* class 1 */ 4, -2.5]);
    const calibration = Float32Array.from([100, 100]);
    const { labelMask, temperedForeground } = labelAndTemperedForeground({ logits, calibration, errorProbability: new Float32Array(2), frameRisk: 0 }, 2);
    expect([...labelMask]).toEqual([0, 1]);
    expect(temperedForeground[0]).toBeLessThan(0.5);
    expect(temperedForeground[1]).toBeGreaterThan(0.5);
  });
});

describe('pixelSpacingWarning', () => {
  const range = { min: 0.05, max: 0.2 };

  it('inside range gives none', () => {
    expect(pixelSpacingWarning([0.1, 0.1], range)).toBeUndefined();
  });

  it('one axis outside warns', () => {
    expect(pixelSpacingWarning([0.1, 0.3], range)).toMatch(/0\.100 × 0\.300 mm is outside the training range 0\.050–0\.200 mm/);
  });

  it('unknown spacing or range gives none', () => {
    expect(pixelSpacingWarning(undefined, range)).toBeUndefined();
    expect(pixelSpacingWarning([1, 1], null)).toBeUndefined();
  });
});
