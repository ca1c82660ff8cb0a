// Letterbox: scale a grey frame to fit the model input keeping its aspect, centre it, pad.

import type { Letterbox } from './types.js';
import type { ModelInputSpec } from './manifest.js';
import { PipelineError } from './errors.js';

/** Computes where a frameWidth × frameHeight frame sits inside the model input. */
export function computeLetterbox(frameWidth: number, frameHeight: number, modelWidth: number, modelHeight: number): Letterbox {
  throw new PipelineError('ERR_NOT_IMPLEMENTED', `computeLetterbox(${frameWidth}, ${frameHeight}, ${modelWidth}, ${modelHeight})`);
}

/**
 * Resizes `gray8` bilinearly into the letterbox, pads with the raw pad value and normalises
 * every model pixel to (p / 255 - mean) / std. Writes into `out` when given.
 */
export function letterboxNormalise(
  gray8: Uint8Array,
  frameWidth: number,
  frameHeight: number,
  input: ModelInputSpec,
  out?: Float32Array,
): { tensor: Float32Array; letterbox: Letterbox } {
  throw new PipelineError('ERR_NOT_IMPLEMENTED', `letterboxNormalise(${gray8.length}, ${frameWidth}, ${frameHeight}, ${input.name}, ${out?.length})`);
}
