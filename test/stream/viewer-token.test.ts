// The viewer page against a server that requires tokens, in headless Chromium: opened with
// ?token=TOKEN it connects over WS /view (token as a subprotocol entry) and paints frames, and
// its GET /api/streams carries the token; opened without one it loads but receives no frame.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { buildClient } from '../../client/build.js';
import { DeviceConnection } from '../../stream/device-client.js';
import { startServer, type RunningServer } from '../../stream/server.js';
import { proto } from '../../stream/wire.js';
import { CHROMIUM_MISSING_MESSAGE, chromiumAvailable, launchViewerBrowser, readStats, waitForStats, type ViewerBrowser } from '../client/chromium.js';
import { FakePipeline } from './fake-pipeline.js';
import { metricValue, silentLogger, syntheticFrameMessage, waitUntil } from './helpers.js';

const DEVICE_TOKEN = 'device-token-0123456789abcdef';
const VIEWER_TOKEN = 'viewer-token-0123456789abcdef';
/** Software WebGL on a shared machine paints slowly. */
const WAIT_MS = 120_000;

if (!chromiumAvailable()) {
  console.warn(`viewer token test skipped: ${CHROMIUM_MISSING_MESSAGE}`);
}

describe.skipIf(!chromiumAvailable())('viewer page with tokens', () => {
  let buildDir: string;
  let server: RunningServer;
  let browser: ViewerBrowser;
  let device: DeviceConnection;
  let streaming: NodeJS.Timeout;

  beforeAll(async () => {
    buildDir = await mkdtemp(path.join(tmpdir(), 'segwithu-viewer-token-'));
    await buildClient({ outDir: buildDir });
    server = await startServer({
      host: '127.0.0.1',
      port: 0,
      logger: silentLogger,
      pipeline: new FakePipeline(),
      clientDir: buildDir,
      deviceTokens: [DEVICE_TOKEN],
      viewerTokens: [VIEWER_TOKEN],
    });
    device = await DeviceConnection.connect(`${server.url.replace(/^http/, 'ws')}/ingest`, { token: DEVICE_TOKEN });
    device.send({ hello: { streamName: 'probe', nominalRateHz: 5, width: 64, height: 48, pixelFormat: proto.PixelFormat.GRAY8 } });
    await device.waitForReply((reply) => reply.body === 'helloAck');
    let sequence = 0;
    streaming = setInterval(() => device.send({ frame: syntheticFrameMessage(sequence++) }), 200);
    browser = await launchViewerBrowser();
  }, WAIT_MS);

  afterAll(async () => {
    clearInterval(streaming);
    await browser?.close();
    await device?.close();
    await server?.close();
    if (buildDir !== undefined) {
      await rm(buildDir, { recursive: true, force: true });
    }
  });

  it('page with token paints frames', async () => {
    const page = await browser.newPage(800, 600);
    const streamList = page.waitForResponse((response) => response.url().endsWith('/api/streams'), { timeout: WAIT_MS });
    await page.goto(`${server.url}/?stream=probe&token=${VIEWER_TOKEN}`);
    await waitForStats(page, (stats) => stats.painted >= 2, WAIT_MS, 'two painted frames');
    expect((await streamList).status()).toBe(200);
    await page.close();
  }, WAIT_MS);

  it('page without token gets nothing', async () => {
    const page = await browser.newPage(800, 600);
    await page.goto(`${server.url}/?stream=probe`);
    const response = await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${VIEWER_TOKEN}` } });
    const before = metricValue(await response.text(), 'segwithu_auth_failures_total', { role: 'viewer', transport: 'websocket' }) ?? 0;
    await waitUntil(async () => {
      const text = await (await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${VIEWER_TOKEN}` } })).text();
      return (metricValue(text, 'segwithu_auth_failures_total', { role: 'viewer', transport: 'websocket' }) ?? 0) > before;
    }, WAIT_MS, 'the page\'s WebSocket to be refused');
    expect((await readStats(page)).painted).toBe(0);
    await page.close();
  }, WAIT_MS);
});
