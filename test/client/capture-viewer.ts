// Saves a screenshot of the viewer on the server's built-in synthetic source (no dataset
// involved, so the image may be committed) for the documentation.
//
// Run: npx tsx test/client/capture-viewer.ts [--out docs/viewer.png] [--seconds 8]
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { buildClient } from '../../client/build.js';
import { startServer } from '../../stream/server.js';
import { CHROMIUM_MISSING_MESSAGE, chromiumAvailable, launchViewerBrowser, readStats, waitForStats } from './chromium.js';
import { REPO_ROOT } from './dataset.js';

const { values: args } = parseArgs({
  options: {
    out: { type: 'string', default: join(REPO_ROOT, 'docs', 'viewer.png') },
    seconds: { type: 'string', default: '8' },
  },
});
const seconds = Number(args.seconds);
if (!(seconds > 0)) throw new Error(`--seconds ${args.seconds} is not a positive number of seconds to let the risk timeline fill`);
if (!chromiumAvailable()) throw new Error(CHROMIUM_MISSING_MESSAGE);

const buildDir = await mkdtemp(join(tmpdir(), 'segwithu-capture-'));
const clientDir = await buildClient({ outDir: buildDir });
const modelDir = process.env.SEGWITHU_MODEL_DIR ?? join(REPO_ROOT, 'models', 'carotid');
const server = await startServer({ port: 0, clientDir, modelDir, logLevel: 'warn', source: { kind: 'synthetic', fps: 15 } });
const browser = await launchViewerBrowser();
try {
  const page = await browser.newPage(1280, 720);
  page.setDefaultTimeout(120_000);
  await page.goto(server.url);
  await waitForStats(page, (stats) => stats.painted >= 1 && stats.clockOffsetMs !== null, 120_000, 'first paint and clock offset');
  await new Promise((done) => setTimeout(done, seconds * 1000));
  await page.screenshot({ path: resolve(args.out) });
  const stats = await readStats(page);
  console.log(`saved ${resolve(args.out)}: frame ${stats.shownSequence}, risk ${stats.shownRisk.toFixed(2)}, alarm ${stats.alarm}, model ${stats.shownModelId}`);
} finally {
  await browser.close();
  await server.close();
  await rm(buildDir, { recursive: true, force: true });
}
