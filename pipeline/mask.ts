// Model-resolution masks back to frame resolution, and the Dice coefficient.

import type { Letterbox } from './types.js';
import { PipelineError } from './errors.js';

/** Maps a model-resolution mask to frame resolution by nearest neighbour through the letterbox. */
export function maskToFrame(mask: Uint8Array, letterbox: Letterbox, frameWidth: number, frameHeight: number): Uint8Array {
  throw new PipelineError('ERR_NOT_IMPLEMENTED', `maskToFrame(${mask.length}, ${letterbox.scale}, ${frameWidth}, ${frameHeight})`);
}

/** Dice of two same-size masks (non-zero = structure); 1 when both are empty. */
export function dice(a: Uint8Array, b: Uint8Array): number {
  throw new PipelineError('ERR_NOT_IMPLEMENTED', `dice(${a.length}, ${b.length})`);
}
