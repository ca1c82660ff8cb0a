// Geometry checks on a Frame before it enters the pipeline. Transports validate first, and this
// is the pipeline's own guard: a malformed frame is counted 'invalid' instead of reading past a
// buffer inside a stage.

import type { Frame, PixelFormat } from './types.js';
import { PipelineError } from './errors.js';

export const BYTES_PER_PIXEL: Readonly<Record<PixelFormat, number>> = { GRAY8: 1, GRAY16: 2, RGB8: 3, RGBA8: 4 };

/** Returns an ERR_FRAME_INVALID error describing the first problem, or undefined when the frame is usable. */
export function checkFrame(frame: Frame): PipelineError | undefined {
  const where = `stream ${frame.streamId} frame ${frame.sequence}`;
  const invalid = (what: string) => new PipelineError('ERR_FRAME_INVALID', `${where}: ${what}`);

  const bytesPerPixel = BYTES_PER_PIXEL[frame.pixelFormat];
  if (bytesPerPixel === undefined) return invalid(`unknown pixel format ${JSON.stringify(frame.pixelFormat)}; send GRAY8, GRAY16, RGB8 or RGBA8`);
  if (!Number.isInteger(frame.width) || frame.width <= 0 || !Number.isInteger(frame.height) || frame.height <= 0) {
    return invalid(`width ${frame.width} and height ${frame.height} must be positive integers`);
  }

  const rowBytes = frame.width * bytesPerPixel;
  if (!Number.isInteger(frame.rowStrideBytes) || frame.rowStrideBytes < rowBytes) {
    return invalid(`row stride ${frame.rowStrideBytes} bytes is below width × bytes per pixel = ${rowBytes}`);
  }

  // The last row needs only its pixels, not a full stride.
  const neededBytes = frame.rowStrideBytes * (frame.height - 1) + rowBytes;
  if (frame.pixels.length < neededBytes) {
    return invalid(`pixels hold ${frame.pixels.length} bytes but ${frame.width}×${frame.height} ${frame.pixelFormat} with stride ${frame.rowStrideBytes} needs ${neededBytes}`);
  }

  if (frame.pixelFormat === 'GRAY16' && frame.gray16Window !== undefined) {
    const [low, high] = frame.gray16Window;
    if (!(Number.isFinite(low) && Number.isFinite(high) && low < high)) {
      return invalid(`GRAY16 window [${low}, ${high}] must have low < high`);
    }
  }

  if (frame.groundTruthMask !== undefined && frame.groundTruthMask.length !== frame.width * frame.height) {
    return invalid(`ground-truth mask contains ${frame.groundTruthMask.length} bytes, expected width × height = ${frame.width * frame.height}`);
  }

  return undefined;
}
