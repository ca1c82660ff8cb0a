// WS /view: a viewer sends ViewerRequests (subscribe, ping) and receives ViewerMessages: the
// stream list, Subscribed, then one ViewerUpdate per result of its stream (see ViewerHub for
// the send budget that keeps a slow viewer from slowing anything else).

// Loads @fastify/websocket's route types ({ websocket: true } and the socket handler).
import type {} from '@fastify/websocket';
import type { FastifyPluginAsync } from 'fastify';

import type { ServerContext } from '../context.js';
import type { ViewerErrorCode } from '../errors.js';
import { encodeViewerMessage, messageBytes } from '../wire.js';
import { admitWebSocket } from './access-control.js';

/** WebSocket close code for a server above its capacity (RFC 6455 registry: Try Again Later). */
const CLOSE_TRY_AGAIN_LATER = 1013;

function viewerError(code: ViewerErrorCode, message: string): Uint8Array {
  return encodeViewerMessage({ error: { code, message, fatal: true } });
}

export const viewerWebSocketPlugin: FastifyPluginAsync<{ context: ServerContext }> = async (app, { context }) => {
  app.get('/view', { websocket: true, config: { access: 'websocket' } }, (socket, request) => {
    if (!admitWebSocket(context, 'viewer', socket, request, (message) => viewerError('ERR_UNAUTHORIZED', message))) {
      return;
    }
    const { maxViewerConnections } = context.options;
    if (context.hub.size >= maxViewerConnections) {
      context.errorLog.warn('viewer:capacity', { remoteAddress: request.ip, maxViewerConnections }, 'viewer rejected: too many viewer connections');
      context.telemetry.countViewerRejection('ERR_TOO_MANY_VIEWERS');
      socket.send(viewerError('ERR_TOO_MANY_VIEWERS', `the server already has ${context.hub.size} viewer connections (maxViewerConnections ${maxViewerConnections}); close another viewer or raise --max-viewer-connections`));
      socket.close(CLOSE_TRY_AGAIN_LATER, 'ERR_TOO_MANY_VIEWERS');
      return;
    }

    const viewer = context.hub.add(socket, request.ip);

    socket.on('message', (data) => {
      context.hub.handleRequest(viewer, messageBytes(data as Buffer | ArrayBuffer | Buffer[]));
    });
    socket.on('error', (error: Error & { code?: string }) => {
      context.errorLog.warn(`view:${viewer.id}:${error.code ?? 'error'}`, { viewerId: viewer.id, streamId: viewer.streamId, code: error.code, err: error.message }, 'viewer WebSocket error');
    });
    socket.on('close', (code: number) => {
      context.hub.remove(viewer, `closed with ${code}`);
    });
  });
};
