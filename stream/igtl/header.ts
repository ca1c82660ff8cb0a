// The 58-byte OpenIGTLink header, identical in header versions 1 and 2. All numbers are big
// endian; text fields are zero padded.
//
//   offset  size  field
//        0     2  VERSION      uint16, 1 or 2 (2 adds the extended header and metadata to the body)
//        2    12  TYPE         char[12], e.g. "IMAGE", "STATUS", "GET_STATUS"
//       14    20  DEVICE_NAME  char[20]
//       34     8  TIMESTAMP    uint64: seconds since 1970-01-01 UTC in the upper 32 bits,
//                              fraction of a second in units of 2^-32 s in the lower 32 bits
//       42     8  BODY_SIZE    uint64, bytes that follow the header
//       50     8  CRC          uint64, CRC-64 (ECMA-182) of the body

import { IgtlError } from './errors.js';

export const HEADER_SIZE = 58;
export const TYPE_SIZE = 12;
export const DEVICE_NAME_SIZE = 20;

export type HeaderVersion = 1 | 2;

export interface IgtlHeader {
  version: HeaderVersion;
  /** Message type, e.g. IMAGE; 1 to 12 printable ASCII characters. */
  type: string;
  /** Device name, up to 20 bytes. */
  deviceName: string;
  /** The raw 64-bit timestamp (seconds << 32 | fraction); 0 when the sender set none. */
  timestamp: bigint;
  bodySize: number;
  crc: bigint;
}

/**
 * Decodes a header and checks what framing depends on: the version, the type name, and that
 * BODY_SIZE is at most maxBodyBytes. Every failure is fatal because a stream whose header is
 * wrong cannot be trusted to say where the next message starts.
 */
export function decodeHeader(bytes: Uint8Array, maxBodyBytes: number): IgtlHeader {
  const view = new DataView(bytes.buffer, bytes.byteOffset, HEADER_SIZE);

  const version = view.getUint16(0);
  if (version !== 1 && version !== 2) {
    throw new IgtlError(
      'ERR_IGTL_HEADER_VERSION',
      `OpenIGTLink header version ${version} is not supported (expected 1 or 2); the stream is not OpenIGTLink or is misaligned`,
      { fatal: true },
    );
  }

  const type = decodeTypeName(bytes.subarray(2, 2 + TYPE_SIZE));
  const deviceName = decodeZeroPadded(bytes.subarray(14, 14 + DEVICE_NAME_SIZE));
  const timestamp = view.getBigUint64(34);
  const bodySize = view.getBigUint64(42);
  const crc = view.getBigUint64(50);

  if (bodySize > BigInt(maxBodyBytes)) {
    throw new IgtlError(
      'ERR_IGTL_BODY_TOO_LARGE',
      `${type} message body of ${bodySize} bytes is above maxBodyBytes (${maxBodyBytes}); raise the limit if the device sends larger images`,
      { fatal: true },
    );
  }

  return { version, type, deviceName, timestamp, bodySize: Number(bodySize), crc };
}

export function encodeHeader(header: IgtlHeader): Uint8Array {
  const bytes = new Uint8Array(HEADER_SIZE);
  const view = new DataView(bytes.buffer);

  view.setUint16(0, header.version);
  writeZeroPadded(bytes, 2, TYPE_SIZE, header.type, 'type');
  writeZeroPadded(bytes, 14, DEVICE_NAME_SIZE, header.deviceName, 'device name');
  view.setBigUint64(34, header.timestamp);
  view.setBigUint64(42, BigInt(header.bodySize));
  view.setBigUint64(50, header.crc);
  return bytes;
}

const NS_PER_SECOND = 1_000_000_000n;
const FRACTION_UNITS = 1n << 32n;

/** Converts the header's 32.32 fixed-point timestamp to nanoseconds since the Unix epoch, rounded to nearest. */
export function timestampToNs(timestamp: bigint): bigint {
  const seconds = timestamp >> 32n;
  const fraction = timestamp & 0xffffffffn;
  return seconds * NS_PER_SECOND + (fraction * NS_PER_SECOND + FRACTION_UNITS / 2n) / FRACTION_UNITS;
}

/** Converts nanoseconds since the Unix epoch to the header's 32.32 fixed-point timestamp, rounded to nearest. */
export function nsToTimestamp(ns: bigint): bigint {
  if (ns < 0n || ns / NS_PER_SECOND > 0xffffffffn) {
    throw new IgtlError('ERR_IGTL_ENCODE', `timestamp ${ns} ns is outside what 32 bits of seconds since 1970 can carry`);
  }
  const seconds = ns / NS_PER_SECOND;
  // At most (10^9 - 1) × 2^32 / 10^9 + 0.5 < 2^32, so rounding never carries into the seconds.
  const fraction = ((ns % NS_PER_SECOND) * FRACTION_UNITS + NS_PER_SECOND / 2n) / NS_PER_SECOND;
  return (seconds << 32n) | fraction;
}

function decodeTypeName(field: Uint8Array): string {
  let end = 0;
  while (end < field.length && field[end] !== 0) end++;

  let printable = end > 0;
  for (let i = 0; i < end && printable; i++) printable = field[i] >= 0x20 && field[i] <= 0x7e;
  if (!printable) {
    const hex = Buffer.from(field).toString('hex');
    throw new IgtlError(
      'ERR_IGTL_HEADER_TYPE',
      `OpenIGTLink type name bytes ${hex} are not 1 to 12 printable ASCII characters; the stream is not OpenIGTLink or is misaligned`,
      { fatal: true },
    );
  }
  return Buffer.from(field.subarray(0, end)).toString('latin1');
}

/** Reads a zero-padded text field as UTF-8, which covers the ASCII the protocol specifies. */
export function decodeZeroPadded(field: Uint8Array): string {
  let end = 0;
  while (end < field.length && field[end] !== 0) end++;
  return Buffer.from(field.subarray(0, end)).toString('utf8');
}

export function writeZeroPadded(target: Uint8Array, offset: number, size: number, text: string, what: string): void {
  const encoded = Buffer.from(text, 'utf8');
  if (encoded.length > size) {
    throw new IgtlError('ERR_IGTL_ENCODE', `${what} "${text}" is ${encoded.length} bytes, longer than its ${size}-byte field; shorten it`);
  }
  target.set(encoded, offset);
}
