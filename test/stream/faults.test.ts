// Faults the server must survive: a device that drops its connection mid-stream and comes back,
// a model that cannot be loaded, an inference error on one batch, and SIGTERM to the real CLI.
// The slow viewer that stops reading is in server.test.ts ('slow viewer skips without stalling
// others') and in the soak test.

import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { copyFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';

import type { RunBatch } from '../../pipeline/index.js';
import { DeviceConnection } from '../../stream/device-client.js';
import { encodeLengthPrefixed } from '../../stream/framing.js';
import { startServer, type RunningServer } from '../../stream/server.js';
import { encodeIngestMessage, proto, uint64ToNumber } from '../../stream/wire.js';
import { FakePipeline } from './fake-pipeline.js';
import { describeWithModel, fetchMetrics, metricValue, MODEL_DIR, REPO_ROOT, silentLogger, syntheticFrameMessage, TestViewer, waitUntil } from './helpers.js';

const servers: RunningServer[] = [];
const connections: DeviceConnection[] = [];
const children: ChildProcessWithoutNullStreams[] = [];

afterEach(async () => {
  for (const connection of connections.splice(0)) {
    await connection.close();
  }
  for (const server of servers.splice(0)) {
    await server.close();
  }
  for (const child of children.splice(0)) {
    if (child.exitCode === null) {
      child.kill('SIGKILL');
    }
  }
});

const BIN = path.join(REPO_ROOT, 'bin/segwithu-live.js');

/** Runs the CLI as a child process; lines of stdout and stderr are collected as they come. */
function spawnCli(args: string[]): { child: ChildProcessWithoutNullStreams; stdout: string[]; stderr: string[]; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: REPO_ROOT, env: { ...process.env, SEGWITHU_LOG_LEVEL: 'info' } });
  children.push(child);
  const stdout: string[] = [];
  const stderr: string[] = [];
  const collect = (into: string[]) => {
    let partial = '';
    return (chunk: Buffer): void => {
      const lines = (partial + chunk.toString()).split('\n');
      partial = lines.pop() ?? '';
      into.push(...lines);
    };
  };
  child.stdout.on('data', collect(stdout));
  child.stderr.on('data', collect(stderr));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, stdout, stderr, exited };
}

/** Parses pino JSON lines, skipping anything else. */
function logRecords(lines: string[]): Record<string, unknown>[] {
  return lines.flatMap((line) => {
    try {
      return [JSON.parse(line) as Record<string, unknown>];
    } catch {
      return [];
    }
  });
}

describe('device reconnect', () => {
  it('abrupt drop resumes with gap', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(line) });
    const server = await startServer({ host: '127.0.0.1', port: 0, tcpPort: 0, logger, pipeline: new FakePipeline(), clientDir: '/nonexistent' });
    servers.push(server);

    // First connection: a raw socket that sends a hello and frames 0-4, then is destroyed
    // without a goodbye, as when a cable is pulled.
    const raw = net.connect({ host: '127.0.0.1', port: server.tcpPort! });
    await new Promise<void>((resolve) => raw.once('connect', resolve));
    const hello = { hello: { streamName: 'probe', nominalRateHz: 30, width: 64, height: 48, pixelFormat: proto.PixelFormat.GRAY8 } };
    raw.write(encodeLengthPrefixed(encodeIngestMessage(hello)));
    for (let sequence = 0; sequence < 5; sequence += 1) {
      raw.write(encodeLengthPrefixed(encodeIngestMessage({ frame: syntheticFrameMessage(sequence) })));
    }
    await waitUntil(() => server.pipeline.counters('probe').received === 5, 5000, 'five frames received');
    raw.destroy();
    await waitUntil(async () => (await (await fetch(`${server.url}/api/streams`)).json()).streams[0]?.state === 'ended', 5000, 'the stream to end');

    // The device comes back under the same name; frames 5-9 were lost on the way.
    const again = await DeviceConnection.connect(`tcp://127.0.0.1:${server.tcpPort}`);
    connections.push(again);
    again.send(hello);
    const ack = (await again.waitForReply((reply) => reply.body === 'helloAck')).helloAck!;
    expect(ack.streamId).toBe('probe');
    expect(uint64ToNumber(ack.resumeAfterSequence)).toBe(4);
    again.send({ frame: syntheticFrameMessage(10) });
    await waitUntil(() => server.pipeline.counters('probe').received === 6, 5000, 'the resumed frame');
    await waitUntil(() => server.pipeline.counters('probe').inFlight === 0, 5000, 'no frame in flight');

    const metrics = await fetchMetrics(server.url);
    expect(metricValue(metrics, 'segwithu_sequence_gap_frames_total', { stream: 'probe' })).toBe(5);
    expect(metricValue(metrics, 'segwithu_stream_resumes_total', { stream: 'probe' })).toBe(1);
    expect(metricValue(metrics, 'segwithu_accounting_ok')).toBe(1);

    const records = logRecords(lines);
    expect(records.find((record) => record.msg === 'device reconnected, stream resumed')).toMatchObject({ streamId: 'probe', resumeAfterSequence: 4 });
    expect(records.find((record) => record.msg === 'resumed stream has a sequence gap: these frames never reached the server')).toMatchObject({ lastSequence: 4, sequence: 10, gapFrames: 5 });
  });

  it('gap within connection is counted', async () => {
    const server = await startServer({ host: '127.0.0.1', port: 0, logger: silentLogger, pipeline: new FakePipeline(), clientDir: '/nonexistent' });
    servers.push(server);
    const connection = await DeviceConnection.connect(`${server.url.replace(/^http/, 'ws')}/ingest`);
    connections.push(connection);
    connection.send({ hello: { streamName: 'probe', width: 64, height: 48, pixelFormat: proto.PixelFormat.GRAY8, lossless: true } });
    for (const sequence of [0, 1, 5, 6]) {
      connection.send({ frame: syntheticFrameMessage(sequence) });
    }
    await connection.waitForAcks(4);
    const metrics = await fetchMetrics(server.url);
    expect(metricValue(metrics, 'segwithu_sequence_gap_frames_total', { stream: 'probe' })).toBe(3);
    expect(metricValue(metrics, 'segwithu_stream_resumes_total', { stream: 'probe' })).toBe(0);
  });
});

describe('sequence regression', () => {
  it('live counter restart counted once', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(line) });
    const server = await startServer({ host: '127.0.0.1', port: 0, logger, pipeline: new FakePipeline(), clientDir: '/nonexistent' });
    servers.push(server);
    const url = `${server.url.replace(/^http/, 'ws')}/ingest`;
    const device = await DeviceConnection.connect(url);
    const neighbour = await DeviceConnection.connect(url);
    connections.push(device, neighbour);
    device.send({ hello: { streamName: 'probe', nominalRateHz: 30, width: 64, height: 48, pixelFormat: proto.PixelFormat.GRAY8 } });
    neighbour.send({ hello: { streamName: 'other', nominalRateHz: 30, width: 64, height: 48, pixelFormat: proto.PixelFormat.GRAY8 } });
    await device.waitForReply((reply) => reply.body === 'helloAck');
    await neighbour.waitForReply((reply) => reply.body === 'helloAck');

    // The device restarts its counter after frame 9; frames 1-4 after the restart go upwards again.
    const sequences = [...Array(10).keys(), ...Array(5).keys()];
    sequences.forEach((sequence, i) => {
      device.send({ frame: syntheticFrameMessage(sequence) });
      neighbour.send({ frame: syntheticFrameMessage(i) });
    });
    const report = (await device.waitForReply((reply) => reply.body === 'error')).error!;
    expect(report.code).toBe('ERR_SEQUENCE_ORDER');
    expect(report.fatal).toBe(false);
    expect(uint64ToNumber(report.sequence)).toBe(0);
    expect(report.message).toContain('frame 0: sequence number is not above the previous frame\'s (9) on stream "probe"');

    await waitUntil(() => server.pipeline.counters('probe').received === sequences.length, 5000, 'every frame received');
    await waitUntil(() => server.pipeline.counters('probe').inFlight === 0 && server.pipeline.counters('other').inFlight === 0, 5000, 'no frame in flight');
    const counters = server.pipeline.counters('probe');
    // Live frames are latest-wins, so some are superseded, but none is invalid: each was taken.
    expect(counters.dropped.invalid).toBe(0);
    expect(counters.processed + counters.dropped.superseded).toBe(sequences.length);
    expect(device.errorCounts).toEqual({ ERR_SEQUENCE_ORDER: 1 });
    expect(neighbour.errorCounts).toEqual({});

    const metrics = await fetchMetrics(server.url);
    expect(metricValue(metrics, 'segwithu_sequence_regressions_total', { stream: 'probe' })).toBe(1);
    expect(metricValue(metrics, 'segwithu_sequence_regressions_total', { stream: 'other' })).toBe(0);
    expect(metricValue(metrics, 'segwithu_sequence_gap_frames_total', { stream: 'probe' })).toBe(0);
    expect(metricValue(metrics, 'segwithu_frames_received_total', { stream: 'other' })).toBe(sequences.length);
    expect(metricValue(metrics, 'segwithu_accounting_ok')).toBe(1);

    const warnings = logRecords(lines).filter((record) => record.msg === 'sequence number at or below the previous frame\'s; frame processed');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ streamId: 'probe', lastSequence: 9, sequence: 0, code: 'ERR_SEQUENCE_ORDER' });
  });

  it('reconnect with restarted counter', async () => {
    const server = await startServer({ host: '127.0.0.1', port: 0, tcpPort: 0, logger: silentLogger, pipeline: new FakePipeline(), clientDir: '/nonexistent' });
    servers.push(server);
    const hello = { hello: { streamName: 'probe', width: 64, height: 48, pixelFormat: proto.PixelFormat.GRAY8, lossless: true } };
    const first = await DeviceConnection.connect(`tcp://127.0.0.1:${server.tcpPort}`);
    first.send(hello);
    for (let sequence = 0; sequence < 5; sequence += 1) {
      first.send({ frame: syntheticFrameMessage(sequence) });
    }
    await first.waitForAcks(5);
    await first.close();
    await waitUntil(async () => (await (await fetch(`${server.url}/api/streams`)).json()).streams[0]?.state === 'ended', 5000, 'the stream to end');

    // The device rebooted: it resumes the stream name but numbers its frames from 0 again.
    const again = await DeviceConnection.connect(`tcp://127.0.0.1:${server.tcpPort}`);
    connections.push(again);
    again.send(hello);
    const ack = (await again.waitForReply((reply) => reply.body === 'helloAck')).helloAck!;
    expect(uint64ToNumber(ack.resumeAfterSequence)).toBe(4);
    for (let sequence = 0; sequence < 3; sequence += 1) {
      again.send({ frame: syntheticFrameMessage(sequence) });
    }
    await again.waitForAcks(3);
    expect(again.errorCounts).toEqual({ ERR_SEQUENCE_ORDER: 1 });

    await waitUntil(() => server.pipeline.counters('probe').inFlight === 0, 5000, 'no frame in flight');
    expect(server.pipeline.counters('probe').processed).toBe(8);
    const metrics = await fetchMetrics(server.url);
    expect(metricValue(metrics, 'segwithu_sequence_regressions_total', { stream: 'probe' })).toBe(1);
    expect(metricValue(metrics, 'segwithu_stream_resumes_total', { stream: 'probe' })).toBe(1);
    expect(metricValue(metrics, 'segwithu_sequence_gap_frames_total', { stream: 'probe' })).toBe(0);
    expect(metricValue(metrics, 'segwithu_accounting_ok')).toBe(1);
  });
});

describe('model that fails to load', () => {
  /** Creates a model folder with the committed manifest; `write` puts its ONNX files there, or leaves them out. */
  function brokenModelDir(write: (dir: string) => void): string {
    const dir = mkdtempSync(path.join(tmpdir(), 'segwithu-broken-model-'));
    copyFileSync(path.join(MODEL_DIR, 'manifest.json'), path.join(dir, 'manifest.json'));
    write(dir);
    return dir;
  }

  it('bad checksum stops the CLI', async () => {
    const dir = brokenModelDir((target) => {
      for (const name of ['segwithu.onnx', 'backbone.onnx', 'mc_dropout.onnx']) {
        writeFileSync(path.join(target, name), 'not an ONNX model');
      }
    });
    const run = spawnCli(['serve', '--port', '0', '--source', 'none', '--model-dir', dir]);
    expect(await run.exited).toBe(1);
    const message = run.stderr.join('\n');
    expect(message).toContain('ERR_MODEL_CHECKSUM');
    expect(message).toContain(dir);
    expect(message).toContain('restore it, or re-export the model');
    expect(logRecords(run.stdout).some((record) => record.msg === 'server started')).toBe(false);
  });

  it('missing file stops the CLI', async () => {
    const dir = brokenModelDir(() => undefined);
    const run = spawnCli(['serve', '--port', '0', '--source', 'none', '--model-dir', dir]);
    expect(await run.exited).toBe(1);
    const message = run.stderr.join('\n');
    expect(message).toContain('ERR_MODEL_FILE_NOT_FOUND');
    expect(message).toContain('is missing; restore it or re-export the model');
  });
});

describeWithModel('server with the real model', () => {
  it('inference error drops one batch', async () => {
    const { createPipeline } = await import('../../pipeline/index.js');
    let calls = 0;
    const failThird = (run: RunBatch): RunBatch => async (input, batchSize) => {
      calls += 1;
      if (calls === 3) {
        throw new Error('injected inference failure');
      }
      return run(input, batchSize);
    };
    const pipeline = await createPipeline({ modelDir: MODEL_DIR, logger: silentLogger, wrapRun: failThird, maxBatch: 1 });
    const server = await startServer({ host: '127.0.0.1', port: 0, logger: silentLogger, pipeline, clientDir: '/nonexistent' });
    servers.push(server);

    const viewer = await TestViewer.connect(server.url);
    const connection = await DeviceConnection.connect(`${server.url.replace(/^http/, 'ws')}/ingest`);
    connections.push(connection);
    connection.send({ hello: { streamName: 'probe', width: 64, height: 48, pixelFormat: proto.PixelFormat.GRAY8, lossless: true } });
    await connection.waitForReply((reply) => reply.body === 'helloAck');
    viewer.subscribe('probe');
    await viewer.waitFor(() => viewer.messages.some((message) => message.body === 'subscribed'));

    const sent = 6;
    for (let sequence = 0; sequence < sent; sequence += 1) {
      connection.send({ frame: syntheticFrameMessage(sequence) });
    }
    await connection.waitForAcks(sent, 60_000);
    await waitUntil(() => server.pipeline.counters('probe').inFlight === 0, 60_000, 'no frame in flight');

    const counters = server.pipeline.counters('probe');
    expect(counters.dropped.error).toBe(1);
    expect(counters.processed).toBe(sent - 1);
    await viewer.waitFor(() => viewer.updates().length === sent - 1, 10_000, 'every processed result');
    const sequences = viewer.updates().map((update) => uint64ToNumber(update.result?.sequence));
    expect(sequences).toEqual([0, 1, 3, 4, 5]);
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    viewer.close();
  }, 120_000);

  it('SIGTERM drains and closes viewers', async () => {
    const run = spawnCli(['serve', '--port', '0', '--source', 'synthetic', '--fps', '10', '--shutdown-deadline-ms', '3000', '--client-dir', '/nonexistent']);
    await waitUntil(() => logRecords(run.stdout).some((record) => record.msg === 'server started') || run.child.exitCode !== null, 90_000, 'the server to start');
    const url = logRecords(run.stdout).find((record) => record.msg === 'server started')?.url as string;
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);

    const viewer = await TestViewer.connect(url);
    viewer.subscribe('');
    await viewer.waitFor(() => viewer.updates().length >= 2, 60_000, 'two synthetic results');
    const device = await DeviceConnection.connect(`${url.replace(/^http/, 'ws')}/ingest`);
    connections.push(device);
    device.send({ hello: { streamName: 'probe', width: 64, height: 48, pixelFormat: proto.PixelFormat.GRAY8 } });
    await device.waitForReply((reply) => reply.body === 'helloAck');
    device.send({ frame: syntheticFrameMessage(0) });

    run.child.kill('SIGTERM');
    // Exit code 0 also means the shutdown finished before the CLI's watchdog (deadline + 5 s) fired.
    expect(await run.exited).toBe(0);
    expect((await viewer.closed).code).toBe(1001);
    expect((await device.closed).code).toBe(1001);

    const records = logRecords(run.stdout);
    expect(records.some((record) => record.msg === 'signal received, shutting down' && record.signal === 'SIGTERM')).toBe(true);
    const stopped = records.find((record) => record.msg === 'server stopped') as { accountingHolds: boolean; counters: Record<string, { received: number; processed: number; inFlight: number; dropped: Record<string, number> }> } | undefined;
    expect(stopped?.accountingHolds).toBe(true);
    for (const [streamId, counters] of Object.entries(stopped?.counters ?? {})) {
      const dropped = Object.values(counters.dropped).reduce((sum, count) => sum + count, 0);
      expect(counters.inFlight, `${streamId} frames in flight`).toBe(0);
      expect(counters.processed + dropped, `${streamId} received frames accounted`).toBe(counters.received);
    }
    expect(stopped?.counters.synthetic?.received).toBeGreaterThan(0);
  }, 180_000);
});
