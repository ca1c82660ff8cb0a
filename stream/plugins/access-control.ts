// Token checks on HTTP routes and WebSockets (see stream/auth.ts for the roles and where a
// client puts its token). An HTTP request without a valid viewer token gets 401 and no body
// beyond the error. A WebSocket without a valid token for its role receives one ErrorReport and
// is closed with 1008 (policy violation) before it is registered, so it never receives a frame.

// Loads @fastify/websocket's request type (request.ws).
import type {} from '@fastify/websocket';
import type { FastifyInstance, FastifyRequest, RawReplyDefaultExpression, RawRequestDefaultExpression, RawServerDefault } from 'fastify';
import type { Logger } from 'pino';
import type { WebSocket } from 'ws';

import { presentedToken, tokenFromAuthorization, type Role } from '../auth.js';
import type { ServerContext } from '../context.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * Access level of the route. 'viewer', the default for every route and unknown paths,
     * needs a viewer token. 'public' needs none. 'websocket' routes check their own role's token
     * in the handler, so a failed upgrade gets close code 1008 instead of an HTTP 401.
     */
    access?: 'public' | 'viewer' | 'websocket';
  }
}

/** WebSocket close code for a policy violation (RFC 6455 section 7.4.1). */
const CLOSE_POLICY_VIOLATION = 1008;

/** Adds the onRequest hook that checks the viewer token; register it before the routes. */
export function addAccessControl(app: FastifyInstance<RawServerDefault, RawRequestDefaultExpression, RawReplyDefaultExpression, Logger>, context: ServerContext): void {
  app.addHook('onRequest', async (request, reply) => {
    const access = request.routeOptions.config?.access ?? 'viewer';
    if (access === 'public' || (access === 'websocket' && request.ws)) {
      return;
    }

    const token = tokenFromAuthorization(request.headers.authorization);
    if (context.auth.allows('viewer', token)) {
      return;
    }
    context.telemetry.countAuthFailure('viewer', 'http');
    context.errorLog.warn(
      `auth:http:${request.ip}`,
      { role: 'viewer', transport: 'http', path: request.routeOptions.url ?? request.url.split('?')[0], remoteAddress: request.ip, tokenPresented: token !== undefined },
      'request rejected: missing or invalid viewer token',
    );
    return reply
      .code(401)
      .header('www-authenticate', token === undefined ? 'Bearer realm="segwithu-live"' : 'Bearer realm="segwithu-live", error="invalid_token"')
      .send({ code: 'ERR_UNAUTHORIZED', message: unauthorizedMessage('viewer', token !== undefined) });
  });
}

/**
 * Checks a WebSocket's token for `role`. When it fails, sends `rejection` (the endpoint's
 * ErrorReport), closes with 1008 and returns false.
 */
export function admitWebSocket(context: ServerContext, role: Role, socket: WebSocket, request: FastifyRequest, rejection: (message: string) => Uint8Array): boolean {
  const token = presentedToken(request.headers);
  if (context.auth.allows(role, token)) {
    return true;
  }

  context.telemetry.countAuthFailure(role, 'websocket');
  context.errorLog.warn(
    `auth:${role}:${request.ip}`,
    { role, transport: 'websocket', remoteAddress: request.ip, tokenPresented: token !== undefined },
    'WebSocket rejected: missing or invalid token',
  );
  socket.send(rejection(unauthorizedMessage(role, token !== undefined)));
  socket.close(CLOSE_POLICY_VIOLATION, 'ERR_UNAUTHORIZED');
  return false;
}

function unauthorizedMessage(role: Role, presented: boolean): string {
  const instructions = role === 'device'
    ? 'send it as "Authorization: Bearer TOKEN" (segwithu-live send --token)'
    : 'send it as "Authorization: Bearer TOKEN", or from a browser as the WebSocket subprotocol segwithu.bearer.TOKEN next to segwithu.v1 (open the viewer page with ?token=TOKEN)';
  return presented
    ? `the ${role} token is not valid; use one of the server's ${role} tokens and ${instructions}`
    : `this server requires a ${role} token; ${instructions}`;
}
