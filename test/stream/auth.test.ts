// Access control and TLS with the fake pipeline. Covered: tokens per role on every HTTP route
// and WebSocket, and the TCP auth record. A non-loopback host without tokens is rejected before
// anything binds. https, wss and TLS TCP ingest run with a self-signed certificate.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';

import { readTokenFile, TokenChecker } from '../../stream/auth.js';
import { main, sendOptionsFromArgs, serveOptionsFromArgs } from '../../stream/cli.js';
import { DeviceConnection } from '../../stream/device-client.js';
import { resolveServerOptions, type ServerOptions } from '../../stream/options.js';
import { startServer, type RunningServer } from '../../stream/server.js';
import { encodeViewerRequest, messageBytes, proto } from '../../stream/wire.js';
import { FakePipeline } from './fake-pipeline.js';
import { metricValue, silentLogger, syntheticFrameMessage, waitUntil } from './helpers.js';

const DEVICE_TOKEN = 'device-token-0123456789abcdef';
const VIEWER_TOKEN = 'viewer-token-0123456789abcdef';
const OTHER_TOKEN = 'not-a-configured-token-0123456789';

const servers: RunningServer[] = [];
const connections: DeviceConnection[] = [];

afterEach(async () => {
  for (const connection of connections.splice(0)) {
    await connection.close();
  }
  for (const server of servers.splice(0)) {
    await server.close();
  }
});

async function start(options: ServerOptions = {}): Promise<RunningServer> {
  const server = await startServer({
    host: '127.0.0.1',
    port: 0,
    logger: silentLogger,
    pipeline: new FakePipeline(),
    clientDir: '/nonexistent',
    deviceTokens: [DEVICE_TOKEN],
    viewerTokens: [VIEWER_TOKEN],
    ...options,
  });
  servers.push(server);
  return server;
}

async function connectDevice(url: string, options: { token?: string; ca?: Buffer } = {}): Promise<DeviceConnection> {
  const connection = await DeviceConnection.connect(url, options);
  connections.push(connection);
  return connection;
}

function hello(connection: DeviceConnection, name: string, lossless = true): void {
  connection.send({ hello: { streamName: name, nominalRateHz: 30, width: 64, height: 48, pixelFormat: proto.PixelFormat.GRAY8, lossless } });
}

interface ViewerSession {
  socket: WebSocket;
  messages: ReturnType<typeof proto.ViewerMessage.decode>[];
  closed: Promise<{ code: number; reason: string }>;
}

/** Opens WS /view with the given headers or subprotocols; resolves once open (or closed). */
async function openViewer(url: string, options: { headers?: Record<string, string>; protocols?: string[]; ca?: Buffer } = {}): Promise<ViewerSession> {
  const socket = new WebSocket(`${url.replace(/^http/, 'ws')}/view`, options.protocols ?? [], { headers: options.headers, ca: options.ca });
  const messages: ViewerSession['messages'] = [];
  socket.on('message', (data) => messages.push(proto.ViewerMessage.decode(messageBytes(data as Buffer))));
  const closed = new Promise<{ code: number; reason: string }>((resolve) => socket.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  await new Promise<void>((resolve, reject) => {
    socket.once('open', resolve);
    socket.once('error', reject);
  });
  return { socket, messages, closed };
}

function bearer(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` };
}

describe('HTTP routes', () => {
  it('status routes need viewer token', async () => {
    const server = await start();
    for (const route of ['/metrics', '/api/streams', '/healthz', '/no-such-route']) {
      const missing = await fetch(`${server.url}${route}`);
      expect(missing.status, `${route} without a token`).toBe(401);
      expect(missing.headers.get('www-authenticate')).toBe('Bearer realm="segwithu-live"');
      expect((await missing.json()).code).toBe('ERR_UNAUTHORIZED');

      const wrong = await fetch(`${server.url}${route}`, { headers: bearer(OTHER_TOKEN) });
      expect(wrong.status, `${route} with a wrong token`).toBe(401);
      expect(wrong.headers.get('www-authenticate')).toContain('error="invalid_token"');

      const device = await fetch(`${server.url}${route}`, { headers: bearer(DEVICE_TOKEN) });
      expect(device.status, `${route} with the device token`).toBe(401);
    }

    for (const route of ['/metrics', '/api/streams', '/healthz']) {
      const allowed = await fetch(`${server.url}${route}`, { headers: bearer(VIEWER_TOKEN) });
      expect(allowed.status, `${route} with the viewer token`).toBe(200);
    }
  });

  it('viewer page needs no token', async () => {
    const server = await start();
    const page = await fetch(`${server.url}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('segwithu-live');
  });

  it('failures are counted in metrics', async () => {
    const server = await start();
    await fetch(`${server.url}/metrics`);
    await fetch(`${server.url}/api/streams`, { headers: bearer(OTHER_TOKEN) });
    const text = await (await fetch(`${server.url}/metrics`, { headers: bearer(VIEWER_TOKEN) })).text();
    expect(metricValue(text, 'segwithu_auth_failures_total', { role: 'viewer', transport: 'http' })).toBe(2);
  });
});

describe('viewer WebSocket', () => {
  it('missing token closes with 1008', async () => {
    const server = await start();
    const connection = await connectDevice(`${server.url.replace(/^http/, 'ws')}/ingest`, { token: DEVICE_TOKEN });
    hello(connection, 'probe');
    await connection.waitForReply((reply) => reply.body === 'helloAck');
    connection.send({ frame: syntheticFrameMessage(0) });

    for (const headers of [undefined, bearer(OTHER_TOKEN), bearer(DEVICE_TOKEN)]) {
      const viewer = await openViewer(server.url, { headers });
      viewer.socket.send(encodeViewerRequest({ subscribe: { streamId: 'probe' } }));
      const closed = await viewer.closed;
      expect(closed.code).toBe(1008);
      expect(closed.reason).toBe('ERR_UNAUTHORIZED');
      expect(viewer.messages.map((message) => message.body)).toEqual(['error']);
      expect(viewer.messages[0].error?.code).toBe('ERR_UNAUTHORIZED');
    }
  });

  it('header token gets updates', async () => {
    const server = await start();
    const connection = await connectDevice(`${server.url.replace(/^http/, 'ws')}/ingest`, { token: DEVICE_TOKEN });
    hello(connection, 'probe');
    await connection.waitForReply((reply) => reply.body === 'helloAck');

    const viewer = await openViewer(server.url, { headers: bearer(VIEWER_TOKEN) });
    viewer.socket.send(encodeViewerRequest({ subscribe: { streamId: 'probe' } }));
    await waitUntil(() => viewer.messages.some((message) => message.body === 'subscribed'), 5000, 'Subscribed');
    connection.send({ frame: syntheticFrameMessage(0) });
    await waitUntil(() => viewer.messages.some((message) => message.body === 'update'), 5000, 'an update');
    viewer.socket.close();
  });

  it('subprotocol token is admitted, not echoed', async () => {
    const server = await start();
    const viewer = await openViewer(server.url, { protocols: ['segwithu.v1', `segwithu.bearer.${VIEWER_TOKEN}`] });
    expect(viewer.socket.protocol).toBe('segwithu.v1');
    await waitUntil(() => viewer.messages.some((message) => message.body === 'streams'), 5000, 'the stream list');
    viewer.socket.close();

    const refused = await openViewer(server.url, { protocols: ['segwithu.v1', `segwithu.bearer.${OTHER_TOKEN}`] });
    expect((await refused.closed).code).toBe(1008);
  });
});

describe('device ingest', () => {
  it('websocket without token closes 1008', async () => {
    const server = await start();
    const ingestUrl = `${server.url.replace(/^http/, 'ws')}/ingest`;
    for (const token of [undefined, OTHER_TOKEN, VIEWER_TOKEN]) {
      const connection = await connectDevice(ingestUrl, { token });
      hello(connection, 'intruder');
      const closed = await connection.closed;
      expect(closed.code).toBe(1008);
      expect(connection.errorCounts).toEqual({ ERR_UNAUTHORIZED: 1 });
      expect(connection.replies.some((reply) => reply.body === 'helloAck')).toBe(false);
    }
    const body = await (await fetch(`${server.url}/api/streams`, { headers: bearer(VIEWER_TOKEN) })).json();
    expect(body.streams).toEqual([]);
  });

  it('websocket with token streams', async () => {
    const server = await start();
    const connection = await connectDevice(`${server.url.replace(/^http/, 'ws')}/ingest`, { token: DEVICE_TOKEN });
    hello(connection, 'probe');
    connection.send({ frame: syntheticFrameMessage(0) });
    await connection.waitForAcks(1);
    expect(connection.errorCounts).toEqual({});
  });

  it('tcp needs auth record first', async () => {
    const server = await start({ tcpPort: 0 });
    const tcpUrl = `tcp://127.0.0.1:${server.tcpPort}`;

    for (const token of [undefined, OTHER_TOKEN]) {
      const refused = await connectDevice(tcpUrl, { token });
      hello(refused, 'intruder');
      await refused.closed;
      expect(refused.errorCounts).toEqual({ ERR_UNAUTHORIZED: 1 });
      expect(refused.replies[0].error?.fatal).toBe(true);
    }

    const admitted = await connectDevice(tcpUrl, { token: DEVICE_TOKEN });
    hello(admitted, 'tcp probe');
    admitted.send({ frame: syntheticFrameMessage(0) });
    await admitted.waitForAcks(1);
    expect(admitted.errorCounts).toEqual({});
  });

  it('open server ignores auth record', async () => {
    const server = await start({ tcpPort: 0, deviceTokens: [], viewerTokens: [] });
    const connection = await connectDevice(`tcp://127.0.0.1:${server.tcpPort}`, { token: DEVICE_TOKEN });
    hello(connection, 'probe');
    connection.send({ frame: syntheticFrameMessage(0) });
    await connection.waitForAcks(1);
    expect(connection.errorCounts).toEqual({});
  });
});

describe('token options', () => {
  it('non-loopback host without tokens refused', async () => {
    for (const host of ['0.0.0.0', '::', '192.0.2.10']) {
      expect(() => resolveServerOptions({ host })).toThrow(/is not a loopback address and no device or viewer token is set/);
      expect(() => resolveServerOptions({ host, deviceTokens: [DEVICE_TOKEN] })).toThrow(/no viewer token is set/);
      expect(() => resolveServerOptions({ host, viewerTokens: [VIEWER_TOKEN] })).toThrow(/SEGWITHU_DEVICE_TOKEN/);
    }
    expect(resolveServerOptions({ host: '0.0.0.0', deviceTokens: [DEVICE_TOKEN], viewerTokens: [VIEWER_TOKEN] }).host).toBe('0.0.0.0');
    expect(resolveServerOptions({ host: '127.0.0.2' }).deviceTokens).toEqual([]);
    expect(resolveServerOptions({ host: '::1' }).viewerTokens).toEqual([]);
  });

  it('refusal comes before binding', async () => {
    // Nothing is bound or loaded: the pipeline passed in is never closed and nothing is logged.
    const lines: string[] = [];
    const logger = pino({ level: 'trace' }, { write: (line: string) => lines.push(line) });
    const pipeline = new FakePipeline();
    let closed = false;
    pipeline.close = async () => {
      closed = true;
    };
    await expect(startServer({ host: '0.0.0.0', port: 0, pipeline, logger })).rejects.toThrow(/--device-token and --viewer-token/);
    expect(closed).toBe(false);
    expect(lines).toEqual([]);
  });

  it('serve on 0.0.0.0 exits 2', async () => {
    const err: string[] = [];
    const code = await main(['serve', '--host', '0.0.0.0', '--source', 'none'], { out: () => undefined, err: (text) => err.push(text) });
    expect(code).toBe(2);
    expect(err.join('\n')).toContain('host 0.0.0.0 is not a loopback address');
    expect(err.join('\n')).toContain('SEGWITHU_VIEWER_TOKEN');
  });

  it('weak token rejected with fix', () => {
    expect(() => resolveServerOptions({ deviceTokens: ['short'] })).toThrow(/deviceTokens\[0\] is not a valid token \(5 characters\).*openssl rand -hex 32/);
    expect(() => serveOptionsFromArgs([], { SEGWITHU_VIEWER_TOKEN: 'has space in it 0123456789' })).toThrow(/SEGWITHU_VIEWER_TOKEN is not a valid token/);
  });

  it('tokens from env and files', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'segwithu-tokens-'));
    const file = path.join(dir, 'viewer-tokens');
    writeFileSync(file, `# rotated on Monday\n${VIEWER_TOKEN}\n\n${OTHER_TOKEN}\n`);
    expect(readTokenFile(file, '--viewer-token-file')).toEqual([VIEWER_TOKEN, OTHER_TOKEN]);

    const options = serveOptionsFromArgs(['--viewer-token-file', file], { SEGWITHU_DEVICE_TOKEN: DEVICE_TOKEN });
    expect(options.deviceTokens).toEqual([DEVICE_TOKEN]);
    expect(options.viewerTokens).toEqual([VIEWER_TOKEN, OTHER_TOKEN]);
    expect(sendOptionsFromArgs(['--url', 'ws://127.0.0.1:1/ingest', '--folder', dir, '--token-file', file], {}).token).toBe(VIEWER_TOKEN);
    expect(() => serveOptionsFromArgs(['--device-token-file', path.join(dir, 'missing')], {})).toThrow(/--device-token-file .*missing cannot be read \(ENOENT\)/);
  });

  it('checker matches only its role', () => {
    const checker = new TokenChecker({ device: [DEVICE_TOKEN, OTHER_TOKEN], viewer: [VIEWER_TOKEN] });
    expect(checker.allows('device', DEVICE_TOKEN)).toBe(true);
    expect(checker.allows('device', OTHER_TOKEN)).toBe(true);
    expect(checker.allows('device', VIEWER_TOKEN)).toBe(false);
    expect(checker.allows('viewer', DEVICE_TOKEN)).toBe(false);
    expect(checker.allows('viewer', undefined)).toBe(false);
    expect(checker.allows('viewer', `${VIEWER_TOKEN}x`)).toBe(false);
    expect(new TokenChecker({}).allows('viewer', undefined)).toBe(true);
  });
});

/** Writes a self-signed certificate for 127.0.0.1 and localhost with openssl; undefined when openssl is missing. */
function makeCertificate(dir: string, name: string): { cert: string; key: string } | undefined {
  const cert = path.join(dir, `${name}.crt`);
  const key = path.join(dir, `${name}.key`);
  try {
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1',
      '-keyout', key, '-out', cert,
      '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
    ], { stdio: 'ignore' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      return undefined;
    }
    throw error;
  }
  return { cert, key };
}

const certDir = mkdtempSync(path.join(tmpdir(), 'segwithu-tls-'));
const certificate = makeCertificate(certDir, 'server');
if (certificate === undefined) {
  console.warn('TLS tests skipped: openssl is not installed, and Node cannot create a certificate by itself. Install openssl to run them.');
}

function httpsGet(url: string, ca: Buffer, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    https.get(url, { ca, headers }, (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    }).on('error', reject);
  });
}

describe.skipIf(certificate === undefined)('TLS', () => {
  it('serves https, wss and tls ingest', async () => {
    const { readFileSync } = await import('node:fs');
    const ca = readFileSync(certificate!.cert);
    const server = await start({ tcpPort: 0, tlsCertFile: certificate!.cert, tlsKeyFile: certificate!.key });
    expect(server.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);

    expect(await httpsGet(`${server.url}/healthz`, ca, bearer(VIEWER_TOKEN))).toBe(200);
    expect(await httpsGet(`${server.url}/healthz`, ca, {})).toBe(401);
    await expect(fetch(`${server.url.replace('https', 'http')}/healthz`)).rejects.toThrow();

    const wss = await connectDevice(`${server.url.replace(/^https/, 'wss')}/ingest`, { token: DEVICE_TOKEN, ca });
    hello(wss, 'wss probe');
    wss.send({ frame: syntheticFrameMessage(0) });
    await wss.waitForAcks(1);

    const viewer = await openViewer(server.url.replace(/^https/, 'http'), { headers: bearer(VIEWER_TOKEN), ca }).catch(() => undefined);
    expect(viewer, 'a plain ws connection to the TLS port').toBeUndefined();
    const secureViewer = await openViewer(server.url, { headers: bearer(VIEWER_TOKEN), ca }).catch((error: Error) => error);
    expect(secureViewer).not.toBeInstanceOf(Error);

    const tlsDevice = await connectDevice(`tls://127.0.0.1:${server.tcpPort}`, { token: DEVICE_TOKEN, ca });
    hello(tlsDevice, 'tls probe');
    tlsDevice.send({ frame: syntheticFrameMessage(0) });
    await tlsDevice.waitForAcks(1);
    expect(tlsDevice.errorCounts).toEqual({});
    (secureViewer as ViewerSession).socket.close();
  });

  it('untrusted certificate fails handshake', async () => {
    const server = await start({ tlsCertFile: certificate!.cert, tlsKeyFile: certificate!.key });
    await expect(DeviceConnection.connect(`${server.url.replace(/^https/, 'wss')}/ingest`, { token: DEVICE_TOKEN })).rejects.toThrow(/self-signed certificate/);
  });

  it('mismatched key stops start-up', async () => {
    const other = makeCertificate(certDir, 'other')!;
    await expect(start({ tlsCertFile: certificate!.cert, tlsKeyFile: other.key })).rejects.toThrow(/cannot be used together .*key values mismatch/);
    await expect(start({ tlsCertFile: path.join(certDir, 'absent.crt'), tlsKeyFile: certificate!.key })).rejects.toThrow(/TLS certificate .*absent\.crt cannot be read \(ENOENT\)/);
    await expect(start({ tlsCertFile: certificate!.cert })).rejects.toThrow(/--tls-key \(tlsKeyFile\) is missing/);
  });
});
