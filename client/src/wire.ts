// Decoding of server -> viewer messages and encoding of viewer -> server requests
// (proto/segwithu.proto, ViewerMessage and ViewerRequest). The page bundles the schema as
// protobufjs JSON, so the codec is built from that JSON at start-up; Node tests build it
// from the .proto file with the same function.
import protobuf from 'protobufjs/light.js';

export const PROTOCOL_VERSION = 1;

/** Placement of the model input in the frame: model pixel = frame pixel × scale + offset. */
export interface LetterboxView {
  modelWidth: number;
  modelHeight: number;
  scale: number;
  offsetX: number;
  offsetY: number;
  contentWidth: number;
  contentHeight: number;
}

export interface CountersView {
  received: number;
  processed: number;
  /** Sum over all drop reasons. */
  dropped: number;
  droppedByReason: Record<string, number>;
}

export interface ResultView {
  streamId: string;
  sequence: number;
  /** Device clock, Unix epoch, milliseconds (the wire carries nanoseconds). */
  captureWallMs: number;
  /** Server wall clock when the result was sent, Unix epoch, milliseconds; 0 when not sent. */
  sentWallMs: number;
  modelId: string;
  letterbox: LetterboxView;
  /** Class index per model pixel, modelWidth × modelHeight, row-major. */
  labelMask: Uint8Array;
  /** P(pixel label wrong) × 255 per model pixel, same layout as labelMask. */
  errorProbability: Uint8Array;
  frameRisk: number;
  alarm: boolean;
  alarmReason: string;
  counters: CountersView;
  warnings: string[];
}

export interface DisplayFrameView {
  width: number;
  height: number;
  /** 8-bit grey, width × height, row-major, tightly packed. */
  gray8: Uint8Array;
}

export interface UpdateView {
  frame: DisplayFrameView;
  result: ResultView | null;
  skippedSinceLast: number;
  /** Id to acknowledge with encodeAck; 0 when the subscription asked for no acknowledgements. */
  updateId: number;
}

export interface StreamInfoView {
  streamId: string;
  streamName: string;
  nominalRateHz: number;
  width: number;
  height: number;
  viewers: number;
  source: string;
  /** 'active' or 'ended' as GET /api/streams reports it; empty when unknown, because the WebSocket list has no state. */
  state: string;
}

export interface AlarmThresholdsView {
  enter: number;
  exit: number;
  enterFrames: number;
  exitFrames: number;
}

export type ViewerEvent =
  | { kind: 'update'; update: UpdateView }
  | { kind: 'subscribed'; stream: StreamInfoView | null; alarm: AlarmThresholdsView | null; modelId: string }
  | { kind: 'streams'; streams: StreamInfoView[] }
  | { kind: 'pong'; clientWallMs: number; serverWallMs: number }
  | { kind: 'error'; code: string; message: string; fatal: boolean };

export interface ViewerCodec {
  /** Decodes one binary WebSocket message; throws WireError when it is malformed. */
  decode(bytes: Uint8Array): ViewerEvent;
  /** Subscribe request; with maxUnackedUpdates > 0 the server waits for acks beyond that many updates. */
  encodeSubscribe(streamId: string, maxUnackedUpdates?: number): Uint8Array;
  encodePing(clientWallMs: number): Uint8Array;
  /** Acknowledges every update up to and including `updateId`. */
  encodeAck(updateId: number): Uint8Array;
}

export class WireError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
    this.name = 'WireError';
  }
}

// protobufjs yields uint64 fields as a Long when long.js is loaded and as a number otherwise.
type WireLong = number | { toNumber(): number } | null | undefined;

function toNumber(value: WireLong): number {
  if (value === null || value === undefined) return 0;
  if (typeof value === 'number') return value;
  return value.toNumber();
}

// Nanoseconds since the Unix epoch exceed 2^53, so the conversion to a double loses up to
// about 256 ns. The viewer shows milliseconds, so the loss never shows.
function nsToMs(value: WireLong): number {
  return toNumber(value) / 1e6;
}

/* eslint-disable @typescript-eslint/no-explicit-any -- decoded protobufjs messages are untyped */
function readLetterbox(raw: any): LetterboxView {
  return {
    modelWidth: raw?.modelWidth ?? 0,
    modelHeight: raw?.modelHeight ?? 0,
    scale: raw?.scale ?? 0,
    offsetX: raw?.offsetX ?? 0,
    offsetY: raw?.offsetY ?? 0,
    contentWidth: raw?.contentWidth ?? 0,
    contentHeight: raw?.contentHeight ?? 0,
  };
}

function readCounters(raw: any): CountersView {
  const droppedByReason: Record<string, number> = {};
  let dropped = 0;
  for (const entry of raw?.dropped ?? []) {
    const count = toNumber(entry.count);
    droppedByReason[entry.reason] = (droppedByReason[entry.reason] ?? 0) + count;
    dropped += count;
  }
  return { received: toNumber(raw?.received), processed: toNumber(raw?.processed), dropped, droppedByReason };
}

function readStreamInfo(raw: any): StreamInfoView {
  return {
    streamId: raw.streamId,
    streamName: raw.streamName,
    nominalRateHz: raw.nominalRateHz,
    width: raw.width,
    height: raw.height,
    viewers: raw.viewers,
    source: raw.source,
    state: '',
  };
}

function readResult(raw: any): ResultView {
  const letterbox = readLetterbox(raw.letterbox);
  const mapLength = letterbox.modelWidth * letterbox.modelHeight;
  const sequence = toNumber(raw.sequence);
  if (mapLength === 0 || letterbox.scale <= 0) {
    throw new WireError('ERR_INVALID_LETTERBOX',
      `result ${sequence} has an invalid letterbox (model ${letterbox.modelWidth}x${letterbox.modelHeight}, scale ${letterbox.scale}); the server must send the model geometry with every result`);
  }
  if (raw.labelMask.length !== mapLength || raw.errorProbability.length !== mapLength) {
    throw new WireError('ERR_MAP_SIZE_MISMATCH',
      `result ${sequence} has label_mask ${raw.labelMask.length} B and error_probability ${raw.errorProbability.length} B, expected ${mapLength} B (model ${letterbox.modelWidth}x${letterbox.modelHeight}); check the server's postprocessing`);
  }
  return {
    streamId: raw.streamId,
    sequence,
    captureWallMs: nsToMs(raw.captureTimestampNs),
    sentWallMs: nsToMs(raw.timestamps?.sentWallNs),
    modelId: raw.modelId,
    letterbox,
    labelMask: raw.labelMask,
    errorProbability: raw.errorProbability,
    frameRisk: raw.frameRisk,
    // AlarmState ALARM = 2 (proto enum); OK and UNSPECIFIED both mean no alarm.
    alarm: raw.alarm === 2,
    alarmReason: raw.alarmReason,
    counters: readCounters(raw.counters),
    warnings: [...(raw.warnings ?? [])],
  };
}

function readUpdate(raw: any): UpdateView {
  const frame = raw.frame;
  if (!frame) {
    throw new WireError('ERR_MISSING_FRAME', 'update without a display frame; the server must send the frame with its result');
  }
  if (frame.gray8.length !== frame.width * frame.height) {
    throw new WireError('ERR_FRAME_SIZE_MISMATCH',
      `display frame has ${frame.gray8.length} B for ${frame.width}x${frame.height}, expected ${frame.width * frame.height} B of 8-bit grey`);
  }
  return {
    frame: { width: frame.width, height: frame.height, gray8: frame.gray8 },
    result: raw.result ? readResult(raw.result) : null,
    skippedSinceLast: toNumber(raw.skippedSinceLast),
    updateId: toNumber(raw.updateId),
  };
}

function readViewerMessage(raw: any): ViewerEvent {
  if (raw.protocolVersion !== PROTOCOL_VERSION) {
    throw new WireError('ERR_PROTOCOL_VERSION',
      `server speaks protocol version ${raw.protocolVersion}, this viewer speaks ${PROTOCOL_VERSION}; reload the page from the server so both match`);
  }
  switch (raw.body) {
    case 'update':
      return { kind: 'update', update: readUpdate(raw.update) };
    case 'subscribed': {
      const alarm = raw.subscribed.alarm;
      return {
        kind: 'subscribed',
        stream: raw.subscribed.stream ? readStreamInfo(raw.subscribed.stream) : null,
        alarm: alarm ? { enter: alarm.enter, exit: alarm.exit, enterFrames: alarm.enterFrames, exitFrames: alarm.exitFrames } : null,
        modelId: raw.subscribed.modelId,
      };
    }
    case 'streams':
      return { kind: 'streams', streams: raw.streams.streams.map(readStreamInfo) };
    case 'pong':
      return { kind: 'pong', clientWallMs: nsToMs(raw.pong.clientWallNs), serverWallMs: nsToMs(raw.pong.serverWallNs) };
    case 'error':
      return { kind: 'error', code: raw.error.code, message: raw.error.message, fatal: raw.error.fatal };
    default:
      throw new WireError('ERR_UNKNOWN_BODY', `viewer message without a known body (${String(raw.body)}); the server may be newer than this page, reload it`);
  }
}
/* eslint-enable @typescript-eslint/no-explicit-any */

/** Builds the codec from the schema as protobufjs JSON (Root.toJSON() of proto/segwithu.proto). */
export function createViewerCodec(schemaJson: protobuf.INamespace): ViewerCodec {
  const root = protobuf.Root.fromJSON(schemaJson);
  const viewerMessage = root.lookupType('segwithu.v1.ViewerMessage');
  const viewerRequest = root.lookupType('segwithu.v1.ViewerRequest');

  return {
    decode(bytes) {
      let raw: unknown;
      try {
        raw = viewerMessage.decode(bytes);
      } catch (error) {
        throw new WireError('ERR_DECODE', `viewer message of ${bytes.length} B is not a valid ViewerMessage: ${(error as Error).message}`);
      }
      return readViewerMessage(raw);
    },
    encodeSubscribe(streamId, maxUnackedUpdates = 0) {
      return viewerRequest.encode(viewerRequest.fromObject({ protocolVersion: PROTOCOL_VERSION, subscribe: { streamId, maxUnackedUpdates } })).finish();
    },
    encodeAck(updateId) {
      return viewerRequest.encode(viewerRequest.fromObject({ protocolVersion: PROTOCOL_VERSION, ack: { updateId } })).finish();
    },
    encodePing(clientWallMs) {
      const clientWallNs = Math.round(clientWallMs * 1e6);
      return viewerRequest.encode(viewerRequest.fromObject({ protocolVersion: PROTOCOL_VERSION, ping: { clientWallNs } })).finish();
    },
  };
}
