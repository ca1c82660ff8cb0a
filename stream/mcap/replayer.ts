// Replays a recording as pipeline Frames: at the original timing, at a scaled rate, or as fast
// as the consumer pulls; once or looped; from the start or from a given time.
//
// The frames, their order, sequence numbers and capture timestamps are the same on every run.
// Only receivedNs (stamped when a frame is yielded) and the real time between frames depend on
// the machine. The consumer pulls: a slow consumer delays the next frame instead of
// losing it, and in original pacing a frame that is already late is yielded at once.

import type { Frame } from '../../pipeline/index.js';
import { readRecordedFrames } from './frames.js';
import { openRecording } from './reader.js';
import { TOPICS } from './schemas.js';

export interface ReplayOptions {
  /** 'original' follows the capture timestamps (scaled by `rate`); 'fast' yields as fast as pulled. Default 'original'. */
  pacing?: 'original' | 'fast';
  /** Speed factor for original pacing: 2 plays twice as fast. Default 1. */
  rate?: number;
  /** Passes over the recording; Infinity loops until `signal` aborts. Default 1. */
  passes?: number;
  /** Start this many milliseconds of capture time after the recording's first frame. Default 0. */
  startAtMs?: number;
  /** Stream id of the yielded frames. Default: the recording's stream name. */
  streamId?: string;
  /** Ends the replay at the next frame boundary. */
  signal?: AbortSignal;
  /** Waits for the given milliseconds; tests pass a fake. Default: a timer. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Monotonic clock in milliseconds; tests pass a fake. Default: performance.now. */
  nowMs?: () => number;
}

/**
 * Yields the recording's frames as GRAY8 Frames, ground truth included when recorded. On pass
 * p > 0, sequence numbers continue after the previous pass, and capture timestamps move by p
 * times the pass length (first to last frame plus one mean frame interval), so both keep
 * increasing across loops.
 */
export async function* replayRecording(filePath: string, options: ReplayOptions = {}): AsyncGenerator<Frame> {
  const { pacing = 'original', rate = 1, passes = 1, startAtMs = 0, signal, sleep = abortableSleep, nowMs = () => performance.now() } = options;
  if (!(rate > 0)) throw new RangeError(`replayRecording: rate must be positive, got ${rate}.`);
  if (!(passes >= 1)) throw new RangeError(`replayRecording: passes must be at least 1, got ${passes}.`);

  const span = await measureRecording(filePath);
  if (!span) return;
  const streamId = options.streamId ?? span.streamName ?? 'replay';
  const startTimeNs = span.firstNs + BigInt(Math.round(startAtMs * 1e6));
  const sequenceStep = span.lastSequence - span.firstSequence + 1;

  let replayStartMs: number | undefined;
  let replayFirstNs: bigint | undefined;
  for (let pass = 0; pass < passes; pass++) {
    const recording = await openRecording(filePath);
    try {
      for await (const recorded of readRecordedFrames(recording, { startTimeNs })) {
        if (signal?.aborted) return;
        const captureTimestampNs = recorded.captureTimestampNs + BigInt(pass) * span.passLengthNs;

        if (pacing === 'original') {
          replayStartMs ??= nowMs();
          replayFirstNs ??= captureTimestampNs;
          const dueMs = replayStartMs + Number(captureTimestampNs - replayFirstNs) / 1e6 / rate;
          const waitMs = dueMs - nowMs();
          if (waitMs > 0) {
            try {
              await sleep(waitMs, signal);
            } catch {
              if (signal?.aborted) return;
              throw new Error('replay sleep failed');
            }
          }
        }

        const frame: Frame = {
          streamId,
          sequence: recorded.sequence + pass * sequenceStep,
          captureTimestampNs,
          receivedNs: process.hrtime.bigint(),
          pixelFormat: 'GRAY8',
          width: recorded.width,
          height: recorded.height,
          rowStrideBytes: recorded.width,
          pixels: recorded.gray8,
        };
        if (recorded.pixelSpacingMm) frame.pixelSpacingMm = recorded.pixelSpacingMm;
        if (recorded.groundTruthMask) frame.groundTruthMask = recorded.groundTruthMask;
        yield frame;
      }
    } finally {
      await recording.close();
    }
  }
}

interface RecordingSpan {
  streamName: string | undefined;
  firstNs: bigint;
  firstSequence: number;
  lastSequence: number;
  /** Shift of capture timestamps from one pass to the next. */
  passLengthNs: bigint;
}

/** Reads the first and last frame times and sequences; undefined when the recording has no frames. */
async function measureRecording(filePath: string): Promise<RecordingSpan | undefined> {
  const recording = await openRecording(filePath);
  try {
    let count = 0;
    let firstNs = 0n;
    let lastNs = 0n;
    let firstSequence = 0;
    let lastSequence = 0;
    // The small /frame messages suffice; the images are not decoded.
    for await (const message of recording.messages({ topics: [TOPICS.frame] })) {
      const sequence = Number(recording.decode(message).sequence);
      if (count === 0) {
        firstNs = message.logTimeNs;
        firstSequence = sequence;
      }
      lastNs = message.logTimeNs;
      lastSequence = sequence;
      count++;
    }
    if (count === 0) return undefined;
    const durationNs = lastNs - firstNs;
    // One mean frame interval after the last frame; 1 ms for a single frame.
    const gapNs = count > 1 ? durationNs / BigInt(count - 1) : 1_000_000n;
    return { streamName: recording.streamName, firstNs, firstSequence, lastSequence, passLengthNs: durationNs + gapNs };
  } finally {
    await recording.close();
  }
}

function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
