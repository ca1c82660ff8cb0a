// OpenIGTLink for segwithu-live: codec, incremental parser, IMAGE → Frame conversion,
// Result → IMAGE/STRING encoding, and the two ingest roles (listener and reconnecting client).

export { IgtlError, isIgtlError, type IgtlErrorCode } from './errors.js';
export { crc64, Crc64 } from './crc64.js';
export { HEADER_SIZE, decodeHeader, encodeHeader, timestampToNs, nsToTimestamp, type HeaderVersion, type IgtlHeader } from './header.js';
export {
  EXTENDED_HEADER_SIZE,
  MIBENUM_US_ASCII,
  MIBENUM_UTF8,
  joinBody,
  splitBody,
  metadataText,
  textMetadata,
  type IgtlMetadataEntry,
} from './body.js';
export { IMAGE_HEADER_SIZE, SCALAR_BYTES, decodeImage, encodeImage, type IgtlImage, type ImageToEncode, type ScalarType, type Vec3 } from './image.js';
export { StatusCode, decodeStatus, encodeStatus, decodeString, encodeString, type IgtlStatus, type IgtlString } from './status.js';
export {
  decodeBody,
  encodeMessage,
  encodeImageMessage,
  encodeStatusMessage,
  encodeStringMessage,
  encodeQueryMessage,
  isReadType,
  type EncodeOptions,
  type IgtlMessage,
  type QueryPrefix,
} from './message.js';
export { IgtlParser, DEFAULT_MAX_BODY_BYTES, type IgtlParseEvent, type IgtlParserOptions, type IgtlParserState } from './parser.js';
export { imageToFrame, toHostArray, SubvolumeCanvas, type FrameStamp } from './to-frame.js';
export { encodeResult, outputDeviceNames, riskText, modelMapToFrame, defaultGeometry, type ResultMessages } from './from-result.js';
export { IgtlMetrics } from './metrics.js';
export { IgtlStreams, ResultEncoder, type IgtlStreamDirectory } from './streams.js';
export { IgtlConnection, type FrameSink, type ResultRouting, type SubmitMode } from './connection.js';
export { IgtlListener, startIgtlListener, DEFAULT_IGTL_PORT, type IgtlListenerOptions } from './listener.js';
export { IgtlClient, backoffDelayMs, type IgtlClientOptions, type BackoffOptions } from './client.js';
