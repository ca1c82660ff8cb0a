// Benchmark of the viewer's arrival-to-paint time, which is how long a ViewerUpdate waits in
// the browser between the WebSocket delivering it and the render call that shows it, and of
// device capture to paint. It runs headless Chromium (software WebGL) against the mock viewer
// server (browser cost only) and, when a model is available, the real server's synthetic
// source, then prints a Markdown table for client/BENCHMARKS.md.
//
// Run: npx tsx test/client/paint-bench.ts [--seconds 10] [--fps 30] [--mock-only]
import { cpus, loadavg, tmpdir } from 'node:os';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildClient } from '../../client/build.js';
import { startServer } from '../../stream/server.js';
import { CHROMIUM_MISSING_MESSAGE, chromiumAvailable, launchViewerBrowser, readStats, waitForStats, type ViewerBrowser } from './chromium.js';
import { REPO_ROOT } from './dataset.js';
import { startMockViewerServer } from './mockViewerServer.js';
import { quantile } from './screen.js';
import { SCENE_FRAME, sceneUpdate } from './syntheticScene.js';

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    fps: { type: 'string', default: '30' },
    'mock-only': { type: 'boolean', default: false },
  },
});
const seconds = Number(args.seconds);
const fps = Number(args.fps);
if (!(seconds > 0) || !(fps > 0)) throw new Error(`--seconds (${args.seconds}) and --fps (${args.fps}) must be positive numbers`);

const VIEWPORT = { width: 1280, height: 720 };
const MODEL_DIR = process.env.SEGWITHU_MODEL_DIR ?? join(REPO_ROOT, 'models', 'carotid');

interface Row {
  source: string;
  /** Frame size and model id as the page reports them. */
  frame: string;
  received: number;
  skippedByServer: number;
  painted: number;
  replaced: number;
  arrivalToPaintMs: number[];
  captureToPaintMs: number[];
}

/** Opens the viewer at `url`, waits for the first paint, then measures for `seconds`. */
async function measure(browser: ViewerBrowser, url: string): Promise<Omit<Row, 'source'>> {
  const page = await browser.newPage(VIEWPORT.width, VIEWPORT.height);
  await page.goto(url);
  await waitForStats(page, (stats) => stats.painted >= 1 && stats.clockOffsetMs !== null, 60_000, 'first paint and clock offset');
  const start = await readStats(page);
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  const end = await readStats(page);
  await page.close();

  const painted = end.painted - start.painted;
  // The sample arrays hold one entry per paint (capped), so the last `painted` entries are this window's.
  return {
    frame: `${end.shownFrameSize.width}×${end.shownFrameSize.height}, model ${end.shownModelId}`,
    received: end.received - start.received,
    skippedByServer: end.skippedByServer - start.skippedByServer,
    painted,
    replaced: end.replaced - start.replaced,
    arrivalToPaintMs: end.arrivalToPaintMs.slice(-painted),
    captureToPaintMs: end.captureToPaintMs.slice(-painted),
  };
}

async function benchMock(browser: ViewerBrowser, clientDir: string): Promise<Row> {
  const streams = [{ streamId: 'bench', streamName: 'bench', nominalRateHz: fps, width: SCENE_FRAME.width, height: SCENE_FRAME.height, viewers: 0, source: 'synthetic', state: 'active' }];
  // The real server's default per-viewer send budget (8 MiB), so the page is skipped as it would be behind the server.
  const server = await startMockViewerServer({ clientDir, streams, maxBufferedBytes: 8 * 1024 * 1024 });
  let sequence = 0;
  const timer = setInterval(() => server.sendUpdate(sceneUpdate('bench', sequence++)), 1000 / fps);
  try {
    return { source: 'mock server, synthetic scene', ...(await measure(browser, server.url)) };
  } finally {
    clearInterval(timer);
    await server.close();
  }
}

async function benchServer(browser: ViewerBrowser, clientDir: string): Promise<Row> {
  const server = await startServer({ port: 0, clientDir, modelDir: MODEL_DIR, logLevel: 'warn', source: { kind: 'synthetic', fps } });
  try {
    return { source: 'server, synthetic source', ...(await measure(browser, server.url)) };
  } finally {
    await server.close();
  }
}

function formatMs(values: number[], q: number): string {
  return values.length === 0 ? '–' : quantile(values, q).toFixed(1);
}

function printTable(rows: Row[]): void {
  console.log(`Viewer arrival-to-paint, ${seconds} s per row at ${fps} fps sent, viewport ${VIEWPORT.width}×${VIEWPORT.height}, ` +
    `headless Chromium with SwiftShader WebGL2, ${cpus().length} CPU cores, load average ${loadavg()[0].toFixed(1)} at the end.\n`);
  console.log('| source | frame | received | skipped by server | painted | replaced in browser | arrival→paint p50 (ms) | arrival→paint p99 (ms) | capture→paint p50 (ms) | capture→paint p99 (ms) |');
  console.log('| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const row of rows) {
    console.log(`| ${row.source} | ${row.frame} | ${row.received} | ${row.skippedByServer} | ${row.painted} | ${row.replaced} | ${formatMs(row.arrivalToPaintMs, 0.5)} | ` +
      `${formatMs(row.arrivalToPaintMs, 0.99)} | ${formatMs(row.captureToPaintMs, 0.5)} | ${formatMs(row.captureToPaintMs, 0.99)} |`);
  }
}

async function main(): Promise<void> {
  if (!chromiumAvailable()) throw new Error(CHROMIUM_MISSING_MESSAGE);
  const buildDir = await mkdtemp(join(tmpdir(), 'segwithu-bench-'));
  const browser = await launchViewerBrowser();
  const rows: Row[] = [];
  try {
    const clientDir = await buildClient({ outDir: buildDir });
    rows.push(await benchMock(browser, clientDir));
    if (!args['mock-only']) {
      try {
        rows.push(await benchServer(browser, clientDir));
      } catch (error) {
        console.warn(`server row skipped: ${(error as Error).message}`);
      }
    }
  } finally {
    await browser.close();
    await rm(buildDir, { recursive: true, force: true });
  }
  printTable(rows);
}

await main();
