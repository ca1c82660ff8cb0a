// Model-resolution masks back to frame resolution, and the Dice coefficient.

import type { Letterbox } from './types.js';
import { PipelineError } from './errors.js';

/**
 * Maps a model-resolution mask (modelWidth × modelHeight) to frame resolution by nearest
 * neighbour: frame pixel centre (x + 0.5, y + 0.5) goes to model pixel
 * floor((x + 0.5) × scale + offsetX), clamped to the model grid, as the training code does.
 */
export function maskToFrame(mask: Uint8Array, letterbox: Letterbox, frameWidth: number, frameHeight: number): Uint8Array {
  const { modelWidth, modelHeight, scale, offsetX, offsetY } = letterbox;
  if (mask.length !== modelWidth * modelHeight) {
    throw new PipelineError(
      'ERR_MASK_SIZE_MISMATCH',
      `mask contains ${mask.length} values but the letterbox is ${modelWidth}×${modelHeight}; pass the model-resolution mask of the result that carries this letterbox`,
    );
  }

  const modelColumn = new Int32Array(frameWidth);
  for (let x = 0; x < frameWidth; x++) {
    modelColumn[x] = Math.min(modelWidth - 1, Math.max(0, Math.floor((x + 0.5) * scale + offsetX)));
  }

  const out = new Uint8Array(frameWidth * frameHeight);
  for (let y = 0; y < frameHeight; y++) {
    const modelRow = Math.min(modelHeight - 1, Math.max(0, Math.floor((y + 0.5) * scale + offsetY)));
    const source = modelRow * modelWidth;
    const target = y * frameWidth;
    for (let x = 0; x < frameWidth; x++) out[target + x] = mask[source + modelColumn[x]];
  }
  return out;
}

/** Dice = 2|A ∩ B| / (|A| + |B|) of two same-size masks (non-zero = structure); 1 when both are empty. */
export function dice(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) {
    throw new PipelineError('ERR_MASK_SIZE_MISMATCH', `Dice needs masks of one size, got ${a.length} and ${b.length} values; compare both at frame resolution (maskToFrame)`);
  }

  let overlap = 0;
  let sizeA = 0;
  let sizeB = 0;
  for (let i = 0; i < a.length; i++) {
    const inA = a[i] !== 0;
    const inB = b[i] !== 0;
    if (inA) sizeA++;
    if (inB) sizeB++;
    if (inA && inB) overlap++;
  }
  return sizeA + sizeB === 0 ? 1 : (2 * overlap) / (sizeA + sizeB);
}
