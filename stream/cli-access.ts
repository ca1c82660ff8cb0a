// Command-line options for access control, TLS and the connection limits: the rows `serve` and
// `send` add to their option tables, and the parsers that turn them into ServerOptions and
// SendFolderOptions. A token on the command line shows in the process list, so the
// SEGWITHU_*_TOKEN variables or the token files are the better place for one.

import { readFileSync } from 'node:fs';

import { checkTokenSyntax, readTokenFile } from './auth.js';
import { origin, parseInteger, parsePositiveNumber, type OptionSpec, type ParsedValues } from './cli-options.js';
import { OptionError } from './errors.js';
import { SERVER_DEFAULTS, type ServerOptions } from './options.js';

export const SERVE_ACCESS_OPTIONS: readonly OptionSpec[] = [
  { flag: 'device-token', env: 'SEGWITHU_DEVICE_TOKEN', valueName: 'TOKEN', help: 'Token devices must present (16-512 characters of A-Z a-z 0-9 . _ ~ -).', defaultText: 'none, allowed on loopback only' },
  { flag: 'device-token-file', env: 'SEGWITHU_DEVICE_TOKEN_FILE', valueName: 'FILE', help: 'File with device tokens, one per line; adds to --device-token.' },
  { flag: 'viewer-token', env: 'SEGWITHU_VIEWER_TOKEN', valueName: 'TOKEN', help: 'Token viewers and clients of the HTTP routes must present.', defaultText: 'none, allowed on loopback only' },
  { flag: 'viewer-token-file', env: 'SEGWITHU_VIEWER_TOKEN_FILE', valueName: 'FILE', help: 'File with viewer tokens, one per line; adds to --viewer-token.' },
  { flag: 'tls-cert', env: 'SEGWITHU_TLS_CERT', valueName: 'FILE', help: 'PEM certificate chain: serve https and wss, and TCP ingest over TLS.', defaultText: 'no TLS' },
  { flag: 'tls-key', env: 'SEGWITHU_TLS_KEY', valueName: 'FILE', help: 'PEM private key of --tls-cert.' },
  { flag: 'hello-timeout-ms', env: 'SEGWITHU_HELLO_TIMEOUT_MS', valueName: 'MS', help: 'A device connection without a DeviceHello after this long is closed, in ms.', defaultText: String(SERVER_DEFAULTS.helloTimeoutMs) },
  { flag: 'max-frame-rate', env: 'SEGWITHU_MAX_FRAME_RATE', valueName: 'RATE', help: 'Live frames per second accepted per stream; faster frames are rejected and counted.', defaultText: String(SERVER_DEFAULTS.maxFrameRateHz) },
  { flag: 'max-viewer-connections', env: 'SEGWITHU_MAX_VIEWER_CONNECTIONS', valueName: 'N', help: 'Open viewer WebSockets, subscribed or not.', defaultText: String(SERVER_DEFAULTS.maxViewerConnections) },
];

export const SEND_ACCESS_OPTIONS: readonly OptionSpec[] = [
  { flag: 'token', env: 'SEGWITHU_DEVICE_TOKEN', valueName: 'TOKEN', help: 'Device token, when the server requires one.', defaultText: 'none' },
  { flag: 'token-file', env: 'SEGWITHU_DEVICE_TOKEN_FILE', valueName: 'FILE', help: 'File whose first token line is the device token.' },
  { flag: 'tls-ca', env: 'SEGWITHU_TLS_CA', valueName: 'FILE', help: 'PEM CA certificate to trust for wss:// and tls:// (a self-signed server).', defaultText: "Node's CA list" },
];

function stringValue(values: ParsedValues, flag: string): string | undefined {
  const value = values[flag];
  return typeof value === 'string' ? value : undefined;
}

/** Collects one role's tokens from its flag (or variable) and its file. */
function tokensOf(values: ParsedValues, argv: string[], flag: string): string[] | undefined {
  const spec = SERVE_ACCESS_OPTIONS.find((candidate) => candidate.flag === flag)!;
  const fileSpec = SERVE_ACCESS_OPTIONS.find((candidate) => candidate.flag === `${flag}-file`)!;
  const tokens: string[] = [];

  const direct = stringValue(values, flag);
  if (direct !== undefined) {
    tokens.push(checkTokenSyntax(direct, origin(spec, argv)));
  }
  const file = stringValue(values, `${flag}-file`);
  if (file !== undefined) {
    tokens.push(...readTokenFile(file, origin(fileSpec, argv)));
  }
  return tokens.length > 0 ? tokens : undefined;
}

/** Turns the access rows of `serve` into ServerOptions fields; absent options stay undefined. */
export function serveAccessOptions(values: ParsedValues, argv: string[]): Partial<ServerOptions> {
  const name = (flag: string): string => origin(SERVE_ACCESS_OPTIONS.find((spec) => spec.flag === flag)!, argv);
  const helloTimeout = stringValue(values, 'hello-timeout-ms');
  const maxFrameRate = stringValue(values, 'max-frame-rate');
  const maxViewerConnections = stringValue(values, 'max-viewer-connections');

  return {
    deviceTokens: tokensOf(values, argv, 'device-token'),
    viewerTokens: tokensOf(values, argv, 'viewer-token'),
    tlsCertFile: stringValue(values, 'tls-cert'),
    tlsKeyFile: stringValue(values, 'tls-key'),
    helloTimeoutMs: helloTimeout === undefined ? undefined : parseInteger(helloTimeout, name('hello-timeout-ms'), 1, 3_600_000, 'pass milliseconds, for example 10000'),
    maxFrameRateHz: maxFrameRate === undefined ? undefined : parsePositiveNumber(maxFrameRate, name('max-frame-rate'), 'pass frames per second, for example 120'),
    maxViewerConnections: maxViewerConnections === undefined
      ? undefined
      : parseInteger(maxViewerConnections, name('max-viewer-connections'), 1, 100_000, 'pass the number of connections, for example 128'),
  };
}

/** Turns the access rows of `send` into the device token and the CA to trust. */
export function sendAccessOptions(values: ParsedValues, argv: string[]): { token?: string; ca?: Buffer } {
  const spec = (flag: string): OptionSpec => SEND_ACCESS_OPTIONS.find((candidate) => candidate.flag === flag)!;
  const direct = stringValue(values, 'token');
  const file = stringValue(values, 'token-file');
  const token = direct !== undefined ? checkTokenSyntax(direct, origin(spec('token'), argv)) : file !== undefined ? readTokenFile(file, origin(spec('token-file'), argv))[0] : undefined;

  const caFile = stringValue(values, 'tls-ca');
  let ca: Buffer | undefined;
  if (caFile !== undefined) {
    try {
      ca = readFileSync(caFile);
    } catch (error) {
      throw new OptionError(`${origin(spec('tls-ca'), argv)} ${caFile} cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); pass a readable PEM file`);
    }
  }
  return { token, ca };
}
