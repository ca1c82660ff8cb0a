// The server as `npm start` runs it: real pipeline, synthetic source, the viewer at /.

import { afterAll, beforeAll, expect, it } from 'vitest';

import { startServer, type RunningServer } from '../../stream/server.js';
import { uint64ToNumber } from '../../stream/wire.js';
import { describeWithModel, fetchMetrics, metricValue, MODEL_DIR, silentLogger, TestViewer } from './helpers.js';

describeWithModel('server with synthetic source', () => {
  let server: RunningServer;

  beforeAll(async () => {
    server = await startServer({ host: '127.0.0.1', port: 0, modelDir: MODEL_DIR, logger: silentLogger, source: { kind: 'synthetic', fps: 10 } });
  }, 60_000);

  afterAll(async () => {
    await server?.close();
  });

  it('serves root and healthz', async () => {
    const root = await fetch(`${server.url}/`);
    expect(root.status).toBe(200);
    expect(root.headers.get('content-type')).toMatch(/text\/html/);
    expect(await root.text()).toMatch(/<html/i);

    const health = await fetch(`${server.url}/healthz`);
    expect(health.status).toBe(200);
    const body = await health.json();
    expect(body.status).toBe('ok');
    expect(body.streams).toBe(1);
  });

  it('viewer receives synthetic results', async () => {
    const viewer = await TestViewer.connect(server.url);
    viewer.subscribe('');
    await viewer.waitFor(() => viewer.updates().length >= 2, 30_000, 'two synthetic updates');

    const subscribed = viewer.messages.find((m) => m.body === 'subscribed')?.subscribed;
    expect(subscribed?.stream?.streamId).toBe(server.sourceStreamId);
    expect(subscribed?.stream?.source).toBe('synthetic');
    expect(subscribed?.alarm?.enter).toBe(server.pipeline.manifest.alarm.enter);

    const update = viewer.updates()[1];
    expect(update.frame?.width).toBe(640);
    expect(update.frame?.gray8?.length).toBe(640 * 480);
    const { input } = server.pipeline.manifest;
    expect(update.result?.labelMask?.length).toBe(input.width * input.height);
    expect(update.result?.errorProbability?.length).toBe(input.width * input.height);
    expect(update.result?.frameRisk).toBeGreaterThanOrEqual(0);
    expect(update.result?.frameRisk).toBeLessThanOrEqual(1);
    expect(uint64ToNumber(update.result?.timestamps?.sentNs)).toBeGreaterThanOrEqual(uint64ToNumber(update.result?.timestamps?.receivedNs));
    viewer.close();
  }, 60_000);

  it('metrics hold accounting', async () => {
    const text = await fetchMetrics(server.url);
    expect(metricValue(text, 'segwithu_accounting_ok')).toBe(1);
    expect(metricValue(text, 'segwithu_frames_received_total', { stream: server.sourceStreamId! })).toBeGreaterThan(0);
    expect(text).toMatch(/segwithu_stage_latency_seconds_bucket\{stream="synthetic",stage="inference",le="\+Inf"\} [1-9]/);
  });
});
