// Reassembles recorded frames from their messages: /frame (metadata), /frame/image (pixels)
// and /ground_truth/mask. All messages of one frame share its capture time as log time and its
// sequence as MCAP sequence, so they are grouped by log time and matched by sequence.

import type { RecordedFrame } from './encode.js';
import type { Recording, RecordingMessage } from './reader.js';
import { TOPICS } from './schemas.js';

const FRAME_TOPICS = [TOPICS.frame, TOPICS.frameImage, TOPICS.groundTruth];

interface PartialFrame {
  metadata?: Record<string, unknown>;
  pixels?: Uint8Array;
  mask?: Uint8Array;
}

/**
 * Yields the recording's frames in log-time order (file order for a recording cut short), each
 * with its ground truth when recorded. A frame whose image is missing (cut off at the end) is
 * left out.
 */
export async function* readRecordedFrames(recording: Recording, options: { startTimeNs?: bigint } = {}): AsyncGenerator<RecordedFrame> {
  let groupTimeNs: bigint | undefined;
  let group = new Map<number, PartialFrame>();

  for await (const message of recording.messages({ topics: FRAME_TOPICS, startTimeNs: options.startTimeNs })) {
    if (groupTimeNs !== undefined && message.logTimeNs !== groupTimeNs) {
      yield* completeFrames(group, groupTimeNs);
      group = new Map();
    }
    groupTimeNs = message.logTimeNs;
    addMessage(recording, group, message);
  }
  if (groupTimeNs !== undefined) yield* completeFrames(group, groupTimeNs);
}

function addMessage(recording: Recording, group: Map<number, PartialFrame>, message: RecordingMessage): void {
  let partial = group.get(message.sequence);
  if (!partial) {
    partial = {};
    group.set(message.sequence, partial);
  }
  const decoded = recording.decode(message);
  if (message.topic === TOPICS.frame) partial.metadata = decoded;
  else if (message.topic === TOPICS.frameImage) partial.pixels = decoded.data as Uint8Array;
  else if (message.topic === TOPICS.groundTruth) partial.mask = decoded.data as Uint8Array;
}

function* completeFrames(group: Map<number, PartialFrame>, logTimeNs: bigint): Generator<RecordedFrame> {
  const sequences = [...group.keys()].sort((a, b) => a - b);
  for (const sequence of sequences) {
    const { metadata, pixels, mask } = group.get(sequence)!;
    if (!metadata || !pixels) continue;

    const width = Number(metadata.width);
    const height = Number(metadata.height);
    if (pixels.length !== width * height) continue;
    const spacingX = Number(metadata.pixel_spacing_x_mm);
    const spacingY = Number(metadata.pixel_spacing_y_mm);
    const frame: RecordedFrame = {
      sequence: Number(metadata.sequence),
      captureTimestampNs: logTimeNs,
      width,
      height,
      gray8: new Uint8Array(pixels),
    };
    if (spacingX > 0 && spacingY > 0) frame.pixelSpacingMm = [spacingX, spacingY];
    if (mask && mask.length === width * height) frame.groundTruthMask = new Uint8Array(mask);
    yield frame;
  }
}
