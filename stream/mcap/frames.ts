// Reassembles recorded frames from their messages: /frame (metadata), /frame/image (pixels)
// and /ground_truth/mask. All messages of one frame share a log time and its sequence as MCAP
// sequence, so they are grouped by log time and matched by sequence. The recorder gives each
// frame its own log time. Older recordings used the capture time, so a frame that repeats an
// earlier frame's capture time and sequence shares its group and is matched by arrival order.

import type { RecordedFrame } from './encode.js';
import type { Recording, RecordingMessage } from './reader.js';
import { TOPICS } from './schemas.js';

const FRAME_TOPICS = [TOPICS.frame, TOPICS.frameImage, TOPICS.groundTruth];

interface PartialFrame {
  metadata?: Record<string, unknown>;
  pixels?: Uint8Array;
  mask?: Uint8Array;
}

/** Frames of one log time by MCAP sequence, each list in the order the frames' messages came. */
type FrameGroup = Map<number, PartialFrame[]>;

/**
 * Yields the recording's frames in log-time order (file order for a recording cut short), each
 * with its capture timestamp as recorded and its ground truth when recorded. A frame whose
 * image is missing (cut off at the end) is left out.
 */
export async function* readRecordedFrames(recording: Recording, options: { startTimeNs?: bigint } = {}): AsyncGenerator<RecordedFrame> {
  let groupTimeNs: bigint | undefined;
  let group: FrameGroup = new Map();

  for await (const message of recording.messages({ topics: FRAME_TOPICS, startTimeNs: options.startTimeNs })) {
    if (groupTimeNs !== undefined && message.logTimeNs !== groupTimeNs) {
      yield* completeFrames(group);
      group = new Map();
    }
    groupTimeNs = message.logTimeNs;
    addMessage(recording, group, message);
  }
  yield* completeFrames(group);
}

/** Adds the message to the first frame of its sequence that lacks its topic, or to a new frame. */
function addMessage(recording: Recording, group: FrameGroup, message: RecordingMessage): void {
  let frames = group.get(message.sequence);
  if (!frames) {
    frames = [];
    group.set(message.sequence, frames);
  }
  const field = partialFrameField(message.topic);
  let partial = frames.find((frame) => frame[field] === undefined);
  if (!partial) {
    partial = {};
    frames.push(partial);
  }

  const decoded = recording.decode(message);
  if (field === 'metadata') partial.metadata = decoded;
  else if (field === 'pixels') partial.pixels = decoded.data as Uint8Array;
  else partial.mask = decoded.data as Uint8Array;
}

function partialFrameField(topic: string): keyof PartialFrame {
  if (topic === TOPICS.frame) return 'metadata';
  if (topic === TOPICS.frameImage) return 'pixels';
  return 'mask';
}

function* completeFrames(group: FrameGroup): Generator<RecordedFrame> {
  const sequences = [...group.keys()].sort((a, b) => a - b);
  for (const sequence of sequences) {
    for (const partial of group.get(sequence)!) {
      const frame = completeFrame(partial);
      if (frame) yield frame;
    }
  }
}

function completeFrame({ metadata, pixels, mask }: PartialFrame): RecordedFrame | undefined {
  if (!metadata || !pixels) return undefined;

  const width = Number(metadata.width);
  const height = Number(metadata.height);
  if (pixels.length !== width * height) return undefined;
  const spacingX = Number(metadata.pixel_spacing_x_mm);
  const spacingY = Number(metadata.pixel_spacing_y_mm);
  const frame: RecordedFrame = {
    sequence: Number(metadata.sequence),
    // The decoder returns 64-bit integers as decimal strings.
    captureTimestampNs: BigInt(String(metadata.capture_timestamp_ns)),
    width,
    height,
    gray8: new Uint8Array(pixels),
  };
  if (spacingX > 0 && spacingY > 0) frame.pixelSpacingMm = [spacingX, spacingY];
  if (mask && mask.length === width * height) frame.groundTruthMask = new Uint8Array(mask);
  return frame;
}
