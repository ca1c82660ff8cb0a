// Server mechanics with the fake pipeline (test/stream/fake-pipeline.ts): transports, viewer
// fan-out and its send budget, limits, status routes and shutdown. The same paths run with the
// real pipeline in bad-input.test.ts and carotid.test.ts.

import { afterEach, describe, expect, it } from 'vitest';

import { DeviceConnection } from '../../stream/device-client.js';
import { startServer, type RunningServer } from '../../stream/server.js';
import type { ServerOptions } from '../../stream/options.js';
import { encodeViewerRequest, proto, uint64ToNumber } from '../../stream/wire.js';
import { FakePipeline } from './fake-pipeline.js';
import { fetchMetrics, metricValue, silentLogger, syntheticFrameMessage, TestViewer, waitUntil } from './helpers.js';

const servers: RunningServer[] = [];
const connections: DeviceConnection[] = [];

async function start(options: ServerOptions = {}, pipeline = new FakePipeline()): Promise<RunningServer> {
  const server = await startServer({ host: '127.0.0.1', port: 0, logger: silentLogger, pipeline, clientDir: '/nonexistent', ...options });
  servers.push(server);
  return server;
}

async function device(url: string, name: string, extra: { lossless?: boolean } = {}): Promise<{ connection: DeviceConnection; streamId: string }> {
  const connection = await DeviceConnection.connect(url);
  connections.push(connection);
  connection.send({ hello: { streamName: name, nominalRateHz: 30, width: 64, height: 48, pixelFormat: proto.PixelFormat.GRAY8, lossless: extra.lossless ?? false } });
  const reply = await connection.waitForReply((r) => r.body === 'helloAck' || r.body === 'error');
  return { connection, streamId: reply.helloAck?.streamId ?? '' };
}

function ingestUrl(server: RunningServer): string {
  return `${server.url.replace(/^http/, 'ws')}/ingest`;
}

afterEach(async () => {
  for (const connection of connections.splice(0)) {
    await connection.close();
  }
  for (const server of servers.splice(0)) {
    await server.close();
  }
});

describe('ingest over WebSocket', () => {
  it('hello returns stream id', async () => {
    const server = await start();
    const { connection, streamId } = await device(ingestUrl(server), 'Probe A');
    expect(streamId).toBe('probe-a');
    const ack = connection.replies[0].helloAck!;
    expect(ack.modelId).toBe('fake-model@test');
    expect(ack.modelInputWidth).toBe(32);
  });

  it('lossless frames are each acked', async () => {
    const server = await start();
    const { connection, streamId } = await device(ingestUrl(server), 'replay', { lossless: true });
    for (let sequence = 0; sequence < 12; sequence += 1) {
      connection.send({ frame: syntheticFrameMessage(sequence) });
    }
    await connection.waitForAcks(12);
    expect(connection.lastAckSequence).toBe(11);
    await waitUntil(() => server.pipeline.counters(streamId).processed === 12, 5000, '12 processed frames');
    expect(server.pipeline.counters(streamId).dropped.queue_full).toBe(0);
  });

  it('oversize message keeps connection', async () => {
    const server = await start({ maxMessageBytes: 64 * 1024 });
    const { connection, streamId } = await device(ingestUrl(server), 'big', { lossless: true });
    connection.send({ frame: syntheticFrameMessage(0, 400, 200) });
    const error = await connection.waitForReply((r) => r.body === 'error');
    expect(error.error?.code).toBe('ERR_MESSAGE_TOO_LARGE');
    expect(error.error?.fatal).toBe(false);

    connection.send({ frame: syntheticFrameMessage(1) });
    await connection.waitForAcks(1);
    expect(server.pipeline.counters(streamId).dropped.invalid).toBe(1);
  });

  it('reconnect resumes stream id', async () => {
    const server = await start();
    const first = await device(ingestUrl(server), 'probe');
    first.connection.send({ frame: syntheticFrameMessage(41) });
    await waitUntil(() => server.pipeline.counters('probe').received === 1, 5000, 'the first frame');
    await first.connection.close();
    await waitUntil(async () => (await (await fetch(`${server.url}/api/streams`)).json()).streams[0].state === 'ended', 5000, 'the stream to end');

    const second = await device(ingestUrl(server), 'probe');
    expect(second.streamId).toBe('probe');
    expect(uint64ToNumber(second.connection.replies[0].helloAck?.resumeAfterSequence)).toBe(41);
  });

  it('too many streams closes connection', async () => {
    const server = await start({ maxStreams: 1 });
    await device(ingestUrl(server), 'one');
    const { connection } = await device(ingestUrl(server), 'two');
    const error = connection.replies.find((r) => r.body === 'error')?.error;
    expect(error?.code).toBe('ERR_TOO_MANY_STREAMS');
    expect(error?.fatal).toBe(true);
    const closed = await connection.closed;
    expect(closed.code).toBe(1008);
  });
});

describe('ingest over TCP', () => {
  it('lossless frames are each acked', async () => {
    const server = await start({ tcpPort: 0 });
    const { connection, streamId } = await device(`tcp://127.0.0.1:${server.tcpPort}`, 'tcp device', { lossless: true });
    expect(streamId).toBe('tcp-device');
    for (let sequence = 0; sequence < 8; sequence += 1) {
      connection.send({ frame: syntheticFrameMessage(sequence) });
    }
    await connection.waitForAcks(8);
    expect(connection.lastAckSequence).toBe(7);
    await waitUntil(() => server.pipeline.counters(streamId).processed === 8, 5000, '8 processed frames');
    expect(server.pipeline.counters(streamId).dropped.queue_full).toBe(0);
  });

  it('broken framing ends one connection', async () => {
    const server = await start({ tcpPort: 0, maxMessageBytes: 1024 * 1024 });
    const tcpUrl = `tcp://127.0.0.1:${server.tcpPort}`;
    const broken = await device(tcpUrl, 'broken');
    const healthy = await device(tcpUrl, 'healthy', { lossless: true });

    // A length prefix of 0xFFFFFFF0 bytes is far beyond twice maxMessageBytes.
    broken.connection.sendUnframed(Uint8Array.from([0xff, 0xff, 0xff, 0xf0]));

    const error = await broken.connection.waitForReply((r) => r.body === 'error');
    expect(error.error?.code).toBe('ERR_FRAMING');
    expect(error.error?.fatal).toBe(true);
    await broken.connection.closed;

    healthy.connection.send({ frame: syntheticFrameMessage(0) });
    await healthy.connection.waitForAcks(1);
    expect(healthy.connection.errorCounts).toEqual({});
  });
});

describe('viewer fan-out', () => {
  it('live frames reach subscribed viewer', async () => {
    const server = await start();
    const { connection, streamId } = await device(ingestUrl(server), 'probe', { lossless: true });
    const viewer = await TestViewer.connect(server.url);
    viewer.subscribe(streamId);
    await viewer.waitFor(() => viewer.messages.some((m) => m.body === 'subscribed'));

    for (let sequence = 0; sequence < 5; sequence += 1) {
      connection.send({ frame: syntheticFrameMessage(sequence) });
    }
    await viewer.waitFor(() => viewer.updates().length === 5);
    const update = viewer.updates()[4];
    expect(uint64ToNumber(update.result?.sequence)).toBe(4);
    expect(update.frame?.width).toBe(64);
    expect(update.frame?.gray8?.length).toBe(64 * 48);
    expect(update.result?.labelMask?.length).toBe(32 * 32);
    expect(update.result?.errorProbability?.[0]).toBe(64);
    expect(uint64ToNumber(update.result?.counters?.processed)).toBeGreaterThanOrEqual(4);
    expect(uint64ToNumber(update.skippedSinceLast)).toBe(0);
    viewer.close();
  });

  it('slow viewer skips without stalling others', async () => {
    const server = await start({ viewerMaxBufferedBytes: 256 * 1024 });
    const { connection, streamId } = await device(ingestUrl(server), 'probe', { lossless: true });
    const slow = await TestViewer.connect(server.url);
    const fast = await TestViewer.connect(server.url);
    slow.subscribe(streamId);
    fast.subscribe(streamId);
    await fast.waitFor(() => fast.messages.some((m) => m.body === 'subscribed'));
    await slow.waitFor(() => slow.messages.some((m) => m.body === 'subscribed'));
    slow.socket.pause();

    // 60 frames of 1 MB each: far more than the kernel buffers of a paused localhost socket.
    const frameCount = 60;
    const largeFrame = syntheticFrameMessage(0, 1024, 1024);
    for (let sequence = 0; sequence < frameCount; sequence += 1) {
      connection.send({ frame: { ...largeFrame, sequence } });
      await connection.waitForAcks(sequence + 1);
    }
    await waitUntil(() => server.pipeline.counters(streamId).processed === frameCount, 10_000, 'every frame processed');
    await fast.waitFor(() => fast.updates().length === frameCount, 10_000, 'every update at the fast viewer');

    const metrics = await fetchMetrics(server.url);
    const skipped = metricValue(metrics, 'segwithu_viewer_updates_skipped_total', { stream: streamId }) ?? 0;
    const sent = metricValue(metrics, 'segwithu_viewer_updates_sent_total', { stream: streamId }) ?? 0;
    expect(skipped).toBeGreaterThan(0);
    expect(sent + skipped).toBe(2 * frameCount);

    slow.socket.resume();
    const slowUpdates = (): number => slow.updates().length;
    await slow.waitFor(() => slowUpdates() === frameCount - skipped, 10_000, 'the slow viewer to catch up');
    const reportedSkips = slow.updates().reduce((sum, update) => sum + uint64ToNumber(update.skippedSinceLast), 0);
    expect(reportedSkips).toBeLessThanOrEqual(skipped);
  });

  it('ack window holds back updates', async () => {
    const server = await start();
    const { connection, streamId } = await device(ingestUrl(server), 'probe', { lossless: true });
    const viewer = await TestViewer.connect(server.url);
    viewer.subscribe(streamId, 2);
    await viewer.waitFor(() => viewer.messages.some((m) => m.body === 'subscribed'));

    const send = async (from: number, count: number): Promise<void> => {
      for (let sequence = from; sequence < from + count; sequence += 1) {
        connection.send({ frame: syntheticFrameMessage(sequence) });
      }
      await connection.waitForAcks(from + count);
      await waitUntil(() => server.pipeline.counters(streamId).processed === from + count, 10_000, `${from + count} frames processed`);
    };

    // No acks: the first two updates go out, the next eight are held back and counted.
    await send(0, 10);
    await viewer.waitFor(() => viewer.updates().length === 2, 5_000, 'two updates');
    expect(viewer.updates().map((update) => uint64ToNumber(update.updateId))).toEqual([1, 2]);
    let metrics = await fetchMetrics(server.url);
    expect(metricValue(metrics, 'segwithu_viewer_updates_awaiting_ack_total', { stream: streamId })).toBe(8);
    expect(metricValue(metrics, 'segwithu_viewer_updates_skipped_total', { stream: streamId })).toBe(8);

    // A cumulative ack of update 2 opens the window for two more; the first reports the 8 skipped.
    // The server handles one viewer's requests in order, so the pong means the ack was applied.
    viewer.ack(2);
    viewer.socket.send(encodeViewerRequest({ ping: { clientWallNs: 1 } }));
    await viewer.waitFor(() => viewer.messages.some((m) => m.body === 'pong'), 5_000, 'the pong after the ack');
    await send(10, 5);
    await viewer.waitFor(() => viewer.updates().length === 4, 5_000, 'two more updates');
    const [third, fourth] = viewer.updates().slice(2);
    expect(uint64ToNumber(third.updateId)).toBe(3);
    expect(uint64ToNumber(third.skippedSinceLast)).toBe(8);
    expect(uint64ToNumber(third.result?.sequence)).toBe(10);
    expect(uint64ToNumber(fourth.updateId)).toBe(4);
    metrics = await fetchMetrics(server.url);
    expect(metricValue(metrics, 'segwithu_viewer_updates_awaiting_ack_total', { stream: streamId })).toBe(11);
  });

  it('ack beyond sent ids is rejected', async () => {
    const server = await start();
    const { streamId } = await device(ingestUrl(server), 'probe');
    const viewer = await TestViewer.connect(server.url);
    viewer.subscribe(streamId, 65);
    viewer.ack(7);
    await viewer.waitFor(() => viewer.messages.filter((m) => m.body === 'error').length === 2);
    const errors = viewer.messages.filter((m) => m.body === 'error').map((m) => m.error!);
    expect(errors.map((error) => error.code)).toEqual(['ERR_INVALID_REQUEST', 'ERR_INVALID_REQUEST']);
    expect(errors[0].message).toContain('max_unacked_updates 65 is above the limit of 64');
    expect(errors[1].message).toContain('ack for update_id 7');

    const metrics = await fetchMetrics(server.url);
    expect(metricValue(metrics, 'segwithu_viewer_requests_rejected_total', { code: 'ERR_INVALID_REQUEST' })).toBe(2);
    expect(viewer.socket.readyState).toBe(viewer.socket.OPEN);
  });

  it('invalid request flood disconnects viewer', async () => {
    const server = await start();
    const { connection, streamId } = await device(ingestUrl(server), 'probe', { lossless: true });
    const flooder = await TestViewer.connect(server.url);
    const calm = await TestViewer.connect(server.url);
    flooder.subscribe(streamId, 2);
    calm.subscribe(streamId);
    await calm.waitFor(() => calm.messages.some((m) => m.body === 'subscribed'));

    for (let i = 0; i < 200; i += 1) {
      flooder.ack(1_000_000);
    }
    const closed = await flooder.closed;
    expect(closed.code).toBe(1008);
    expect(closed.reason).toBe('ERR_TOO_MANY_INVALID_REQUESTS');
    const errors = flooder.messages.filter((m) => m.body === 'error').map((m) => m.error!);
    expect(errors.filter((error) => error.code === 'ERR_INVALID_REQUEST')).toHaveLength(50);
    expect(errors.at(-1)?.code).toBe('ERR_TOO_MANY_INVALID_REQUESTS');
    expect(errors.at(-1)?.fatal).toBe(true);

    // The other viewer of the stream still gets every result.
    for (let sequence = 0; sequence < 5; sequence += 1) {
      connection.send({ frame: syntheticFrameMessage(sequence) });
    }
    await connection.waitForAcks(5);
    await calm.waitFor(() => calm.updates().length === 5, 5_000, 'five updates at the other viewer');
    const metrics = await fetchMetrics(server.url);
    expect(metricValue(metrics, 'segwithu_viewer_requests_rejected_total', { code: 'ERR_TOO_MANY_INVALID_REQUESTS' })).toBe(1);
    expect(metricValue(metrics, 'segwithu_viewer_requests_rejected_total', { code: 'ERR_UNKNOWN_STREAM' })).toBe(0);
    expect(metricValue(metrics, 'segwithu_viewers', { stream: streamId })).toBe(1);
  });

  it('rejected subscribe keeps window', async () => {
    const server = await start();
    const { connection, streamId } = await device(ingestUrl(server), 'probe', { lossless: true });
    const viewer = await TestViewer.connect(server.url);
    viewer.subscribe(streamId, 2);
    await viewer.waitFor(() => viewer.messages.some((m) => m.body === 'subscribed'));
    viewer.subscribe('no-such-stream', 0);
    await viewer.waitFor(() => viewer.messages.some((m) => m.body === 'error'));
    expect(viewer.messages.find((m) => m.body === 'error')?.error?.code).toBe('ERR_UNKNOWN_STREAM');

    for (let sequence = 0; sequence < 6; sequence += 1) {
      connection.send({ frame: syntheticFrameMessage(sequence) });
    }
    await connection.waitForAcks(6);
    await waitUntil(() => server.pipeline.counters(streamId).processed === 6, 10_000, 'six frames processed');

    // Still subscribed with window 2: two updates, then the rest held back.
    await viewer.waitFor(() => viewer.updates().length === 2, 5_000, 'two updates');
    expect(viewer.updates().map((update) => uint64ToNumber(update.updateId))).toEqual([1, 2]);

    // Subscribing again to the same stream keeps the count of results held back.
    viewer.subscribe(streamId, 2);
    await viewer.waitFor(() => viewer.messages.filter((m) => m.body === 'subscribed').length === 2);
    connection.send({ frame: syntheticFrameMessage(6) });
    await viewer.waitFor(() => viewer.updates().length === 3, 5_000, 'the update after the new subscription');
    expect(uint64ToNumber(viewer.updates()[2].skippedSinceLast)).toBe(4);
  });

  it('unknown stream gets coded error', async () => {
    const server = await start();
    const viewer = await TestViewer.connect(server.url);
    viewer.subscribe('nope');
    await viewer.waitFor(() => viewer.messages.some((m) => m.body === 'error'));
    expect(viewer.messages.find((m) => m.body === 'error')?.error?.code).toBe('ERR_UNKNOWN_STREAM');
    viewer.close();
  });

  it('empty subscribe waits for stream', async () => {
    const server = await start();
    const viewer = await TestViewer.connect(server.url);
    viewer.subscribe('');
    await viewer.waitFor(() => viewer.messages.some((m) => m.body === 'streams'));
    const { streamId } = await device(ingestUrl(server), 'late');
    await viewer.waitFor(() => viewer.messages.some((m) => m.body === 'subscribed'));
    expect(viewer.messages.find((m) => m.body === 'subscribed')?.subscribed?.stream?.streamId).toBe(streamId);
    viewer.close();
  });

  it('shutdown closes viewers with 1001', async () => {
    const server = await start();
    const viewer = await TestViewer.connect(server.url);
    await server.close();
    expect((await viewer.closed).code).toBe(1001);
  });
});

describe('status routes', () => {
  it('metrics report accounting and errors', async () => {
    const server = await start();
    const { connection, streamId } = await device(ingestUrl(server), 'probe', { lossless: true });
    connection.send({ frame: syntheticFrameMessage(0) });
    connection.send({ frame: { ...syntheticFrameMessage(1), width: 63 } });
    await connection.waitForAcks(1);
    await connection.waitForReply((r) => r.body === 'error');
    await waitUntil(() => server.pipeline.counters(streamId).inFlight === 0, 5000, 'no frame in flight');

    const text = await fetchMetrics(server.url);
    expect(metricValue(text, 'segwithu_accounting_ok')).toBe(1);
    expect(metricValue(text, 'segwithu_frames_received_total', { stream: streamId })).toBe(2);
    expect(metricValue(text, 'segwithu_frames_processed_total', { stream: streamId })).toBe(1);
    expect(metricValue(text, 'segwithu_frames_dropped_total', { stream: streamId, reason: 'invalid' })).toBe(1);
    expect(metricValue(text, 'segwithu_invalid_messages_total', { stream: streamId, code: 'ERR_FRAME_SIZE_MISMATCH' })).toBe(1);
    expect(text).toContain('# TYPE segwithu_stage_latency_seconds histogram');
  });

  it('api streams lists counters', async () => {
    const server = await start();
    await device(ingestUrl(server), 'probe');
    const body = await (await fetch(`${server.url}/api/streams`)).json();
    expect(body.model).toEqual({ id: 'fake-model', version: 'test' });
    expect(body.streams).toHaveLength(1);
    expect(body.streams[0]).toMatchObject({ streamId: 'probe', source: 'websocket', state: 'active', counters: { received: 0, processed: 0 } });
  });

  it('healthz and placeholder page answer', async () => {
    const server = await start();
    const health = await fetch(`${server.url}/healthz`);
    expect(health.status).toBe(200);
    expect((await health.json()).status).toBe('ok');
    const page = await fetch(`${server.url}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('npm run build');
  });
});
