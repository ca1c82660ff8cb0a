// Encodes one frame and its result as the protobuf messages of a recording, one per topic.

import Long from 'long';

import type { Result } from '../../pipeline/index.js';
import { foregroundFraction, quantiseProbability } from '../viewer-update.js';
import { FRAME_ID_FRAME, FRAME_ID_MODEL, TOPICS, recordingSchemas, type Topic } from './schemas.js';

/** A frame as the recorder takes it: already 8-bit grey, with the metadata a replay needs. */
export interface RecordedFrame {
  sequence: number;
  /** Device clock, Unix epoch, nanoseconds; 0 when unknown. The recorder derives the log time from it. */
  captureTimestampNs: bigint;
  width: number;
  height: number;
  /** 8-bit grey, width × height bytes, row-major, tightly packed. */
  gray8: Uint8Array;
  /** Millimetres per pixel (x, y), when the device declared it. */
  pixelSpacingMm?: [number, number];
  /** Ground truth, width × height bytes, non-zero = structure. */
  groundTruthMask?: Uint8Array;
}

/** Builds the RecordedFrame of a result, which carries the grey frame; spacing comes from the Frame. */
export function recordedFrameFromResult(result: Result, pixelSpacingMm?: [number, number]): RecordedFrame {
  return {
    sequence: result.sequence,
    captureTimestampNs: result.captureTimestampNs,
    width: result.frameWidth,
    height: result.frameHeight,
    gray8: result.gray8,
    pixelSpacingMm,
    groundTruthMask: result.groundTruthMask,
  };
}

export interface EncodedMessage {
  topic: Topic;
  data: Uint8Array;
}

/** Returns a reason the frame cannot be recorded, or undefined when it can. */
export function checkRecordedFrame(frame: RecordedFrame): string | undefined {
  const { width, height } = frame;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    return `invalid frame size ${width} × ${height}`;
  }
  if (frame.gray8.length !== width * height) {
    return `gray8 has ${frame.gray8.length} bytes for a ${width} × ${height} frame; expected ${width * height}`;
  }
  if (frame.groundTruthMask && frame.groundTruthMask.length !== width * height) {
    return `ground truth mask has ${frame.groundTruthMask.length} bytes for a ${width} × ${height} frame; expected ${width * height}`;
  }
  if (frame.captureTimestampNs < 0n) {
    return `capture timestamp ${frame.captureTimestampNs} ns is negative`;
  }
  return undefined;
}

/** Encodes /frame, /frame/image and, with ground truth, /ground_truth/mask. */
export function encodeFrameMessages(frame: RecordedFrame): EncodedMessage[] {
  const schemas = recordingSchemas();
  const [spacingX, spacingY] = frame.pixelSpacingMm ?? [0, 0];
  const messages: EncodedMessage[] = [
    {
      topic: TOPICS.frame,
      // The pixels travel once, on /frame/image; this message keeps the metadata.
      data: encode(schemas.frame.type, {
        sequence: frame.sequence,
        capture_timestamp_ns: toUint64(frame.captureTimestampNs),
        pixel_format: 1, // GRAY8
        width: frame.width,
        height: frame.height,
        row_stride_bytes: frame.width,
        pixel_spacing_x_mm: spacingX,
        pixel_spacing_y_mm: spacingY,
      }),
    },
    { topic: TOPICS.frameImage, data: encodeMono8(frame.captureTimestampNs, FRAME_ID_FRAME, frame.width, frame.height, frame.gray8) },
  ];
  if (frame.groundTruthMask) {
    const mask = binaryMono8(frame.groundTruthMask);
    messages.push({ topic: TOPICS.groundTruth, data: encodeMono8(frame.captureTimestampNs, FRAME_ID_FRAME, frame.width, frame.height, mask) });
  }
  return messages;
}

/**
 * Encodes /result and its two maps as images. `stream_id` is set to the stream name, so the
 * recording names its source by that alone. Counters and sent times are left out because they
 * describe a server session, not the frame.
 */
export function encodeResultMessages(result: Result, streamName: string): EncodedMessage[] {
  const schemas = recordingSchemas();
  const { timestamps, letterbox } = result;
  const errorProbability = quantiseProbability(result.errorProbability);
  const resultMessage = encode(schemas.result.type, {
    stream_id: streamName,
    sequence: result.sequence,
    capture_timestamp_ns: toUint64(result.captureTimestampNs),
    timestamps: {
      received_ns: toUint64(timestamps.receivedNs),
      preprocessed_ns: toUint64(timestamps.preprocessedNs),
      inference_start_ns: toUint64(timestamps.inferenceStartNs),
      inference_end_ns: toUint64(timestamps.inferenceEndNs),
      postprocessed_ns: toUint64(timestamps.postprocessedNs),
    },
    model_id: result.modelId,
    letterbox: {
      model_width: letterbox.modelWidth,
      model_height: letterbox.modelHeight,
      scale: letterbox.scale,
      offset_x: letterbox.offsetX,
      offset_y: letterbox.offsetY,
      content_width: letterbox.contentWidth,
      content_height: letterbox.contentHeight,
    },
    label_mask: result.labelMask,
    error_probability: errorProbability,
    frame_risk: result.frameRisk,
    alarm: result.alarm === 'alarm' ? 2 : 1,
    alarm_reason: result.alarmReason,
    warnings: result.warnings,
    foreground_fraction: foregroundFraction(result),
  });

  const { modelWidth, modelHeight } = letterbox;
  const at = result.captureTimestampNs;
  return [
    { topic: TOPICS.result, data: resultMessage },
    { topic: TOPICS.labelMask, data: encodeMono8(at, FRAME_ID_MODEL, modelWidth, modelHeight, binaryMono8(result.labelMask)) },
    { topic: TOPICS.errorProbability, data: encodeMono8(at, FRAME_ID_MODEL, modelWidth, modelHeight, errorProbability) },
  ];
}

function encode(type: ReturnType<typeof recordingSchemas>['frame']['type'], fields: Record<string, unknown>): Uint8Array {
  return type.encode(type.fromObject(fields)).finish();
}

function encodeMono8(timestampNs: bigint, frameId: string, width: number, height: number, data: Uint8Array): Uint8Array {
  return encode(recordingSchemas().rawImage.type, {
    timestamp: { seconds: toUint64(timestampNs / 1_000_000_000n), nanos: Number(timestampNs % 1_000_000_000n) },
    frame_id: frameId,
    width,
    height,
    encoding: 'mono8',
    step: width,
    data,
  });
}

/** Maps non-zero to 255 so that a mask is visible as an image. */
function binaryMono8(values: Uint8Array): Uint8Array {
  const out = new Uint8Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = values[i] !== 0 ? 255 : 0;
  return out;
}

function toUint64(value: bigint): Long {
  return Long.fromString(value.toString(), true);
}
