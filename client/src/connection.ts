// The viewer's WebSocket to `/view`: subscribes to a stream, pings for the clock offset, and
// reconnects by itself with capped, jittered exponential backoff when the server goes away.
import { webSocketProtocols } from './accessToken.js';
import { reconnectDelayMs, type BackoffOptions } from './backoff.js';
import { browserWallMs } from './clock.js';
import { ClockOffsetEstimator } from './clockOffset.js';
import { WireError, type ViewerCodec, type ViewerEvent } from './wire.js';

export interface ConnectionStatus {
  connected: boolean;
  /** Failed or dropped connections since the last successful subscription. */
  failedAttempts: number;
  /** Browser wall clock (ms) of the next reconnect attempt; null while connected. */
  nextAttemptWallMs: number | null;
  /** Connections opened so far. */
  connects: number;
  lastError: string;
}

export interface ConnectionHandlers {
  /** A decoded message; `arrivalMs` is performance.now() when the WebSocket delivered it. */
  onEvent(event: ViewerEvent, arrivalMs: number): void;
  onStatus(status: ConnectionStatus): void;
  /** A message that failed to decode or validate; the connection stays open. */
  onInvalidMessage(error: WireError): void;
}

export interface ConnectionOptions {
  /** Interval between pings for the clock-offset estimate, milliseconds. Default 2000. */
  pingIntervalMs?: number;
  /** An attempt that has not opened after this long is abandoned and retried, milliseconds. Default 5000. */
  connectTimeoutMs?: number;
  backoff?: BackoffOptions;
  /** Viewer token for a server that requires one, sent as a WebSocket subprotocol entry. Default '' (none). */
  token?: string;
  /**
   * Updates the server may send before this viewer acknowledges them with ack(), so a viewer
   * that stops painting (a hidden tab, a starved CPU) has at most this many waiting. 0 asks for no
   * acknowledgements. Default 2.
   */
  maxUnackedUpdates?: number;
}

export class ViewerConnection {
  readonly clock = new ClockOffsetEstimator();
  readonly #url: string;
  readonly #codec: ViewerCodec;
  readonly #handlers: ConnectionHandlers;
  readonly #pingIntervalMs: number;
  readonly #connectTimeoutMs: number;
  readonly #backoff: BackoffOptions;
  readonly #protocols: string[];
  readonly #maxUnackedUpdates: number;
  #socket: WebSocket | null = null;
  #streamId = '';
  #stopped = false;
  #pingTimer: ReturnType<typeof setInterval> | undefined;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #connectTimer: ReturnType<typeof setTimeout> | undefined;
  #status: ConnectionStatus = { connected: false, failedAttempts: 0, nextAttemptWallMs: null, connects: 0, lastError: '' };

  constructor(url: string, codec: ViewerCodec, handlers: ConnectionHandlers, options: ConnectionOptions = {}) {
    const { pingIntervalMs = 2000, connectTimeoutMs = 5000, backoff = {}, token = '', maxUnackedUpdates = 2 } = options;
    this.#url = url;
    this.#codec = codec;
    this.#handlers = handlers;
    this.#pingIntervalMs = pingIntervalMs;
    this.#connectTimeoutMs = connectTimeoutMs;
    this.#backoff = backoff;
    this.#protocols = webSocketProtocols(token);
    this.#maxUnackedUpdates = maxUnackedUpdates;
  }

  /** Opens the connection and subscribes to `streamId` (empty: the server's first live stream). */
  start(streamId: string): void {
    this.#streamId = streamId;
    this.#open();
  }

  /** Switches the subscription; takes effect at once when connected, otherwise on the next connect. */
  subscribe(streamId: string): void {
    this.#streamId = streamId;
    if (this.#socket?.readyState === WebSocket.OPEN) this.#socket.send(this.#codec.encodeSubscribe(streamId, this.#maxUnackedUpdates));
  }

  /** Acknowledges updates up to `updateId` once they are painted or discarded; ids of 0 are not sent. */
  ack(updateId: number): void {
    if (updateId > 0 && this.#socket?.readyState === WebSocket.OPEN) this.#socket.send(this.#codec.encodeAck(updateId));
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#retryTimer);
    this.#socket?.close(1000, 'viewer closed');
  }

  #open(): void {
    const socket = new WebSocket(this.#url, this.#protocols);
    socket.binaryType = 'arraybuffer';
    this.#socket = socket;
    this.#connectTimer = setTimeout(() => socket.close(), this.#connectTimeoutMs);

    socket.onopen = () => {
      clearTimeout(this.#connectTimer);
      this.#setStatus({ connected: true, nextAttemptWallMs: null, connects: this.#status.connects + 1, lastError: '' });
      socket.send(this.#codec.encodeSubscribe(this.#streamId, this.#maxUnackedUpdates));
      this.#ping();
      this.#pingTimer = setInterval(() => this.#ping(), this.#pingIntervalMs);
    };

    socket.onmessage = (message) => {
      const arrivalMs = performance.now();
      if (!(message.data instanceof ArrayBuffer)) return;
      let event: ViewerEvent;
      try {
        event = this.#codec.decode(new Uint8Array(message.data));
      } catch (error) {
        if (error instanceof WireError) {
          this.#handlers.onInvalidMessage(error);
          return;
        }
        throw error;
      }
      if (event.kind === 'pong') this.clock.addSample(event.clientWallMs, event.serverWallMs, browserWallMs());
      // A failed attempt counts until the server has accepted a subscription, so a server that
      // accepts the socket and then closes it at once still gets the growing backoff.
      if (event.kind === 'subscribed' && this.#status.failedAttempts > 0) this.#setStatus({ failedAttempts: 0 });
      this.#handlers.onEvent(event, arrivalMs);
    };

    socket.onclose = (close) => {
      clearTimeout(this.#connectTimer);
      clearInterval(this.#pingTimer);
      if (this.#socket !== socket) return;
      this.#socket = null;
      const reason = close.reason ? `${close.code} ${close.reason}` : `code ${close.code}`;
      if (this.#stopped) {
        this.#setStatus({ connected: false, lastError: `closed (${reason})` });
        return;
      }
      this.#scheduleReconnect(`connection to ${this.#url} closed (${reason})`);
    };
  }

  #scheduleReconnect(lastError: string): void {
    const delayMs = reconnectDelayMs(this.#status.failedAttempts, Math.random(), this.#backoff);
    this.#setStatus({
      connected: false,
      failedAttempts: this.#status.failedAttempts + 1,
      nextAttemptWallMs: browserWallMs() + delayMs,
      lastError,
    });
    this.#retryTimer = setTimeout(() => this.#open(), delayMs);
  }

  #ping(): void {
    if (this.#socket?.readyState === WebSocket.OPEN) this.#socket.send(this.#codec.encodePing(browserWallMs()));
  }

  #setStatus(change: Partial<ConnectionStatus>): void {
    this.#status = { ...this.#status, ...change };
    this.#handlers.onStatus(this.#status);
  }
}
