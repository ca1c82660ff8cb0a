// Encodes a pipeline Result with its display frame as a ViewerUpdate, once per result, and wraps
// those bytes in a ViewerMessage per viewer without encoding the large fields again.

import type { Result, StreamCounters } from '../pipeline/index.js';
import { DROP_REASONS } from '../pipeline/types.js';
import type { segwithu } from '../proto/generated/segwithu.js';
import { bigIntToUint64, PROTOCOL_VERSION, proto } from './wire.js';

/** Quantises P(pixel wrong) in [0, 1] to 0..255, as ViewerUpdate.result.error_probability carries it. */
export function quantiseProbability(values: Float32Array): Uint8Array {
  const out = new Uint8Array(values.length);
  for (let i = 0; i < values.length; i += 1) {
    const p = values[i];
    // NaN maps to 255: an undefined probability is shown as "likely wrong", not hidden.
    out[i] = Number.isNaN(p) ? 255 : Math.round(Math.min(1, Math.max(0, p)) * 255);
  }
  return out;
}

/** Share of the letterbox content region (padding excluded) labelled as structure (class index > 0). */
export function foregroundFraction(result: Result): number {
  const { letterbox, labelMask } = result;
  const x0 = Math.max(0, Math.floor(letterbox.offsetX));
  const y0 = Math.max(0, Math.floor(letterbox.offsetY));
  const x1 = Math.min(letterbox.modelWidth, x0 + letterbox.contentWidth);
  const y1 = Math.min(letterbox.modelHeight, y0 + letterbox.contentHeight);

  let structure = 0;
  for (let y = y0; y < y1; y += 1) {
    const row = y * letterbox.modelWidth;
    for (let x = x0; x < x1; x += 1) {
      if (labelMask[row + x] > 0) {
        structure += 1;
      }
    }
  }
  const area = (x1 - x0) * (y1 - y0);
  return area > 0 ? structure / area : 0;
}

export function resultToProto(result: Result, counters: StreamCounters, sentNs: bigint, sentWallNs: bigint): segwithu.v1.IResult {
  const { timestamps, letterbox } = result;
  return {
    streamId: result.streamId,
    sequence: result.sequence,
    captureTimestampNs: bigIntToUint64(result.captureTimestampNs),
    timestamps: {
      receivedNs: bigIntToUint64(timestamps.receivedNs),
      preprocessedNs: bigIntToUint64(timestamps.preprocessedNs),
      inferenceStartNs: bigIntToUint64(timestamps.inferenceStartNs),
      inferenceEndNs: bigIntToUint64(timestamps.inferenceEndNs),
      postprocessedNs: bigIntToUint64(timestamps.postprocessedNs),
      sentNs: bigIntToUint64(sentNs),
      sentWallNs: bigIntToUint64(sentWallNs),
    },
    modelId: result.modelId,
    letterbox: {
      modelWidth: letterbox.modelWidth,
      modelHeight: letterbox.modelHeight,
      scale: letterbox.scale,
      offsetX: letterbox.offsetX,
      offsetY: letterbox.offsetY,
      contentWidth: letterbox.contentWidth,
      contentHeight: letterbox.contentHeight,
    },
    labelMask: result.labelMask,
    errorProbability: quantiseProbability(result.errorProbability),
    frameRisk: result.frameRisk,
    alarm: result.alarm === 'alarm' ? proto.AlarmState.ALARM : proto.AlarmState.OK,
    alarmReason: result.alarmReason,
    counters: {
      received: counters.received,
      processed: counters.processed,
      dropped: DROP_REASONS.map((reason) => ({ reason, count: counters.dropped[reason] })),
    },
    warnings: result.warnings,
    foregroundFraction: foregroundFraction(result),
  };
}

/** Encodes the ViewerUpdate body (display frame + result) once, for every viewer of the stream. */
export function encodeViewerUpdate(result: Result, counters: StreamCounters, sentNs: bigint, sentWallNs: bigint): Uint8Array {
  return proto.ViewerUpdate.encode({
    frame: { width: result.frameWidth, height: result.frameHeight, gray8: result.gray8 },
    result: resultToProto(result, counters, sentNs, sentWallNs),
  }).finish();
}

function varint(value: number): number[] {
  const bytes: number[] = [];
  let rest = value;
  while (rest > 0x7f) {
    bytes.push((rest & 0x7f) | 0x80);
    rest = Math.floor(rest / 128);
  }
  bytes.push(rest);
  return bytes;
}

/** Protobuf tag byte: field number << 3 | wire type (0 = varint, 2 = length-delimited). */
const TAG_PROTOCOL_VERSION = (1 << 3) | 0;
const TAG_UPDATE = (2 << 3) | 2;

/**
 * Wraps encoded ViewerUpdate bytes as ViewerMessage { protocol_version, update }. The per-viewer
 * fields (skipped_since_last, and update_id when non-zero) are appended as a second encoded
 * ViewerUpdate: protobuf merges concatenated encodings of one message type, so the large fields
 * are never re-encoded.
 */
export function wrapViewerUpdate(update: Uint8Array, skippedSinceLast: number, updateId = 0): Uint8Array {
  const perViewer: segwithu.v1.IViewerUpdate = {};
  if (skippedSinceLast > 0) {
    perViewer.skippedSinceLast = skippedSinceLast;
  }
  if (updateId > 0) {
    perViewer.updateId = updateId;
  }
  const skipped = proto.ViewerUpdate.encode(perViewer).finish();
  const bodyLength = update.length + skipped.length;
  const header = Uint8Array.from([TAG_PROTOCOL_VERSION, ...varint(PROTOCOL_VERSION), TAG_UPDATE, ...varint(bodyLength)]);

  const out = new Uint8Array(header.length + bodyLength);
  out.set(header, 0);
  out.set(update, header.length);
  out.set(skipped, header.length + update.length);
  return out;
}
