// Whole messages: which types this product reads, how a body becomes a typed message, and
// how a message is encoded with its header and CRC.
//
// Read: IMAGE, STATUS, STRING, and the queries GET_<type>, STT_<type> and STP_<type> (a
// keep-alive GET_STATUS, start and stop of a stream). Any other type is skipped by its body size.

import { crc64 } from './crc64.js';
import { splitBody, joinBody, type IgtlMetadataEntry } from './body.js';
import { IgtlError } from './errors.js';
import { HEADER_SIZE, encodeHeader, nsToTimestamp, type HeaderVersion, type IgtlHeader } from './header.js';
import { decodeImage, encodeImage, type IgtlImage, type ImageLimits, type ImageToEncode } from './image.js';
import { decodeStatus, decodeString, encodeStatus, encodeString, type IgtlStatus, type IgtlString } from './status.js';

export type QueryPrefix = 'GET' | 'STT' | 'STP';

interface MessageCommon {
  header: IgtlHeader;
  /** MSG_ID of a version 2 message; 0 for version 1. */
  messageId: number;
  metadata: IgtlMetadataEntry[];
}

export type IgtlMessage =
  | (MessageCommon & { kind: 'image'; image: IgtlImage })
  | (MessageCommon & { kind: 'status'; status: IgtlStatus })
  | (MessageCommon & { kind: 'string'; string: IgtlString })
  | (MessageCommon & {
      kind: 'query';
      prefix: QueryPrefix;
      /** The type the query is about, e.g. STATUS for GET_STATUS, IMAGE for STT_IMAGE. */
      queryType: string;
      /** Query content, empty for most types (STT_TDATA carries a resolution, for example). */
      content: Uint8Array;
    });

const QUERY_PATTERN = /^(GET|STT|STP)_(.+)$/;

/** True for the types this product decodes; other types are skipped without reading the body. */
export function isReadType(type: string): boolean {
  return type === 'IMAGE' || type === 'STATUS' || type === 'STRING' || QUERY_PATTERN.test(type);
}

/** Decodes the body of a read type whose CRC has been checked. Throws a non-fatal IgtlError for invalid content. */
export function decodeBody(header: IgtlHeader, body: Uint8Array, limits: ImageLimits): IgtlMessage {
  const { content, messageId, metadata } = splitBody(header.version, body);
  const common = { header, messageId, metadata };

  if (header.type === 'IMAGE') return { ...common, kind: 'image', image: decodeImage(content, limits) };
  if (header.type === 'STATUS') return { ...common, kind: 'status', status: decodeStatus(content) };
  if (header.type === 'STRING') return { ...common, kind: 'string', string: decodeString(content) };

  const query = QUERY_PATTERN.exec(header.type);
  if (query !== null) return { ...common, kind: 'query', prefix: query[1] as QueryPrefix, queryType: query[2], content };

  throw new IgtlError('ERR_IGTL_ENCODE', `decodeBody was called for ${header.type}, which is not a read type`);
}

export interface EncodeOptions {
  deviceName: string;
  /** Header version; 2 adds the extended header and allows metadata. Default 1, which every OpenIGTLink reader accepts. */
  version?: HeaderVersion;
  /** Capture or send time in ns since the Unix epoch; 0n writes the "unused" timestamp 0. Default 0n. */
  timestampNs?: bigint;
  /** The raw 32.32 fixed-point header timestamp; overrides timestampNs, for senders that keep the device's value exactly. */
  timestamp?: bigint;
  /** Version 2 only. Default 0. */
  messageId?: number;
  /** Version 2 only. Default none. */
  metadata?: IgtlMetadataEntry[];
}

/** Encodes one message: header with BODY_SIZE and CRC-64, then the body. */
export function encodeMessage(type: string, content: Uint8Array, options: EncodeOptions): Uint8Array {
  if (!/^[\x20-\x7e]{1,12}$/.test(type)) {
    throw new IgtlError('ERR_IGTL_ENCODE', `message type "${type}" is not 1 to 12 printable ASCII characters`);
  }
  const version = options.version ?? 1;
  const body = joinBody(version, content, options.messageId ?? 0, options.metadata ?? []);
  const timestampNs = options.timestampNs ?? 0n;

  const header = encodeHeader({
    version,
    type,
    deviceName: options.deviceName,
    timestamp: options.timestamp ?? (timestampNs === 0n ? 0n : nsToTimestamp(timestampNs)),
    bodySize: body.length,
    crc: crc64(body),
  });

  const message = new Uint8Array(HEADER_SIZE + body.length);
  message.set(header, 0);
  message.set(body, HEADER_SIZE);
  return message;
}

export function encodeImageMessage(image: ImageToEncode, options: EncodeOptions): Uint8Array {
  return encodeMessage('IMAGE', encodeImage(image), options);
}

export function encodeStatusMessage(status: IgtlStatus, options: EncodeOptions): Uint8Array {
  return encodeMessage('STATUS', encodeStatus(status), options);
}

export function encodeStringMessage(text: string, options: EncodeOptions): Uint8Array {
  return encodeMessage('STRING', encodeString(text), options);
}

/** Encodes an empty-bodied query such as GET_STATUS, STT_IMAGE or STP_IMAGE. */
export function encodeQueryMessage(prefix: QueryPrefix, queryType: string, options: EncodeOptions): Uint8Array {
  return encodeMessage(`${prefix}_${queryType}`, new Uint8Array(0), options);
}
