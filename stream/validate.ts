// Turns a decoded Frame message into the pipeline's Frame, or rejects it with a coded error.
// Every transport (WebSocket, TCP, and the in-process sources' tests) goes through here, so a
// frame is held to the same limits whatever way it came in.

import type { Frame, PixelFormat } from '../pipeline/index.js';
import { IngestError } from './errors.js';
import { bytesPerPixel, pixelFormatName, uint64ToBigInt, uint64ToNumber } from './wire.js';
import type { segwithu } from '../proto/generated/segwithu.js';

/** Settings the connection's DeviceHello declared. */
export interface HelloContext {
  streamId: string;
  /** Format used when a frame leaves pixel_format unspecified. */
  pixelFormat: PixelFormat | undefined;
  gray16Window: [number, number] | undefined;
}

export interface FrameLimits {
  /** Largest accepted width × height, in pixels. */
  maxFramePixels: number;
}

const FORMAT_NAMES = 'GRAY8, GRAY16, RGB8 or RGBA8';

export function frameFromMessage(message: segwithu.v1.IFrame, hello: HelloContext, limits: FrameLimits, receivedNs: bigint): Frame {
  // Sequence numbers travel as uint64 but are counted as JavaScript numbers, which are exact
  // only up to 2^53 − 1; a larger one would come back rounded in acks, results and metrics.
  if (uint64ToBigInt(message.sequence) > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new IngestError(
      'ERR_SEQUENCE_RANGE',
      `frame sequence ${uint64ToBigInt(message.sequence)} is above ${Number.MAX_SAFE_INTEGER}, the largest this server tracks exactly; number frames from 0 or 1 upwards`,
    );
  }
  const sequence = uint64ToNumber(message.sequence);
  const width = message.width ?? 0;
  const height = message.height ?? 0;

  const pixelFormat = resolvePixelFormat(message.pixelFormat, hello.pixelFormat, sequence);

  if (width === 0 || height === 0) {
    throw new IngestError(
      'ERR_FRAME_SIZE_MISMATCH',
      `frame ${sequence}: width ${width} × height ${height} is empty; send the frame's size in pixels`,
      sequence,
    );
  }

  const pixelCount = width * height;
  if (pixelCount > limits.maxFramePixels) {
    throw new IngestError(
      'ERR_FRAME_TOO_LARGE',
      `frame ${sequence}: ${width} × ${height} = ${pixelCount} pixels is above the server's maximum of ${limits.maxFramePixels}; send smaller frames or raise --max-frame-pixels`,
      sequence,
    );
  }

  const rowBytes = width * bytesPerPixel(pixelFormat);
  const rowStrideBytes = message.rowStrideBytes === null || message.rowStrideBytes === undefined || message.rowStrideBytes === 0
    ? rowBytes
    : message.rowStrideBytes;
  if (rowStrideBytes < rowBytes) {
    throw new IngestError(
      'ERR_FRAME_SIZE_MISMATCH',
      `frame ${sequence}: row_stride_bytes ${rowStrideBytes} is below width ${width} × ${bytesPerPixel(pixelFormat)} bytes per ${pixelFormat} pixel = ${rowBytes}; send 0 for tightly packed rows`,
      sequence,
    );
  }

  // The last row may omit its stride padding, so both lengths are accepted.
  const pixels = message.pixels ?? new Uint8Array(0);
  const minBytes = rowStrideBytes * (height - 1) + rowBytes;
  const maxBytes = rowStrideBytes * height;
  if (pixels.length < minBytes || pixels.length > maxBytes) {
    const expected = minBytes === maxBytes ? `${maxBytes}` : `${minBytes} to ${maxBytes}`;
    throw new IngestError(
      'ERR_FRAME_SIZE_MISMATCH',
      `frame ${sequence}: ${pixels.length} pixel bytes disagree with ${width} × ${height} ${pixelFormat} at row stride ${rowStrideBytes}, which needs ${expected}; check width, height, row_stride_bytes and pixel_format`,
      sequence,
    );
  }

  const mask = message.groundTruthMask;
  if (mask !== null && mask !== undefined && mask.length > 0 && mask.length !== pixelCount) {
    throw new IngestError(
      'ERR_MASK_SIZE',
      `frame ${sequence}: ground_truth_mask has ${mask.length} bytes but the frame has ${width} × ${height} = ${pixelCount} pixels; send one byte per pixel or no mask`,
      sequence,
    );
  }

  const spacingX = checkPixelSpacing(message.pixelSpacingXMm, 'pixel_spacing_x_mm', sequence);
  const spacingY = checkPixelSpacing(message.pixelSpacingYMm, 'pixel_spacing_y_mm', sequence);

  const frame: Frame = {
    streamId: hello.streamId,
    sequence,
    captureTimestampNs: uint64ToBigInt(message.captureTimestampNs),
    receivedNs,
    pixelFormat,
    width,
    height,
    rowStrideBytes,
    pixels,
  };
  if (pixelFormat === 'GRAY16' && hello.gray16Window !== undefined) {
    frame.gray16Window = hello.gray16Window;
  }
  if (spacingX > 0 && spacingY > 0) {
    frame.pixelSpacingMm = [spacingX, spacingY];
  }
  if (mask !== null && mask !== undefined && mask.length > 0) {
    frame.groundTruthMask = mask;
  }
  return frame;
}

/**
 * Checks one pixel spacing field and returns it in mm, 0 when the device left it unknown. NaN,
 * infinite and negative values are rejected, because the pipeline compares the spacing with the
 * model's training range, and such a value makes that comparison meaningless.
 */
function checkPixelSpacing(value: number | null | undefined, field: string, sequence: number): number {
  const spacingMm = value ?? 0;
  if (spacingMm === 0 || (Number.isFinite(spacingMm) && spacingMm > 0)) {
    return spacingMm;
  }
  throw new IngestError(
    'ERR_PIXEL_SPACING',
    `frame ${sequence}: ${field} ${spacingMm} is not a positive finite number of millimetres per pixel; send the spacing in mm, or 0 when it is unknown`,
    sequence,
  );
}

function resolvePixelFormat(frameValue: number | null | undefined, helloFormat: PixelFormat | undefined, sequence: number): PixelFormat {
  const fromFrame = pixelFormatName(frameValue);
  if (fromFrame !== undefined) {
    return fromFrame;
  }
  if ((frameValue ?? 0) !== 0) {
    throw new IngestError(
      'ERR_PIXEL_FORMAT',
      `frame ${sequence}: pixel_format ${String(frameValue)} is unknown; send ${FORMAT_NAMES}`,
      sequence,
    );
  }
  if (helloFormat === undefined) {
    throw new IngestError(
      'ERR_PIXEL_FORMAT',
      `frame ${sequence}: pixel_format is unspecified in the frame and in the DeviceHello; send ${FORMAT_NAMES}`,
      sequence,
    );
  }
  return helloFormat;
}

/** Reads the hello's GRAY16 window; undefined means the full range. Rejects low >= high. */
export function gray16WindowFromHello(hello: segwithu.v1.IDeviceHello): [number, number] | undefined {
  const low = hello.gray16WindowLow ?? 0;
  const high = hello.gray16WindowHigh ?? 0;
  if (low === 0 && high === 0) {
    return undefined;
  }
  if (high <= low || high > 65535) {
    throw new IngestError(
      'ERR_PIXEL_FORMAT',
      `DeviceHello gray16 window ${low}..${high} is invalid; send low < high <= 65535, or 0 and 0 for the full range`,
    );
  }
  return [low, high];
}
