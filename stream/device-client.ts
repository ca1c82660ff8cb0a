// The device side of the ingest protocol, over WebSocket (ws:// or wss://host:port/ingest) or
// TCP (tcp://host:port, or tls://host:port for TCP ingest over TLS): DeviceConnection sends IngestMessages and collects IngestReplies, and
// sendFolder() streams a recorded folder exactly as a device would (hello, then frames at a
// rate, then goodbye). `segwithu-live send` prints its summary.

import net from 'node:net';
import tls from 'node:tls';

import { WebSocket } from 'ws';

import type { segwithu } from '../proto/generated/segwithu.js';
import { encodeAuthRecord } from './auth.js';
import { OptionError } from './errors.js';
import { encodeLengthPrefixed, LengthPrefixedReader } from './framing.js';
import { listFolderFrames } from './sources/folder.js';
import { decodedFrames, FramePacer, sleep, type DecodedFrame, type FrameRate } from './sources/playback.js';
import { bigIntToUint64, encodeIngestMessage, messageBytes, proto, uint64ToNumber, wallClockNs } from './wire.js';

type IngestReply = segwithu.v1.IngestReply;

/** Largest reply the device reads over TCP; replies are small (acks and error reports). */
const MAX_REPLY_BYTES = 1024 * 1024;
/** Replies other than FrameAcks kept in DeviceConnection.replies; older ones are dropped (they stay counted). */
const MAX_KEPT_REPLIES = 10_000;

export interface DeviceConnectOptions {
  /** Device token: the Authorization header on WebSockets, the first record on TCP. Default: none. */
  token?: string;
  /** PEM CA certificates trusted for wss:// and tls://, in addition to Node's defaults (for a self-signed server). */
  ca?: string | Buffer;
}

export interface ConnectionClosed {
  /** WebSocket close code; undefined for TCP. */
  code: number | undefined;
  reason: string;
}

export class DeviceConnection {
  /** Replies received in order, FrameAcks excepted (they are only counted), up to the latest 10 000. */
  readonly replies: IngestReply[] = [];
  /** Resolves when the connection has closed, from either side. */
  readonly closed: Promise<ConnectionClosed>;

  readonly #sendBytes: (bytes: Uint8Array) => void;
  readonly #sendUnframed: (bytes: Uint8Array) => void;
  readonly #bufferedBytes: () => number;
  readonly #end: () => void;
  readonly #waiters = new Set<() => void>();
  readonly #errorCounts: Record<string, number> = {};
  #ackCount = 0;
  #lastAckSequence = -1;
  #isClosed = false;

  private constructor(
    transport: { send: (bytes: Uint8Array) => void; sendUnframed: (bytes: Uint8Array) => void; bufferedBytes: () => number; end: () => void },
    subscribe: (onReply: (bytes: Uint8Array) => void, onClose: (closed: ConnectionClosed) => void) => void,
  ) {
    this.#sendBytes = transport.send;
    this.#sendUnframed = transport.sendUnframed;
    this.#bufferedBytes = transport.bufferedBytes;
    this.#end = transport.end;
    this.closed = new Promise((resolve) => {
      subscribe(
        (bytes) => {
          this.#record(proto.IngestReply.decode(bytes));
          this.#wake();
        },
        (closed) => {
          this.#isClosed = true;
          this.#wake();
          resolve(closed);
        },
      );
    });
  }

  /** Connects to ws:// or wss://host:port/ingest, or to tcp:// or tls://host:port. */
  static async connect(url: string, options: DeviceConnectOptions = {}): Promise<DeviceConnection> {
    const parsed = new URL(url);
    if (parsed.protocol === 'ws:' || parsed.protocol === 'wss:') {
      return DeviceConnection.#connectWebSocket(url, options);
    }
    if (parsed.protocol === 'tcp:' || parsed.protocol === 'tls:') {
      const connection = await DeviceConnection.#connectTcp(parsed.hostname.replace(/^\[|\]$/g, ''), Number(parsed.port), parsed.protocol === 'tls:' ? options : undefined);
      if (options.token !== undefined) {
        connection.sendRaw(encodeAuthRecord(options.token));
      }
      return connection;
    }
    throw new OptionError(`--url ${url} has protocol ${parsed.protocol}; use ws://HOST:PORT/ingest, wss://HOST:PORT/ingest, tcp://HOST:PORT or tls://HOST:PORT`);
  }

  static async #connectWebSocket(url: string, options: DeviceConnectOptions): Promise<DeviceConnection> {
    const socket = new WebSocket(url, {
      headers: options.token === undefined ? {} : { Authorization: `Bearer ${options.token}` },
      ...(options.ca === undefined ? {} : { ca: options.ca }),
    });
    // Listening from the start: a server that rejects the connection sends its ErrorReport and
    // closes in the same packets as the handshake, before `open` has been awaited.
    const early: Uint8Array[] = [];
    let earlyClose: ConnectionClosed | undefined;
    let deliverReply = (bytes: Uint8Array): void => void early.push(bytes);
    let deliverClose = (closed: ConnectionClosed): void => {
      earlyClose = closed;
    };
    socket.on('message', (data) => deliverReply(messageBytes(data as Buffer | ArrayBuffer | Buffer[])));
    socket.on('close', (code, reason) => deliverClose({ code, reason: reason.toString() }));
    await new Promise<void>((resolve, reject) => {
      socket.once('open', resolve);
      socket.once('error', reject);
    });
    socket.on('error', () => {
      // The close event that follows reports the end; nothing else to do here.
    });

    return new DeviceConnection(
      {
        send: (bytes) => socket.send(bytes),
        sendUnframed: (bytes) => socket.send(bytes),
        bufferedBytes: () => socket.bufferedAmount,
        end: () => socket.close(1000, 'device done'),
      },
      (onReply, onClose) => {
        deliverReply = onReply;
        deliverClose = onClose;
        early.splice(0).forEach(onReply);
        if (earlyClose !== undefined) {
          onClose(earlyClose);
        }
      },
    );
  }

  /** Connects over TCP, or over TLS when `secure` is given. */
  static async #connectTcp(host: string, port: number, secure: DeviceConnectOptions | undefined): Promise<DeviceConnection> {
    const socket = secure === undefined ? net.connect({ host, port }) : tls.connect({ host, port, ...(secure.ca === undefined ? {} : { ca: secure.ca }) });
    await new Promise<void>((resolve, reject) => {
      socket.once(secure === undefined ? 'connect' : 'secureConnect', resolve);
      socket.once('error', reject);
    });
    socket.setNoDelay(true);
    const reader = new LengthPrefixedReader({ maxMessageBytes: MAX_REPLY_BYTES });
    return new DeviceConnection(
      {
        send: (bytes) => {
          socket.write(encodeLengthPrefixed(bytes));
        },
        sendUnframed: (bytes) => {
          socket.write(bytes);
        },
        bufferedBytes: () => socket.writableLength,
        end: () => socket.end(),
      },
      (onReply, onClose) => {
        let closeReason = 'closed';
        socket.on('data', (chunk: Buffer) => {
          reader.append(chunk);
          try {
            for (let record = reader.nextRecord(); record !== undefined; record = reader.nextRecord()) {
              if (record.kind === 'message') {
                onReply(record.payload);
              }
            }
          } catch (error) {
            closeReason = (error as Error).message;
            socket.destroy();
          }
        });
        socket.on('error', (error) => {
          closeReason = error.message;
        });
        socket.on('close', () => onClose({ code: undefined, reason: closeReason }));
      },
    );
  }

  #record(reply: IngestReply): void {
    if (reply.body === 'frameAck') {
      this.#ackCount += 1;
      this.#lastAckSequence = uint64ToNumber(reply.frameAck?.sequence);
      return;
    }
    if (reply.body === 'error') {
      const code = reply.error?.code ?? '';
      this.#errorCounts[code] = (this.#errorCounts[code] ?? 0) + 1;
    }
    this.replies.push(reply);
    if (this.replies.length > MAX_KEPT_REPLIES) {
      this.replies.shift();
    }
  }

  get isClosed(): boolean {
    return this.#isClosed;
  }

  /** FrameAcks received. */
  get ackCount(): number {
    return this.#ackCount;
  }

  /** Sequence number of the latest FrameAck; -1 before the first. */
  get lastAckSequence(): number {
    return this.#lastAckSequence;
  }

  /** ErrorReports received, by code. */
  get errorCounts(): Record<string, number> {
    return { ...this.#errorCounts };
  }

  /** Bytes queued on the socket and not yet sent. */
  get bufferedBytes(): number {
    return this.#bufferedBytes();
  }

  /** Sends an IngestMessage; protocol_version is 1 unless the message sets another. */
  send(message: segwithu.v1.IIngestMessage): void {
    this.sendRaw(encodeIngestMessage(message));
  }

  /** Sends bytes as one message as they are, for tests of malformed input. */
  sendRaw(bytes: Uint8Array): void {
    if (!this.#isClosed) {
      this.#sendBytes(bytes);
    }
  }

  /** Writes bytes as they are: over TCP without the length prefix, for tests of broken framing. */
  sendUnframed(bytes: Uint8Array): void {
    if (!this.#isClosed) {
      this.#sendUnframed(bytes);
    }
  }

  /** Resolves with the first kept reply from index `fromIndex` on that matches; rejects on timeout or close. */
  async waitForReply(match: (reply: IngestReply) => boolean, timeoutMs = 10_000, fromIndex = 0): Promise<IngestReply> {
    let found: IngestReply | undefined;
    let index = fromIndex;
    await this.waitUntil(() => {
      for (; found === undefined && index < this.replies.length; index += 1) {
        if (match(this.replies[index])) {
          found = this.replies[index];
        }
      }
      return found !== undefined;
    }, timeoutMs, 'the expected reply');
    return found!;
  }

  /** Resolves once at least `count` FrameAcks have arrived; rejects on timeout or close. */
  async waitForAcks(count: number, timeoutMs = 10_000): Promise<void> {
    await this.waitUntil(() => this.#ackCount >= count, timeoutMs, `FrameAck number ${count}`);
  }

  /** Re-checks `condition` after every reply until it holds; rejects on timeout or when the connection closes first. */
  async waitUntil(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    while (!condition()) {
      if (this.#isClosed) {
        throw new Error(`connection closed while waiting for ${what} (${this.#ackCount} acks, ${this.replies.length} other replies received)`);
      }
      const leftMs = deadline - performance.now();
      if (leftMs <= 0) {
        throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (${this.#ackCount} acks, ${this.replies.length} other replies received)`);
      }
      await this.#nextEvent(leftMs);
    }
  }

  /** Resolves on the next reply or close, or after timeoutMs. */
  #nextEvent(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, timeoutMs);
      const waiters = this.#waiters;
      function done(): void {
        clearTimeout(timer);
        waiters.delete(done);
        resolve();
      }
      waiters.add(done);
    });
  }

  #wake(): void {
    for (const waiter of [...this.#waiters]) {
      waiter();
    }
  }

  /** Closes the connection and waits until it is closed. */
  async close(): Promise<ConnectionClosed> {
    if (!this.#isClosed) {
      this.#end();
    }
    return this.closed;
  }
}

export interface SendFolderOptions {
  /** ws://127.0.0.1:PORT/ingest or tcp://127.0.0.1:PORT (wss:// and tls:// with TLS). */
  url: string;
  /** Device token, when the server requires one. */
  token?: string;
  /** PEM CA certificates to trust for wss:// and tls://. */
  ca?: string | Buffer;
  /** Recorded folder (images/ or frames/, optional masks/ and manifest.csv). */
  folder: string;
  /** Frames per second, or 'max'. Default 30. */
  fps?: FrameRate;
  /** Ask the server for FrameAcks and wait for them (at most losslessWindow frames unacknowledged). Default false. */
  lossless?: boolean;
  /** Frames sent before waiting for an ack, when lossless. Default 2, so the pipeline always has the next frame. */
  losslessWindow?: number;
  /** Only these clip ids. Default: every clip. */
  clips?: string[];
  /** Play the folder again from the start until aborted. Default false. */
  loop?: boolean;
  /** Stream name in the hello. Default: the folder's name. */
  name?: string;
  /** Send ground-truth masks with the frames when the folder has them. Default true. */
  sendMasks?: boolean;
  /** Decode every frame before sending the first (memory: about 2 bytes per pixel per frame). Default false. */
  preload?: boolean;
  /** Stops sending; the summary covers what was sent. */
  signal?: AbortSignal;
  /** How long to wait for the HelloAck and, when lossless, for each ack, in ms. Default 30 000. */
  replyTimeoutMs?: number;
}

export interface SendSummary {
  streamId: string;
  /** Frames sent. */
  sent: number;
  /** FrameAcks received (lossless only). */
  acked: number;
  /** ErrorReports received, by code. */
  errors: Record<string, number>;
  /** Sequence numbers of the frames sent, first and last; -1 when none was sent. */
  firstSequence: number;
  lastSequence: number;
  durationS: number;
  /** Set when the server closed the connection before the device was done. */
  closedByServer: ConnectionClosed | undefined;
}

/** Streams a folder of frames to the server as a device would, and returns what happened. */
export async function sendFolder(options: SendFolderOptions): Promise<SendSummary> {
  const fps = options.fps ?? 30;
  const lossless = options.lossless ?? false;
  const window = options.losslessWindow ?? 2;
  const replyTimeoutMs = options.replyTimeoutMs ?? 30_000;
  const sendMasks = options.sendMasks ?? true;
  const frames = await listFolderFrames(options.folder, { clips: options.clips });
  const frameSource = decodedFrames(frames, { loop: options.loop, preload: options.preload });
  const first = await frameSource.next();
  if (first.done) {
    throw new OptionError(`no frames to send in ${options.folder}`);
  }

  const startMs = performance.now();
  const connection = await DeviceConnection.connect(options.url, { token: options.token, ca: options.ca });
  connection.send({
    hello: {
      streamName: options.name ?? frames[0].clipId ?? options.folder.split(/[\\/]/).filter(Boolean).at(-1) ?? 'device',
      nominalRateHz: fps === 'max' ? 0 : fps,
      width: first.value.width,
      height: first.value.height,
      pixelFormat: proto.PixelFormat.GRAY8,
      lossless,
      deviceModel: 'segwithu-live send',
    },
  });
  const helloReply = await connection.waitForReply((reply) => reply.body === 'helloAck' || (reply.body === 'error' && reply.error?.fatal === true), replyTimeoutMs);
  const streamId = helloReply.helloAck?.streamId ?? '';

  const pacer = new FramePacer(fps);
  let sent = 0;
  let sequence = 0;
  let firstSequence = -1;
  let current: IteratorResult<DecodedFrame> = first;

  while (helloReply.body === 'helloAck' && !current.done && !connection.isClosed && options.signal?.aborted !== true) {
    try {
      await pacer.next(options.signal);
    } catch {
      break;
    }
    if (lossless) {
      // Lossless pacing: at most `window` frames sent and not yet acknowledged.
      if (sent >= window) {
        await connection.waitForAcks(sent - window + 1, replyTimeoutMs).catch(() => undefined);
      }
    } else {
      // A live device sends no faster than its link: wait while more than two frames are queued.
      while (connection.bufferedBytes > 2 * current.value.pixels.length && !connection.isClosed) {
        await sleep(1);
      }
    }

    const decoded = current.value;
    const mask = sendMasks ? decoded.mask : undefined;
    connection.send({
      frame: {
        sequence,
        captureTimestampNs: bigIntToUint64(wallClockNs()),
        pixelFormat: proto.PixelFormat.GRAY8,
        width: decoded.width,
        height: decoded.height,
        pixels: decoded.pixels,
        groundTruthMask: mask,
      },
    });
    if (firstSequence === -1) {
      firstSequence = sequence;
    }
    sent += 1;
    sequence += 1;
    current = await frameSource.next();
  }

  if (lossless && sent > 0) {
    await connection.waitForAcks(sent, replyTimeoutMs).catch(() => undefined);
  }
  await frameSource.return(undefined);

  const closedByServer = connection.isClosed ? await connection.closed : undefined;
  if (!connection.isClosed) {
    connection.send({ goodbye: { reason: 'done' } });
    await connection.close();
  }

  return {
    streamId,
    sent,
    acked: connection.ackCount,
    errors: connection.errorCounts,
    firstSequence,
    lastSequence: sequence - 1,
    durationS: (performance.now() - startMs) / 1000,
    closedByServer,
  };
}

/** Formats a summary as the lines `segwithu-live send` prints. */
export function formatSendSummary(summary: SendSummary): string {
  const errorCodes = Object.entries(summary.errors);
  const lines = [
    `stream        ${summary.streamId || '(none: hello rejected)'}`,
    `sent          ${summary.sent} frames in ${summary.durationS.toFixed(1)} s`,
    `acked         ${summary.acked}${summary.acked === 0 && summary.sent > 0 ? ' (the server sends FrameAcks to lossless streams only; see --lossless)' : ''}`,
    `errors        ${errorCodes.length === 0 ? 'none' : errorCodes.map(([code, count]) => `${code} ${count}`).join(', ')}`,
  ];
  if (summary.closedByServer !== undefined) {
    lines.push(`closed by server  ${summary.closedByServer.code ?? ''} ${summary.closedByServer.reason}`.trimEnd());
  }
  return lines.join('\n');
}

