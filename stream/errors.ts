// Errors raised by the transports, the viewer endpoint and the server's options. Each code is
// stable, because devices, viewers, logs and /metrics match on it. An ingest error is reported
// to the device concerned as an ErrorReport, whose `fatal` flag is true when that connection
// ends with it.

/** Codes reported to a device in an ErrorReport. */
export type IngestErrorCode =
  /** The message is not a valid IngestMessage, or it carries no body. */
  | 'ERR_DECODE'
  /** `protocol_version` is not one this server speaks. */
  | 'ERR_PROTOCOL_VERSION'
  /** A frame arrived before the connection's DeviceHello. */
  | 'ERR_NO_HELLO'
  /** A second DeviceHello on a connection that already has a stream. */
  | 'ERR_HELLO_REPEATED'
  /** width, height, row stride and the pixel byte count disagree. */
  | 'ERR_FRAME_SIZE_MISMATCH'
  /** width × height is above the server's maxFramePixels. */
  | 'ERR_FRAME_TOO_LARGE'
  /** The encoded message is above the server's maxMessageBytes. */
  | 'ERR_MESSAGE_TOO_LARGE'
  /** The pixel format is missing or not one of GRAY8, GRAY16, RGB8, RGBA8. */
  | 'ERR_PIXEL_FORMAT'
  /** The ground-truth mask does not have width × height bytes. */
  | 'ERR_MASK_SIZE'
  /** A pixel spacing is NaN, infinite or negative (0 means unknown and is accepted). */
  | 'ERR_PIXEL_SPACING'
  /** The sequence number is above 2^53 − 1, the largest one the server counts and reports exactly. */
  | 'ERR_SEQUENCE_RANGE'
  /**
   * Not a rejection: the frame's sequence number is at or below the stream's previous one (a
   * repeated frame, or a device that restarted its counter). The frame is still processed, and
   * the event counts in segwithu_sequence_regressions_total, not in segwithu_invalid_messages_total.
   */
  | 'ERR_SEQUENCE_ORDER'
  /** The server already serves maxStreams streams. */
  | 'ERR_TOO_MANY_STREAMS'
  /** The byte stream cannot be split into messages any more (TCP length prefix out of bounds). */
  | 'ERR_FRAMING'
  /** The server is shutting down and takes no more frames. */
  | 'ERR_SERVER_CLOSING'
  /** No valid DeviceHello arrived within the server's helloTimeoutMs of connecting. */
  | 'ERR_HELLO_TIMEOUT'
  /** A live frame arrived above the server's maxFrameRateHz for its stream; it counts as dropped 'invalid'. */
  | 'ERR_RATE_LIMIT'
  /** The connection presented no device token, or a wrong one, while the server requires one. */
  | 'ERR_UNAUTHORIZED';

/** Ingest errors that end the connection: after them the server cannot trust the byte stream or serve it. */
const FATAL_INGEST_CODES: ReadonlySet<IngestErrorCode> = new Set([
  'ERR_TOO_MANY_STREAMS',
  'ERR_FRAMING',
  'ERR_SERVER_CLOSING',
  'ERR_HELLO_TIMEOUT',
  'ERR_UNAUTHORIZED',
]);

/** Every ingest code, in the order /metrics lists them. */
export const INGEST_ERROR_CODES: readonly IngestErrorCode[] = [
  'ERR_DECODE',
  'ERR_PROTOCOL_VERSION',
  'ERR_NO_HELLO',
  'ERR_HELLO_REPEATED',
  'ERR_FRAME_SIZE_MISMATCH',
  'ERR_FRAME_TOO_LARGE',
  'ERR_MESSAGE_TOO_LARGE',
  'ERR_PIXEL_FORMAT',
  'ERR_MASK_SIZE',
  'ERR_PIXEL_SPACING',
  'ERR_SEQUENCE_RANGE',
  'ERR_SEQUENCE_ORDER',
  'ERR_TOO_MANY_STREAMS',
  'ERR_FRAMING',
  'ERR_SERVER_CLOSING',
  'ERR_HELLO_TIMEOUT',
  'ERR_RATE_LIMIT',
  'ERR_UNAUTHORIZED',
];

/** Codes reported to a viewer in an ErrorReport. */
export const VIEWER_ERROR_CODES = [
  'ERR_DECODE',
  'ERR_PROTOCOL_VERSION',
  'ERR_INVALID_REQUEST',
  'ERR_UNKNOWN_STREAM',
  'ERR_TOO_MANY_VIEWERS',
  'ERR_TOO_MANY_INVALID_REQUESTS',
  'ERR_UNAUTHORIZED',
] as const;
export type ViewerErrorCode = (typeof VIEWER_ERROR_CODES)[number];

export class IngestError extends Error {
  readonly code: IngestErrorCode;
  readonly fatal: boolean;
  /** The frame concerned, when the error is about one frame. */
  readonly sequence: number | undefined;

  constructor(code: IngestErrorCode, message: string, sequence?: number) {
    super(message);
    this.name = 'IngestError';
    this.code = code;
    this.fatal = FATAL_INGEST_CODES.has(code);
    this.sequence = sequence;
  }
}

export class ViewerError extends Error {
  readonly code: ViewerErrorCode;

  constructor(code: ViewerErrorCode, message: string) {
    super(message);
    this.name = 'ViewerError';
    this.code = code;
  }
}

/** A server or CLI option with a value that cannot be used. */
export class OptionError extends Error {
  readonly code = 'ERR_INVALID_OPTION';

  constructor(message: string) {
    super(message);
    this.name = 'OptionError';
  }
}
