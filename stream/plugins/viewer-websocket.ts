// WS /view: a viewer sends ViewerRequests (subscribe, ping) and receives ViewerMessages: the
// stream list, Subscribed, then one ViewerUpdate per result of its stream (see ViewerHub for
// the send budget that keeps a slow viewer from slowing anything else).

// Loads @fastify/websocket's route types ({ websocket: true } and the socket handler).
import type {} from '@fastify/websocket';
import type { FastifyPluginAsync } from 'fastify';

import type { ServerContext } from '../context.js';
import { messageBytes } from '../wire.js';

export const viewerWebSocketPlugin: FastifyPluginAsync<{ context: ServerContext }> = async (app, { context }) => {
  app.get('/view', { websocket: true }, (socket, request) => {
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
