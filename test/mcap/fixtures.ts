// Synthetic frames and results for the MCAP tests; nothing here comes from a dataset.

import type { Result } from '../../pipeline/index.js';
import type { RecordedFrame } from '../../stream/mcap/recorder.js';

export const FRAME_WIDTH = 48;
export const FRAME_HEIGHT = 40;
export const MODEL_SIZE = 32;
/** Capture time of frame 0: 2026-01-01T00:00:00Z in ns. */
export const START_NS = 1_767_225_600_000_000_000n;
/** 30 frames per second. */
export const FRAME_INTERVAL_NS = 33_333_333n;

/** Makes a textured frame whose bytes depend on the sequence number, with a square ground truth. */
export function makeFrame(sequence: number, withMask = true): RecordedFrame {
  const gray8 = new Uint8Array(FRAME_WIDTH * FRAME_HEIGHT);
  for (let i = 0; i < gray8.length; i++) gray8[i] = (i * 7 + sequence * 13) % 256;
  const frame: RecordedFrame = {
    sequence,
    captureTimestampNs: START_NS + BigInt(sequence) * FRAME_INTERVAL_NS,
    width: FRAME_WIDTH,
    height: FRAME_HEIGHT,
    gray8,
    pixelSpacingMm: [0.1, 0.12],
  };
  if (withMask) {
    const mask = new Uint8Array(gray8.length);
    for (let y = 10; y < 20; y++) for (let x = 10 + (sequence % 5); x < 25; x++) mask[y * FRAME_WIDTH + x] = 1;
    frame.groundTruthMask = mask;
  }
  return frame;
}

/** Makes a result for the frame: a square label mask and a ramp of error probability. */
export function makeResult(frame: RecordedFrame, streamId = 'stream-7f3a'): Result {
  const size = MODEL_SIZE * MODEL_SIZE;
  const labelMask = new Uint8Array(size);
  const errorProbability = new Float32Array(size);
  const temperedForeground = new Float32Array(size);
  for (let i = 0; i < size; i++) {
    const x = i % MODEL_SIZE;
    const y = Math.floor(i / MODEL_SIZE);
    labelMask[i] = x > 8 && x < 20 && y > 10 && y < 18 ? 1 : 0;
    errorProbability[i] = i / (size - 1);
    temperedForeground[i] = labelMask[i] ? 0.9 : 0.1;
  }
  const t = 1_000_000n * BigInt(frame.sequence);
  return {
    streamId,
    sequence: frame.sequence,
    captureTimestampNs: frame.captureTimestampNs,
    timestamps: { receivedNs: t, preprocessedNs: t + 1n, inferenceStartNs: t + 2n, inferenceEndNs: t + 3n, postprocessedNs: t + 4n },
    modelId: 'test-model@1',
    letterbox: { modelWidth: MODEL_SIZE, modelHeight: MODEL_SIZE, scale: 32 / 48, offsetX: 0, offsetY: 2.6666666666666665, contentWidth: 32, contentHeight: 27 },
    labelMask,
    errorProbability,
    temperedForeground,
    frameRisk: (frame.sequence % 10) / 10,
    alarm: frame.sequence % 2 === 0 ? 'ok' : 'alarm',
    alarmReason: frame.sequence % 2 === 0 ? '' : 'frame risk above 0.8',
    warnings: [],
    gray8: frame.gray8,
    frameWidth: frame.width,
    frameHeight: frame.height,
    groundTruthMask: frame.groundTruthMask,
  };
}
