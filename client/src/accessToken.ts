// The viewer's access token, for a server that requires one: taken from the page URL
// (?token=TOKEN). Browsers cannot set headers on a WebSocket, so WS /view gets the token as the
// Sec-WebSocket-Protocol entry segwithu.bearer.TOKEN, offered next to segwithu.v1, which the
// server selects. GET /api/streams gets it as an Authorization header.

/** Subprotocol the server selects; offered with the token so that the token is never the only entry. */
const VIEWER_PROTOCOL = 'segwithu.v1';
const TOKEN_PROTOCOL_PREFIX = 'segwithu.bearer.';

/** Returns the `token` query parameter of the page URL, or '' when there is none. */
export function pageAccessToken(search: string): string {
  return new URLSearchParams(search).get('token') ?? '';
}

/** Subprotocols for WS /view: none without a token. */
export function webSocketProtocols(token: string): string[] {
  return token === '' ? [] : [VIEWER_PROTOCOL, `${TOKEN_PROTOCOL_PREFIX}${token}`];
}

/** Headers for the server's HTTP routes: none without a token. */
export function authorizationHeaders(token: string): Record<string, string> {
  return token === '' ? {} : { Authorization: `Bearer ${token}` };
}
