// Acceptance on real data with the real pipeline: carotid test clips streamed by the device
// client live at 30 frames/s and lossless, and the liver sweep (no carotid in view).

import { readFileSync, existsSync } from 'node:fs';
import path from 'node:path';

import { afterAll, beforeAll, expect, it } from 'vitest';

import { dice, maskToFrame, type Letterbox } from '../../pipeline/index.js';
import type { segwithu } from '../../proto/generated/segwithu.js';
import { sendFolder } from '../../stream/device-client.js';
import { startServer, type RunningServer } from '../../stream/server.js';
import { listFolderFrames, readPngGray8 } from '../../stream/sources/folder.js';
import { uint64ToNumber } from '../../stream/wire.js';
import { CAROTID_DIR, describeWithModelAndData, LIVER_DIR, MODEL_DIR, sendFolderInChildProcess, silentLogger, TestViewer, waitUntil } from './helpers.js';

interface Split {
  test: string[];
}

/** Test clip ids from the model's split.json; every clip when the model has no split. */
function testClips(): string[] | undefined {
  const splitPath = path.join(MODEL_DIR, 'split.json');
  return existsSync(splitPath) ? (JSON.parse(readFileSync(splitPath, 'utf8')) as Split).test : undefined;
}

function letterboxOf(result: segwithu.v1.IResult): Letterbox {
  const box = result.letterbox!;
  return {
    modelWidth: box.modelWidth ?? 0,
    modelHeight: box.modelHeight ?? 0,
    scale: box.scale ?? 0,
    offsetX: box.offsetX ?? 0,
    offsetY: box.offsetY ?? 0,
    contentWidth: box.contentWidth ?? 0,
    contentHeight: box.contentHeight ?? 0,
  };
}

describeWithModelAndData('carotid and liver streams', () => {
  let server: RunningServer;
  let ingestUrl: string;

  beforeAll(async () => {
    server = await startServer({ host: '127.0.0.1', port: 0, modelDir: MODEL_DIR, logger: silentLogger, clientDir: '/nonexistent' });
    ingestUrl = `${server.url.replace(/^http/, 'ws')}/ingest`;
  }, 60_000);

  afterAll(async () => {
    await server?.close();
  });

  /** Streams a folder with a viewer subscribed; returns the device summary and the viewer's updates. */
  async function streamWithViewer(name: string, options: { folder: string; lossless: boolean; clips?: string[]; deviceProcess?: boolean }) {
    const viewer = await TestViewer.connect(server.url);
    viewer.subscribe('');
    await viewer.waitFor(() => viewer.messages.some((m) => m.body === 'streams'));

    const { deviceProcess = false, ...sendOptions } = options;
    const summary = deviceProcess
      ? await sendFolderInChildProcess([
        '--url', ingestUrl, '--folder', options.folder, '--fps', '30', '--preload', '--no-masks', '--name', name,
        ...(options.lossless ? ['--lossless'] : []),
        ...(options.clips === undefined ? [] : ['--clip', options.clips.join(',')]),
      ])
      : await sendFolder({ url: ingestUrl, fps: 30, preload: true, name, ...sendOptions });
    await waitUntil(() => server.pipeline.counters(summary.streamId).inFlight === 0, 60_000, `the frames of ${name} to leave the pipeline`);
    const counters = server.pipeline.counters(summary.streamId);
    const metrics = server.pipeline.metrics().streams.find((stream) => stream.streamId === summary.streamId);
    await viewer.waitFor(() => viewer.updates().length >= counters.processed - skippedTotal(viewer), 30_000, 'the last updates');
    viewer.close();
    return { summary, counters, metrics, updates: viewer.updates(), skipped: skippedTotal(viewer) };
  }

  function skippedTotal(viewer: TestViewer): number {
    return viewer.updates().reduce((sum, update) => sum + uint64ToNumber(update.skippedSinceLast), 0);
  }

  it('test clips live at 30 fps', async () => {
    // The device streams from its own process, as a probe or a PC beside it would, and without
    // the expert masks, which a live device does not have.
    const { summary, counters, metrics, updates, skipped } = await streamWithViewer('carotid-live', { folder: CAROTID_DIR, lossless: false, clips: testClips(), deviceProcess: true });
    const dropped = Object.values(counters.dropped).reduce((sum, count) => sum + count, 0);
    const resultShare = counters.processed / summary.sent;

    // Latest-wins can only return as many results as the model's time per frame allows, so the
    // share owed is min(90%, 75% of capacity / 30 frames/s), with the capacity taken from the
    // pipeline's own stage timings in this run. Where a frame takes under 27 ms this is the
    // plain 90% of frames; on a loaded machine the check still fails if the pipeline idles
    // while frames wait (the 25% slack covers the viewer sharing the server's event loop and the
    // device process sharing its cores). Speed itself is measured by `segwithu-live bench`, not here.
    expect(metrics, 'stream metrics of the live run').toBeDefined();
    const meanMs = (stage: 'preprocess' | 'inference' | 'postprocess') => metrics!.latencyMs[stage].sum / Math.max(1, metrics!.latencyMs[stage].count);
    const serviceMs = meanMs('preprocess') + meanMs('inference') + meanMs('postprocess');
    const capacityFps = 1000 / serviceMs;
    const owedShare = Math.min(0.9, (0.75 * capacityFps) / 30);
    console.log(
      `carotid test clips at 30 fps: ${summary.sent} sent, ${counters.processed} results (${(100 * resultShare).toFixed(1)}%), ` +
        `dropped ${JSON.stringify(counters.dropped)}; ${serviceMs.toFixed(1)} ms per frame in the pipeline ` +
        `(capacity ${capacityFps.toFixed(1)} frames/s), share owed ${(100 * owedShare).toFixed(1)}%`,
    );

    expect(summary.sent).toBeGreaterThan(0);
    expect(summary.errors).toEqual({});
    expect(counters.received).toBe(summary.sent);
    expect(counters.processed + dropped).toBe(counters.received);
    expect(updates.length + skipped).toBe(counters.processed);
    expect(resultShare).toBeGreaterThanOrEqual(owedShare);
  }, 180_000);

  it('test clips lossless match Dice', async () => {
    const clips = testClips();
    const { summary, counters, updates, skipped } = await streamWithViewer('carotid-lossless', { folder: CAROTID_DIR, lossless: true, clips });
    expect(summary.errors).toEqual({});
    expect(summary.acked).toBe(summary.sent);
    expect(counters.processed).toBe(summary.sent);
    expect(skipped).toBe(0);
    expect(updates.map((update) => uint64ToNumber(update.result?.sequence))).toEqual([...Array(summary.sent).keys()]);

    const frames = await listFolderFrames(CAROTID_DIR, { clips });
    let diceSum = 0;
    for (const update of updates) {
      const sequence = uint64ToNumber(update.result?.sequence);
      const truth = await readPngGray8(frames[sequence].maskPath!);
      const predicted = maskToFrame(update.result!.labelMask!, letterboxOf(update.result!), truth.width, truth.height);
      diceSum += dice(predicted, truth.pixels);
    }
    const meanDice = diceSum / updates.length;
    const meanForeground = updates.reduce((sum, update) => sum + (update.result?.foregroundFraction ?? 0), 0) / updates.length;
    const manifestDice = (server.pipeline.manifest.test_metrics as { dice?: number | null } | undefined)?.dice;
    console.log(`carotid test clips lossless: mean Dice ${meanDice.toFixed(4)} over ${updates.length} frames (mean predicted foreground ${(100 * meanForeground).toFixed(2)}% of content); manifest test_metrics.dice ${manifestDice ?? 'not set'}`);

    if (typeof manifestDice === 'number') {
      expect(Math.abs(meanDice - manifestDice)).toBeLessThanOrEqual(0.005);
    }
  }, 300_000);

  it('liver sweep reads as high risk', async () => {
    const { summary, counters, updates } = await streamWithViewer('liver-sweep', { folder: LIVER_DIR, lossless: true });
    expect(counters.processed).toBe(summary.sent);
    expect(updates.length).toBe(summary.sent);

    const enter = server.pipeline.manifest.alarm.enter;
    const above = updates.filter((update) => (update.result?.frameRisk ?? 0) > enter).length;
    const share = above / updates.length;
    const { version } = server.pipeline.manifest.model;
    console.log(`liver sweep: ${above} of ${updates.length} frames (${(100 * share).toFixed(1)}%) above the alarm entry risk ${enter} (model ${version})`);

    // The smoke model is not trained to flag this sweep; the target applies to a trained model.
    if (version !== 'smoke') {
      expect(share).toBeGreaterThanOrEqual(0.8);
    }
  }, 300_000);
});
