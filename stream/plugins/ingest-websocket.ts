// WS /ingest: a device sends one binary IngestMessage per WebSocket message (hello first, then
// frames) and receives IngestReply messages (HelloAck, ErrorReport, and FrameAck when lossless).

// Loads @fastify/websocket's route types ({ websocket: true } and the socket handler).
import type {} from '@fastify/websocket';
import type { FastifyPluginAsync } from 'fastify';
import type { WebSocket } from 'ws';

import type { ServerContext } from '../context.js';
import { IngestSession, type IngestTransport } from '../ingest-session.js';
import { encodeIngestReply, messageBytes } from '../wire.js';
import { admitWebSocket } from './access-control.js';

/** WebSocket close codes (RFC 6455 section 7.4.1). */
const CLOSE_NORMAL = 1000;
const CLOSE_GOING_AWAY = 1001;
const CLOSE_POLICY_VIOLATION = 1008;

function closeCodeFor(reason: string): number {
  if (reason === 'goodbye') {
    return CLOSE_NORMAL;
  }
  return reason === 'ERR_SERVER_CLOSING' || reason === 'shutdown' ? CLOSE_GOING_AWAY : CLOSE_POLICY_VIOLATION;
}

function websocketTransport(socket: WebSocket, remoteAddress: string): IngestTransport {
  return {
    kind: 'websocket',
    remoteAddress,
    send: (bytes) => socket.send(bytes),
    bufferedBytes: () => socket.bufferedAmount,
    close: (reason) => socket.close(closeCodeFor(reason), reason),
    pause: () => socket.pause(),
    resume: () => socket.resume(),
  };
}

export const ingestWebSocketPlugin: FastifyPluginAsync<{ context: ServerContext }> = async (app, { context }) => {
  app.get('/ingest', { websocket: true, config: { access: 'websocket' } }, (socket, request) => {
    const rejection = (message: string): Uint8Array => encodeIngestReply({ error: { code: 'ERR_UNAUTHORIZED', message, fatal: true } });
    if (!admitWebSocket(context, 'device', socket, request, rejection)) {
      return;
    }

    const session = new IngestSession(context, websocketTransport(socket, request.ip));
    const connection = { shutdown: (reason: string) => socket.close(CLOSE_GOING_AWAY, reason) };
    context.ingestConnections.add(connection);
    context.telemetry.connectionOpened('websocket');

    socket.on('message', (data, isBinary) => {
      const bytes = messageBytes(data as Buffer | ArrayBuffer | Buffer[]);
      if (!isBinary) {
        session.rejectTextMessage(bytes.length);
        return;
      }
      if (bytes.length > context.options.maxMessageBytes) {
        session.rejectOversize(bytes.length);
        return;
      }
      session.handleMessage(bytes);
    });

    socket.on('error', (error: Error & { code?: string }) => {
      // ws reports protocol violations here (for example WS_ERR_UNSUPPORTED_MESSAGE_LENGTH for a
      // message above maxPayload) and closes the connection itself.
      context.errorLog.warn(`ws:${request.ip}:${error.code ?? 'error'}`, { streamId: session.streamId, code: error.code, remoteAddress: request.ip, err: error.message }, 'ingest WebSocket error');
    });

    socket.on('close', (code: number, reason: Buffer) => {
      context.ingestConnections.delete(connection);
      context.telemetry.connectionClosed('websocket');
      session.end(`closed with ${code}${reason.length > 0 ? ` (${reason.toString()})` : ''}`);
    });
  });
};
