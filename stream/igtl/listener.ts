// OpenIGTLink listener: a TCP server that devices connect to with IMAGE streams and that
// viewers such as 3D Slicer connect to for results.
//
// Safe defaults: it binds 127.0.0.1 and admits loopback peers only; serving other machines
// needs both `host` and `allow` set. Each accepted connection is an IgtlConnection; results
// from `results$` are offered to every connection, which keeps those routed to it.

import { BlockList, createServer, isIPv4, isIPv6, type Server, type Socket } from 'node:net';
import type { Observable, Subscription } from 'rxjs';
import { pino, type Logger } from 'pino';

import type { Result } from '../../pipeline/types.js';
import { IgtlConnection, type FrameSink, type ResultRouting } from './connection.js';
import { IgtlError } from './errors.js';
import type { HeaderVersion } from './header.js';
import { IgtlMetrics } from './metrics.js';
import type { IgtlParserOptions } from './parser.js';
import { IgtlStreams, ResultEncoder, type IgtlStreamDirectory } from './streams.js';

/** The port 3D Slicer's OpenIGTLink module uses by default. */
export const DEFAULT_IGTL_PORT = 18944;

export interface IgtlListenerOptions {
  sink: FrameSink;
  /** Results to send back; omit for an ingest-only listener. */
  results$?: Observable<Result>;
  /** TCP port; 0 picks a free one. Default 18944. */
  port?: number;
  /** Address to bind. Default '127.0.0.1'. */
  host?: string;
  /** Peer addresses or CIDR ranges (e.g. '10.0.0.0/8', '::1') that may connect. Default loopback only: 127.0.0.0/8 and ::1. */
  allow?: string[];
  /** Open connections beyond which new ones are refused. Default 16. */
  maxConnections?: number;
  parser?: IgtlParserOptions;
  /** Result routing of each connection. Default 'auto' (see ResultRouting). */
  routing?: ResultRouting;
  /** Per-connection send buffer in bytes above which results wait, latest-wins. Default 8 MiB. */
  maxSendBufferBytes?: number;
  /** Header version of outputs and replies; 2 adds metadata to outputs. Default 1. */
  outputVersion?: HeaderVersion;
  /** Shared with an IgtlClient so output device names resolve for its streams too. Default: a new one. */
  streams?: IgtlStreamDirectory;
  /** Shared with an IgtlClient so outputs of its streams find their frames' geometry. Default: a new one. */
  encoder?: ResultEncoder;
  metrics?: IgtlMetrics;
  logger?: Logger;
}

export class IgtlListener {
  readonly metrics: IgtlMetrics;
  readonly streams: IgtlStreamDirectory;

  #options: IgtlListenerOptions;
  #server: Server;
  #allow: BlockList;
  #encoder: ResultEncoder;
  #log: Logger;
  #connections = new Set<IgtlConnection>();
  #subscription: Subscription | undefined;
  #maxConnections: number;

  constructor(options: IgtlListenerOptions) {
    this.#options = options;
    this.metrics = options.metrics ?? new IgtlMetrics();
    this.streams = options.streams ?? new IgtlStreams();
    this.#encoder = options.encoder ?? new ResultEncoder({ version: options.outputVersion ?? 1 }, this.streams);
    this.#log = (options.logger ?? pino({ level: 'silent' })).child({ component: 'igtl-listener' });
    this.#allow = buildAllowList(options.allow ?? ['127.0.0.0/8', '::1']);
    this.#maxConnections = options.maxConnections ?? 16;
    this.#server = createServer((socket) => this.#accept(socket));
  }

  /** Starts listening; resolves with the bound port. */
  async listen(): Promise<number> {
    const port = this.#options.port ?? DEFAULT_IGTL_PORT;
    const host = this.#options.host ?? '127.0.0.1';
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(port, host, () => {
        this.#server.off('error', reject);
        resolve();
      });
    });
    this.#server.on('error', (error) => this.#log.error({ err: error }, 'OpenIGTLink listener error'));

    this.#subscription = this.#options.results$?.subscribe({
      next: (result) => {
        for (const connection of this.#connections) connection.offer(result);
      },
      error: (error: unknown) => this.#log.error({ err: error }, 'results stream failed; OpenIGTLink outputs stop'),
    });

    this.#log.info({ host, port: this.port }, 'OpenIGTLink listener started');
    return this.port;
  }

  get port(): number {
    const address = this.#server.address();
    return typeof address === 'object' && address !== null ? address.port : 0;
  }

  get connections(): ReadonlySet<IgtlConnection> {
    return this.#connections;
  }

  /** Stops accepting, ends every connection and waits for them to close. */
  async close(): Promise<void> {
    this.#subscription?.unsubscribe();
    const closing = [...this.#connections].map((connection) => {
      connection.close();
      return connection.closed;
    });
    await Promise.all([new Promise<void>((resolve) => this.#server.close(() => resolve())), ...closing]);
    this.#log.info('OpenIGTLink listener stopped');
  }

  #accept(socket: Socket): void {
    const address = normaliseAddress(socket.remoteAddress ?? '');
    const family = isIPv4(address) ? 'ipv4' : 'ipv6';

    if (address === '' || !this.#allow.check(address, family)) {
      this.metrics.connectionsRefused += 1;
      this.metrics.countRejected('ERR_IGTL_PEER_NOT_ALLOWED');
      this.#log.warn({ peer: address, code: 'ERR_IGTL_PEER_NOT_ALLOWED' }, 'OpenIGTLink peer not in the allow-list, connection refused');
      socket.destroy();
      return;
    }
    if (this.#connections.size >= this.#maxConnections) {
      this.metrics.connectionsRefused += 1;
      this.#log.warn({ peer: address, maxConnections: this.#maxConnections }, 'OpenIGTLink maxConnections reached, connection refused');
      socket.destroy();
      return;
    }

    socket.setNoDelay(true);
    const connection = new IgtlConnection({
      socket,
      peer: `igtl/${address}`,
      sink: this.#options.sink,
      streams: this.streams,
      encoder: this.#encoder,
      metrics: this.metrics,
      logger: this.#log,
      parser: this.#options.parser,
      routing: this.#options.routing,
      maxSendBufferBytes: this.#options.maxSendBufferBytes,
      replyVersion: this.#options.outputVersion,
    });
    this.#connections.add(connection);
    void connection.closed.then(() => this.#connections.delete(connection));
  }
}

/** Creates a listener and starts it. */
export async function startIgtlListener(options: IgtlListenerOptions): Promise<IgtlListener> {
  const listener = new IgtlListener(options);
  await listener.listen();
  return listener;
}

/** Maps IPv4-mapped IPv6 ("::ffff:127.0.0.1") to plain IPv4 so one allow-list entry covers both. */
function normaliseAddress(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return mapped !== null ? mapped[1] : address;
}

/** Builds the listener's allow-list; throws ERR_IGTL_OPTIONS naming an entry that is not an address or CIDR range. */
export function buildAllowList(entries: string[]): BlockList {
  const list = new BlockList();
  for (const entry of entries) {
    const [address, prefix] = entry.split('/');
    const family = isIPv4(address) ? 'ipv4' : isIPv6(address) ? 'ipv6' : undefined;
    const bits = prefix === undefined ? undefined : Number(prefix);
    const maxBits = family === 'ipv4' ? 32 : 128;
    if (family === undefined || (bits !== undefined && !(Number.isInteger(bits) && bits >= 0 && bits <= maxBits))) {
      throw new IgtlError('ERR_IGTL_OPTIONS', `allow-list entry "${entry}" is not an IP address or CIDR range such as 10.0.0.0/8`);
    }
    if (bits === undefined) list.addAddress(address, family);
    else list.addSubnet(address, bits, family);
  }
  return list;
}
