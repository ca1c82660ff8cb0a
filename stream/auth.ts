// Access control: bearer tokens in two roles. A device token admits a device to ingest (WS
// /ingest and TCP ingest). A viewer token admits a viewer or a monitoring scraper to WS /view
// and to every HTTP route except the viewer's static files, which carry no image data and must
// load before the page can read its token.
//
// Where a client puts its token:
//   - HTTP requests and WebSockets from programs: the header `Authorization: Bearer TOKEN`.
//   - WebSockets from browsers, which cannot set headers: a Sec-WebSocket-Protocol entry
//     `segwithu.bearer.TOKEN`, offered together with `segwithu.v1`. The server selects
//     `segwithu.v1`, so the token is never sent back. Tokens stay out of URLs, and so out of
//     proxy access logs and browser history.
//   - TCP ingest: the first length-prefixed record is the UTF-8 text `Bearer TOKEN`.
//
// Tokens are compared in constant time: the SHA-256 digests of the presented and of each
// configured token, which always have equal length, go through crypto.timingSafeEqual, and every
// configured token is compared, without stopping at the first match.
//
// A role with no token configured is open. That is allowed only on a loopback address, which
// resolveServerOptions checks before anything binds.

import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';

import { OptionError } from './errors.js';

export type Role = 'device' | 'viewer';

/** Subprotocol the server selects on its WebSockets. */
export const WEBSOCKET_PROTOCOL = 'segwithu.v1';
/** Prefix of the Sec-WebSocket-Protocol entry that carries a token. */
export const TOKEN_PROTOCOL_PREFIX = 'segwithu.bearer.';

/**
 * Token syntax: 16 to 512 characters of A-Z a-z 0-9 . _ ~ -. These pass unchanged through a
 * Bearer header, a Sec-WebSocket-Protocol entry (RFC 6455 requires token characters) and a page
 * URL's query (where '+' would turn into a space). `openssl rand -hex 32` makes one.
 */
const TOKEN_PATTERN = /^[A-Za-z0-9._~-]{16,512}$/;

/** Checks one token's syntax; throws OptionError naming where the token came from. */
export function checkTokenSyntax(token: string, origin: string): string {
  if (!TOKEN_PATTERN.test(token)) {
    throw new OptionError(
      `${origin} is not a valid token (${token.length} characters); use 16 to 512 characters of A-Z a-z 0-9 . _ ~ -, for example the output of openssl rand -hex 32`,
    );
  }
  return token;
}

/** Reads a token file: one token per line (several allow rotation); blank lines and lines starting with # are skipped. */
export function readTokenFile(file: string, origin: string): string[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new OptionError(`${origin} ${file} cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); pass a readable file with one token per line`);
  }
  const tokens = text.split(/\r?\n/).map((line) => line.trim()).filter((line) => line.length > 0 && !line.startsWith('#'));
  if (tokens.length === 0) {
    throw new OptionError(`${origin} ${file} contains no token; write one token per line`);
  }
  return tokens.map((token, index) => checkTokenSyntax(token, `${origin} ${file} line ${index + 1}`));
}

/** True for addresses that only this machine can reach: 127.0.0.0/8, ::1, ::ffff:127.x.x.x and the name localhost. */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (bare === 'localhost') {
    return true;
  }
  if (isIP(bare) === 4) {
    return bare.startsWith('127.');
  }
  if (isIP(bare) === 6) {
    return bare === '::1' || bare === '0:0:0:0:0:0:0:1' || /^::ffff:127\./.test(bare);
  }
  return false;
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/** The configured tokens of both roles, kept only as SHA-256 digests. */
export class TokenChecker {
  readonly #digests: Record<Role, readonly Buffer[]>;

  constructor(tokens: { device?: readonly string[]; viewer?: readonly string[] }) {
    this.#digests = {
      device: (tokens.device ?? []).map(sha256),
      viewer: (tokens.viewer ?? []).map(sha256),
    };
  }

  /** True when the role has at least one token, so its clients must present one. */
  required(role: Role): boolean {
    return this.#digests[role].length > 0;
  }

  /** True when the role is open, or `presented` equals one of its tokens. */
  allows(role: Role, presented: string | undefined): boolean {
    const digests = this.#digests[role];
    if (digests.length === 0) {
      return true;
    }
    if (presented === undefined) {
      return false;
    }

    const candidate = sha256(presented);
    let matched = false;
    for (const digest of digests) {
      // Evaluated before the ||, so every digest is compared whatever matched before.
      matched = timingSafeEqual(candidate, digest) || matched;
    }
    return matched;
  }
}

/** Returns the token of an `Authorization: Bearer TOKEN` header, or undefined. */
export function tokenFromAuthorization(header: string | undefined): string | undefined {
  const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header ?? '');
  return match?.[1];
}

/** Returns the token of a `segwithu.bearer.TOKEN` entry in a Sec-WebSocket-Protocol header, or undefined. */
export function tokenFromWebSocketProtocols(header: string | undefined): string | undefined {
  for (const entry of (header ?? '').split(',')) {
    const protocol = entry.trim();
    if (protocol.startsWith(TOKEN_PROTOCOL_PREFIX)) {
      return protocol.slice(TOKEN_PROTOCOL_PREFIX.length);
    }
  }
  return undefined;
}

/** Returns the token a request presents: the Authorization header first, else a WebSocket subprotocol entry. */
export function presentedToken(headers: Record<string, string | string[] | undefined>): string | undefined {
  const authorization = headers.authorization;
  const protocols = headers['sec-websocket-protocol'];
  return tokenFromAuthorization(Array.isArray(authorization) ? authorization[0] : authorization)
    ?? tokenFromWebSocketProtocols(Array.isArray(protocols) ? protocols.join(',') : protocols);
}

/**
 * Picks the subprotocol of a WebSocket handshake: `segwithu.v1` when the client offers it, else
 * none. A token entry is never selected, so the token is never echoed in the response.
 */
export function selectWebSocketProtocol(offered: Set<string>): string | false {
  return offered.has(WEBSOCKET_PROTOCOL) ? WEBSOCKET_PROTOCOL : false;
}

/** Returns the token of a TCP auth record (UTF-8 `Bearer TOKEN`), or undefined when the record is not one. */
export function tokenFromAuthRecord(bytes: Uint8Array): string | undefined {
  // A token record is short; anything longer is a protobuf message or noise.
  if (bytes.length > 600) {
    return undefined;
  }
  return tokenFromAuthorization(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
}

/** Encodes the TCP auth record a device sends first when the server requires a device token. */
export function encodeAuthRecord(token: string): Uint8Array {
  return new TextEncoder().encode(`Bearer ${token}`);
}
