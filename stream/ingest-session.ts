// One device connection, whatever the transport: decodes IngestMessages, opens the stream on
// the hello, validates frames and hands them to the pipeline, and reports every rejected
// message to the device as an ErrorReport with a stable code.
//
// Backpressure policy: a live stream never waits for the pipeline (submit is not awaited and
// the pipeline keeps only the latest waiting frame). A lossless stream is paced: frames go to
// the pipeline one at a time, the transport stops reading while one waits to be taken, and the
// device receives a FrameAck once the pipeline has taken it, so no lossless frame is dropped.

import type { Frame } from '../pipeline/index.js';
import type { segwithu } from '../proto/generated/segwithu.js';
import { tokenFromAuthRecord } from './auth.js';
import type { ServerContext } from './context.js';
import { IngestError } from './errors.js';
import { FrameRateLimiter } from './frame-rate-limit.js';
import type { StreamEntry, StreamSource } from './registry.js';
import { NO_STREAM } from './telemetry.js';
import { frameFromMessage, gray16WindowFromHello, type HelloContext } from './validate.js';
import { encodeIngestReply, PROTOCOL_VERSION, pixelFormatName, proto, uint64ToNumber } from './wire.js';

/** Connection operations a transport provides to the session. */
export interface IngestTransport {
  readonly kind: Extract<StreamSource, 'websocket' | 'tcp'>;
  readonly remoteAddress: string;
  send(bytes: Uint8Array): void;
  /** Bytes queued for sending; replies are skipped (still counted) above REPLY_BUFFER_LIMIT_BYTES. */
  bufferedBytes(): number;
  /** Ends the connection after what was sent so far is flushed. */
  close(reason: string): void;
  /** Stops and restarts reading from the connection. */
  pause(): void;
  resume(): void;
}

/**
 * Replies a device has not read yet beyond which further ErrorReports are not sent, so a device
 * that floods bad frames and never reads cannot grow the server's send buffer without bound.
 */
const REPLY_BUFFER_LIMIT_BYTES = 1024 * 1024;

export class IngestSession {
  readonly #context: ServerContext;
  readonly #transport: IngestTransport;
  #stream: StreamEntry | undefined;
  #hello: HelloContext | undefined;
  /** Lossless frames read from the device and not yet handed to the pipeline. */
  readonly #losslessBacklog: Frame[] = [];
  /** True while #submitLossless is handing frames to the pipeline. */
  #submitting = false;
  #ended = false;
  /**
   * TCP only: 'required' until the auth record (`Bearer TOKEN`) has been checked, when the server
   * has device tokens; 'optional' while a first record may still be one; 'done' after that.
   * WebSocket devices present their token in the handshake instead.
   */
  #authRecord: 'required' | 'optional' | 'done';
  /** Closes the connection with ERR_HELLO_TIMEOUT unless a hello is accepted first. */
  #helloTimer: NodeJS.Timeout | undefined;
  readonly #rateLimiter: FrameRateLimiter;
  /** Sequence number the stream had reached when this connection resumed it; undefined for a new stream. */
  #resumedAfter: number | undefined;

  constructor(context: ServerContext, transport: IngestTransport) {
    this.#context = context;
    this.#transport = transport;
    this.#authRecord = transport.kind !== 'tcp' ? 'done' : context.auth.required('device') ? 'required' : 'optional';
    this.#rateLimiter = new FrameRateLimiter(context.options.maxFrameRateHz);

    const { helloTimeoutMs } = context.options;
    this.#helloTimer = setTimeout(() => {
      this.fail(new IngestError(
        'ERR_HELLO_TIMEOUT',
        `no DeviceHello was accepted within ${helloTimeoutMs} ms of connecting; send the hello right after connecting, or raise --hello-timeout-ms`,
      ));
    }, helloTimeoutMs);
    this.#helloTimer.unref();
  }

  get streamId(): string | undefined {
    return this.#stream?.id;
  }

  /** Handles one complete message (a WebSocket message or one TCP record). */
  handleMessage(bytes: Uint8Array): void {
    const receivedNs = process.hrtime.bigint();
    if (this.#ended) {
      return;
    }
    if (this.#authRecord !== 'done' && this.#handleAuthRecord(bytes)) {
      return;
    }

    // An empty buffer decodes as a message with every field at its default (version 0), which
    // would be misreported as an unsupported protocol version.
    if (bytes.length === 0) {
      this.#reject(new IngestError('ERR_DECODE', 'message of 0 bytes is empty; send protobuf-encoded IngestMessages'), false);
      return;
    }

    let message: segwithu.v1.IngestMessage;
    try {
      message = proto.IngestMessage.decode(bytes);
    } catch (error) {
      this.#reject(new IngestError(
        'ERR_DECODE',
        `message of ${bytes.length} bytes is not a valid segwithu.v1.IngestMessage (${(error as Error).message}); send protobuf-encoded IngestMessages`,
      ), false);
      return;
    }

    const isFrame = message.body === 'frame';
    if (message.protocolVersion !== PROTOCOL_VERSION) {
      this.#reject(new IngestError(
        'ERR_PROTOCOL_VERSION',
        `protocol_version ${message.protocolVersion} is not supported; this server speaks version ${PROTOCOL_VERSION}`,
        isFrame ? uint64ToNumber(message.frame?.sequence) : undefined,
      ), isFrame);
      return;
    }

    switch (message.body) {
      case 'hello':
        this.#handleHello(message.hello!);
        return;
      case 'frame':
        this.#handleFrame(message.frame!, receivedNs);
        return;
      case 'goodbye':
        this.#handleGoodbye(message.goodbye!);
        return;
      default:
        this.#reject(new IngestError('ERR_DECODE', 'IngestMessage has no body; send a hello, a frame or a goodbye'), false);
    }
  }

  /** Reports a WebSocket text message: protobuf travels only in binary messages. */
  rejectTextMessage(byteLength: number): void {
    this.#reject(new IngestError(
      'ERR_DECODE',
      `text message of ${byteLength} bytes received; send each IngestMessage as a binary WebSocket message`,
    ), false);
  }

  /** Reports a message the transport discarded unread because it was above maxMessageBytes. */
  rejectOversize(byteLength: number): void {
    this.#reject(new IngestError(
      'ERR_MESSAGE_TOO_LARGE',
      `message of ${byteLength} bytes is above the server's maximum of ${this.#context.options.maxMessageBytes} bytes; send smaller frames or raise --max-message-bytes`,
    ), true);
  }

  /** Reports an error that ends the connection (broken framing) and closes it. */
  fail(error: IngestError): void {
    this.#reject(error, false);
    if (!this.#ended) {
      this.#transport.close(error.code);
    }
  }

  /** Called once the connection is gone: the stream ends and stays listed for the retention time. */
  end(reason: string): void {
    if (this.#ended) {
      return;
    }
    this.#ended = true;
    clearTimeout(this.#helloTimer);

    const stream = this.#stream;
    if (stream !== undefined) {
      this.#context.registry.end(stream.id);
    }
    this.#context.logger.info(
      { streamId: stream?.id, lastSequence: stream?.lastSequence, transport: this.#transport.kind, remoteAddress: this.#transport.remoteAddress, reason },
      'device disconnected',
    );
  }

  #handleHello(hello: segwithu.v1.IDeviceHello): void {
    if (this.#stream !== undefined) {
      this.#reject(new IngestError(
        'ERR_HELLO_REPEATED',
        `this connection already streams "${this.#stream.id}"; send one DeviceHello per connection, or reconnect to start another stream`,
      ), false);
      return;
    }
    if (this.#context.closing) {
      this.fail(new IngestError('ERR_SERVER_CLOSING', 'the server is shutting down and takes no new streams; reconnect once it is back'));
      return;
    }

    const declaredFormat = hello.pixelFormat ?? 0;
    const pixelFormat = pixelFormatName(declaredFormat);
    if (declaredFormat !== 0 && pixelFormat === undefined) {
      this.#reject(new IngestError('ERR_PIXEL_FORMAT', `DeviceHello pixel_format ${declaredFormat} is unknown; send GRAY8, GRAY16, RGB8 or RGBA8`), false);
      return;
    }

    let stream: StreamEntry;
    let gray16Window: [number, number] | undefined;
    try {
      gray16Window = gray16WindowFromHello(hello);
      stream = this.#context.registry.open({
        name: hello.streamName || `${this.#transport.kind}-device`,
        source: this.#transport.kind,
        nominalRateHz: hello.nominalRateHz ?? 0,
        width: hello.width ?? 0,
        height: hello.height ?? 0,
        lossless: hello.lossless ?? false,
      });
    } catch (error) {
      if (!(error instanceof IngestError)) {
        throw error;
      }
      if (error.fatal) {
        this.fail(error);
      } else {
        this.#reject(error, false);
      }
      return;
    }

    this.#stream = stream;
    this.#hello = { streamId: stream.id, pixelFormat, gray16Window };
    clearTimeout(this.#helloTimer);
    if (stream.lastSequence >= 0) {
      this.#resumedAfter = stream.lastSequence;
      this.#context.telemetry.stream(stream.id).resumes += 1;
    }

    const { manifest } = this.#context.pipeline;
    this.#send(encodeIngestReply({
      helloAck: {
        streamId: stream.id,
        modelId: `${manifest.model.id}@${manifest.model.version}`,
        modelInputWidth: manifest.input.width,
        modelInputHeight: manifest.input.height,
        resumeAfterSequence: Math.max(0, stream.lastSequence),
      },
    }));
    this.#context.logger.info(
      {
        streamId: stream.id,
        streamName: stream.name,
        transport: this.#transport.kind,
        remoteAddress: this.#transport.remoteAddress,
        lossless: stream.lossless,
        nominalRateHz: stream.nominalRateHz,
        width: stream.width,
        height: stream.height,
        deviceModel: hello.deviceModel,
        resumeAfterSequence: this.#resumedAfter,
      },
      this.#resumedAfter === undefined ? 'device connected, stream started' : 'device reconnected, stream resumed',
    );
  }

  #handleFrame(message: segwithu.v1.IFrame, receivedNs: bigint): void {
    const stream = this.#stream;
    const hello = this.#hello;
    if (stream === undefined || hello === undefined) {
      this.#reject(new IngestError(
        'ERR_NO_HELLO',
        `frame ${uint64ToNumber(message.sequence)} arrived before a DeviceHello; send the hello first on every connection`,
        uint64ToNumber(message.sequence),
      ), false);
      return;
    }

    if (!stream.lossless && !this.#rateLimiter.tryTake(performance.now())) {
      const sequence = uint64ToNumber(message.sequence);
      this.#reject(new IngestError(
        'ERR_RATE_LIMIT',
        `frame ${sequence}: stream "${stream.id}" sends above the server's maximum of ${this.#context.options.maxFrameRateHz} frames/s; send at that rate or below, or raise --max-frame-rate`,
        sequence,
      ), true);
      return;
    }

    let frame;
    try {
      frame = frameFromMessage(message, hello, this.#context.options, receivedNs);
    } catch (error) {
      if (!(error instanceof IngestError)) {
        throw error;
      }
      this.#reject(error, true);
      return;
    }
    this.#noteSequenceRegression(stream, frame.sequence);
    this.#noteSequenceGap(stream, frame.sequence);
    stream.lastSequence = frame.sequence;
    this.#context.telemetry.stream(stream.id).arrivals.mark();

    if (!stream.lossless) {
      void this.#context.pipeline.submit(frame, 'live');
      return;
    }

    this.#losslessBacklog.push(frame);
    this.#transport.pause();
    void this.#submitLossless();
  }

  /**
   * Hands lossless frames to the pipeline one at a time, in order, acknowledging each once taken.
   * Frames the transport had already read when it paused wait here; reading resumes once they
   * are all taken. Frames left when the device disconnects are still submitted, so none is lost.
   */
  async #submitLossless(): Promise<void> {
    if (this.#submitting) {
      return;
    }
    this.#submitting = true;
    for (let frame = this.#losslessBacklog.shift(); frame !== undefined; frame = this.#losslessBacklog.shift()) {
      await this.#context.pipeline.submit(frame, 'lossless');
      this.#send(encodeIngestReply({ frameAck: { sequence: frame.sequence } }));
    }
    this.#submitting = false;
    if (!this.#ended) {
      this.#transport.resume();
    }
  }

  /**
   * Reports a frame whose sequence number is at or below the stream's last accepted one: a
   * repeated frame, or a device that restarted its counter (after a reboot, or on reconnect).
   * The frame is still processed, so the picture goes on. Each such event is counted, logged
   * (rate-limited) and reported to the device once. Frames numbered upwards from the new value
   * are not events again, because the comparison is with the last frame, not the highest.
   */
  #noteSequenceRegression(stream: StreamEntry, sequence: number): void {
    if (stream.lastSequence < 0 || sequence > stream.lastSequence) {
      return;
    }

    this.#context.telemetry.stream(stream.id).sequenceRegressions += 1;
    this.#context.errorLog.warn(
      `${stream.id}:sequence-regression`,
      { streamId: stream.id, lastSequence: stream.lastSequence, sequence, code: 'ERR_SEQUENCE_ORDER', transport: this.#transport.kind },
      'sequence number at or below the previous frame\'s; frame processed',
    );

    const warning = new IngestError(
      'ERR_SEQUENCE_ORDER',
      `frame ${sequence}: sequence number is not above the previous frame's (${stream.lastSequence}) on stream "${stream.id}"; the frame is processed, but number frames upwards, and after a reconnect continue from the HelloAck's resume_after_sequence + 1`,
      sequence,
    );
    this.#send(encodeIngestReply({ error: { code: warning.code, message: warning.message, sequence, fatal: warning.fatal } }));
  }

  /**
   * Counts sequence numbers the device skipped since the stream's last accepted frame, the
   * frames lost while a device was disconnected included. Those frames never reached the server,
   * so the pipeline's counters cannot hold them; this metric and log line show them.
   */
  #noteSequenceGap(stream: StreamEntry, sequence: number): void {
    const resumedAfter = this.#resumedAfter;
    this.#resumedAfter = undefined;
    if (stream.lastSequence < 0 || sequence <= stream.lastSequence + 1) {
      return;
    }

    const gapFrames = sequence - stream.lastSequence - 1;
    this.#context.telemetry.stream(stream.id).sequenceGapFrames += gapFrames;
    const fields = { streamId: stream.id, lastSequence: stream.lastSequence, sequence, gapFrames, transport: this.#transport.kind };
    if (resumedAfter !== undefined) {
      this.#context.logger.info(fields, 'resumed stream has a sequence gap: these frames never reached the server');
    } else {
      this.#context.errorLog.warn(`${stream.id}:sequence-gap`, fields, 'sequence gap: frames the device numbered never reached the server');
    }
  }

  /**
   * Checks a TCP connection's first record when it is an auth record, or when the server requires
   * one. Returns true when the record was the auth record (or the connection failed on it).
   */
  #handleAuthRecord(bytes: Uint8Array): boolean {
    const required = this.#authRecord === 'required';
    this.#authRecord = 'done';
    const token = tokenFromAuthRecord(bytes);
    if (token === undefined && !required) {
      return false;
    }

    if (!this.#context.auth.allows('device', token)) {
      this.#context.telemetry.countAuthFailure('device', this.#transport.kind);
      this.fail(new IngestError(
        'ERR_UNAUTHORIZED',
        token === undefined
          ? 'this server requires a device token: send the UTF-8 text "Bearer TOKEN" as the first record on the connection (segwithu-live send --token)'
          : 'the device token is not valid; send one of the server\'s device tokens',
      ));
    }
    return true;
  }

  #handleGoodbye(goodbye: segwithu.v1.IGoodbye): void {
    this.#context.logger.info({ streamId: this.#stream?.id, reason: goodbye.reason }, 'device sent goodbye');
    this.#transport.close('goodbye');
  }

  /**
   * Reports a rejected message to the device, counts it and logs it (rate-limited). A rejected
   * frame of an open stream also counts in the pipeline as received and dropped 'invalid'.
   */
  #reject(error: IngestError, isFrameOfStream: boolean): void {
    const streamId = this.#stream?.id;
    this.#context.telemetry.countInvalid(streamId ?? NO_STREAM, error.code);
    if (isFrameOfStream && streamId !== undefined) {
      this.#context.pipeline.countInvalid(streamId);
      this.#context.telemetry.stream(streamId).arrivals.mark();
    }

    this.#context.errorLog.warn(
      `${streamId ?? this.#transport.remoteAddress}:${error.code}`,
      { streamId, sequence: error.sequence, code: error.code, transport: this.#transport.kind, remoteAddress: this.#transport.remoteAddress, err: error.message },
      'ingest message rejected',
    );

    this.#send(encodeIngestReply({ error: { code: error.code, message: error.message, sequence: error.sequence ?? 0, fatal: error.fatal } }));
  }

  #send(bytes: Uint8Array): void {
    if (this.#ended || this.#transport.bufferedBytes() > REPLY_BUFFER_LIMIT_BYTES) {
      return;
    }
    this.#transport.send(bytes);
  }
}
