// Test-time augmentation (TTA) for the sampling baseline: transforms of the normalised model
// input, and their inverses on the output maps where the transform is geometric. TTA-N uses the
// first N transforms of TTA_TRANSFORMS, and its score is the entropy of the mean probability.

import type { ModelInputSpec } from '../manifest.js';

export interface TtaTransform {
  id: string;
  /** Mirror left to right. */
  flip: boolean;
  /** Factor on the raw grey values (0..255) before normalisation; results clip at 255. */
  gain: number;
  /** Horizontal move of the image in model pixels; negative moves it left. */
  shiftPx: number;
}

export const TTA_TRANSFORMS: readonly TtaTransform[] = [
  { id: 'identity', flip: false, gain: 1, shiftPx: 0 },
  { id: 'flip', flip: true, gain: 1, shiftPx: 0 },
  { id: 'gain_0.9', flip: false, gain: 0.9, shiftPx: 0 },
  { id: 'gain_1.1', flip: false, gain: 1.1, shiftPx: 0 },
  { id: 'flip_gain_0.9', flip: true, gain: 0.9, shiftPx: 0 },
  { id: 'flip_gain_1.1', flip: true, gain: 1.1, shiftPx: 0 },
  { id: 'shift_left_4', flip: false, gain: 1, shiftPx: -4 },
  { id: 'shift_right_4', flip: false, gain: 1, shiftPx: 4 },
];

/** Returns the first `count` transforms (1 to 8). */
export function ttaTransforms(count: number): readonly TtaTransform[] {
  if (!Number.isInteger(count) || count < 1 || count > TTA_TRANSFORMS.length) {
    throw new RangeError(`ttaTransforms: count must be an integer from 1 to ${TTA_TRANSFORMS.length}, got ${count}.`);
  }
  return TTA_TRANSFORMS.slice(0, count);
}

type Normalisation = Pick<ModelInputSpec, 'mean' | 'std' | 'letterbox_pad_value'>;

/**
 * Applies a transform to one normalised model input (height × width, row-major): gain on the
 * raw grey values, then the flip, then the shift. Columns the shift uncovers take the padding's
 * normalised value.
 */
export function applyTtaToInput(input: Float32Array, width: number, height: number, transform: TtaTransform, normalisation: Normalisation): Float32Array {
  checkSize('applyTtaToInput', input.length, width, height);
  const { mean, std } = normalisation;
  const padValue = (normalisation.letterbox_pad_value / 255 - mean) / std;

  const gained = new Float32Array(input.length);
  for (let i = 0; i < input.length; i++) {
    if (transform.gain === 1) {
      gained[i] = input[i];
      continue;
    }
    const raw = (input[i] * std + mean) * 255;
    const scaled = Math.min(255, Math.max(0, raw * transform.gain));
    gained[i] = (scaled / 255 - mean) / std;
  }

  const output = new Float32Array(input.length);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let sourceX = x - transform.shiftPx;
      if (sourceX < 0 || sourceX >= width) {
        output[y * width + x] = padValue;
        continue;
      }
      if (transform.flip) sourceX = width - 1 - sourceX;
      output[y * width + x] = gained[y * width + sourceX];
    }
  }
  return output;
}

/**
 * Maps output maps of a transformed input back onto the original pixel grid: undoes the shift,
 * then the flip, for each of the `channels` maps laid out [channels, height, width]. Gain needs
 * no undoing. Columns the shift moved out of view repeat the nearest column that remains. Those
 * columns lie in the letterbox padding whenever the padding is at least as wide as the shift.
 */
export function undoTtaOnMaps(maps: Float32Array, channels: number, width: number, height: number, transform: TtaTransform): Float32Array {
  checkSize('undoTtaOnMaps', maps.length, width, height * channels);
  const output = new Float32Array(maps.length);
  for (let c = 0; c < channels; c++) {
    const plane = c * width * height;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        let sourceX = transform.flip ? width - 1 - x : x;
        sourceX = Math.min(width - 1, Math.max(0, sourceX + transform.shiftPx));
        output[plane + y * width + x] = maps[plane + y * width + sourceX];
      }
    }
  }
  return output;
}

function checkSize(name: string, length: number, width: number, height: number): void {
  if (length !== width * height) {
    throw new RangeError(`${name}: ${length} values do not fill ${width} × ${height}.`);
  }
}
