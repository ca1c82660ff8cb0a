// Browser tests of the viewer page against a mock viewer server (mockViewerServer.ts), which
// lets each test send exactly the frames, results, alarms and gaps it needs. The page is the
// real bundle in real headless Chromium (WebGL2 on SwiftShader).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { buildClient } from '../../client/build.js';
import type { StreamInfoView } from '../../client/src/wire.js';
import { CHROMIUM_MISSING_MESSAGE, chromiumAvailable, launchViewerBrowser, readStats, waitForStats, type ViewerBrowser } from './chromium.js';
import { startMockViewerServer, type MockUpdate, type MockViewerServer } from './mockViewerServer.js';
import {
  boundaryPixels, decodeScreenshot, distancesToNearest, findPixels, frameToScreen, isColoured, isContourColour, quantile,
} from './screen.js';
import { SCENE_DISC, SCENE_FRAME, SCENE_HOT_BLOCK, sceneUpdate } from './syntheticScene.js';

const TEST_TIMEOUT_MS = 60_000;
const hasChromium = chromiumAvailable();
if (!hasChromium) {
  if (process.env.CI === 'true') throw new Error(CHROMIUM_MISSING_MESSAGE);
  console.warn(`skipping viewer browser tests: ${CHROMIUM_MISSING_MESSAGE}`);
}

function streamInfo(streamId: string, streamName: string, state = 'active'): StreamInfoView {
  return { streamId, streamName, nominalRateHz: 30, width: SCENE_FRAME.width, height: SCENE_FRAME.height, viewers: 0, source: 'synthetic', state };
}

/** Sends the synthetic scene every `intervalMs` so the feed never goes stale while a test looks at it. */
function startFeeding(server: MockViewerServer, streamId: string, overrides: (sequence: number) => Partial<MockUpdate> = () => ({}), intervalMs = 100) {
  let sequence = 0;
  const timer = setInterval(() => {
    server.sendUpdate(sceneUpdate(streamId, sequence, overrides(sequence)));
    sequence += 1;
  }, intervalMs);
  return { stop: () => clearInterval(timer), get sequence() { return sequence; } };
}

/** Waits until the page has painted `count` more updates than now, so a style change is on screen. */
async function waitForPaints(page: Page, count = 2): Promise<void> {
  const start = (await readStats(page)).painted;
  await waitForStats(page, (stats) => stats.painted >= start + count, 15_000, `${count} more paints`);
}

/** Screen pixels of the scene disc's boundary, computed from the frame geometry and the page's frame rectangle. */
async function expectedDiscBoundary(page: Page): Promise<[number, number][]> {
  const rect = (await readStats(page)).frameRectPage!;
  const disc = new Uint8Array(SCENE_FRAME.width * SCENE_FRAME.height);
  for (let y = 0; y < SCENE_FRAME.height; y++) {
    for (let x = 0; x < SCENE_FRAME.width; x++) {
      if (Math.hypot(x + 0.5 - SCENE_DISC.centerX, y + 0.5 - SCENE_DISC.centerY) <= SCENE_DISC.radius) disc[y * SCENE_FRAME.width + x] = 1;
    }
  }
  return boundaryPixels({ ...SCENE_FRAME, data: disc }).map(([x, y]) => frameToScreen(x, y, SCENE_FRAME.width, SCENE_FRAME.height, rect));
}

async function contourPixels(page: Page): Promise<[number, number][]> {
  const rect = (await readStats(page)).frameRectPage!;
  return findPixels(decodeScreenshot(await page.screenshot()), rect, isContourColour);
}

describe.skipIf(!hasChromium)('viewer page on mock server', () => {
  let browser: ViewerBrowser;
  let clientDir: string;
  let buildDir: string;

  beforeAll(async () => {
    buildDir = await mkdtemp(join(tmpdir(), 'segwithu-viewer-'));
    clientDir = await buildClient({ outDir: buildDir });
    browser = await launchViewerBrowser();
  }, TEST_TIMEOUT_MS);

  afterAll(async () => {
    await browser?.close();
    if (buildDir) await rm(buildDir, { recursive: true, force: true });
  });

  async function openViewer(streams: StreamInfoView[], width = 1280, height = 720, clockSkewMs = 0) {
    const server = await startMockViewerServer({ clientDir, streams, clockSkewMs });
    const page = await browser.newPage(width, height);
    await page.goto(server.url);
    await waitForStats(page, (stats) => stats.connected, 15_000, 'connected');
    await expect.poll(() => server.viewerCount(streams[0].streamId), { timeout: 10_000 }).toBe(1);
    return {
      server,
      page,
      async close() {
        await page.close();
        await server.close();
      },
    };
  }

  test('page paints pushed frames', async () => {
    const viewer = await openViewer([streamInfo('a', 'Stream A')]);
    for (let sequence = 0; sequence < 3; sequence++) viewer.server.sendUpdate(sceneUpdate('a', sequence, { frameRisk: 0.1 * sequence }));

    const stats = await waitForStats(viewer.page, (s) => s.shownSequence === 2, 15_000, 'sequence 2 shown');
    expect(stats.painted).toBeGreaterThanOrEqual(1);
    expect(stats.arrivalToPaintMs.length).toBe(stats.painted);
    expect(await viewer.page.getAttribute('#app', 'data-shown-sequence')).toBe('2');
    expect(await viewer.page.textContent('#disclaimer')).toBe('Research software, not a medical device. Do not use for diagnosis.');
    expect(await viewer.page.isVisible('#disclaimer')).toBe(true);
    await viewer.close();
  }, TEST_TIMEOUT_MS);

  test('page acks painted updates', async () => {
    const viewer = await openViewer([streamInfo('a', 'Stream A')]);
    expect(viewer.server.subscriptionWindows).toEqual([2]);

    viewer.server.sendUpdate(sceneUpdate('a', 0, { updateId: 1 }));
    await waitForStats(viewer.page, (s) => s.shownSequence === 0, 15_000, 'sequence 0 shown');
    await expect.poll(() => viewer.server.acks, { timeout: 5_000 }).toEqual([1]);

    // Two updates in one burst: at most the newest is painted, and its ack covers both.
    viewer.server.sendUpdate(sceneUpdate('a', 1, { updateId: 2 }));
    viewer.server.sendUpdate(sceneUpdate('a', 2, { updateId: 3 }));
    await waitForStats(viewer.page, (s) => s.shownSequence === 2, 15_000, 'sequence 2 shown');
    await expect.poll(() => viewer.server.acks.at(-1), { timeout: 5_000 }).toBe(3);
    expect(viewer.server.acks.every((id, i) => i === 0 || id > viewer.server.acks[i - 1])).toBe(true);
    await viewer.close();
  }, TEST_TIMEOUT_MS);

  test('contour follows letterboxed disc', async () => {
    const viewer = await openViewer([streamInfo('a', 'Stream A')]);
    const feeder = startFeeding(viewer.server, 'a');
    await waitForStats(viewer.page, (s) => s.painted >= 1, 15_000, 'first paint');
    await viewer.page.keyboard.press('h');
    await waitForStats(viewer.page, (s) => !s.layers.heatMap, 5000, 'heat map off');
    await waitForPaints(viewer.page);

    const found = await contourPixels(viewer.page);
    const expected = await expectedDiscBoundary(viewer.page);
    const rect = (await readStats(viewer.page)).frameRectPage!;
    // One model pixel spans 1/scale frame pixels; the contour may sit anywhere within it.
    const modelPixelOnScreen = (rect.width / SCENE_FRAME.width) / (128 / SCENE_FRAME.width);
    const tolerancePx = modelPixelOnScreen + 2;

    expect(found.length).toBeGreaterThan(200);
    expect(Math.max(...distancesToNearest(found, expected))).toBeLessThanOrEqual(tolerancePx);
    // Coverage: the drawn contour runs all the way round the disc.
    expect(quantile(distancesToNearest(expected, found), 0.98)).toBeLessThanOrEqual(tolerancePx);
    feeder.stop();
    await viewer.close();
  }, TEST_TIMEOUT_MS);

  test('heat map colours hot block', async () => {
    const viewer = await openViewer([streamInfo('a', 'Stream A')]);
    const feeder = startFeeding(viewer.server, 'a');
    await waitForStats(viewer.page, (s) => s.painted >= 1, 15_000, 'first paint');
    await viewer.page.keyboard.press('c');
    await waitForStats(viewer.page, (s) => !s.layers.contour, 5000, 'contour off');
    await waitForPaints(viewer.page);

    const rect = (await readStats(viewer.page)).frameRectPage!;
    const shot = decodeScreenshot(await viewer.page.screenshot());
    const [blockX0, blockY0] = frameToScreen(SCENE_HOT_BLOCK.x0 + 4, SCENE_HOT_BLOCK.y0 + 4, SCENE_FRAME.width, SCENE_FRAME.height, rect);
    const [blockX1, blockY1] = frameToScreen(SCENE_HOT_BLOCK.x1 - 5, SCENE_HOT_BLOCK.y1 - 5, SCENE_FRAME.width, SCENE_FRAME.height, rect);
    const insideBlock = { x: blockX0, y: blockY0, width: blockX1 - blockX0, height: blockY1 - blockY0 };
    const blockPixels = Math.floor(insideBlock.width) * Math.floor(insideBlock.height);
    // Viridis at 0.9 is yellow-green (189, 223, 38): green well above blue.
    const yellowGreen = findPixels(shot, insideBlock, (r, g, b) => g - b > 60 && r - b > 40);
    expect(yellowGreen.length).toBeGreaterThan(0.95 * blockPixels);

    // The rest of the frame has error probability 0 and stays grey.
    const [rightX] = frameToScreen(SCENE_HOT_BLOCK.x1 + 4, 0, SCENE_FRAME.width, SCENE_FRAME.height, rect);
    const rightOfBlock = { x: rightX, y: rect.y, width: rect.x + rect.width - rightX, height: rect.height };
    expect(findPixels(shot, rightOfBlock, isColoured).length).toBe(0);
    feeder.stop();
    await viewer.close();
  }, TEST_TIMEOUT_MS);

  test('opacity and frame keys', async () => {
    const viewer = await openViewer([streamInfo('a', 'Stream A')]);
    const feeder = startFeeding(viewer.server, 'a');
    await waitForStats(viewer.page, (s) => s.painted >= 1, 15_000, 'first paint');
    for (let press = 0; press < 8; press++) await viewer.page.keyboard.press('-');
    await waitForStats(viewer.page, (s) => s.opacity === 0, 5000, 'opacity 0');
    await waitForPaints(viewer.page);
    const rect = (await readStats(viewer.page)).frameRectPage!;
    expect(findPixels(decodeScreenshot(await viewer.page.screenshot()), rect, isColoured).length).toBe(0);
    expect(await viewer.page.textContent('#overlay-opacity-value')).toBe('0%');

    await viewer.page.keyboard.press('+');
    await viewer.page.keyboard.press('+');
    await viewer.page.keyboard.press('+');
    await viewer.page.keyboard.press('+');
    await viewer.page.keyboard.press('f');
    await waitForStats(viewer.page, (s) => s.opacity > 0.39 && !s.layers.frame, 5000, 'opacity 0.4, frame off');
    await waitForPaints(viewer.page);
    const shot = decodeScreenshot(await viewer.page.screenshot());
    // With the frame off, no grey frame pixel remains (the scene's frame is 20..100 grey);
    // the overlay, drawn over black, is all that is lit.
    const greyLit = findPixels(shot, rect, (r, g, b) => Math.max(r, g, b) > 12 && Math.max(r, g, b) - Math.min(r, g, b) <= 6);
    expect(greyLit.length).toBe(0);
    expect(findPixels(shot, rect, isColoured).length).toBeGreaterThan(1000);
    expect((await contourPixels(viewer.page)).length).toBeGreaterThan(100);
    feeder.stop();
    await viewer.close();
  }, TEST_TIMEOUT_MS);

  test('gauge shows risk of shown frame', async () => {
    const viewer = await openViewer([streamInfo('a', 'Stream A')]);
    const riskOf = (sequence: number) => ((sequence * 37) % 100) / 100;
    const feeder = startFeeding(viewer.server, 'a', (sequence) => ({ frameRisk: riskOf(sequence) }), 50);
    await waitForStats(viewer.page, (s) => s.painted >= 10, 15_000, '10 paints');
    feeder.stop();

    // One evaluate reads stats and DOM in the same task, so updates still in flight cannot split them.
    const { stats, gauge } = await viewer.page.evaluate(() => {
      const root = document.getElementById('risk-gauge')!;
      const fill = root.querySelector<HTMLElement>('.gauge-fill')!;
      const { shownSequence, shownRisk } = window.__segwithuStats!;
      return {
        stats: { shownSequence, shownRisk },
        gauge: {
          risk: root.dataset.risk,
          fillFraction: fill.getBoundingClientRect().width / root.clientWidth,
          shownRisk: document.getElementById('app')!.dataset.shownRisk,
          enterLeft: root.querySelector<HTMLElement>('.gauge-mark-enter')!.style.left,
          exitLeft: root.querySelector<HTMLElement>('.gauge-mark-exit')!.style.left,
        },
      };
    });
    expect(stats.shownRisk).toBe(riskOf(stats.shownSequence));
    expect(Number(gauge.risk)).toBeCloseTo(riskOf(stats.shownSequence), 4);
    expect(Number(gauge.shownRisk)).toBeCloseTo(riskOf(stats.shownSequence), 6);
    expect(gauge.fillFraction).toBeCloseTo(riskOf(stats.shownSequence), 1);
    expect(Number.parseFloat(gauge.enterLeft)).toBe(70);
    expect(Number.parseFloat(gauge.exitLeft)).toBe(50);
    await viewer.close();
  }, TEST_TIMEOUT_MS);

  test('alarm dims contour with reason', async () => {
    const viewer = await openViewer([streamInfo('a', 'Stream A')]);
    let alarm = false;
    const reason = 'frame risk above 0.70 for 3 frames';
    const feeder = startFeeding(viewer.server, 'a', () => ({ alarm, alarmReason: alarm ? reason : '', frameRisk: alarm ? 0.9 : 0.1 }));
    await waitForStats(viewer.page, (s) => s.painted >= 1, 15_000, 'first paint');
    await viewer.page.keyboard.press('h');
    await waitForPaints(viewer.page);
    expect((await contourPixels(viewer.page)).length).toBeGreaterThan(200);
    expect(await viewer.page.isVisible('#alarm-banner')).toBe(false);

    alarm = true;
    await waitForStats(viewer.page, (s) => s.alarm, 15_000, 'alarm shown');
    await waitForPaints(viewer.page);
    const stats = await readStats(viewer.page);
    expect(stats.contourStrength).toBeLessThan(0.5);
    expect((await contourPixels(viewer.page)).length).toBe(0);
    expect(await viewer.page.isVisible('#alarm-banner')).toBe(true);
    expect(await viewer.page.textContent('#alarm-banner')).toContain(reason);
    expect(await viewer.page.getAttribute('#app', 'data-alarm')).toBe('true');

    alarm = false;
    await waitForStats(viewer.page, (s) => !s.alarm, 15_000, 'alarm cleared');
    await waitForPaints(viewer.page);
    expect((await contourPixels(viewer.page)).length).toBeGreaterThan(200);
    feeder.stop();
    await viewer.close();
  }, TEST_TIMEOUT_MS);

  test('stale feed greys overlay', async () => {
    const viewer = await openViewer([streamInfo('a', 'Stream A')]);
    const feeder = startFeeding(viewer.server, 'a');
    await waitForStats(viewer.page, (s) => s.painted >= 2, 15_000, 'two paints');
    feeder.stop();

    const stats = await waitForStats(viewer.page, (s) => s.stale, 15_000, 'feed stale');
    await viewer.page.waitForSelector('#stale-banner', { state: 'visible' });
    expect(await viewer.page.textContent('#stale-banner')).toMatch(/^Feed stale since \d\d:\d\d:\d\d/);
    expect(await viewer.page.getAttribute('#app', 'data-stale')).toBe('true');
    // Let the render loop paint the greyed style, then no overlay colour may remain.
    await viewer.page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve))));
    expect(findPixels(decodeScreenshot(await viewer.page.screenshot()), stats.frameRectPage!, isColoured).length).toBe(0);

    viewer.server.sendUpdate(sceneUpdate('a', 1000));
    await waitForStats(viewer.page, (s) => !s.stale && s.shownSequence === 1000, 15_000, 'live again');
    expect(await viewer.page.isVisible('#stale-banner')).toBe(false);
    await viewer.close();
  }, TEST_TIMEOUT_MS);

  test('burst paints only newest update', async () => {
    const viewer = await openViewer([streamInfo('a', 'Stream A')]);
    const burst = 40;
    for (let sequence = 0; sequence < burst; sequence++) viewer.server.sendUpdate(sceneUpdate('a', sequence, { skippedSinceLast: 1 }));

    const stats = await waitForStats(viewer.page, (s) => s.received === burst && s.shownSequence === burst - 1, 20_000, 'burst received');
    expect(stats.painted + stats.replaced).toBe(burst);
    expect(stats.replaced).toBeGreaterThan(0);
    expect(stats.skippedByServer).toBe(burst);
    expect(await viewer.page.textContent('#status-line')).toContain(`skipped ${burst} by server, ${stats.replaced} in browser`);
    await viewer.close();
  }, TEST_TIMEOUT_MS);

  test('clock offset corrects latency', async () => {
    const skewMs = 5000;
    const viewer = await openViewer([streamInfo('a', 'Stream A')], 1280, 720, skewMs);
    const feeder = startFeeding(viewer.server, 'a', () => ({ dropped: { superseded: 2, invalid: 1 } }));
    const stats = await waitForStats(viewer.page, (s) => s.clockOffsetMs !== null && s.captureToPaintMs.length >= 3, 15_000, 'offset and latency');
    feeder.stop();

    // The offset is exact up to half a round trip; the round trip on 127.0.0.1 is far below 1 s.
    expect(Math.abs(stats.clockOffsetMs! - skewMs)).toBeLessThanOrEqual(stats.clockRoundTripMs! / 2 + 1);
    // Without the offset the latency would read about 5000 ms too low (negative).
    const latest = stats.captureToPaintMs[stats.captureToPaintMs.length - 1];
    expect(latest).toBeGreaterThan(-stats.clockRoundTripMs! / 2 - 1);
    expect(latest).toBeLessThan(skewMs / 2);
    const statusLine = await viewer.page.textContent('#status-line');
    expect(statusLine).toMatch(/clock offset \+\d{4}\.\d ms ±\d+\.\d/);
    expect(statusLine).toContain('dropped 3 (superseded 2, invalid 1)');
    await viewer.close();
  }, TEST_TIMEOUT_MS);

  test('reconnects after server restart', async () => {
    const viewer = await openViewer([streamInfo('a', 'Stream A')]);
    viewer.server.sendUpdate(sceneUpdate('a', 1));
    await waitForStats(viewer.page, (s) => s.shownSequence === 1, 15_000, 'sequence 1 shown');
    const port = viewer.server.port;
    await viewer.server.close();

    await waitForStats(viewer.page, (s) => !s.connected, 15_000, 'disconnected');
    await viewer.page.waitForSelector('#connection-banner', { state: 'visible' });
    expect(await viewer.page.textContent('#connection-banner')).toMatch(/^Disconnected: .*Reconnecting in \d+\.\d s \(attempt \d+\)/);

    const restarted = await startMockViewerServer({ clientDir, streams: [streamInfo('a', 'Stream A')], port });
    await waitForStats(viewer.page, (s) => s.connected && s.connects === 2, 20_000, 'reconnected');
    await expect.poll(() => restarted.viewerCount('a'), { timeout: 10_000 }).toBe(1);
    restarted.sendUpdate(sceneUpdate('a', 2));
    await waitForStats(viewer.page, (s) => s.shownSequence === 2, 15_000, 'sequence 2 after restart');
    expect(await viewer.page.isVisible('#connection-banner')).toBe(false);
    await viewer.page.close();
    await restarted.close();
  }, TEST_TIMEOUT_MS);

  test('stream picker switches stream', async () => {
    const viewer = await openViewer([streamInfo('a', 'Stream A'), streamInfo('b', 'Stream B'), streamInfo('c', 'Stream C', 'ended')]);
    viewer.server.sendUpdate(sceneUpdate('a', 5));
    await waitForStats(viewer.page, (s) => s.shownStreamId === 'a' && s.shownSequence === 5, 15_000, 'stream a shown');
    await viewer.page.waitForSelector('#stream-picker', { state: 'visible' });
    // GET /api/streams reports stream c as ended, so the picker does not offer it.
    await expect.poll(() => viewer.page.$$eval('#stream-picker option', (options) => options.map((option) => (option as HTMLOptionElement).value)), { timeout: 10_000 })
      .toEqual(['a', 'b']);

    await viewer.page.keyboard.press('s');
    expect(await viewer.page.evaluate(() => document.activeElement?.id)).toBe('stream-picker');
    await viewer.page.selectOption('#stream-picker', 'b');
    await expect.poll(() => viewer.server.viewerCount('b'), { timeout: 10_000 }).toBe(1);
    expect(viewer.server.subscriptions.at(-1)).toBe('b');

    viewer.server.sendUpdate(sceneUpdate('b', 7));
    await waitForStats(viewer.page, (s) => s.shownStreamId === 'b' && s.shownSequence === 7, 15_000, 'stream b shown');
    expect(new URL(viewer.page.url()).searchParams.get('stream')).toBe('b');
    await viewer.close();
  }, TEST_TIMEOUT_MS);

  test('invalid update is counted', async () => {
    const viewer = await openViewer([streamInfo('a', 'Stream A')]);
    viewer.server.sendUpdate(sceneUpdate('a', 1));
    await waitForStats(viewer.page, (s) => s.shownSequence === 1, 15_000, 'sequence 1 shown');
    viewer.server.sendUpdate(sceneUpdate('a', 2, { labelMask: new Uint8Array(10) }));
    viewer.server.sendUpdate(sceneUpdate('a', 3));
    const stats = await waitForStats(viewer.page, (s) => s.shownSequence === 3, 15_000, 'sequence 3 shown');
    expect(stats.invalidMessages).toBe(1);
    expect(stats.connected).toBe(true);
    await viewer.close();
  }, TEST_TIMEOUT_MS);

  for (const [width, height] of [[1280, 720], [800, 600]] as const) {
    test(`layout fits ${width}x${height}`, async () => {
      const viewer = await openViewer([streamInfo('a', 'Stream A'), streamInfo('b', 'Stream B')], width, height);
      const feeder = startFeeding(viewer.server, 'a', () => ({ alarm: true, alarmReason: 'frame risk above 0.70 for 3 frames', frameRisk: 0.8 }));
      await waitForStats(viewer.page, (s) => s.alarm, 15_000, 'alarm shown');
      await viewer.page.waitForSelector('#stream-picker', { state: 'visible' });

      const boxes = await viewer.page.evaluate(() => {
        const ids = ['disclaimer', 'status-line', 'risk-gauge', 'risk-value', 'risk-timeline', 'legend-bar', 'heat-map-note', 'shortcut-list', 'stream-picker', 'alarm-banner', 'view'];
        return Object.fromEntries(ids.map((id) => {
          const box = document.getElementById(id)!.getBoundingClientRect();
          return [id, { left: box.left, top: box.top, right: box.right, bottom: box.bottom }];
        }));
      });
      for (const [id, box] of Object.entries(boxes)) {
        expect(box.left, `${id} left edge`).toBeGreaterThanOrEqual(0);
        expect(box.top, `${id} top edge`).toBeGreaterThanOrEqual(0);
        expect(box.right, `${id} right edge`).toBeLessThanOrEqual(width);
        expect(box.bottom, `${id} bottom edge`).toBeLessThanOrEqual(height);
      }
      // The side panel scrolls; what it must show may not sit below its visible part.
      const panelBottom = await viewer.page.evaluate(() => document.getElementById('panel')!.getBoundingClientRect().bottom);
      for (const id of ['risk-gauge', 'risk-value', 'risk-timeline', 'legend-bar', 'heat-map-note']) {
        expect(boxes[id].bottom, `${id} bottom edge inside the panel`).toBeLessThanOrEqual(panelBottom);
      }
      const frameRect = (await readStats(viewer.page)).frameRectPage!;
      expect(frameRect.width).toBeGreaterThan(0.45 * width);
      const fontSize = await viewer.page.evaluate(() => Number.parseFloat(getComputedStyle(document.getElementById('disclaimer')!).fontSize));
      expect(fontSize).toBeGreaterThanOrEqual(12);
      feeder.stop();
      await viewer.close();
    }, TEST_TIMEOUT_MS);
  }
});
