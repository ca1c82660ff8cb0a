// OpenIGTLink client: connects to a device's OpenIGTLink server (an ultrasound scanner, a
// PLUS server), ingests its IMAGE stream, and reconnects with exponential backoff whenever
// the connection fails or ends.
//
// On connect it sends STT_IMAGE (start streaming) unless requestStart is false, and then
// GET_STATUS every keepAliveMs so that a dead peer shows up as a failed write. close() sends
// STP_IMAGE before ending the connection.

import { connect, type Socket } from 'node:net';
import type { Observable, Subscription } from 'rxjs';
import { pino, type Logger } from 'pino';

import type { Result } from '../../pipeline/types.js';
import { IgtlConnection, type FrameSink, type ResultRouting } from './connection.js';
import { IgtlError } from './errors.js';
import { encodeQueryMessage } from './message.js';
import { IgtlMetrics } from './metrics.js';
import type { IgtlParserOptions } from './parser.js';
import { IgtlStreams, ResultEncoder, type IgtlStreamDirectory } from './streams.js';

export interface BackoffOptions {
  /** Delay before the first reconnection, in ms. Default 250. */
  initialBackoffMs?: number;
  /** Maximum delay between attempts, in ms. Default 10000. */
  maxBackoffMs?: number;
  /** Factor the delay grows by after each failed attempt. Default 2. */
  backoffFactor?: number;
  /** Random spread of each delay, as a fraction of it (0.2 = ±20 %), so that clients do not retry in step. Default 0.2. */
  backoffJitter?: number;
}

export interface IgtlClientOptions extends BackoffOptions {
  host: string;
  port: number;
  sink: FrameSink;
  /** Results to send back to the device server; only used when routing is not 'none'. */
  results$?: Observable<Result>;
  /** Result routing towards the device server. Default 'none', because devices rarely read results. */
  routing?: ResultRouting;
  /** Give up a connection attempt after this many ms. Default 5000. */
  connectTimeoutMs?: number;
  /** Send STT_IMAGE after connecting. Default true. */
  requestStart?: boolean;
  /** Interval of GET_STATUS keep-alive messages, in ms; 0 sends none. Default 5000. */
  keepAliveMs?: number;
  parser?: IgtlParserOptions;
  maxSendBufferBytes?: number;
  /** Shared with an IgtlListener so output device names resolve for this client's streams. Default: a new one. */
  streams?: IgtlStreamDirectory;
  /** Shared with an IgtlListener so its outputs of this client's streams find their frames' geometry. Default: a new one. */
  encoder?: ResultEncoder;
  metrics?: IgtlMetrics;
  logger?: Logger;
}

/** Delay before reconnection attempt number `attempt` (0 for the first), in ms. `random` returns a value in [0, 1). */
export function backoffDelayMs(attempt: number, options: BackoffOptions = {}, random: () => number = Math.random): number {
  const { initialBackoffMs = 250, maxBackoffMs = 10_000, backoffFactor = 2, backoffJitter = 0.2 } = options;
  const base = Math.min(maxBackoffMs, initialBackoffMs * backoffFactor ** attempt);
  return Math.max(0, Math.round(base * (1 + backoffJitter * (2 * random() - 1))));
}

export class IgtlClient {
  readonly metrics: IgtlMetrics;
  readonly streams: IgtlStreamDirectory;
  /** Connection attempts made so far. */
  attempts = 0;

  #options: IgtlClientOptions;
  #encoder: ResultEncoder;
  #log: Logger;
  #connection: IgtlConnection | undefined;
  #socket: Socket | undefined;
  #subscription: Subscription | undefined;
  #retryTimer: NodeJS.Timeout | undefined;
  #keepAliveTimer: NodeJS.Timeout | undefined;
  /** Failed attempts since the last connection that delivered a valid message. */
  #failures = 0;
  #stopped = true;

  constructor(options: IgtlClientOptions) {
    if (!Number.isInteger(options.port) || options.port < 1 || options.port > 65535) {
      throw new IgtlError('ERR_IGTL_OPTIONS', `client port ${options.port} is not a TCP port (1-65535)`);
    }
    this.#options = options;
    this.metrics = options.metrics ?? new IgtlMetrics();
    this.streams = options.streams ?? new IgtlStreams();
    this.#encoder = options.encoder ?? new ResultEncoder({}, this.streams);
    this.#log = (options.logger ?? pino({ level: 'silent' })).child({ component: 'igtl-client', server: `${options.host}:${options.port}` });
  }

  get connected(): boolean {
    return this.#connection !== undefined;
  }

  start(): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    this.#subscription = this.#options.results$?.subscribe({
      next: (result) => this.#connection?.offer(result),
      error: (error: unknown) => this.#log.error({ err: error }, 'results stream failed; OpenIGTLink outputs stop'),
    });
    this.#log.info('OpenIGTLink client started');
    this.#connect();
  }

  /** Stops reconnecting, sends STP_IMAGE and ends the connection. */
  async close(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#retryTimer);
    clearInterval(this.#keepAliveTimer);
    this.#subscription?.unsubscribe();

    const connection = this.#connection;
    if (connection !== undefined) {
      connection.send(encodeQueryMessage('STP', 'IMAGE', { deviceName: 'segwithu-live' }));
      connection.close();
      await connection.closed;
    } else {
      this.#socket?.destroy();
    }
    this.#log.info('OpenIGTLink client stopped');
  }

  #connect(): void {
    const { host, port } = this.#options;
    this.attempts += 1;
    const socket = connect({ host, port });
    this.#socket = socket;
    socket.setTimeout(this.#options.connectTimeoutMs ?? 5000, () => {
      this.#log.warn({ timeoutMs: this.#options.connectTimeoutMs ?? 5000 }, 'OpenIGTLink connection attempt timed out');
      socket.destroy();
    });
    socket.once('error', (error) => this.#log.warn({ err: error, attempt: this.attempts }, 'OpenIGTLink connection failed'));
    socket.once('connect', () => this.#onConnect(socket));
    socket.once('close', () => this.#onClose());
  }

  #onConnect(socket: Socket): void {
    socket.setTimeout(0);
    socket.setNoDelay(true);
    const connection = new IgtlConnection({
      socket,
      peer: `igtl/${this.#options.host}:${this.#options.port}`,
      sink: this.#options.sink,
      streams: this.streams,
      encoder: this.#encoder,
      metrics: this.metrics,
      logger: this.#log,
      parser: this.#options.parser,
      routing: this.#options.routing ?? 'none',
      maxSendBufferBytes: this.#options.maxSendBufferBytes,
      onMessage: () => {
        this.#failures = 0;
      },
    });
    this.#connection = connection;

    if (this.#options.requestStart ?? true) connection.send(encodeQueryMessage('STT', 'IMAGE', { deviceName: 'segwithu-live' }));
    const keepAliveMs = this.#options.keepAliveMs ?? 5000;
    if (keepAliveMs > 0) {
      this.#keepAliveTimer = setInterval(() => connection.send(encodeQueryMessage('GET', 'STATUS', { deviceName: 'segwithu-live' })), keepAliveMs);
      this.#keepAliveTimer.unref();
    }
  }

  #onClose(): void {
    clearInterval(this.#keepAliveTimer);
    this.#connection = undefined;
    this.#socket = undefined;
    if (this.#stopped) return;

    const delayMs = backoffDelayMs(this.#failures, this.#options);
    this.#failures += 1;
    this.#log.info({ attempt: this.attempts + 1, delayMs }, 'OpenIGTLink client reconnecting');
    this.#retryTimer = setTimeout(() => this.#connect(), delayMs);
  }
}
