// Conversion of every pixel format to 8-bit grey at frame resolution.

import type { Frame } from './types.js';
import { PipelineError } from './errors.js';

/** Converts a frame to width × height 8-bit grey, honouring rowStrideBytes. */
export function frameToGray8(frame: Frame): Uint8Array {
  throw new PipelineError('ERR_NOT_IMPLEMENTED', `frameToGray8(${frame.pixelFormat})`);
}
