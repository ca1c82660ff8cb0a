// Result → OpenIGTLink messages for 3D Slicer: three messages per result, all stamped with
// the frame's capture time.
//
//   <base>_label    IMAGE uint8, frame resolution, class index per pixel (Slicer: label map)
//   <base>_errprob  IMAGE uint8, frame resolution, P(pixel wrong) × 255 rounded
//   <base>_risk     STRING "frame_risk=0.123 alarm=ok sequence=42 model=<id>[ reason=<text>]"
//
// Both IMAGEs carry the input frame's geometry (axis vectors, centre, coordinate system), so
// Slicer overlays them on the B-mode image without registration. The maps are model
// resolution in the Result and go back to frame resolution by nearest neighbour through the
// letterbox, so the label values stay class indices.
//
// The risk goes out as STRING rather than STATUS: Slicer's OpenIGTLink module turns a STRING
// into a text node that the Data module lists and that a script or a view annotation can
// read, whereas STATUS is meant for device state and has no code for "uncertain". The
// key=value layout keeps it readable for people and parseable for scripts.

import type { FrameGeometry, Letterbox, Result } from '../../pipeline/types.js';
import { textMetadata, type IgtlMetadataEntry } from './body.js';
import type { HeaderVersion } from './header.js';
import { encodeImageMessage, encodeStringMessage } from './message.js';

/** Device name bytes left for the base once the longest suffix (_errprob, 8 bytes) is added. */
const MAX_BASE_BYTES = 12;

/** Latest timestamp 32 bits of seconds can carry; later capture times are sent as 0 ("unused"). */
const MAX_TIMESTAMP_NS = 0xffffffffn * 1_000_000_000n;

export interface ResultEncodingOptions {
  /** Header version of the outputs. 2 adds metadata (frame_risk, alarm, sequence, model). Default 1, which every reader accepts. */
  version?: HeaderVersion;
}

export interface ResultMessages {
  label: Uint8Array;
  errorProbability: Uint8Array;
  risk: Uint8Array;
  /** Sum of the three messages' lengths. */
  totalBytes: number;
}

/** Device names of the three outputs for a stream whose input device name (or stream id) is `base`. */
export function outputDeviceNames(base: string): { label: string; errorProbability: string; risk: string } {
  const trimmed = truncateUtf8(base.replace(/[^\x20-\x7e]/g, '_'), MAX_BASE_BYTES) || 'segwithu';
  return { label: `${trimmed}_label`, errorProbability: `${trimmed}_errprob`, risk: `${trimmed}_risk` };
}

/** Encodes one result as its label IMAGE, error-probability IMAGE and risk STRING. */
export function encodeResult(result: Result, base: string, options: ResultEncodingOptions = {}): ResultMessages {
  const version = options.version ?? 1;
  const names = outputDeviceNames(base);
  const timestampNs = result.captureTimestampNs > 0n && result.captureTimestampNs <= MAX_TIMESTAMP_NS ? result.captureTimestampNs : 0n;
  const metadata = version === 2 ? resultMetadata(result) : [];
  const geometry = result.geometry ?? defaultGeometry(result.frameWidth, result.frameHeight);

  const labelPixels = modelMapToFrame(result.labelMask, result.letterbox, result.frameWidth, result.frameHeight);
  const errorPixels = modelMapToFrame(probabilityToUint8(result.errorProbability), result.letterbox, result.frameWidth, result.frameHeight);

  const image = {
    scalarType: 'uint8' as const,
    coordinateSystem: geometry.coordinateSystem,
    size: [result.frameWidth, result.frameHeight, 1] as [number, number, number],
    axesMm: geometry.axesMm,
    centerMm: geometry.centerMm,
  };
  const label = encodeImageMessage({ ...image, data: labelPixels }, { deviceName: names.label, version, timestampNs, metadata });
  const errorProbability = encodeImageMessage(
    { ...image, data: errorPixels },
    { deviceName: names.errorProbability, version, timestampNs, metadata },
  );
  const risk = encodeStringMessage(riskText(result), { deviceName: names.risk, version, timestampNs, metadata });

  return { label, errorProbability, risk, totalBytes: label.length + errorProbability.length + risk.length };
}

export function riskText(result: Result): string {
  const parts = [`frame_risk=${result.frameRisk.toFixed(3)}`, `alarm=${result.alarm}`, `sequence=${result.sequence}`, `model=${result.modelId}`];
  if (result.alarm === 'alarm' && result.alarmReason !== '') parts.push(`reason=${result.alarmReason}`);
  return parts.join(' ');
}

function resultMetadata(result: Result): IgtlMetadataEntry[] {
  return [
    textMetadata('frame_risk', result.frameRisk.toFixed(6)),
    textMetadata('alarm', result.alarm),
    textMetadata('sequence', String(result.sequence)),
    textMetadata('model', result.modelId),
  ];
}

/** Geometry for frames that came without one: 1 mm pixels, pixel (0, 0) at the origin, RAS. */
export function defaultGeometry(width: number, height: number): FrameGeometry {
  return {
    coordinateSystem: 'RAS',
    axesMm: [
      [1, 0, 0],
      [0, 1, 0],
      [0, 0, 1],
    ],
    centerMm: [(width - 1) / 2, (height - 1) / 2, 0],
  };
}

/**
 * Samples a model-resolution map at frame resolution, nearest neighbour: frame pixel (x, y)
 * takes the model pixel under its centre, model = (frame + 0.5) × scale + offset, clamped to
 * the letterbox content so padding is never sampled.
 */
export function modelMapToFrame(map: Uint8Array, letterbox: Letterbox, frameWidth: number, frameHeight: number): Uint8Array {
  const out = new Uint8Array(frameWidth * frameHeight);
  const { modelWidth, scale, offsetX, offsetY, contentWidth, contentHeight } = letterbox;
  const [left, right] = [Math.floor(offsetX), Math.floor(offsetX + contentWidth - 1)];
  const [top, bottom] = [Math.floor(offsetY), Math.floor(offsetY + contentHeight - 1)];
  const columns = new Int32Array(frameWidth);
  for (let x = 0; x < frameWidth; x++) columns[x] = clamp(Math.floor((x + 0.5) * scale + offsetX), left, right);
  for (let y = 0; y < frameHeight; y++) {
    const row = clamp(Math.floor((y + 0.5) * scale + offsetY), top, bottom) * modelWidth;
    for (let x = 0; x < frameWidth; x++) out[y * frameWidth + x] = map[row + columns[x]];
  }
  return out;
}

/** Maps P(pixel wrong) in [0, 1] to 0..255; NaN maps to 255, since an unknown pixel is shown as wrong. */
function probabilityToUint8(probability: Float32Array): Uint8Array {
  const out = new Uint8Array(probability.length);
  for (let i = 0; i < probability.length; i++) {
    const p = probability[i];
    out[i] = Number.isNaN(p) ? 255 : Math.round(clamp(p, 0, 1) * 255);
  }
  return out;
}

function clamp(value: number, low: number, high: number): number {
  if (value < low) return low;
  if (value > high) return high;
  return value;
}

function truncateUtf8(text: string, maxBytes: number): string {
  let out = text;
  while (Buffer.byteLength(out, 'utf8') > maxBytes) out = out.slice(0, -1);
  return out;
}
