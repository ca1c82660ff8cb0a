// STATUS and STRING content.
//
// STATUS (big endian):  0 uint16 CODE, 2 int64 SUBCODE, 10 char[20] ERROR_NAME,
//                       30 STATUS_MESSAGE, text ending with a zero byte (BODY_SIZE − 30 bytes)
// STRING (big endian):  0 uint16 ENCODING (IANA MIBenum, 3 = US-ASCII), 2 uint16 LENGTH,
//                       4 LENGTH bytes of text, no terminator

import { IgtlError } from './errors.js';
import { MIBENUM_US_ASCII, MIBENUM_UTF8 } from './body.js';
import { decodeZeroPadded, writeZeroPadded } from './header.js';

export const STATUS_HEADER_SIZE = 30;

/** STATUS codes from the OpenIGTLink status message definition (protocol version 3). */
export const StatusCode = {
  OK: 1,
  UNKNOWN_ERROR: 2,
  PANIC: 3,
  NOT_FOUND: 4,
  ACCESS_DENIED: 5,
  BUSY: 6,
  TIME_OUT: 7,
  OVERFLOW: 8,
  CHECKSUM_ERROR: 9,
  CONFIGURATION_ERROR: 10,
  NOT_ENOUGH_RESOURCE: 11,
  UNKNOWN_INSTRUCTION: 12,
  NOT_READY: 13,
  MANUAL_MODE: 14,
  DISABLED: 15,
  NOT_PRESENT: 16,
  UNKNOWN_VERSION: 17,
  HARDWARE_FAILURE: 18,
  SHUTTING_DOWN: 19,
} as const;

export interface IgtlStatus {
  code: number;
  /** Device-specific sub code (signed 64-bit). */
  subcode: bigint;
  /** Short name such as "OK" or "Error"; at most 20 bytes. */
  errorName: string;
  message: string;
}

export function decodeStatus(content: Uint8Array): IgtlStatus {
  if (content.length < STATUS_HEADER_SIZE) {
    throw new IgtlError('ERR_IGTL_STATUS_BODY', `STATUS content of ${content.length} bytes is shorter than its 30-byte fixed part`);
  }
  const view = new DataView(content.buffer, content.byteOffset, content.length);
  return {
    code: view.getUint16(0),
    subcode: view.getBigInt64(2),
    errorName: decodeZeroPadded(content.subarray(10, 30)),
    message: decodeZeroPadded(content.subarray(30)),
  };
}

export function encodeStatus(status: IgtlStatus): Uint8Array {
  if (!Number.isInteger(status.code) || status.code < 0 || status.code > 0xffff) {
    throw new IgtlError('ERR_IGTL_ENCODE', `STATUS code ${status.code} is not an integer in [0, 65535]`);
  }
  const message = Buffer.from(status.message, 'utf8');
  // The OpenIGTLink library ends the status message with a zero byte and counts it in BODY_SIZE.
  const content = new Uint8Array(STATUS_HEADER_SIZE + message.length + 1);
  const view = new DataView(content.buffer);
  view.setUint16(0, status.code);
  view.setBigInt64(2, BigInt.asIntN(64, status.subcode));
  writeZeroPadded(content, 10, 20, status.errorName, 'STATUS error name');
  content.set(message, STATUS_HEADER_SIZE);
  return content;
}

export interface IgtlString {
  /** IANA MIBenum of the text's encoding. */
  encoding: number;
  text: string;
}

export function decodeString(content: Uint8Array): IgtlString {
  if (content.length < 4) {
    throw new IgtlError('ERR_IGTL_STRING_BODY', `STRING content of ${content.length} bytes is shorter than its 4-byte fixed part`);
  }
  const view = new DataView(content.buffer, content.byteOffset, content.length);
  const encoding = view.getUint16(0);
  const length = view.getUint16(2);
  if (4 + length !== content.length) {
    throw new IgtlError('ERR_IGTL_STRING_BODY', `STRING LENGTH ${length} does not match the ${content.length - 4} bytes of text after it`);
  }
  const bytes = content.subarray(4);
  const decoding = encoding === MIBENUM_US_ASCII || encoding === MIBENUM_UTF8 ? 'utf8' : 'latin1';
  return { encoding, text: Buffer.from(bytes).toString(decoding) };
}

/** Encodes text as STRING content, declared US-ASCII when it is, UTF-8 otherwise. */
export function encodeString(text: string): Uint8Array {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length > 0xffff) {
    throw new IgtlError('ERR_IGTL_ENCODE', `STRING text of ${bytes.length} bytes is above the 65535 LENGTH holds`);
  }
  const ascii = bytes.every((b) => b < 0x80);
  const content = new Uint8Array(4 + bytes.length);
  const view = new DataView(content.buffer);
  view.setUint16(0, ascii ? MIBENUM_US_ASCII : MIBENUM_UTF8);
  view.setUint16(2, bytes.length);
  content.set(bytes, 4);
  return content;
}
