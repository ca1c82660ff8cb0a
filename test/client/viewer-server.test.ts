// End-to-end tests of the viewer page on the real server (stream/server.ts) with the model in
// models/carotid. A test device streams real carotid and liver frames over WS /ingest, and the
// page paints them in headless Chromium. A second, headless viewer records what the server
// sent, so the test can compare it with what the page shows.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { buildClient } from '../../client/build.js';
import { loadManifest } from '../../pipeline/manifest.js';
import type { ResultView } from '../../client/src/wire.js';
import { startServer, type RunningServer } from '../../stream/server.js';
import { CHROMIUM_MISSING_MESSAGE, chromiumAvailable, launchViewerBrowser, readStats, waitForStats, type ViewerBrowser } from './chromium.js';
import {
  carotidClipFrames, DATA_MISSING_MESSAGE, datasetsAvailable, liverFramePaths, readCarotidFrame, readGrayPng, REPO_ROOT, type GrayImage,
} from './dataset.js';
import { connectIngestDevice, type IngestDevice } from './ingestDevice.js';
import {
  boundaryPixels, decodeScreenshot, distancesToNearest, findPixels, frameToScreen, isColoured, isContourColour, modelToFrame, quantile,
} from './screen.js';
import { connectViewerClient, type ViewerClient } from './viewerClient.js';

// Generous limits: the server runs the model on the same few cores as Chromium's software
// WebGL, so on a busy machine a result or a screenshot can take seconds.
const TEST_TIMEOUT_MS = 300_000;
const WAIT_MS = 120_000;
/** Interval between frames the test device sends, ms; the pipeline keeps only the newest anyway. */
const FRAME_INTERVAL_MS = 200;
/**
 * Rate the test device declares. It is below the rate it sends, so that the page calls the feed
 * stale (and greys the overlay) only after 4 s without a result, not after 0.8 s on a busy machine.
 */
const DECLARED_RATE_HZ = 1;
/** The model the server runs; SEGWITHU_MODEL_DIR points the tests at another folder with the same contract, as it does for the CLI. */
const MODEL_DIR = process.env.SEGWITHU_MODEL_DIR ?? join(REPO_ROOT, 'models', 'carotid');
const ARTIFACT_DIR = join(REPO_ROOT, 'test-artifacts');

/** Returns the model version, or the reason the model cannot be used (the server loads it the same way). */
async function readModelVersion(): Promise<{ version: string } | { problem: string }> {
  try {
    return { version: (await loadManifest(MODEL_DIR)).model.version };
  } catch (error) {
    return { problem: `the model in ${MODEL_DIR} cannot be loaded (${(error as Error).message}); export the carotid model there first` };
  }
}

const model = await readModelVersion();
const missing = [
  chromiumAvailable() ? null : CHROMIUM_MISSING_MESSAGE,
  datasetsAvailable() ? null : DATA_MISSING_MESSAGE,
  'problem' in model ? model.problem : null,
].filter((message): message is string => message !== null);
if (missing.length > 0) {
  if (process.env.CI === 'true') throw new Error(`viewer end-to-end tests cannot run: ${missing.join('; ')}`);
  console.warn(`skipping viewer end-to-end tests: ${missing.join('; ')}`);
}
/** The smoke model's alarm says nothing about out-of-distribution frames, so the liver-sweep test waits for the real model. */
const isSmokeModel = 'version' in model && model.version === 'smoke';
if (isSmokeModel && missing.length === 0) {
  console.warn('skipping the liver-sweep alarm test and the expert-contour check: models/carotid holds the smoke model (version "smoke")');
}

/** Sends `frames` in a loop every FRAME_INTERVAL_MS until stopped. */
function startStreaming(device: IngestDevice, frames: { image: GrayImage; mask?: Uint8Array }[]) {
  let index = 0;
  const timer = setInterval(() => {
    const frame = frames[index % frames.length];
    device.sendFrame(frame.image, frame.mask);
    index += 1;
  }, FRAME_INTERVAL_MS);
  return { stop: () => clearInterval(timer) };
}

async function waitForPaints(page: Page, count: number): Promise<void> {
  const start = (await readStats(page)).painted;
  await waitForStats(page, (stats) => stats.painted >= start + count, WAIT_MS, `${count} more paints`);
}

/** Screen pixels of a mask's boundary; `toFrame` maps a mask pixel to frame pixels. */
function boundaryOnScreen(mask: { width: number; height: number; data: Uint8Array }, toFrame: (x: number, y: number) => [number, number],
  frame: { width: number; height: number }, rect: { x: number; y: number; width: number; height: number }): [number, number][] {
  return boundaryPixels(mask).map(([x, y]) => {
    const [frameX, frameY] = toFrame(x, y);
    return frameToScreen(frameX, frameY, frame.width, frame.height, rect);
  });
}

describe.skipIf(missing.length > 0)('viewer page on real server', () => {
  let browser: ViewerBrowser;
  let server: RunningServer;
  let buildDir: string;

  beforeAll(async () => {
    buildDir = await mkdtemp(join(tmpdir(), 'segwithu-viewer-'));
    await buildClient({ outDir: buildDir });
    server = await startServer({ port: 0, clientDir: buildDir, logLevel: 'warn', modelDir: MODEL_DIR });
    browser = await launchViewerBrowser();
  }, TEST_TIMEOUT_MS);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    if (buildDir) await rm(buildDir, { recursive: true, force: true });
  });

  async function openStream(streamName: string, width: number, height: number) {
    const device = await connectIngestDevice(server.url, streamName, DECLARED_RATE_HZ, { width, height });
    const client = await connectViewerClient(server.url, device.streamId);
    const page = await browser.newPage(1280, 720);
    page.setDefaultTimeout(WAIT_MS);
    await page.goto(`${server.url}/?stream=${encodeURIComponent(device.streamId)}`);
    await waitForStats(page, (stats) => stats.connected, WAIT_MS, 'connected');
    return {
      device,
      client,
      page,
      async close() {
        await page.close();
        await client.close();
        await device.close();
      },
    };
  }

  test('carotid contour drawn where expected', async () => {
    const [fileName] = carotidClipFrames(0);
    const { image, mask } = readCarotidFrame(fileName);
    const viewer = await openStream('carotid-e2e', image.width, image.height);
    // The same frame again and again: the model is deterministic, so every result has the same mask.
    const streaming = startStreaming(viewer.device, [{ image, mask: mask.pixels }]);
    await waitForStats(viewer.page, (stats) => stats.painted >= 2, WAIT_MS, 'two carotid paints');

    await mkdir(ARTIFACT_DIR, { recursive: true });
    await writeFile(join(ARTIFACT_DIR, 'viewer-carotid.png'), await viewer.page.screenshot());

    // Heat map off and opacity 100 %: the frame is grey, so every coloured pixel is contour,
    // even when the alarm has dimmed it to a fifth.
    await viewer.page.keyboard.press('h');
    for (let press = 0; press < 3; press++) await viewer.page.keyboard.press('+');
    await waitForStats(viewer.page, (stats) => !stats.layers.heatMap && stats.opacity === 1, WAIT_MS, 'heat map off, opacity 100 %');
    await waitForPaints(viewer.page, 1);
    const contourPng = await viewer.page.screenshot();
    await writeFile(join(ARTIFACT_DIR, 'viewer-carotid-contour.png'), contourPng);
    const shot = decodeScreenshot(contourPng);
    const stats = await readStats(viewer.page);
    streaming.stop();

    expect(stats.stale).toBe(false);
    const rect = stats.frameRectPage!;
    const result: ResultView = viewer.client.results.get(stats.shownSequence) ?? [...viewer.client.results.values()].at(-1)!;
    expect(result.alarm).toBe(stats.alarm);
    const found = findPixels(shot, rect, isColoured);
    const fullStrength = findPixels(shot, rect, isContourColour);
    const screenPerFramePixel = rect.width / image.width;
    const modelPixelOnScreen = screenPerFramePixel / result.letterbox.scale;

    const predicted = { width: result.letterbox.modelWidth, height: result.letterbox.modelHeight, data: result.labelMask };
    const predictedBoundary = boundaryOnScreen(predicted, (x, y) => modelToFrame(x, y, result.letterbox), image, rect);
    if (predictedBoundary.length === 0) {
      expect(found.length).toBe(0);
    } else {
      // The contour on screen is the server's label mask, mapped through the letterbox.
      expect(found.length).toBeGreaterThan(50);
      expect(quantile(distancesToNearest(found, predictedBoundary), 0.99)).toBeLessThanOrEqual(modelPixelOnScreen + 2);
      expect(quantile(distancesToNearest(predictedBoundary, found), 0.95)).toBeLessThanOrEqual(modelPixelOnScreen + 2);
      // In alarm the contour is dimmed, so none of it reaches full-strength magenta.
      if (stats.alarm) expect(fullStrength.length).toBe(0);
      else expect(fullStrength.length).toBeGreaterThan(50);
    }

    if (!isSmokeModel) {
      // A trained model's contour lies near the expert's: within 10 frame pixels.
      const truthBoundary = boundaryOnScreen({ width: mask.width, height: mask.height, data: mask.pixels }, (x, y) => [x, y], image, rect);
      const tolerancePx = 10 * screenPerFramePixel + modelPixelOnScreen;
      expect(found.length).toBeGreaterThan(50);
      expect(quantile(distancesToNearest(found, truthBoundary), 0.95)).toBeLessThanOrEqual(tolerancePx);
      expect(quantile(distancesToNearest(truthBoundary, found), 0.9)).toBeLessThanOrEqual(tolerancePx);
    }
    await viewer.close();
  }, TEST_TIMEOUT_MS);

  test('gauge matches server risk', async () => {
    const frames = carotidClipFrames(1).slice(0, 12).map((name) => {
      const { image, mask } = readCarotidFrame(name);
      return { image, mask: mask.pixels };
    });
    const viewer = await openStream('carotid-risk-e2e', frames[0].image.width, frames[0].image.height);
    const streaming = startStreaming(viewer.device, frames);
    await waitForStats(viewer.page, (stats) => stats.painted >= 4, WAIT_MS, 'four paints');
    streaming.stop();

    // One evaluate reads stats and DOM in the same task, so a paint cannot fall between them.
    const shown = await viewer.page.evaluate(() => {
      const { shownSequence, shownRisk, alarm, alarmThresholds } = window.__segwithuStats!;
      return { shownSequence, shownRisk, alarm, alarmThresholds, gaugeRisk: document.getElementById('risk-gauge')!.dataset.risk };
    });
    const sent = viewer.client.results.get(shown.shownSequence);
    expect(sent, `the test viewer has no result for sequence ${shown.shownSequence}`).toBeDefined();
    expect(shown.shownRisk).toBe(sent!.frameRisk);
    expect(shown.alarm).toBe(sent!.alarm);
    expect(shown.gaugeRisk).toBe(sent!.frameRisk.toFixed(4));
    expect(shown.alarmThresholds).toEqual({ enter: viewer.client.alarm!.enter, exit: viewer.client.alarm!.exit });
    await viewer.close();
  }, TEST_TIMEOUT_MS);

  test.skipIf(isSmokeModel)('liver sweep alarm dims contour', async () => {
    const frames = liverFramePaths().map((path) => ({ image: readGrayPng(path) }));
    const viewer = await openStream('liver-e2e', frames[0].image.width, frames[0].image.height);
    const streaming = startStreaming(viewer.device, frames);
    await waitForStats(viewer.page, (stats) => stats.alarm, WAIT_MS, 'alarm on liver sweep');

    // Frames keep coming, and the alarm's exit hysteresis keeps it on across the next paints.
    const stats = await readStats(viewer.page);
    expect(stats.contourStrength).toBeLessThan(0.5);
    await viewer.page.waitForSelector('#alarm-banner', { state: 'visible' });
    expect(await viewer.page.textContent('#alarm-banner')).toMatch(/^ALARM: contour dimmed.*Reason: \S+/);
    const shot = decodeScreenshot(await viewer.page.screenshot());
    const afterShot = await readStats(viewer.page);
    streaming.stop();
    if (afterShot.alarm) expect(findPixels(shot, afterShot.frameRectPage!, isContourColour).length).toBe(0);
    await viewer.close();
  }, TEST_TIMEOUT_MS);

  test('page reconnects after server restart', async () => {
    const [fileName] = carotidClipFrames(0);
    const { image } = readCarotidFrame(fileName);
    const own = await startServer({ port: 0, clientDir: buildDir, logLevel: 'warn', modelDir: MODEL_DIR });
    const port = own.port;
    let device = await connectIngestDevice(own.url, 'restart-e2e', DECLARED_RATE_HZ, image);
    let streaming = startStreaming(device, [{ image }]);
    const page = await browser.newPage(1280, 720);
    page.setDefaultTimeout(WAIT_MS);
    await page.goto(own.url);
    await waitForStats(page, (stats) => stats.painted >= 1, WAIT_MS, 'first paint');
    streaming.stop();
    await device.close();
    await own.close();

    await waitForStats(page, (stats) => !stats.connected, WAIT_MS, 'disconnected');
    const restarted = await startServer({ port, clientDir: buildDir, logLevel: 'warn', modelDir: MODEL_DIR });
    device = await connectIngestDevice(restarted.url, 'restart-e2e', DECLARED_RATE_HZ, image);
    streaming = startStreaming(device, [{ image }]);
    const before = (await readStats(page)).painted;
    await waitForStats(page, (stats) => stats.connected && stats.connects === 2 && stats.painted > before, WAIT_MS, 'reconnected and painting');
    streaming.stop();
    await page.close();
    await device.close();
    await restarted.close();
  }, TEST_TIMEOUT_MS);
});
