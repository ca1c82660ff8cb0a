// The body of a header version 2 message: extended header, content, metadata. Version 1
// bodies are all content.
//
//   extended header (big endian, at the start of the body)
//     0  uint16  EXT_HEADER_SIZE       bytes of the extended header, 12 or more
//     2  uint16  METADATA_HEADER_SIZE  bytes of the metadata header, 2 + 8 × entries (0 when absent)
//     4  uint32  METADATA_SIZE         bytes of all metadata keys and values
//     8  uint32  MSG_ID
//   content  from EXT_HEADER_SIZE up to the metadata
//   metadata header (the last METADATA_HEADER_SIZE + METADATA_SIZE bytes begin with it)
//     uint16 INDEX_COUNT, then per entry: uint16 KEY_SIZE, uint16 VALUE_ENCODING, uint32 VALUE_SIZE
//   metadata body: KEY_0 VALUE_0 KEY_1 VALUE_1 ... in entry order
//
// Layout as the OpenIGTLink 3 library (igtlMessageBase.cxx) writes it.

import { IgtlError } from './errors.js';
import type { HeaderVersion } from './header.js';

export const EXTENDED_HEADER_SIZE = 12;

/** IANA MIBenum values for the encodings metadata and STRING use most. */
export const MIBENUM_US_ASCII = 3;
export const MIBENUM_UTF8 = 106;

export interface IgtlMetadataEntry {
  key: string;
  /** IANA MIBenum of the value's character encoding (3 = US-ASCII, 106 = UTF-8). */
  encoding: number;
  value: Uint8Array;
}

export interface SplitBody {
  content: Uint8Array;
  /** MSG_ID of a version 2 message; 0 for version 1. */
  messageId: number;
  metadata: IgtlMetadataEntry[];
}

/** Splits a body into content and, for header version 2, message id and metadata. */
export function splitBody(version: HeaderVersion, body: Uint8Array): SplitBody {
  // A version 2 message with an empty body (a bare GET_STATUS, say) carries no extended header.
  if (version === 1 || body.length === 0) return { content: body, messageId: 0, metadata: [] };

  if (body.length < EXTENDED_HEADER_SIZE) {
    throw new IgtlError('ERR_IGTL_EXTENDED_HEADER', `version 2 body of ${body.length} bytes is shorter than the 12-byte extended header`);
  }
  const view = new DataView(body.buffer, body.byteOffset, body.length);
  const extendedHeaderSize = view.getUint16(0);
  const metadataHeaderSize = view.getUint16(2);
  const metadataSize = view.getUint32(4);
  const messageId = view.getUint32(8);

  if (extendedHeaderSize < EXTENDED_HEADER_SIZE) {
    throw new IgtlError('ERR_IGTL_EXTENDED_HEADER', `extended header size ${extendedHeaderSize} is below the minimum of 12 bytes`);
  }
  const contentEnd = body.length - metadataHeaderSize - metadataSize;
  if (contentEnd < extendedHeaderSize) {
    throw new IgtlError(
      'ERR_IGTL_EXTENDED_HEADER',
      `extended header (${extendedHeaderSize} bytes) plus metadata (${metadataHeaderSize} + ${metadataSize} bytes) exceed the ${body.length}-byte body`,
    );
  }

  const metadata = decodeMetadata(body.subarray(contentEnd, contentEnd + metadataHeaderSize), body.subarray(contentEnd + metadataHeaderSize));
  return { content: body.subarray(extendedHeaderSize, contentEnd), messageId, metadata };
}

function decodeMetadata(metadataHeader: Uint8Array, metadataBody: Uint8Array): IgtlMetadataEntry[] {
  if (metadataHeader.length === 0) {
    if (metadataBody.length !== 0) {
      throw new IgtlError('ERR_IGTL_METADATA', `metadata of ${metadataBody.length} bytes has no metadata header`);
    }
    return [];
  }

  const view = new DataView(metadataHeader.buffer, metadataHeader.byteOffset, metadataHeader.length);
  const count = metadataHeader.length >= 2 ? view.getUint16(0) : -1;
  if (metadataHeader.length !== 2 + 8 * count) {
    throw new IgtlError(
      'ERR_IGTL_METADATA',
      `metadata header of ${metadataHeader.length} bytes does not match 2 + 8 × INDEX_COUNT (INDEX_COUNT ${count})`,
    );
  }

  const entries: IgtlMetadataEntry[] = [];
  let offset = 0;
  for (let i = 0; i < count; i++) {
    const keySize = view.getUint16(2 + 8 * i);
    const encoding = view.getUint16(4 + 8 * i);
    const valueSize = view.getUint32(6 + 8 * i);
    if (offset + keySize + valueSize > metadataBody.length) {
      throw new IgtlError('ERR_IGTL_METADATA', `metadata entry ${i} (key ${keySize} + value ${valueSize} bytes) runs past the ${metadataBody.length}-byte metadata`);
    }
    const key = Buffer.from(metadataBody.subarray(offset, offset + keySize)).toString('utf8');
    const value = metadataBody.subarray(offset + keySize, offset + keySize + valueSize);
    entries.push({ key, encoding, value });
    offset += keySize + valueSize;
  }
  if (offset !== metadataBody.length) {
    throw new IgtlError('ERR_IGTL_METADATA', `metadata entries use ${offset} bytes but METADATA_SIZE is ${metadataBody.length}`);
  }
  return entries;
}

/** Returns a metadata value as text; US-ASCII and UTF-8 decode as UTF-8, anything else as Latin-1. */
export function metadataText(entry: IgtlMetadataEntry): string {
  const encoding = entry.encoding === MIBENUM_US_ASCII || entry.encoding === MIBENUM_UTF8 ? 'utf8' : 'latin1';
  return Buffer.from(entry.value).toString(encoding);
}

/** Builds a metadata entry from text, declared US-ASCII when it is, UTF-8 otherwise. */
export function textMetadata(key: string, value: string): IgtlMetadataEntry {
  const ascii = /^[\x00-\x7f]*$/.test(value);
  return { key, encoding: ascii ? MIBENUM_US_ASCII : MIBENUM_UTF8, value: Buffer.from(value, 'utf8') };
}

/** Assembles a body from content: as is for version 1; with extended header and metadata for version 2. */
export function joinBody(version: HeaderVersion, content: Uint8Array, messageId = 0, metadata: IgtlMetadataEntry[] = []): Uint8Array {
  if (version === 1) {
    if (metadata.length > 0) throw new IgtlError('ERR_IGTL_ENCODE', 'metadata needs header version 2');
    return content;
  }
  if (metadata.length > 0xffff) throw new IgtlError('ERR_IGTL_ENCODE', `${metadata.length} metadata entries are above the 65535 INDEX_COUNT holds`);

  const keys = metadata.map((entry) => Buffer.from(entry.key, 'utf8'));
  const metadataHeaderSize = 2 + 8 * metadata.length;
  let metadataSize = 0;
  for (let i = 0; i < metadata.length; i++) {
    if (keys[i].length > 0xffff) throw new IgtlError('ERR_IGTL_ENCODE', `metadata key "${metadata[i].key}" is above 65535 bytes`);
    metadataSize += keys[i].length + metadata[i].value.length;
  }
  if (metadataSize > 0xffffffff) throw new IgtlError('ERR_IGTL_ENCODE', `metadata of ${metadataSize} bytes is above what METADATA_SIZE holds`);

  const body = new Uint8Array(EXTENDED_HEADER_SIZE + content.length + metadataHeaderSize + metadataSize);
  const view = new DataView(body.buffer);
  view.setUint16(0, EXTENDED_HEADER_SIZE);
  view.setUint16(2, metadataHeaderSize);
  view.setUint32(4, metadataSize);
  view.setUint32(8, messageId >>> 0);
  body.set(content, EXTENDED_HEADER_SIZE);

  const headerStart = EXTENDED_HEADER_SIZE + content.length;
  view.setUint16(headerStart, metadata.length);
  let valueOffset = headerStart + metadataHeaderSize;
  for (let i = 0; i < metadata.length; i++) {
    view.setUint16(headerStart + 2 + 8 * i, keys[i].length);
    view.setUint16(headerStart + 4 + 8 * i, metadata[i].encoding);
    view.setUint32(headerStart + 6 + 8 * i, metadata[i].value.length);
    body.set(keys[i], valueOffset);
    body.set(metadata[i].value, valueOffset + keys[i].length);
    valueOffset += keys[i].length + metadata[i].value.length;
  }
  return body;
}
