// Headless Chromium for the viewer tests and the paint benchmark: Debian's /usr/bin/chromium
// driven by playwright-core, with a fresh profile per launch. WebGL2 runs on SwiftShader
// (software), so painting is slow but real.
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import type { ViewerStats } from '../../client/src/stats.js';

export const CHROMIUM_PATH = process.env.SEGWITHU_CHROMIUM ?? '/usr/bin/chromium';

export const CHROMIUM_MISSING_MESSAGE =
  `Chromium not found at ${CHROMIUM_PATH}: install it with \`apt-get install -y chromium\` or set SEGWITHU_CHROMIUM to its path`;

export function chromiumAvailable(): boolean {
  return existsSync(CHROMIUM_PATH);
}

export interface ViewerBrowser {
  context: BrowserContext;
  newPage(width: number, height: number): Promise<Page>;
  close(): Promise<void>;
}

export async function launchViewerBrowser(): Promise<ViewerBrowser> {
  const profileDir = await mkdtemp(join(tmpdir(), 'segwithu-chromium-'));
  const context = await chromium.launchPersistentContext(profileDir, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
  return {
    context,
    async newPage(width, height) {
      const page = await context.newPage();
      await page.setViewportSize({ width, height });
      page.on('pageerror', (error) => console.error(`viewer page error: ${error.message}`));
      return page;
    },
    async close() {
      await context.close();
      await rm(profileDir, { recursive: true, force: true });
    },
  };
}

/** Returns a copy of the page's window.__segwithuStats. */
export async function readStats(page: Page): Promise<ViewerStats> {
  const stats = await page.evaluate(() => JSON.stringify(window.__segwithuStats ?? null));
  if (stats === 'null') throw new Error('window.__segwithuStats is missing: the viewer bundle did not start (see the page errors above)');
  return JSON.parse(stats) as ViewerStats;
}

/** Polls the page's stats until `predicate` holds; fails after `timeoutMs` with the last stats. */
export async function waitForStats(page: Page, predicate: (stats: ViewerStats) => boolean, timeoutMs = 15_000, what = 'condition'): Promise<ViewerStats> {
  const deadline = Date.now() + timeoutMs;
  let stats = await readStats(page);
  while (!predicate(stats)) {
    if (Date.now() > deadline) {
      const { arrivalToPaintMs, captureToPaintMs, ...rest } = stats;
      throw new Error(`viewer did not reach "${what}" within ${timeoutMs} ms; last stats: ${JSON.stringify(rest)} (${arrivalToPaintMs.length} paint samples)`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
    stats = await readStats(page);
  }
  return stats;
}
