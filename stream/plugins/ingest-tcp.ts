// TCP ingest: the same IngestMessage / IngestReply exchange as WS /ingest, each message sent as a
// 4-byte big-endian length followed by the protobuf bytes. The listener starts when the server
// is ready and stops when it closes. With the server's TLS certificate it speaks TLS, and with
// device tokens the first record must be the auth record (see stream/auth.ts).

import net from 'node:net';
import tls from 'node:tls';

import type { FastifyPluginAsync } from 'fastify';

import type { ServerContext } from '../context.js';
import { IngestError } from '../errors.js';
import { encodeLengthPrefixed, LengthPrefixedReader } from '../framing.js';
import { IngestSession, type IngestTransport } from '../ingest-session.js';
import type { TlsFiles } from '../tls.js';

export interface TcpIngestPluginOptions {
  context: ServerContext;
  host: string;
  /** Port to listen on; 0 lets the system pick one. */
  port: number;
  /** Filled in with the port actually bound, once listening. */
  bound: { port?: number };
  /** Certificate and key: the listener then accepts TLS connections only. */
  tls?: TlsFiles;
}

/** How long a closed connection waits for the device to close its side before it is destroyed, in ms. */
const PEER_CLOSE_GRACE_MS = 1000;

/** Serves one TCP connection: reads records in order, stopping while the session has paused reading. */
function serveConnection(context: ServerContext, socket: net.Socket): void {
  const remoteAddress = socket.remoteAddress ?? 'unknown';
  const reader = new LengthPrefixedReader({ maxMessageBytes: context.options.maxMessageBytes });
  let paused = false;
  let closed = false;

  const transport: IngestTransport = {
    kind: 'tcp',
    remoteAddress,
    send: (bytes) => {
      if (!socket.destroyed) {
        socket.write(encodeLengthPrefixed(bytes));
      }
    },
    bufferedBytes: () => socket.writableLength,
    close: () => {
      closed = true;
      socket.end();
      // A peer that never closes its side would keep the socket (and server.close) waiting.
      setTimeout(() => socket.destroy(), PEER_CLOSE_GRACE_MS).unref();
    },
    pause: () => {
      paused = true;
      socket.pause();
    },
    resume: () => {
      paused = false;
      socket.resume();
      // Records already buffered when reading paused are handled now, before new data arrives.
      setImmediate(drain);
    },
  };
  const session = new IngestSession(context, transport);

  function drain(): void {
    while (!paused && !closed) {
      let record;
      try {
        record = reader.nextRecord();
      } catch (error) {
        if (!(error instanceof IngestError)) {
          throw error;
        }
        session.fail(error);
        return;
      }
      if (record === undefined) {
        return;
      }
      if (record.kind === 'oversize') {
        session.rejectOversize(record.byteLength);
      } else {
        session.handleMessage(record.payload);
      }
    }
  }

  const connection = { shutdown: () => transport.close('shutdown') };
  context.ingestConnections.add(connection);
  context.telemetry.connectionOpened('tcp');
  socket.setNoDelay(true);

  socket.on('data', (chunk: Buffer) => {
    reader.append(chunk);
    drain();
  });
  socket.on('error', (error: Error & { code?: string }) => {
    context.errorLog.warn(`tcp:${remoteAddress}:${error.code ?? 'error'}`, { streamId: session.streamId, code: error.code, remoteAddress, err: error.message }, 'ingest TCP socket error');
  });
  socket.on('close', () => {
    context.ingestConnections.delete(connection);
    context.telemetry.connectionClosed('tcp');
    session.end('socket closed');
  });
}

export const ingestTcpPlugin: FastifyPluginAsync<TcpIngestPluginOptions> = async (app, { context, host, port, bound, tls: tlsFiles }) => {
  let server: net.Server;
  if (tlsFiles === undefined) {
    server = net.createServer((socket) => serveConnection(context, socket));
  } else {
    // A peer that never finishes its handshake is dropped after the hello timeout.
    server = tls.createServer({ ...tlsFiles, handshakeTimeout: context.options.helloTimeoutMs }, (socket) => serveConnection(context, socket));
    server.on('tlsClientError', (error: Error & { code?: string }, socket: tls.TLSSocket) => {
      const remoteAddress = socket.remoteAddress ?? 'unknown';
      context.errorLog.warn(`tls:${remoteAddress}:${error.code ?? 'error'}`, { code: error.code, remoteAddress, err: error.message }, 'TCP ingest TLS handshake failed');
    });
  }

  app.addHook('onReady', async () => {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    bound.port = (server.address() as net.AddressInfo).port;
    context.logger.info({ host, port: bound.port, tls: tlsFiles !== undefined }, 'TCP ingest listening');
  });

  app.addHook('onClose', async () => {
    if (!server.listening) {
      return;
    }
    await new Promise<void>((resolve) => server.close(() => resolve()));
    context.logger.info({ port: bound.port }, 'TCP ingest stopped');
  });
};
