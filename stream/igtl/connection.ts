// One OpenIGTLink TCP connection, in either role (accepted by the listener, or made by the
// client): parse what the peer sends, submit IMAGEs as frames, reply to queries, and send
// results back.
//
// Ingest: each IMAGE becomes a Frame submitted 'live' (latest-wins in the pipeline). An
// invalid body is rejected, counted by code and, for IMAGE, counted as an invalid frame of
// its stream; the connection goes on. A framing error ends this connection only, after a
// STATUS message that names the error.
//
// Output backpressure: latest-wins per stream. A result waits in a one-slot-per-stream queue
// until the socket's send buffer is below maxSendBufferBytes; a newer result for the same
// stream replaces it (counted as superseded). So the send buffer never exceeds
// maxSendBufferBytes plus one result.
//
// Queries: GET_STATUS is answered with STATUS OK (keep-alive); STP_IMAGE stops results to
// this connection and STT_IMAGE starts them again. Other queries are logged and ignored.

import type { Socket } from 'node:net';
import type { Logger } from 'pino';

import type { Frame, Result } from '../../pipeline/types.js';
import { IgtlError, type IgtlErrorCode } from './errors.js';
import type { HeaderVersion, IgtlHeader } from './header.js';
import { timestampToNs } from './header.js';
import { encodeStatusMessage, type IgtlMessage } from './message.js';
import { IgtlParser, type IgtlParseEvent, type IgtlParserOptions } from './parser.js';
import { StatusCode } from './status.js';
import type { IgtlMetrics } from './metrics.js';
import type { IgtlStreamDirectory, ResultEncoder } from './streams.js';
import { SubvolumeCanvas, imageToFrame } from './to-frame.js';

export type SubmitMode = 'live' | 'lossless';

/** The part of the pipeline's API a transport needs. */
export interface FrameSink {
  submit(frame: Frame, mode: SubmitMode): unknown;
  countInvalid(streamId: string): unknown;
}

/**
 * Result routing of a connection:
 * 'auto'  results of the streams it sent frames for, or of every stream while it sent none
 *         (a viewer such as 3D Slicer that only listens);
 * 'all'   every stream; 'own' only streams it sent frames for; 'none' nothing.
 */
export type ResultRouting = 'auto' | 'all' | 'own' | 'none';

export interface IgtlConnectionOptions {
  socket: Socket;
  /** Names the peer in stream ids and logs, e.g. "igtl/127.0.0.1". */
  peer: string;
  sink: FrameSink;
  streams: IgtlStreamDirectory;
  encoder: ResultEncoder;
  metrics: IgtlMetrics;
  logger: Logger;
  parser?: IgtlParserOptions;
  /** Default 'auto'. */
  routing?: ResultRouting;
  /** Send buffer in bytes above which results wait (latest-wins) instead of being written. Default 8 MiB. */
  maxSendBufferBytes?: number;
  /** Header version of STATUS replies. Default 1. */
  replyVersion?: HeaderVersion;
  /** Devices per connection whose last whole image is kept for subvolume updates. Default 8. */
  maxSubvolumeDevices?: number;
  /** Device names (streams) one connection may open; IMAGEs of further devices are rejected. Default 16. */
  maxStreamsPerConnection?: number;
  /** Called for every message that decoded (the client resets its backoff on the first one). */
  onMessage?: (message: IgtlMessage) => void;
}

/** STATUS code sent before a connection ends on a framing error. */
const STATUS_FOR_CODE: Partial<Record<IgtlErrorCode, number>> = {
  ERR_IGTL_BODY_TOO_LARGE: StatusCode.OVERFLOW,
  ERR_IGTL_HEADER_VERSION: StatusCode.UNKNOWN_VERSION,
  ERR_IGTL_HEADER_TYPE: StatusCode.UNKNOWN_INSTRUCTION,
};

/** How long a failed connection may take to flush its STATUS before it is destroyed, in ms. */
const END_GRACE_MS = 1000;

/** Minimum time between two log lines for the same rejection code on one connection, in ms. */
const REJECTION_LOG_INTERVAL_MS = 10_000;

let nextConnectionId = 1;

export class IgtlConnection {
  readonly id: number;
  readonly peer: string;
  /** Resolves when the socket has closed. */
  readonly closed: Promise<void>;

  #socket: Socket;
  #sink: FrameSink;
  #streams: IgtlStreamDirectory;
  #encoder: ResultEncoder;
  #metrics: IgtlMetrics;
  #log: Logger;
  #parser: IgtlParser;
  #canvas: SubvolumeCanvas;
  #routing: ResultRouting;
  #maxSendBufferBytes: number;
  #replyVersion: HeaderVersion;
  #onMessage: ((message: IgtlMessage) => void) | undefined;
  #maxStreamsPerConnection: number;

  /** Streams this connection opened, by device name; they end when it closes. */
  #ownStreams = new Map<string, string>();
  #pending = new Map<string, Result>();
  #paused = false;
  #ended = false;
  #lastRejectionLog = new Map<IgtlErrorCode, { atMs: number; suppressed: number }>();

  constructor(options: IgtlConnectionOptions) {
    this.id = nextConnectionId++;
    this.peer = options.peer;
    this.#socket = options.socket;
    this.#sink = options.sink;
    this.#streams = options.streams;
    this.#encoder = options.encoder;
    this.#metrics = options.metrics;
    this.#parser = new IgtlParser(options.parser);
    this.#canvas = new SubvolumeCanvas(options.maxSubvolumeDevices ?? 8);
    this.#routing = options.routing ?? 'auto';
    this.#maxSendBufferBytes = options.maxSendBufferBytes ?? 8 * 1024 * 1024;
    this.#replyVersion = options.replyVersion ?? 1;
    this.#onMessage = options.onMessage;
    this.#maxStreamsPerConnection = options.maxStreamsPerConnection ?? 16;
    this.#log = options.logger.child({ connection: this.id, peer: this.peer });

    this.#metrics.connectionsOpened += 1;
    this.#metrics.connectionsActive += 1;
    this.#log.info('OpenIGTLink connection opened');

    this.closed = new Promise((resolve) => {
      this.#socket.once('close', () => {
        this.#ended = true;
        this.#pending.clear();
        for (const streamId of this.#ownStreams.values()) this.#streams.end(streamId);
        this.#metrics.connectionsActive -= 1;
        this.#log.info('OpenIGTLink connection closed');
        resolve();
      });
    });
    this.#socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    this.#socket.on('drain', () => this.#flush());
    this.#socket.on('error', (error: NodeJS.ErrnoException) => {
      // A peer that closes while results are on their way is an ordinary disconnect, not a fault.
      if (error.code === 'EPIPE' || error.code === 'ECONNRESET') this.#log.info({ code: error.code }, 'OpenIGTLink peer closed the connection');
      else this.#log.warn({ err: error }, 'OpenIGTLink socket error');
    });
  }

  get paused(): boolean {
    return this.#paused;
  }

  /** True when results of `streamId` go to this connection under its routing. */
  wantsResult(streamId: string): boolean {
    switch (this.#routing) {
      case 'none':
        return false;
      case 'all':
        return true;
      case 'own':
        return this.#ownsStream(streamId);
      case 'auto':
        return this.#ownStreams.size === 0 || this.#ownsStream(streamId);
    }
  }

  /** Queues a result for sending, latest-wins per stream; ignored when not routed here, paused or closed. */
  offer(result: Result): void {
    if (this.#ended || this.#paused || !this.wantsResult(result.streamId)) return;
    if (this.#pending.delete(result.streamId)) this.#metrics.resultsSuperseded += 1;
    this.#pending.set(result.streamId, result);
    this.#flush();
  }

  /** Writes a message unless the send buffer is above maxSendBufferBytes; returns whether it was written. */
  send(message: Uint8Array): boolean {
    if (this.#ended || this.#socket.writableLength >= this.#maxSendBufferBytes) return false;
    this.#socket.write(message);
    return true;
  }

  /** Ends the connection; unsent results are discarded. */
  close(): void {
    this.#ended = true;
    this.#pending.clear();
    this.#socket.end();
    setTimeout(() => this.#socket.destroy(), END_GRACE_MS).unref();
  }

  #onData(chunk: Buffer): void {
    if (this.#ended || this.#parser.state === 'FAILED') return;
    this.#parser.push(chunk);
    for (let event = this.#parser.next(); event !== undefined; event = this.#parser.next()) {
      this.#handle(event);
      if (this.#ended) return;
    }
  }

  #handle(event: IgtlParseEvent): void {
    switch (event.kind) {
      case 'message':
        this.#metrics.messagesReceived += 1;
        this.#onMessage?.(event.message);
        this.#handleMessage(event.message);
        return;
      case 'skipped':
        this.#metrics.messagesReceived += 1;
        this.#metrics.messagesSkipped += 1;
        this.#log.debug({ type: event.header.type, device: event.header.deviceName, bodyBytes: event.header.bodySize }, 'OpenIGTLink message type not read, skipped');
        return;
      case 'rejected':
        this.#metrics.messagesReceived += 1;
        this.#reject(event.header, event.error);
        return;
      case 'failed':
        this.#fail(event.error);
        return;
    }
  }

  #handleMessage(message: IgtlMessage): void {
    const { header } = message;
    switch (message.kind) {
      case 'image':
        this.#submitImage(message);
        return;
      case 'query':
        this.#answerQuery(header, message.prefix, message.queryType);
        return;
      case 'status':
        this.#log.debug({ device: header.deviceName, code: message.status.code, status: message.status.message }, 'OpenIGTLink STATUS received');
        return;
      case 'string':
        this.#log.debug({ device: header.deviceName, text: message.string.text.slice(0, 200) }, 'OpenIGTLink STRING received');
        return;
    }
  }

  #submitImage(message: Extract<IgtlMessage, { kind: 'image' }>): void {
    const { header, image } = message;
    const receivedNs = process.hrtime.bigint();
    let frame: Frame;
    try {
      const whole = this.#canvas.apply(header.deviceName, image);
      const streamId = this.#openStream(header.deviceName, image.size[0], image.size[1]);
      const captureTimestampNs = header.timestamp === 0n ? BigInt(Date.now()) * 1_000_000n : timestampToNs(header.timestamp);
      frame = imageToFrame(whole, { streamId, sequence: 0, captureTimestampNs, receivedNs });
    } catch (error) {
      if (!(error instanceof IgtlError)) throw error;
      this.#reject(header, error);
      return;
    }

    // The sequence number is taken only now, so that rejected images leave no gap.
    frame.sequence = this.#streams.nextSequence(frame.streamId);
    this.#encoder.rememberFrame(frame);
    this.#metrics.framesSubmitted += 1;
    try {
      void Promise.resolve(this.#sink.submit(frame, 'live')).catch((error: unknown) =>
        this.#log.error({ err: error, stream: frame.streamId, sequence: frame.sequence }, 'pipeline submit failed'),
      );
    } catch (error) {
      this.#log.error({ err: error, stream: frame.streamId, sequence: frame.sequence }, 'pipeline submit failed');
    }
  }

  /** Returns the stream of `deviceName` on this connection, opening it through the directory on first use. */
  #openStream(deviceName: string, width: number, height: number): string {
    const known = this.#ownStreams.get(deviceName);
    if (known !== undefined) return known;
    if (this.#ownStreams.size >= this.#maxStreamsPerConnection) {
      throw new IgtlError(
        'ERR_IGTL_STREAM_REFUSED',
        `no stream opened for device "${deviceName}": this connection already streams ${this.#ownStreams.size} devices (maxStreamsPerConnection); send each device on its own connection`,
      );
    }

    let streamId: string;
    try {
      streamId = this.#streams.open(this.peer, deviceName, { width, height });
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new IgtlError('ERR_IGTL_STREAM_REFUSED', `no stream opened for device "${deviceName}": ${reason}`, { cause: error });
    }
    this.#ownStreams.set(deviceName, streamId);
    this.#log.info({ device: deviceName, stream: streamId, width, height }, 'OpenIGTLink stream started');
    return streamId;
  }

  #ownsStream(streamId: string): boolean {
    for (const own of this.#ownStreams.values()) if (own === streamId) return true;
    return false;
  }

  #answerQuery(header: IgtlHeader, prefix: string, queryType: string): void {
    if (prefix === 'GET' && queryType === 'STATUS') {
      this.#reply(encodeStatusMessage({ code: StatusCode.OK, subcode: 0n, errorName: 'OK', message: 'segwithu-live ready' }, this.#replyOptions(header.deviceName)));
      return;
    }
    if (queryType === 'IMAGE' && (prefix === 'STT' || prefix === 'STP')) {
      this.#paused = prefix === 'STP';
      if (this.#paused) this.#pending.clear();
      this.#log.info({ device: header.deviceName }, this.#paused ? 'results stopped by STP_IMAGE' : 'results started by STT_IMAGE');
      return;
    }
    this.#log.debug({ type: header.type, device: header.deviceName }, 'OpenIGTLink query not supported, ignored');
  }

  #reject(header: IgtlHeader, error: IgtlError): void {
    this.#metrics.countRejected(error.code);
    let streamId = this.#ownStreams.get(header.deviceName);
    if (header.type === 'IMAGE' && error.code !== 'ERR_IGTL_STREAM_REFUSED') {
      // An invalid IMAGE is a frame of its device's stream: it counts as received and dropped 'invalid'.
      try {
        streamId ??= this.#openStream(header.deviceName, 0, 0);
        this.#sink.countInvalid(streamId);
      } catch (refused) {
        if (!(refused instanceof IgtlError)) throw refused;
        this.#metrics.countRejected(refused.code);
      }
    }

    const nowMs = Date.now();
    const last = this.#lastRejectionLog.get(error.code);
    if (last !== undefined && nowMs - last.atMs < REJECTION_LOG_INTERVAL_MS) {
      last.suppressed += 1;
      return;
    }
    this.#lastRejectionLog.set(error.code, { atMs: nowMs, suppressed: 0 });
    this.#log.warn(
      { code: error.code, type: header.type, stream: streamId, suppressedSinceLastLog: last?.suppressed ?? 0, err: error },
      'OpenIGTLink message rejected',
    );
  }

  #fail(error: IgtlError): void {
    this.#metrics.countRejected(error.code);
    this.#metrics.connectionsFailed += 1;
    this.#log.warn({ code: error.code, err: error }, 'OpenIGTLink framing broken, ending the connection');

    const status = {
      code: STATUS_FOR_CODE[error.code] ?? StatusCode.UNKNOWN_ERROR,
      subcode: 0n,
      errorName: 'Error',
      message: `${error.code}: ${error.message}`,
    };
    this.#pending.clear();
    this.#socket.write(encodeStatusMessage(status, this.#replyOptions('segwithu-live')));
    this.close();
  }

  #reply(message: Uint8Array): void {
    // A peer that does not read its replies gets none rather than a growing send buffer.
    this.send(message);
  }

  #replyOptions(deviceName: string): { deviceName: string; version: HeaderVersion; timestampNs: bigint } {
    return { deviceName, version: this.#replyVersion, timestampNs: BigInt(Date.now()) * 1_000_000n };
  }

  #flush(): void {
    while (this.#pending.size > 0 && !this.#ended && this.#socket.writableLength < this.#maxSendBufferBytes) {
      const [streamId, result] = this.#pending.entries().next().value as [string, Result];
      this.#pending.delete(streamId);

      let messages;
      try {
        messages = this.#encoder.encode(result);
      } catch (error) {
        this.#metrics.resultsFailed += 1;
        this.#log.error({ err: error, stream: streamId, sequence: result.sequence }, 'result could not be encoded as OpenIGTLink');
        continue;
      }
      this.#socket.cork();
      this.#socket.write(messages.label);
      this.#socket.write(messages.errorProbability);
      this.#socket.write(messages.risk);
      this.#socket.uncork();
      this.#metrics.resultsSent += 1;
    }
  }
}
