// OpenIGTLink in the server: a listener (igtlPort) that devices and 3D Slicer connect to, and
// a client (igtlConnect) that ingests from a device's OpenIGTLink server. Both feed the
// server's pipeline and stream registry, and send each result back as label and
// error-probability IMAGEs with the frame's geometry plus a risk STRING.
//
// A device's IMAGE stream becomes a registry stream named after its device name (source
// 'openigtlink'), listed in /api/streams and watchable in the viewer like any other stream.
// The counters (connections, rejections by code, results sent and superseded) are appended
// to /metrics.

import type { FastifyPluginAsync } from 'fastify';

import type { ServerContext } from '../context.js';
import { IgtlClient } from './client.js';
import { IgtlError } from './errors.js';
import { IgtlListener, startIgtlListener } from './listener.js';
import { IgtlMetrics } from './metrics.js';
import { ResultEncoder, type IgtlStreamDirectory } from './streams.js';

export interface IgtlPluginOptions {
  context: ServerContext;
  /** Address the listener binds. */
  host: string;
  /** Listener port; 0 picks a free one. Default: no listener. */
  port?: number;
  /** Peer addresses or CIDR ranges the listener admits. Default: loopback only. */
  allow?: string[];
  /** Device server to connect to. Default: none. */
  connect?: { host: string; port: number };
  /** Filled in with the listener's bound port once it listens. */
  bound: { port?: number };
}

/** Device names remembered for naming outputs, beyond which the oldest are forgotten. */
const MAX_REMEMBERED_DEVICES = 1024;

/** Opens OpenIGTLink streams in the server's registry, which gives them ids and resumes sequences. */
export class RegistryDirectory implements IgtlStreamDirectory {
  readonly #context: ServerContext;
  readonly #devices = new Map<string, string>();

  constructor(context: ServerContext) {
    this.#context = context;
  }

  open(peer: string, deviceName: string, size: { width: number; height: number }): string {
    if (this.#context.closing) throw new Error('the server is shutting down and takes no new streams');
    const entry = this.#context.registry.open({
      name: deviceName === '' ? 'openigtlink' : deviceName,
      source: 'openigtlink',
      nominalRateHz: 0,
      width: size.width,
      height: size.height,
      lossless: false,
    });

    this.#devices.delete(entry.id);
    this.#devices.set(entry.id, deviceName);
    if (this.#devices.size > MAX_REMEMBERED_DEVICES) this.#devices.delete(this.#devices.keys().next().value as string);
    this.#context.logger.info({ streamId: entry.id, device: deviceName, peer, transport: 'openigtlink' }, 'device connected, stream started');
    return entry.id;
  }

  nextSequence(streamId: string): number {
    const entry = this.#context.registry.get(streamId);
    const sequence = (entry?.lastSequence ?? -1) + 1;
    if (entry !== undefined) entry.lastSequence = sequence;
    this.#context.telemetry.stream(streamId).arrivals.mark();
    return sequence;
  }

  end(streamId: string): void {
    this.#context.registry.end(streamId);
    this.#context.logger.info({ streamId, transport: 'openigtlink' }, 'device disconnected');
  }

  deviceName(streamId: string): string | undefined {
    return this.#devices.get(streamId);
  }
}

/** Parses "host:port" or "[ipv6]:port" as --igtl-connect takes it. Throws ERR_IGTL_OPTIONS. */
export function parseHostPort(text: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text);
  const port = match === null ? NaN : Number(match[3]);
  if (match === null || port < 1 || port > 65535) {
    throw new IgtlError('ERR_IGTL_OPTIONS', `"${text}" is not host:port (for example 127.0.0.1:18944, or [::1]:18944 for IPv6)`);
  }
  return { host: match[1] ?? match[2], port };
}

export const igtlPlugin: FastifyPluginAsync<IgtlPluginOptions> = async (app, { context, host, port, allow, connect, bound }) => {
  const metrics = new IgtlMetrics();
  context.igtlMetrics = metrics;
  const directory = new RegistryDirectory(context);
  const encoder = new ResultEncoder({}, directory);
  // The server's limits apply to OpenIGTLink as to every other transport.
  const parser = { maxBodyBytes: context.options.maxMessageBytes, maxImagePixels: context.options.maxFramePixels };
  let listener: IgtlListener | undefined;
  let client: IgtlClient | undefined;

  async function stop(): Promise<void> {
    await Promise.all([listener?.close(), client?.close()]);
  }

  app.addHook('onReady', async () => {
    if (port !== undefined) {
      listener = await startIgtlListener({
        sink: context.pipeline,
        results$: context.pipeline.results$,
        host,
        port,
        allow,
        streams: directory,
        encoder,
        metrics,
        logger: context.logger,
        parser,
      });
      bound.port = listener.port;
    }
    if (connect !== undefined) {
      client = new IgtlClient({ ...connect, sink: context.pipeline, streams: directory, encoder, metrics, logger: context.logger, parser });
      client.start();
    }
    // Ingest ends before the pipeline drains at shutdown.
    context.ingestConnections.add({ shutdown: () => void stop() });
  });

  app.addHook('onClose', stop);
};
