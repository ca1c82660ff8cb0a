// Bad input from one device, with the real pipeline. Each case gets its own error code back and
// is counted on /metrics. The connection stays usable unless the framing itself broke, and a
// second device streaming at the same time is not disturbed.

import { afterAll, beforeAll, expect, it } from 'vitest';

import type { segwithu } from '../../proto/generated/segwithu.js';
import { DeviceConnection } from '../../stream/device-client.js';
import { sleep } from '../../stream/sources/playback.js';
import { startServer, type RunningServer } from '../../stream/server.js';
import { proto, uint64ToNumber } from '../../stream/wire.js';
import { describeWithModel, fetchMetrics, metricValue, MODEL_DIR, silentLogger, syntheticFrameMessage, waitUntil } from './helpers.js';

const MAX_MESSAGE_BYTES = 1024 * 1024;
const MAX_FRAME_PIXELS = 1024 * 1024;

interface BadCase {
  code: string;
  /** Sends the bad message on a connection that has sent its hello (unless needsHello is false). */
  send: (connection: DeviceConnection) => void;
  needsHello?: boolean;
}

const CASES: BadCase[] = [
  { code: 'ERR_DECODE', send: (c) => c.sendRaw(Uint8Array.from([0xff, 0xff, 0xff, 0xff])) },
  { code: 'ERR_PROTOCOL_VERSION', send: (c) => c.send({ protocolVersion: 2, frame: syntheticFrameMessage(100) }) },
  { code: 'ERR_NO_HELLO', send: (c) => c.send({ frame: syntheticFrameMessage(100) }), needsHello: false },
  { code: 'ERR_FRAME_SIZE_MISMATCH', send: (c) => c.send({ frame: { ...syntheticFrameMessage(100), height: 47 } }) },
  { code: 'ERR_FRAME_TOO_LARGE', send: (c) => c.send({ frame: { ...syntheticFrameMessage(100), width: 4096, height: 4096 } }) },
  { code: 'ERR_MESSAGE_TOO_LARGE', send: (c) => c.send({ frame: syntheticFrameMessage(100, 1200, 1000) }) },
  { code: 'ERR_PIXEL_FORMAT', send: (c) => c.send({ frame: { ...syntheticFrameMessage(100), pixelFormat: 9 as segwithu.v1.PixelFormat } }) },
  { code: 'ERR_MASK_SIZE', send: (c) => c.send({ frame: { ...syntheticFrameMessage(100), groundTruthMask: new Uint8Array(10) } }) },
  { code: 'ERR_PIXEL_SPACING', send: (c) => c.send({ frame: { ...syntheticFrameMessage(100), pixelSpacingXMm: NaN, pixelSpacingYMm: 0.2 } }) },
];

describeWithModel('bad input with real pipeline', () => {
  let server: RunningServer;
  let ingestUrl: string;
  let neighbour: DeviceConnection;
  let neighbourSent = 0;
  let neighbourRunning = true;
  let neighbourLoop: Promise<void>;

  async function hello(connection: DeviceConnection, name: string, lossless: boolean): Promise<string> {
    connection.send({ hello: { streamName: name, nominalRateHz: 30, width: 64, height: 48, pixelFormat: proto.PixelFormat.GRAY8, lossless } });
    const reply = await connection.waitForReply((r) => r.body === 'helloAck');
    return reply.helloAck?.streamId ?? '';
  }

  beforeAll(async () => {
    server = await startServer({
      host: '127.0.0.1',
      port: 0,
      tcpPort: 0,
      modelDir: MODEL_DIR,
      logger: silentLogger,
      maxMessageBytes: MAX_MESSAGE_BYTES,
      maxFramePixels: MAX_FRAME_PIXELS,
      clientDir: '/nonexistent',
    });
    ingestUrl = `${server.url.replace(/^http/, 'ws')}/ingest`;

    // The neighbour streams lossless frames, one at a time at about 5 frames/s, for as long as the cases run.
    neighbour = await DeviceConnection.connect(ingestUrl);
    await hello(neighbour, 'neighbour', true);
    neighbourLoop = (async () => {
      while (neighbourRunning && !neighbour.isClosed) {
        neighbour.send({ frame: syntheticFrameMessage(neighbourSent) });
        neighbourSent += 1;
        await neighbour.waitForAcks(neighbourSent, 30_000);
        await sleep(200);
      }
    })();
  }, 60_000);

  afterAll(async () => {
    neighbourRunning = false;
    await neighbourLoop?.catch(() => undefined);
    await neighbour?.close();
    await server?.close();
  });

  for (const badCase of CASES) {
    it(`${badCase.code} reported and counted`, async () => {
      const connection = await DeviceConnection.connect(ingestUrl);
      const name = `bad-${badCase.code.toLowerCase().replace(/_/g, '-')}`;
      let streamId = '';
      if (badCase.needsHello !== false) {
        streamId = await hello(connection, name, true);
      }

      badCase.send(connection);
      const reply = await connection.waitForReply((r) => r.body === 'error');
      expect(reply.error?.code).toBe(badCase.code);
      expect(reply.error?.fatal).toBe(false);
      expect(reply.error?.message).toMatch(/;/);

      // The connection survives: a good frame afterwards is taken and acknowledged.
      if (streamId === '') {
        streamId = await hello(connection, name, true);
      }
      connection.send({ frame: syntheticFrameMessage(101) });
      await connection.waitForAcks(1, 30_000);

      const metrics = await fetchMetrics(server.url);
      const counted = badCase.needsHello === false
        ? metricValue(metrics, 'segwithu_invalid_messages_total', { stream: '', code: badCase.code })
        : metricValue(metrics, 'segwithu_invalid_messages_total', { stream: streamId, code: badCase.code });
      expect(counted).toBeGreaterThanOrEqual(1);
      await connection.close();
    }, 60_000);
  }

  it('bad pixel spacing rejected per frame', async () => {
    const connection = await DeviceConnection.connect(ingestUrl);
    const streamId = await hello(connection, 'bad-spacing', true);
    const badSpacings: [number, number][] = [[NaN, 0.2], [0.2, -0.1], [Infinity, 0.2], [0.2, -Infinity]];
    badSpacings.forEach(([x, y], i) => connection.send({ frame: { ...syntheticFrameMessage(i), pixelSpacingXMm: x, pixelSpacingYMm: y } }));
    // 0 means unknown and is accepted, as is a positive finite spacing.
    connection.send({ frame: { ...syntheticFrameMessage(4), pixelSpacingXMm: 0, pixelSpacingYMm: 0 } });
    connection.send({ frame: { ...syntheticFrameMessage(5), pixelSpacingXMm: 0.1, pixelSpacingYMm: 0.1 } });
    await connection.waitForAcks(2, 30_000);

    expect(connection.errorCounts).toEqual({ ERR_PIXEL_SPACING: 4 });
    const reports = connection.replies.filter((reply) => reply.body === 'error').map((reply) => reply.error!);
    expect(reports.map((report) => uint64ToNumber(report.sequence))).toEqual([0, 1, 2, 3]);
    expect(reports.every((report) => report.fatal === false)).toBe(true);
    expect(reports[0].message).toContain('pixel_spacing_x_mm NaN is not a positive finite number');
    expect(reports[1].message).toContain('pixel_spacing_y_mm -0.1');

    await waitUntil(() => server.pipeline.counters(streamId).inFlight === 0, 30_000, 'the accepted frames to finish');
    const counters = server.pipeline.counters(streamId);
    expect(counters.received).toBe(6);
    expect(counters.processed).toBe(2);
    expect(counters.dropped.invalid).toBe(4);
    const metrics = await fetchMetrics(server.url);
    expect(metricValue(metrics, 'segwithu_invalid_messages_total', { stream: streamId, code: 'ERR_PIXEL_SPACING' })).toBe(4);
    expect(metricValue(metrics, 'segwithu_invalid_messages_total', { stream: 'neighbour', code: 'ERR_PIXEL_SPACING' }) ?? 0).toBe(0);
    await connection.close();
  }, 60_000);

  it('lossless repeats acked and reported once', async () => {
    const connection = await DeviceConnection.connect(ingestUrl);
    const streamId = await hello(connection, 'bad-sequence-order', true);
    // 3 -> 2 is one regression event and the second 3 another; 2 -> 3 and 3 -> 4 go upwards again.
    const sequences = [0, 1, 2, 3, 2, 3, 3, 4];
    for (const sequence of sequences) {
      connection.send({ frame: syntheticFrameMessage(sequence) });
    }
    await connection.waitForAcks(sequences.length, 30_000);

    expect(connection.errorCounts).toEqual({ ERR_SEQUENCE_ORDER: 2 });
    const reports = connection.replies.filter((reply) => reply.body === 'error').map((reply) => reply.error!);
    expect(reports.map((report) => uint64ToNumber(report.sequence))).toEqual([2, 3]);
    expect(reports.every((report) => report.fatal === false)).toBe(true);
    expect(reports[0].message).toContain('frame 2: sequence number is not above the previous frame\'s (3)');

    await waitUntil(() => server.pipeline.counters(streamId).inFlight === 0, 30_000, 'the frames to finish');
    const counters = server.pipeline.counters(streamId);
    expect(counters.received).toBe(sequences.length);
    expect(counters.processed).toBe(sequences.length);
    expect(Object.values(counters.dropped).every((count) => count === 0)).toBe(true);

    const metrics = await fetchMetrics(server.url);
    expect(metricValue(metrics, 'segwithu_sequence_regressions_total', { stream: streamId })).toBe(2);
    expect(metricValue(metrics, 'segwithu_sequence_regressions_total', { stream: 'neighbour' })).toBe(0);
    expect(metricValue(metrics, 'segwithu_invalid_messages_total', { stream: streamId, code: 'ERR_SEQUENCE_ORDER' }) ?? 0).toBe(0);
    expect(metricValue(metrics, 'segwithu_sequence_gap_frames_total', { stream: streamId })).toBe(0);
    expect(metricValue(metrics, 'segwithu_accounting_ok')).toBe(1);
    await connection.close();
  }, 60_000);

  it('TCP broken framing ends one connection', async () => {
    const connection = await DeviceConnection.connect(`tcp://127.0.0.1:${server.tcpPort}`);
    const streamId = await hello(connection, 'tcp-bad', true);
    connection.send({ frame: { ...syntheticFrameMessage(0), groundTruthMask: new Uint8Array(3) } });
    const maskError = await connection.waitForReply((r) => r.body === 'error');
    expect(maskError.error?.code).toBe('ERR_MASK_SIZE');

    connection.sendUnframed(Uint8Array.from([0x7f, 0xff, 0xff, 0xff]));
    const framingError = await connection.waitForReply((r) => r.body === 'error' && r.error?.code === 'ERR_FRAMING');
    expect(framingError.error?.fatal).toBe(true);
    await connection.closed;

    const metrics = await fetchMetrics(server.url);
    expect(metricValue(metrics, 'segwithu_invalid_messages_total', { stream: streamId, code: 'ERR_FRAMING' })).toBe(1);
    expect(metricValue(metrics, 'segwithu_invalid_messages_total', { stream: streamId, code: 'ERR_MASK_SIZE' })).toBe(1);
  }, 60_000);

  it('neighbour stream is unaffected', async () => {
    neighbourRunning = false;
    await neighbourLoop;
    expect(neighbourSent).toBeGreaterThan(0);
    expect(neighbour.errorCounts).toEqual({});
    expect(neighbour.ackCount).toBe(neighbourSent);

    await waitUntil(() => server.pipeline.counters('neighbour').inFlight === 0, 30_000, 'the neighbour frames to finish');
    const counters = server.pipeline.counters('neighbour');
    expect(counters.received).toBe(neighbourSent);
    expect(counters.processed).toBe(neighbourSent);
    expect(Object.values(counters.dropped).every((count) => count === 0)).toBe(true);

    const metrics = await fetchMetrics(server.url);
    expect(metricValue(metrics, 'segwithu_accounting_ok')).toBe(1);
  }, 60_000);
});
