// A small evaluation through the real pipeline and the committed model: a synthetic folder of
// two clips, one corruption family, TTA-4 and MC dropout-8. Checks the report's structure, that
// its figures are finite where they are defined, and the files written. Nothing here comes
// from a dataset.

import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { PNG } from 'pngjs';
import { afterAll, beforeAll, expect, it } from 'vitest';

import { runEval, type EvalOutput } from '../../pipeline/eval/runner.js';
import type { Interval, ModelReport } from '../../pipeline/eval/report.js';
import { describeWithModel, MODEL_DIR, silentLogger } from '../pipeline/fixtures.js';
import { makeSyntheticScan } from './syntheticScan.js';

const CLIPS = ['clipA', 'clipB'];
const FRAMES_PER_CLIP = 3;

let root: string;
let output: EvalOutput;
let model: ModelReport;

function grayPng(pixels: Uint8Array, width: number, height: number): Buffer {
  const png = new PNG({ width, height, colorType: 0, inputColorType: 0, inputHasAlpha: false, bitDepth: 8 });
  png.data = Buffer.from(pixels);
  return PNG.sync.write(png, { colorType: 0, inputColorType: 0, inputHasAlpha: false });
}

/** Writes images/, masks/ and manifest.csv for CLIPS, the lumen moving a little per frame. */
async function writeFolder(dir: string): Promise<void> {
  await mkdir(path.join(dir, 'images'), { recursive: true });
  await mkdir(path.join(dir, 'masks'), { recursive: true });
  const rows = ['clip_id,order_in_clip,filename'];
  for (const [c, clip] of CLIPS.entries()) {
    for (let order = 0; order < FRAMES_PER_CLIP; order++) {
      const scan = makeSyntheticScan({ width: 120, height: 100, centreX: 0.4 + 0.05 * order, radius: 0.12 + 0.04 * c, seed: 10 * c + order });
      const name = `${clip}_${order}.png`;
      await writeFile(path.join(dir, 'images', name), grayPng(scan.pixels, scan.width, scan.height));
      await writeFile(path.join(dir, 'masks', name), grayPng(scan.mask, scan.width, scan.height));
      rows.push(`${clip},${order},${name}`);
    }
  }
  await writeFile(path.join(dir, 'manifest.csv'), rows.join('\n'));
}

function expectFiniteInterval(interval: Interval, what: string): void {
  expect(Number.isFinite(interval.estimate), `${what} estimate`).toBe(true);
  expect(Number.isFinite(interval.lower), `${what} lower`).toBe(true);
  expect(Number.isFinite(interval.upper), `${what} upper`).toBe(true);
  expect(interval.clips, `${what} clips`).toBeGreaterThan(0);
}

describeWithModel('eval on a synthetic folder', () => {
  beforeAll(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'segwithu-eval-'));
    await writeFolder(path.join(root, 'frames'));
    output = await runEval({
      input: path.join(root, 'frames'),
      modelDir: MODEL_DIR,
      outDir: path.join(root, 'out'),
      corruptions: ['motion_blur'],
      severities: [2],
      baselines: ['tta4', 'mc8'],
      timingFrames: 1,
      replicates: 50,
      pixelReplicates: 20,
      oodFolder: path.join(root, 'frames'),
      logger: silentLogger,
    });
    model = output.report.models[0];
  });

  afterAll(async () => {
    if (root !== undefined) await rm(root, { recursive: true, force: true });
  });

  it('report names clips and conditions', () => {
    expect(output.report.input.clips).toEqual(CLIPS.map((clip_id) => ({ clip_id, frames: FRAMES_PER_CLIP })));
    expect(output.report.subsampling.note).toContain('motion_blur');
    expect(model.held_out_families).toEqual(['motion_blur']);
    expect(model.frames).toHaveLength(2 * CLIPS.length * FRAMES_PER_CLIP);
    expect(new Set(model.frames.map((frame) => frame.condition))).toEqual(new Set(['clean', 'motion_blur_s2']));
  });

  it('pixel figures are finite', () => {
    for (const group of ['clean', 'motion_blur', 'corrupted', 'held_out_families'] as const) {
      const figures = model.pixel_error_detection[group];
      expect(figures, group).toBeDefined();
      expect(figures!.image.pixels).toBeGreaterThan(0);
      for (const method of ['segwithu', 'entropy', 'margin', 'tta4', 'mc8'] as const) {
        const methodFigures = figures!.image.methods[method];
        expect(methodFigures, `${group} ${method}`).toBeDefined();
        expectFiniteInterval(methodFigures!.auroc, `${group} ${method} AUROC`);
        expect(methodFigures!.auroc.estimate).toBeGreaterThanOrEqual(0);
        expect(methodFigures!.auroc.estimate).toBeLessThanOrEqual(1);
        expectFiniteInterval(methodFigures!.aurc, `${group} ${method} AURC`);
        expect(methodFigures!.e_aurc.estimate).toBeGreaterThanOrEqual(-1e-9);
      }
      // Near the contour exists only when something was predicted.
      const near = figures!.near_contour;
      if (near.pixels > 0 && near.error_rate > 0 && near.error_rate < 1) expectFiniteInterval(near.methods.segwithu!.auroc, `${group} near-contour AUROC`);
    }
  });

  it('calibration figures are finite', () => {
    const clean = model.calibration.clean!;
    expect(clean.pixels).toBeGreaterThan(0);
    for (const kind of ['raw', 'tempered'] as const) {
      for (const figure of ['ece', 'nll', 'brier'] as const) expectFiniteInterval(clean[kind][figure], `${kind} ${figure}`);
    }
  });

  it('frame figures defined when both outcomes', () => {
    for (const [group, figures] of Object.entries(model.frame_failure)) {
      expectFiniteInterval(figures.dice_mean, `${group} Dice`);
      expect(figures.clips).toBeLessThanOrEqual(CLIPS.length);
      const bothOutcomes = figures.failures > 0 && figures.failures < figures.frames;
      for (const name of ['auroc_frame_risk', 'auroc_mean_entropy', 'auroc_tta4', 'auroc_mc8'] as const) {
        expect(Number.isFinite(figures[name].estimate), `${group} ${name}`).toBe(bothOutcomes);
      }
      expect(Number.isFinite(figures.frame_risk_ece.estimate), `${group} frame-risk ECE`).toBe(true);
    }
    expect(model.frame_failure.clean_and_corrupted.frames).toBe(2 * CLIPS.length * FRAMES_PER_CLIP);
    expect(model.frame_failure.clean.clips).toBe(CLIPS.length);
  });

  it('cost covers every method', () => {
    for (const method of ['backbone', 'segwithu', 'tta4', 'mc8'] as const) {
      expect(model.cost_ms[method].runs, method).toBe(1);
      expect(model.cost_ms[method].median_ms, method).toBeGreaterThan(0);
    }
    expect(model.cost_ms.tta8.runs).toBe(0);
    expect(model.cost_ms.ratios.mc8_vs_segwithu).toBeGreaterThan(0);
  });

  it('out-of-distribution share in range', () => {
    expect(model.ood?.frames).toBe(CLIPS.length * FRAMES_PER_CLIP);
    expect(model.ood!.share_above_alarm_enter.estimate).toBeGreaterThanOrEqual(0);
    expect(model.ood!.share_above_alarm_enter.estimate).toBeLessThanOrEqual(1);
  });

  it('writes report, summary and plots', async () => {
    const names = output.files.map((file) => path.basename(file));
    expect(names[0]).toBe('report.json');
    for (const name of ['summary.md', 'risk-coverage-clean.svg', 'reliability-raw.svg', 'reliability-tempered.svg', 'reliability-frame-risk.svg', 'frame-risk-clipA.svg', 'frame-risk-ood.svg']) {
      expect(names, name).toContain(name);
    }
    for (const file of output.files) expect(existsSync(file), file).toBe(true);
    expect(names.some((name) => name.endsWith('.png'))).toBe(false);

    const report = JSON.parse(await readFile(output.files[0], 'utf8'));
    expect(report.models[0].model.id).toBe(model.model.id);
    const summary = await readFile(path.join(root, 'out', 'summary.md'), 'utf8');
    expect(summary).toContain('motion_blur (unseen)');
    expect(summary).toContain('2 clips');
  });
});
