// Parts shared by the in-process sources (synthetic probe, folder replay, MCAP replay): the
// handle the server stops them by, the loop wrapper of the replays, and the Frame they hand to
// the pipeline.

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

/**
 * Wraps a replay's frame loop in its handle. When the loop ends (stopped, out of frames or
 * failed) the stream is ended in the registry and one line is logged. A loop error is logged,
 * not re-raised, so that a bad file stops only its own stream.
 */
export function runReplayLoop(
  context: ServerContext,
  stream: StreamEntry,
  abort: AbortController,
  label: string,
  logFields: Record<string, unknown>,
  run: () => Promise<void>,
): RunningSource {
  const done = run()
    .catch((error: unknown) => {
      context.logger.error({ streamId: stream.id, ...logFields, sequence: stream.lastSequence, err: error }, `${label} failed`);
    })
    .finally(() => {
      context.registry.end(stream.id);
      context.logger.info({ streamId: stream.id, lastSequence: stream.lastSequence }, `${label} stopped`);
    });

  return {
    streamId: stream.id,
    done,
    stop: async () => {
      abort.abort(new Error('source stopped'));
      await done;
    },
  };
}
