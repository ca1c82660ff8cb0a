// Parts shared by the in-process sources (synthetic probe, folder replay): the handle the
// server stops them by, and the Frame they hand to the pipeline.

import type { Frame } from '../../pipeline/index.js';
import type { ServerContext } from '../context.js';
import type { StreamEntry } from '../registry.js';
import { wallClockNs } from '../wire.js';

export interface RunningSource {
  readonly streamId: string;
  /** Resolves when the source has stopped (stop() was called, or a replay ran out of frames). */
  readonly done: Promise<void>;
  stop(): Promise<void>;
}

/** Builds the Frame the pipeline takes from one 8-bit grey image of an in-process source. */
export function gray8Frame(stream: StreamEntry, sequence: number, width: number, height: number, pixels: Uint8Array, mask?: Uint8Array): Frame {
  const frame: Frame = {
    streamId: stream.id,
    sequence,
    captureTimestampNs: wallClockNs(),
    receivedNs: process.hrtime.bigint(),
    pixelFormat: 'GRAY8',
    width,
    height,
    rowStrideBytes: width,
    pixels,
  };
  if (mask !== undefined) {
    frame.groundTruthMask = mask;
  }
  return frame;
}
