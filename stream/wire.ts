// Helpers around the generated protobuf code (proto/generated, built by `npm run build:proto`).
// protobufjs decodes 64-bit fields as Long. These helpers turn them into bigint, because
// timestamps in ns need all 64 bits, or into number for sequence numbers, which stay far below 2^53.

import Long from 'long';

import { segwithu } from '../proto/generated/segwithu.js';
import type { PixelFormat } from '../pipeline/index.js';

export const proto = segwithu.v1;

/** The protocol_version this server writes and accepts. */
export const PROTOCOL_VERSION = 1;

export type Uint64 = number | Long | null | undefined;

export function uint64ToBigInt(value: Uint64): bigint {
  if (value === null || value === undefined) {
    return 0n;
  }
  if (typeof value === 'number') {
    return BigInt(value);
  }
  return value.toBigInt();
}

/** Converts to number; a value above Number.MAX_SAFE_INTEGER loses its low bits. */
export function uint64ToNumber(value: Uint64): number {
  if (value === null || value === undefined) {
    return 0;
  }
  if (typeof value === 'number') {
    return value;
  }
  return value.toNumber();
}

export function bigIntToUint64(value: bigint): Long {
  return Long.fromBigInt(value < 0n ? 0n : value, true);
}

/** Wall clock, Unix epoch, nanoseconds (millisecond resolution). */
export function wallClockNs(): bigint {
  return BigInt(Date.now()) * 1_000_000n;
}

const PIXEL_FORMAT_NAMES: ReadonlyMap<number, PixelFormat> = new Map([
  [proto.PixelFormat.GRAY8, 'GRAY8'],
  [proto.PixelFormat.GRAY16, 'GRAY16'],
  [proto.PixelFormat.RGB8, 'RGB8'],
  [proto.PixelFormat.RGBA8, 'RGBA8'],
]);

/** Returns the format's name, or undefined for UNSPECIFIED and values outside the enum. */
export function pixelFormatName(value: number | null | undefined): PixelFormat | undefined {
  return PIXEL_FORMAT_NAMES.get(value ?? 0);
}

export function bytesPerPixel(format: PixelFormat): number {
  switch (format) {
    case 'GRAY8':
      return 1;
    case 'GRAY16':
      return 2;
    case 'RGB8':
      return 3;
    case 'RGBA8':
      return 4;
  }
}

export function encodeIngestMessage(message: segwithu.v1.IIngestMessage): Uint8Array {
  return proto.IngestMessage.encode({ protocolVersion: PROTOCOL_VERSION, ...message }).finish();
}

export function encodeIngestReply(reply: segwithu.v1.IIngestReply): Uint8Array {
  return proto.IngestReply.encode({ protocolVersion: PROTOCOL_VERSION, ...reply }).finish();
}

export function encodeViewerRequest(request: segwithu.v1.IViewerRequest): Uint8Array {
  return proto.ViewerRequest.encode({ protocolVersion: PROTOCOL_VERSION, ...request }).finish();
}

export function encodeViewerMessage(message: segwithu.v1.IViewerMessage): Uint8Array {
  return proto.ViewerMessage.encode({ protocolVersion: PROTOCOL_VERSION, ...message }).finish();
}

/** Views a ws message (Buffer, ArrayBuffer or fragments) as one Uint8Array. */
export function messageBytes(data: Buffer | ArrayBuffer | Buffer[]): Uint8Array {
  if (Array.isArray(data)) {
    return Buffer.concat(data);
  }
  if (data instanceof ArrayBuffer) {
    return new Uint8Array(data);
  }
  return data;
}
