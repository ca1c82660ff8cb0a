// Errors raised by the OpenIGTLink codec, parser and transports. Each carries a stable code
// that logs and /metrics group by, and a `fatal` flag: whether the byte stream can still be framed.
//
// A framing error (`fatal: true`) means the next header cannot be located, so only that
// connection ends. Any other error rejects one message and the connection continues.

export type IgtlErrorCode =
  /** Header version is neither 1 nor 2. Framing error. */
  | 'ERR_IGTL_HEADER_VERSION'
  /** TYPE is empty or contains bytes that are not printable ASCII before its zero padding. Framing error. */
  | 'ERR_IGTL_HEADER_TYPE'
  /** BODY_SIZE is above the parser's maxBodyBytes. Framing error. */
  | 'ERR_IGTL_BODY_TOO_LARGE'
  /** The CRC-64 in the header does not match the body. */
  | 'ERR_IGTL_CRC_MISMATCH'
  /** Version 2 extended header sizes do not fit inside the body. */
  | 'ERR_IGTL_EXTENDED_HEADER'
  /** Version 2 metadata header or entries do not add up to the declared sizes. */
  | 'ERR_IGTL_METADATA'
  /** IMAGE header shorter than 72 bytes, or an unknown scalar type, endianness or coordinate system. */
  | 'ERR_IGTL_IMAGE_HEADER'
  /** IMAGE sizes are zero, the subvolume lies outside the image, or the pixel data length is wrong. */
  | 'ERR_IGTL_IMAGE_SIZE'
  /** IMAGE dimensions are above the parser's maxImageWidth, maxImageHeight or maxImageDepth. */
  | 'ERR_IGTL_IMAGE_TOO_LARGE'
  /** The stream directory refused to open a stream for the device (too many streams, server closing). */
  | 'ERR_IGTL_STREAM_REFUSED'
  /** IMAGE is valid but cannot become a pipeline Frame (a volume with more than one slice). */
  | 'ERR_IGTL_IMAGE_UNSUPPORTED'
  /** STATUS body shorter than its 30-byte fixed part. */
  | 'ERR_IGTL_STATUS_BODY'
  /** STRING body shorter than 4 bytes or its LENGTH field disagrees with the body size. */
  | 'ERR_IGTL_STRING_BODY'
  /** A value given to an encoder is out of the range the protocol can carry. */
  | 'ERR_IGTL_ENCODE'
  /** push() after the parser has failed on a framing error. */
  | 'ERR_IGTL_PARSER_FAILED'
  /** A connection from an address outside the listener's allow-list. */
  | 'ERR_IGTL_PEER_NOT_ALLOWED'
  /** Invalid listener or client options. */
  | 'ERR_IGTL_OPTIONS';

export class IgtlError extends Error {
  readonly code: IgtlErrorCode;
  /** True when the byte stream cannot be framed any further and the connection must end. */
  readonly fatal: boolean;

  constructor(code: IgtlErrorCode, message: string, options: { fatal?: boolean; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'IgtlError';
    this.code = code;
    this.fatal = options.fatal ?? false;
  }
}

export function isIgtlError(value: unknown): value is IgtlError {
  return value instanceof IgtlError;
}
