// Writes a model run's SVG plots: pixel risk-coverage curves on clean frames, reliability
// diagrams of the raw and the tempered foreground probability and of the frame risk, and frame
// risk over time per clip (and over the out-of-distribution sweep). No frame images.

import { writeFile } from 'node:fs/promises';
import path from 'node:path';

import { FRAME_CALIBRATION_BINS, type Group } from './accumulators.js';
import { HELD_OUT_CORRUPTIONS } from './corruptions.js';
import { METHOD_LABELS, type Method } from './frame-scores.js';
import { CalibrationBins } from './metrics.js';
import { frameRiskTimelineSvg, reliabilityDiagramSvg, riskCoverageSvg, type FrameRiskSeries, type RiskCoverageSeries } from './plots.js';
import type { ModelReport } from './report.js';
import type { ModelRun } from './runner.js';

/** Methods drawn on the risk-coverage plots, when they were evaluated. */
const RISK_COVERAGE_METHODS: readonly Method[] = ['segwithu', 'entropy', 'tta4', 'mc8'];

/** Writes the plots into `outDir` with `prefix` before each file name; returns the paths. */
export async function writeFigures(run: ModelRun, report: ModelReport, outDir: string, prefix: string): Promise<string[]> {
  const written: string[] = [];
  const write = async (name: string, svg: string): Promise<void> => {
    const file = path.join(outDir, `${prefix}${name}`);
    await writeFile(file, svg);
    written.push(file);
  };
  const modelName = `${report.model.id} ${report.model.version}`;

  for (const [group, region, name, title] of [
    ['clean', 'image', 'risk-coverage-clean.svg', 'whole image'],
    ['clean', 'near_contour', 'risk-coverage-clean-near-contour.svg', 'within 5 px of the predicted contour'],
    ['corrupted', 'image', 'risk-coverage-corrupted.svg', 'whole image, corrupted frames'],
  ] as const) {
    const byMethod = run.accumulator.fine.get(group as Group);
    if (byMethod === undefined) continue;
    const series: RiskCoverageSeries[] = [];
    for (const method of RISK_COVERAGE_METHODS) {
      const histogram = byMethod.get(method)?.[region];
      if (histogram === undefined) continue;
      series.push({ label: METHOD_LABELS[method], curve: histogram.riskCoverageCurve(), aurc: histogram.aurc() });
    }
    await write(name, riskCoverageSvg(series, `Pixel risk-coverage, ${title} (${modelName})`));
  }

  const cleanCalibration = run.accumulator.calibration.get('clean');
  if (cleanCalibration !== undefined) {
    const figures = cleanCalibration.figures();
    await write('reliability-raw.svg', reliabilityDiagramSvg(cleanCalibration.raw.reliability(), `Foreground probability, raw, clean frames (${modelName})`, { label: 'softmax(logits)', expectedCalibrationError: figures.raw.ece }));
    await write('reliability-tempered.svg', reliabilityDiagramSvg(cleanCalibration.tempered.reliability(), `Foreground probability, tempered, clean frames (${modelName})`, { label: 'softmax(logits / T)', expectedCalibrationError: figures.tempered.ece }));
  }

  const frameRisk = new CalibrationBins(FRAME_CALIBRATION_BINS);
  const records = run.accumulator.records;
  frameRisk.add(records.map((record) => record.frameRisk), records.map((record) => (record.failure ? 1 : 0)));
  await write('reliability-frame-risk.svg', reliabilityDiagramSvg(frameRisk.reliability(), `Frame risk against Dice < ${report.failure_dice_threshold}, clean + corrupted (${modelName})`, { label: 'Frame risk', expectedCalibrationError: frameRisk.expectedCalibrationError() }));

  for (const clipId of new Set(run.baseClipIds)) {
    const firstBase = run.baseClipIds.indexOf(clipId);
    const series: FrameRiskSeries[] = [];
    const seriesOf = (condition: string): { time: number[]; risk: number[] } => {
      const chosen = records.filter((record) => record.clipId === clipId && record.condition === condition);
      return { time: chosen.map((record) => record.base - firstBase), risk: chosen.map((record) => record.frameRisk) };
    };
    series.push({ label: 'clean', ...seriesOf('clean') });
    for (const family of run.families.filter((candidate) => HELD_OUT_CORRUPTIONS.includes(candidate))) {
      const worst = run.conditions.filter((condition) => condition.family === family).at(-1);
      if (worst !== undefined) series.push({ label: `${worst.id} (unseen family)`, ...seriesOf(worst.id) });
    }
    const failures = records.filter((record) => record.clipId === clipId && record.condition === 'clean' && record.failure).map((record) => record.base - firstBase);
    const svg = frameRiskTimelineSvg(series, `Frame risk over clip ${clipId} (${modelName})`, {
      timeLabel: 'Frame in clip',
      alarmEnter: run.manifest.alarm.enter,
      alarmExit: run.manifest.alarm.exit,
      failures,
    });
    await write(`frame-risk-${clipId.replace(/[^A-Za-z0-9._-]/g, '_')}.svg`, svg);
  }

  if (run.ood !== undefined) {
    const risks = run.ood.frameRisks;
    const svg = frameRiskTimelineSvg([{ label: path.basename(run.ood.folder), time: risks.map((_, i) => i), risk: risks }], `Frame risk over the out-of-distribution sweep (${modelName})`, {
      timeLabel: 'Frame',
      alarmEnter: run.manifest.alarm.enter,
      alarmExit: run.manifest.alarm.exit,
    });
    await write('frame-risk-ood.svg', svg);
  }
  return written;
}
