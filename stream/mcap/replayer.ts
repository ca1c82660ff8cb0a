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

/**
 * Largest step between two frames' capture timestamps that original pacing follows, in ms.
 * B-mode ultrasound runs at tens of frames per second. A step of more than 5 s within one
 * stream is therefore a device clock set forward or a pause of the recording, and waiting it
 * out would freeze the replay for as long, possibly hours. Such a step is replaced by the
 * nominal frame interval, and so is a step of 0 or below (a clock set back, or frames recorded
 * without a capture timestamp).
 */
export const MAX_CAPTURE_STEP_MS = 5000;

/** Nominal frame interval of a recording with no positive step at all: 30 frames/s, the default replay rate. */
const DEFAULT_FRAME_INTERVAL_MS = 1000 / 30;

/** A step between capture timestamps that original pacing replaced by the nominal frame interval. */
export interface ReplacedCaptureStep {
  /** Pass over the recording, from 0. */
  pass: number;
  /** Position in the pass of the frame the step leads to, from 0, counted from `startAtMs`. */
  frameIndex: number;
  sequence: number;
  /** The recorded step from the previous frame in ms, negative when the clock went back. */
  stepMs: number;
  /** The interval used instead, in ms of capture time (before `rate` scales it). */
  nominalIntervalMs: number;
}

export interface ReplayOptions {
  /** 'original' follows the capture timestamps (scaled by `rate`); 'fast' yields as fast as pulled. Default 'original'. */
  pacing?: 'original' | 'fast';
  /** Speed factor for original pacing: 2 plays twice as fast. Default 1. */
  rate?: number;
  /** Passes over the recording; Infinity loops until `signal` aborts. Default 1. */
  passes?: number;
  /** Start this many milliseconds of log time (capture time where frames have one) after the recording's first frame. Default 0. */
  startAtMs?: number;
  /** Stream id of the yielded frames. Default: the recording's stream name. */
  streamId?: string;
  /** Ends the replay at the next frame boundary. */
  signal?: AbortSignal;
  /** Waits for the given milliseconds; tests pass a fake. Default: a timer. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Monotonic clock in milliseconds; tests pass a fake. Default: performance.now. */
  nowMs?: () => number;
  /** Called in original pacing for each capture-time step out of range (see MAX_CAPTURE_STEP_MS). */
  onStepReplaced?: (step: ReplacedCaptureStep) => void;
}

/**
 * Yields the recording's frames as GRAY8 Frames, ground truth included when recorded. On pass
 * p > 0, sequence numbers continue after the previous pass, and capture timestamps move by p
 * times the pass length (first to last frame plus one mean frame interval), so both keep
 * increasing across loops.
 *
 * Original pacing waits, before each frame, the step from the previous frame's capture
 * timestamp divided by `rate`. A step of 0 or below, or above MAX_CAPTURE_STEP_MS, is replaced
 * by the recording's nominal frame interval (the median of its steps in range) and reported to
 * `onStepReplaced`. A clock jump therefore neither plays the rest of the recording at once nor
 * stalls it.
 */
// NOTE: McapRecorder keeps log times increasing, so frames play in recording order. In a
// finalised recording from an earlier recorder, whose log time was the capture time, frames
// recorded after a device clock was set back play before the frames captured earlier.
export async function* replayRecording(filePath: string, options: ReplayOptions = {}): AsyncGenerator<Frame> {
  const { pacing = 'original', rate = 1, passes = 1, startAtMs = 0, signal, sleep = abortableSleep, nowMs = () => performance.now(), onStepReplaced } = options;
  if (!(rate > 0)) throw new RangeError(`replayRecording: rate must be positive, got ${rate}.`);
  if (!(passes >= 1)) throw new RangeError(`replayRecording: passes must be at least 1, got ${passes}.`);

  const span = await measureRecording(filePath);
  if (!span) return;
  const streamId = options.streamId ?? span.streamName ?? 'replay';
  // No time filter without startAtMs. In a recording cut short (read in file order), frames
  // captured after the device clock was set back have log times before the first frame's, so
  // a filter at that time would leave them out.
  const startTimeNs = startAtMs > 0 ? span.firstLogTimeNs + BigInt(Math.round(startAtMs * 1e6)) : undefined;
  const sequenceStep = span.lastSequence - span.firstSequence + 1;

  // The schedule is absolute: a frame is due at the first frame's time plus the paced steps
  // before it. A frame that is already late when pulled is therefore yielded at once, and the
  // delays of a slow consumer do not add up.
  let dueMs: number | undefined;
  let previousNs: bigint | undefined;
  for (let pass = 0; pass < passes; pass++) {
    const recording = await openRecording(filePath);
    try {
      let frameIndex = 0;
      for await (const recorded of readRecordedFrames(recording, { startTimeNs })) {
        if (signal?.aborted) return;
        const captureTimestampNs = recorded.captureTimestampNs + BigInt(pass) * span.passLengthNs;
        const sequence = recorded.sequence + pass * sequenceStep;

        if (pacing === 'original') {
          let stepMs = 0;
          if (previousNs !== undefined) {
            stepMs = Number(captureTimestampNs - previousNs) / 1e6;
            if (!(stepMs > 0 && stepMs <= MAX_CAPTURE_STEP_MS)) {
              onStepReplaced?.({ pass, frameIndex, sequence, stepMs, nominalIntervalMs: span.nominalIntervalMs });
              stepMs = span.nominalIntervalMs;
            }
          }
          previousNs = captureTimestampNs;
          dueMs = dueMs === undefined ? nowMs() : dueMs + stepMs / rate;
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
          sequence,
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
        frameIndex++;
      }
    } finally {
      await recording.close();
    }
  }
}

interface RecordingSpan {
  streamName: string | undefined;
  /** Log time of the first frame, where a start time filter counts from. */
  firstLogTimeNs: bigint;
  firstSequence: number;
  lastSequence: number;
  /** Shift of capture timestamps from one pass to the next, from the first and last capture timestamps. */
  passLengthNs: bigint;
  /**
   * Median of the steps between consecutive frames that lie in (0, MAX_CAPTURE_STEP_MS], in ms.
   * A recording with no such step (made at under 0.2 frames/s) takes the median of its positive
   * steps instead, so it still plays at its own rate. Without any positive step, 30 frames/s.
   */
  nominalIntervalMs: number;
}

/**
 * Reads the first and last frame times and sequences; undefined when the recording has no frames.
 * The steps come from the capture timestamps in /frame, as the replay paces by them: log times
 * can differ from them (see McapRecorder's log times).
 */
async function measureRecording(filePath: string): Promise<RecordingSpan | undefined> {
  const recording = await openRecording(filePath);
  try {
    let count = 0;
    let firstLogTimeNs = 0n;
    let minNs = 0n;
    let maxNs = 0n;
    let lastNs = 0n;
    let firstSequence = 0;
    let lastSequence = 0;
    const positiveStepsMs: number[] = [];
    // The small /frame messages suffice; the images are not decoded.
    for await (const message of recording.messages({ topics: [TOPICS.frame] })) {
      const metadata = recording.decode(message);
      const sequence = Number(metadata.sequence);
      // The decoder returns 64-bit integers as decimal strings.
      const captureTimestampNs = BigInt(String(metadata.capture_timestamp_ns));
      if (count === 0) {
        firstLogTimeNs = message.logTimeNs;
        minNs = captureTimestampNs;
        maxNs = captureTimestampNs;
        firstSequence = sequence;
      } else {
        const stepMs = Number(captureTimestampNs - lastNs) / 1e6;
        if (stepMs > 0) positiveStepsMs.push(stepMs);
      }
      if (captureTimestampNs < minNs) minNs = captureTimestampNs;
      if (captureTimestampNs > maxNs) maxNs = captureTimestampNs;
      lastNs = captureTimestampNs;
      lastSequence = sequence;
      count++;
    }
    if (count === 0) return undefined;
    // Earliest to latest capture timestamp, so that a clock set back does not shorten it.
    const durationNs = maxNs - minNs;
    // One mean frame interval after the last frame; 1 ms for a single frame.
    const gapNs = count > 1 ? durationNs / BigInt(count - 1) : 1_000_000n;
    const nominalIntervalMs = median(positiveStepsMs.filter((stepMs) => stepMs <= MAX_CAPTURE_STEP_MS)) ?? median(positiveStepsMs) ?? DEFAULT_FRAME_INTERVAL_MS;
    return { streamName: recording.streamName, firstLogTimeNs, firstSequence, lastSequence, passLengthNs: durationNs + gapNs, nominalIntervalMs };
  } finally {
    await recording.close();
  }
}

function median(values: number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
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
