// Connection and rate limits with the fake pipeline: the hello timeout, the per-stream frame
// rate limit (and the accounting of what it rejects), viewer connection and per-stream viewer
// limits. Message size, frame size and stream count limits are in server.test.ts and
// bad-input.test.ts.

import net from 'node:net';

import { afterEach, describe, expect, it } from 'vitest';

import { DeviceConnection } from '../../stream/device-client.js';
import { resolveServerOptions, type ServerOptions } from '../../stream/options.js';
import { startServer, type RunningServer } from '../../stream/server.js';
import { proto } from '../../stream/wire.js';
import { FakePipeline } from './fake-pipeline.js';
import { fetchMetrics, metricValue, silentLogger, syntheticFrameMessage, TestViewer, waitUntil } from './helpers.js';

const servers: RunningServer[] = [];
const connections: DeviceConnection[] = [];
const viewers: TestViewer[] = [];

afterEach(async () => {
  for (const viewer of viewers.splice(0)) {
    viewer.close();
  }
  for (const connection of connections.splice(0)) {
    await connection.close();
  }
  for (const server of servers.splice(0)) {
    await server.close();
  }
});

async function start(options: ServerOptions = {}): Promise<RunningServer> {
  const server = await startServer({ host: '127.0.0.1', port: 0, logger: silentLogger, pipeline: new FakePipeline(), clientDir: '/nonexistent', ...options });
  servers.push(server);
  return server;
}

async function connect(url: string): Promise<DeviceConnection> {
  const connection = await DeviceConnection.connect(url);
  connections.push(connection);
  return connection;
}

async function viewer(url: string): Promise<TestViewer> {
  const opened = await TestViewer.connect(url);
  viewers.push(opened);
  return opened;
}

function ingestUrl(server: RunningServer): string {
  return `${server.url.replace(/^http/, 'ws')}/ingest`;
}

function hello(connection: DeviceConnection, name: string, lossless: boolean): void {
  connection.send({ hello: { streamName: name, nominalRateHz: 30, width: 64, height: 48, pixelFormat: proto.PixelFormat.GRAY8, lossless } });
}

describe('hello timeout', () => {
  it('silent websocket closed with code', async () => {
    const server = await start({ helloTimeoutMs: 150 });
    const connection = await connect(ingestUrl(server));
    const closed = await connection.closed;
    expect(closed.code).toBe(1008);
    expect(closed.reason).toBe('ERR_HELLO_TIMEOUT');
    const report = connection.replies[0]?.error;
    expect(report?.code).toBe('ERR_HELLO_TIMEOUT');
    expect(report?.fatal).toBe(true);
    expect(report?.message).toContain('within 150 ms');
  });

  it('silent tcp connection closed', async () => {
    const server = await start({ helloTimeoutMs: 150, tcpPort: 0 });
    const connection = await connect(`tcp://127.0.0.1:${server.tcpPort}`);
    await connection.closed;
    expect(connection.errorCounts).toEqual({ ERR_HELLO_TIMEOUT: 1 });
    const metrics = await fetchMetrics(server.url);
    expect(metricValue(metrics, 'segwithu_invalid_messages_total', { stream: '', code: 'ERR_HELLO_TIMEOUT' })).toBe(1);
  });

  it('raw socket without bytes closed', async () => {
    // A peer that connects and sends nothing at all, not even a partial record.
    const server = await start({ helloTimeoutMs: 150, tcpPort: 0 });
    const socket = net.connect({ host: '127.0.0.1', port: server.tcpPort! });
    const ended = await new Promise<string>((resolve) => {
      socket.on('data', () => undefined);
      socket.on('end', () => resolve('end'));
      socket.on('close', () => resolve('close'));
    });
    expect(['end', 'close']).toContain(ended);
    socket.destroy();
  });

  it('hello in time keeps connection', async () => {
    const server = await start({ helloTimeoutMs: 150 });
    const connection = await connect(ingestUrl(server));
    hello(connection, 'probe', true);
    await connection.waitForReply((reply) => reply.body === 'helloAck');
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(connection.isClosed).toBe(false);
    connection.send({ frame: syntheticFrameMessage(0) });
    await connection.waitForAcks(1);
  });
});

describe('frame rate limit', () => {
  it('excess live frames rejected, counted', async () => {
    // 10 frames/s with a 5-frame burst: of 40 frames sent at once, most are above the rate.
    const server = await start({ maxFrameRateHz: 10 });
    const connection = await connect(ingestUrl(server));
    hello(connection, 'fast device', false);
    const ack = await connection.waitForReply((reply) => reply.body === 'helloAck');
    const streamId = ack.helloAck?.streamId ?? '';

    const sent = 40;
    for (let sequence = 0; sequence < sent; sequence += 1) {
      connection.send({ frame: syntheticFrameMessage(sequence) });
    }
    await waitUntil(() => server.pipeline.counters(streamId).received === sent, 10_000, 'every frame received');
    await waitUntil(() => server.pipeline.counters(streamId).inFlight === 0, 10_000, 'no frame in flight');

    const counters = server.pipeline.counters(streamId);
    const limited = counters.dropped.invalid;
    expect(limited).toBeGreaterThan(0);
    expect(sent - limited).toBeGreaterThanOrEqual(5);
    expect(counters.processed + counters.dropped.superseded + limited).toBe(sent);

    await connection.waitUntil(() => (connection.errorCounts.ERR_RATE_LIMIT ?? 0) === limited, 5000, 'one ErrorReport per limited frame');
    expect(Object.keys(connection.errorCounts)).toEqual(['ERR_RATE_LIMIT']);
    const report = connection.replies.find((reply) => reply.body === 'error')!.error!;
    expect(report.fatal).toBe(false);
    expect(report.message).toContain('maximum of 10 frames/s');

    const metrics = await fetchMetrics(server.url);
    expect(metricValue(metrics, 'segwithu_invalid_messages_total', { stream: streamId, code: 'ERR_RATE_LIMIT' })).toBe(limited);
    expect(metricValue(metrics, 'segwithu_accounting_ok')).toBe(1);
  });

  it('lossless stream is exempt', async () => {
    const server = await start({ maxFrameRateHz: 10 });
    const connection = await connect(ingestUrl(server));
    hello(connection, 'replay', true);
    await connection.waitForReply((reply) => reply.body === 'helloAck');
    for (let sequence = 0; sequence < 30; sequence += 1) {
      connection.send({ frame: syntheticFrameMessage(sequence) });
    }
    await connection.waitForAcks(30);
    expect(connection.errorCounts).toEqual({});
  });

  it('rate option must be positive', () => {
    expect(() => resolveServerOptions({ maxFrameRateHz: 0 })).toThrow(/maxFrameRateHz must be a number above 0, got 0/);
    expect(() => resolveServerOptions({ helloTimeoutMs: 0 })).toThrow(/helloTimeoutMs must be an integer from 1/);
  });
});

describe('viewer limits', () => {
  it('connection cap closes with 1013', async () => {
    const server = await start({ maxViewerConnections: 2 });
    const first = await viewer(server.url);
    const second = await viewer(server.url);
    const third = await viewer(server.url);

    const closed = await third.closed;
    expect(closed.code).toBe(1013);
    expect(third.messages.map((message) => message.body)).toEqual(['error']);
    expect(third.messages[0].error?.code).toBe('ERR_TOO_MANY_VIEWERS');

    await first.waitFor(() => first.messages.some((message) => message.body === 'streams'));
    expect(first.socket.readyState).toBe(first.socket.OPEN);
    expect(second.socket.readyState).toBe(second.socket.OPEN);

    // A closed viewer frees its place.
    first.close();
    await first.closed;
    await waitUntil(async () => metricValue(await fetchMetrics(server.url), 'segwithu_viewer_connections') === 1, 5000, 'one viewer connection left');
    const fourth = await viewer(server.url);
    await fourth.waitFor(() => fourth.messages.some((message) => message.body === 'streams'));
  });

  it('per-stream cap rejects subscribe', async () => {
    const server = await start({ maxViewersPerStream: 1 });
    const connection = await connect(ingestUrl(server));
    hello(connection, 'probe', true);
    await connection.waitForReply((reply) => reply.body === 'helloAck');

    const first = await viewer(server.url);
    first.subscribe('probe');
    await first.waitFor(() => first.messages.some((message) => message.body === 'subscribed'));
    const second = await viewer(server.url);
    second.subscribe('probe');
    await second.waitFor(() => second.messages.some((message) => message.body === 'error'));
    expect(second.messages.find((message) => message.body === 'error')?.error?.code).toBe('ERR_TOO_MANY_VIEWERS');

    connection.send({ frame: syntheticFrameMessage(0) });
    await first.waitFor(() => first.updates().length === 1);
    expect(second.updates()).toHaveLength(0);

    // A full stream rejects a viewer moving over from another stream without unsubscribing it.
    const other = await connect(ingestUrl(server));
    hello(other, 'other', true);
    await other.waitForReply((reply) => reply.body === 'helloAck');
    second.subscribe('other');
    await second.waitFor(() => second.messages.filter((message) => message.body === 'subscribed').length === 1);
    second.subscribe('probe');
    await second.waitFor(() => second.messages.filter((message) => message.body === 'error').length === 2);
    expect(second.messages.filter((message) => message.body === 'error')[1].error?.message).toContain('stays subscribed to "other"');
    other.send({ frame: syntheticFrameMessage(0) });
    await second.waitFor(() => second.updates().length === 1, 5_000, 'the update of the stream it stayed on');
    expect(second.updates()[0].result?.streamId).toBe('other');
  });
});
