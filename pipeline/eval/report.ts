// Turns a model's accumulated evaluation into the report's figures, each with a 95% block-
// bootstrap interval and the number of clips and frames it rests on. The bootstrap resamples
// runs of 10 consecutive source frames within clips. A drawn source frame brings every
// condition it was evaluated under, so the correlation between a frame and its corrupted
// copies is kept. Comparisons of two models draw the same resamples for both (paired).

import path from 'node:path';

import { HELD_OUT_CORRUPTIONS } from './corruptions.js';
import {
  ALL_LEAF_GROUPS,
  FRAME_CALIBRATION_BINS,
  REGIONS,
  leavesOf,
  PixelCalibration,
  type CalibrationFigures,
  type FrameRecord,
  type Group,
  type Region,
} from './accumulators.js';
import type { Method } from './frame-scores.js';
import { auroc, blockBootstrap, BinnedScores, CalibrationBins, quantile, spearmanCorrelation } from './metrics.js';
import type { ModelRun, ResolvedEvalOptions } from './runner.js';

/** A figure with its interval. */
export interface Interval {
  estimate: number;
  lower: number;
  upper: number;
  /** Distinct clips among the frames the figure rests on. */
  clips: number;
  /** Evaluated frames (source frame × condition) the figure rests on. */
  frames: number;
}

export interface PixelFigures {
  auroc: Interval;
  auprc: Interval;
  aurc: Interval;
  e_aurc: Interval;
}

export interface FrameFailureFigures {
  frames: number;
  failures: number;
  clips: number;
  dice_mean: Interval;
  dice_min: number;
  auroc_frame_risk: Interval;
  auroc_mean_entropy: Interval;
  auroc_tta4: Interval;
  auroc_mc8: Interval;
  /** frame-risk AUROC − TTA-4 frame AUROC on the same frames. */
  gap_frame_risk_minus_tta4: Interval;
  frame_risk_ece: Interval;
  /** Spearman correlation of frame risk with 1 − Dice. */
  spearman_frame_risk_vs_1_minus_dice: Interval;
}

export interface CostEntry {
  median_ms: number | null;
  runs: number;
  batch: number;
  model: string;
}

export interface ModelReport {
  label: string;
  model: { id: string; version: string; created?: string };
  model_dir: string;
  failure_dice_threshold: number;
  alarm_enter: number;
  held_out_families: string[];
  duration_s: number;
  cost_ms: Record<'backbone' | 'segwithu' | 'tta4' | 'tta8' | 'mc8', CostEntry> & {
    ratios: { head_vs_backbone: number | null; tta4_vs_segwithu: number | null; mc8_vs_segwithu: number | null };
    segwithu_all_frames_median_ms: number | null;
    note: string;
  };
  /** Pixel error detection by group, region and method. */
  pixel_error_detection: Partial<Record<Group, Record<Region, { pixels: number; error_rate: number; methods: Partial<Record<Method, PixelFigures>> }>>>;
  /** Raw against tempered foreground probability over content pixels, by group. */
  calibration: Partial<Record<Group, { pixels: number; raw: Record<keyof CalibrationFigures, Interval>; tempered: Record<keyof CalibrationFigures, Interval> }>>;
  /** Frame failure detection and Dice by group, and by condition. */
  frame_failure: Record<string, FrameFailureFigures>;
  frame_failure_by_condition: Record<string, FrameFailureFigures>;
  ood?: { folder: string; frames: number; alarm_enter: number; share_above_alarm_enter: Interval; frame_risk_mean: number };
  frames: Array<Pick<FrameRecord, 'clipId' | 'frameName' | 'condition' | 'dice' | 'failure' | 'frameRisk' | 'meanEntropyInStructure' | 'tta4FrameScore' | 'mc8FrameScore'>>;
  notes: string[];
}

export interface ComparisonRow {
  figure: string;
  a: number;
  b: number;
  /** B − A with its paired interval. */
  difference: Interval;
}

export interface EvalReport {
  schema_version: 1;
  generated_at: string;
  command: string;
  input: { kind: string; path: string; selection: string; clips: Array<{ clip_id: string; frames: number }> };
  subsampling: { corruptions: string[]; severities: number[]; corruption_stride: number; baselines: string[]; corrupted_baselines: string[]; max_frames_per_clip: number | null; note: string };
  models: ModelReport[];
  comparison?: ComparisonRow[];
}

/** Writes a path relative to the working directory, so a committed report names no machine's folders. */
export function displayPath(absolute: string): string {
  return path.relative(process.cwd(), absolute) || '.';
}

// ---------------------------------------------------------------------------------------------
// Bootstrap of several figures at once

/**
 * Block-bootstraps a statistic that returns several figures at once, so each resample is
 * built once. `statistic` receives the multiplicity of each source frame in the resample. The
 * first call gets every frame once (the estimate), and the figures' percentile intervals come
 * from the replicates whose figure is not NaN.
 */
function bootstrapFigures(
  baseClipIds: readonly string[],
  statistic: (multiplicity: Float64Array) => number[],
  replicates: number,
  seed: number,
): Array<{ estimate: number; lower: number; upper: number }> {
  const values: number[][] = [];
  const multiplicity = new Float64Array(baseClipIds.length);
  blockBootstrap(
    baseClipIds,
    (indices) => {
      multiplicity.fill(0);
      for (const index of indices) multiplicity[index]++;
      const figures = statistic(multiplicity);
      values.push(figures);
      return figures[0];
    },
    { replicates, seed, blockLength: 10, confidence: 0.95 },
  );

  const [estimates, ...replicateValues] = values;
  return estimates.map((estimate, k) => {
    const finite = replicateValues.map((row) => row[k]).filter((value) => !Number.isNaN(value)).sort((a, b) => a - b);
    return { estimate, lower: quantile(finite, 0.025), upper: quantile(finite, 0.975) };
  });
}

// ---------------------------------------------------------------------------------------------
// Frame-level figures

/** Frame-level statistic vector, in this order. */
const FRAME_FIGURES = ['dice_mean', 'auroc_frame_risk', 'auroc_mean_entropy', 'auroc_tta4', 'auroc_mc8', 'gap_frame_risk_minus_tta4', 'frame_risk_ece', 'spearman_frame_risk_vs_1_minus_dice'] as const;

function frameStatistic(records: readonly FrameRecord[], byBase: Map<number, number[]>): (multiplicity: Float64Array) => number[] {
  return (multiplicity) => {
    const chosen: FrameRecord[] = [];
    for (const [base, indices] of byBase) {
      const times = multiplicity[base];
      for (let t = 0; t < times; t++) for (const index of indices) chosen.push(records[index]);
    }
    return frameFigures(chosen);
  };
}

/** Computes the FRAME_FIGURES of a set of frames (with repeats). */
export function frameFigures(frames: readonly FrameRecord[]): number[] {
  const failures = frames.map((frame) => (frame.failure ? 1 : 0));
  const risk = frames.map((frame) => frame.frameRisk);
  const frameRiskAuroc = auroc(risk, failures);
  const tta4 = frames.map((frame) => frame.tta4FrameScore);
  const tta4Auroc = tta4.some(Number.isNaN) ? NaN : auroc(tta4, failures);
  const mc8 = frames.map((frame) => frame.mc8FrameScore);

  const calibration = new CalibrationBins(FRAME_CALIBRATION_BINS);
  calibration.add(risk, failures);
  const diceSum = frames.reduce((sum, frame) => sum + frame.dice, 0);
  return [
    frames.length === 0 ? NaN : diceSum / frames.length,
    frameRiskAuroc,
    auroc(frames.map((frame) => frame.meanEntropyInStructure), failures),
    tta4Auroc,
    mc8.some(Number.isNaN) ? NaN : auroc(mc8, failures),
    frameRiskAuroc - tta4Auroc,
    calibration.expectedCalibrationError(),
    spearmanCorrelation(risk, frames.map((frame) => 1 - frame.dice)),
  ];
}

function frameFailureFigures(run: ModelRun, recordIndices: number[], o: ResolvedEvalOptions): FrameFailureFigures {
  const records = run.accumulator.records;
  const byBase = new Map<number, number[]>();
  for (const index of recordIndices) {
    const list = byBase.get(records[index].base) ?? [];
    list.push(index);
    byBase.set(records[index].base, list);
  }
  const chosen = recordIndices.map((index) => records[index]);
  const clips = new Set(chosen.map((record) => record.clipId)).size;
  const intervals = bootstrapFigures(run.baseClipIds, frameStatistic(records, byBase), o.replicates, o.seed);
  const figure = (name: (typeof FRAME_FIGURES)[number]): Interval => ({ ...intervals[FRAME_FIGURES.indexOf(name)], clips, frames: chosen.length });

  return {
    frames: chosen.length,
    failures: chosen.filter((record) => record.failure).length,
    clips,
    dice_mean: figure('dice_mean'),
    dice_min: chosen.reduce((min, record) => Math.min(min, record.dice), Infinity),
    auroc_frame_risk: figure('auroc_frame_risk'),
    auroc_mean_entropy: figure('auroc_mean_entropy'),
    auroc_tta4: figure('auroc_tta4'),
    auroc_mc8: figure('auroc_mc8'),
    gap_frame_risk_minus_tta4: figure('gap_frame_risk_minus_tta4'),
    frame_risk_ece: figure('frame_risk_ece'),
    spearman_frame_risk_vs_1_minus_dice: figure('spearman_frame_risk_vs_1_minus_dice'),
  };
}

/** Groups of frames for the frame-level figures: every frame, clean only, and the pixel groups. */
export function frameGroups(run: ModelRun): Map<string, number[]> {
  const groups = new Map<string, number[]>();
  const push = (group: string, index: number): void => {
    const list = groups.get(group) ?? [];
    list.push(index);
    groups.set(group, list);
  };
  const heldOut = new Set<string>(HELD_OUT_CORRUPTIONS);
  run.accumulator.records.forEach((record, index) => {
    const condition = run.conditions.find((candidate) => candidate.id === record.condition)!;
    push('clean_and_corrupted', index);
    if (condition.family === 'clean') {
      push('clean', index);
      return;
    }
    push('corrupted', index);
    push(heldOut.has(condition.family) ? 'held_out_families' : 'seen_families', index);
    push(condition.family, index);
  });
  return groups;
}

// ---------------------------------------------------------------------------------------------
// Pixel-level figures

/** Coarse histograms per source frame of a group: its leaves merged. */
function groupFrameHistograms(run: ModelRun, group: Group, method: Method, region: Region): Map<number, BinnedScores> {
  const merged = new Map<number, BinnedScores>();
  for (const leaf of leavesOf(group, run.families)) {
    for (const [base, data] of run.accumulator.perFrame.get(leaf) ?? []) {
      const histogram = data.histograms.get(method)?.[region];
      if (histogram === undefined) continue;
      let target = merged.get(base);
      if (target === undefined) merged.set(base, (target = run.accumulator.coarseHistogram(method)));
      target.merge(histogram);
    }
  }
  return merged;
}

function pixelFigures(run: ModelRun, group: Group, method: Method, region: Region, clips: number, frames: number, o: ResolvedEvalOptions): PixelFigures | undefined {
  const fine = run.accumulator.fine.get(group)?.get(method)?.[region];
  if (fine === undefined) return undefined;
  const perFrame = groupFrameHistograms(run, group, method, region);
  const intervals = bootstrapFigures(
    run.baseClipIds,
    (multiplicity) => {
      const histogram = run.accumulator.coarseHistogram(method);
      for (const [base, frameHistogram] of perFrame) if (multiplicity[base] > 0) histogram.merge(frameHistogram, multiplicity[base]);
      return [histogram.auroc(), histogram.averagePrecision(), histogram.aurc(), histogram.eAurc()];
    },
    o.pixelReplicates,
    o.seed,
  );
  // The estimate comes from the fine histogram; the interval from the coarse replicates.
  const estimates = [fine.auroc(), fine.averagePrecision(), fine.aurc(), fine.eAurc()];
  const at = (k: number): Interval => ({ estimate: estimates[k], lower: intervals[k].lower, upper: intervals[k].upper, clips, frames });
  return { auroc: at(0), auprc: at(1), aurc: at(2), e_aurc: at(3) };
}

function calibrationFigures(run: ModelRun, group: Group, clips: number, frames: number, o: ResolvedEvalOptions): ModelReport['calibration'][Group] {
  const total = run.accumulator.calibration.get(group);
  if (total === undefined) return undefined;
  const perFrame = new Map<number, PixelCalibration>();
  for (const leaf of leavesOf(group, run.families)) {
    for (const [base, data] of run.accumulator.perFrame.get(leaf) ?? []) {
      let target = perFrame.get(base);
      if (target === undefined) perFrame.set(base, (target = new PixelCalibration()));
      target.merge(data.calibration);
    }
  }
  const flatten = (figures: ReturnType<PixelCalibration['figures']>): number[] => [figures.raw.ece, figures.raw.nll, figures.raw.brier, figures.tempered.ece, figures.tempered.nll, figures.tempered.brier];
  const intervals = bootstrapFigures(
    run.baseClipIds,
    (multiplicity) => {
      const calibration = new PixelCalibration();
      for (const [base, frameCalibration] of perFrame) if (multiplicity[base] > 0) calibration.merge(frameCalibration, multiplicity[base]);
      return flatten(calibration.figures());
    },
    o.pixelReplicates,
    o.seed,
  );
  const at = (k: number): Interval => ({ ...intervals[k], clips, frames });
  return { pixels: total.pixels, raw: { ece: at(0), nll: at(1), brier: at(2) }, tempered: { ece: at(3), nll: at(4), brier: at(5) } };
}

// ---------------------------------------------------------------------------------------------
// Cost

function median(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return quantile(sorted, 0.5);
}

function costReport(run: ModelRun): ModelReport['cost_ms'] {
  const { costs } = run;
  const entry = (values: number[], batch: number, model: string) => ({ median_ms: median(values), runs: values.length, batch, model });
  const ratio = (a: number | null, b: number | null): number | null => (a === null || b === null ? null : a / b);
  const segwithu = median(costs.segwithu);
  return {
    backbone: entry(costs.backbone, 1, 'backbone.onnx'),
    segwithu: entry(costs.segwithu, 1, 'segwithu.onnx (the pipeline session)'),
    tta4: entry(costs.tta4, 4, 'backbone.onnx'),
    tta8: entry(costs.tta8, 8, 'backbone.onnx'),
    mc8: entry(costs.mc8, 8, 'mc_dropout.onnx'),
    ratios: {
      head_vs_backbone: ratio(segwithu, median(costs.backbone)),
      tta4_vs_segwithu: ratio(median(costs.tta4), segwithu),
      mc8_vs_segwithu: ratio(median(costs.mc8), segwithu),
    },
    segwithu_all_frames_median_ms: median(costs.segwithuAllFrames),
    note: 'Median ONNX Runtime run time per frame (one run: one batch), on the same timing frames, interleaved, so that machine load affects every method alike. Entropy and margin cost nothing beyond the SegWithU pass.',
  };
}

// ---------------------------------------------------------------------------------------------
// The model report

export function buildModelReport(run: ModelRun, o: ResolvedEvalOptions): ModelReport {
  const records = run.accumulator.records;
  const groups = frameGroups(run);
  const frameFailure: Record<string, FrameFailureFigures> = {};
  for (const [group, indices] of groups) frameFailure[group] = frameFailureFigures(run, indices, o);

  const byCondition: Record<string, FrameFailureFigures> = {};
  for (const condition of run.conditions) {
    const indices = records.flatMap((record, index) => (record.condition === condition.id ? [index] : []));
    if (indices.length > 0) byCondition[condition.id] = frameFailureFigures(run, indices, o);
  }

  const pixelGroups: Group[] = [...ALL_LEAF_GROUPS.filter((leaf) => leaf === 'clean' || run.families.includes(leaf as never)), 'corrupted', 'seen_families', 'held_out_families'];
  const pixel: ModelReport['pixel_error_detection'] = {};
  const calibration: ModelReport['calibration'] = {};
  for (const group of pixelGroups) {
    const indices = groups.get(group);
    if (indices === undefined || run.accumulator.fine.get(group) === undefined) continue;
    const clips = new Set(indices.map((index) => records[index].clipId)).size;
    const frames = indices.length;
    const regions = {} as Record<Region, { pixels: number; error_rate: number; methods: Partial<Record<Method, PixelFigures>> }>;
    for (const region of REGIONS) {
      const first = run.accumulator.fine.get(group)!.get(run.accumulator.methods[0])![region];
      const pixels = first.positiveCount + first.negativeCount;
      const methods: Partial<Record<Method, PixelFigures>> = {};
      for (const method of run.accumulator.methods) {
        const figures = pixelFigures(run, group, method, region, clips, frames, o);
        if (figures !== undefined) methods[method] = figures;
      }
      regions[region] = { pixels, error_rate: pixels === 0 ? NaN : first.positiveCount / pixels, methods };
    }
    pixel[group] = regions;
    calibration[group] = calibrationFigures(run, group, clips, frames, o);
  }

  let ood: ModelReport['ood'];
  if (run.ood !== undefined) {
    const risks = run.ood.frameRisks;
    const enter = run.manifest.alarm.enter;
    const clipIds = risks.map(() => 'ood');
    const [share] = bootstrapFigures(
      clipIds,
      (multiplicity) => {
        let above = 0;
        let count = 0;
        multiplicity.forEach((times, index) => {
          count += times;
          if (risks[index] > enter) above += times;
        });
        return [count === 0 ? NaN : above / count];
      },
      o.replicates,
      o.seed,
    );
    ood = {
      folder: displayPath(run.ood.folder),
      frames: risks.length,
      alarm_enter: enter,
      share_above_alarm_enter: { ...share, clips: 1, frames: risks.length },
      frame_risk_mean: risks.reduce((sum, risk) => sum + risk, 0) / Math.max(1, risks.length),
    };
  }

  return {
    label: run.label,
    model: run.manifest.model,
    model_dir: displayPath(run.modelDir),
    failure_dice_threshold: run.failureDiceThreshold,
    alarm_enter: run.manifest.alarm.enter,
    held_out_families: run.families.filter((family) => HELD_OUT_CORRUPTIONS.includes(family)),
    duration_s: run.durationMs / 1000,
    cost_ms: costReport(run),
    pixel_error_detection: pixel,
    calibration,
    frame_failure: frameFailure,
    frame_failure_by_condition: byCondition,
    ...(ood === undefined ? {} : { ood }),
    frames: records.map(({ clipId, frameName, condition, dice, failure, frameRisk, meanEntropyInStructure, tta4FrameScore, mc8FrameScore }) => ({
      clipId,
      frameName,
      condition,
      dice,
      failure,
      frameRisk,
      meanEntropyInStructure,
      tta4FrameScore,
      mc8FrameScore,
    })),
    notes: [
      'Pixel figures: model resolution, inside the letterbox content region; near the contour = within 5 model pixels (Euclidean) of the predicted contour; Dice at frame resolution.',
      'Pixel point estimates come from histograms of 16384 bins over asinh(score × 1e8); their intervals from per-frame histograms of 512 bins, so an interval may sit slightly off its estimate.',
      'Intervals: 95% percentile block bootstrap, runs of 10 consecutive source frames within clips, each drawn frame bringing all its corrupted copies; clips themselves are not resampled, so with few clips the intervals understate between-clip spread.',
      `MC dropout draws new dropout masks on every run (not seeded), so its figures vary slightly from run to run.`,
      'TTA-4 scores come from the first four passes of the TTA-8 batch when both run (the same transforms); TTA-4 cost is a separately timed batch of 4.',
      'Structure-averaged frame scores (mean entropy, TTA-4, MC-8) are 1 when the mask is empty.',
      'ECE grows when frames are drawn more than once, so its percentile interval can sit above its estimate.',
    ],
  };
}

// ---------------------------------------------------------------------------------------------
// Comparison of two models

/** Figures compared between two runs, each as a function of source-frame multiplicities. */
function comparedFigures(run: ModelRun): Array<{ figure: string; statistic: (multiplicity: Float64Array) => number }> {
  const records = run.accumulator.records;
  const groups = frameGroups(run);
  const recordsOf = (group: string): Map<number, number[]> => {
    const byBase = new Map<number, number[]>();
    for (const index of groups.get(group) ?? []) {
      const list = byBase.get(records[index].base) ?? [];
      list.push(index);
      byBase.set(records[index].base, list);
    }
    return byBase;
  };
  const frame = (group: string, name: (typeof FRAME_FIGURES)[number]) => {
    const statistic = frameStatistic(records, recordsOf(group));
    return (multiplicity: Float64Array) => statistic(multiplicity)[FRAME_FIGURES.indexOf(name)];
  };
  const pixelAuroc = (group: Group, region: Region) => {
    const perFrame = groupFrameHistograms(run, group, 'segwithu', region);
    return (multiplicity: Float64Array) => {
      const histogram = run.accumulator.coarseHistogram('segwithu');
      for (const [base, frameHistogram] of perFrame) if (multiplicity[base] > 0) histogram.merge(frameHistogram, multiplicity[base]);
      return histogram.auroc();
    };
  };

  const figures = [
    { figure: 'Dice, clean (mean)', statistic: frame('clean', 'dice_mean') },
    { figure: 'Pixel AUROC of rank, clean, whole image', statistic: pixelAuroc('clean', 'image') },
    { figure: 'Pixel AUROC of rank, clean, near the contour', statistic: pixelAuroc('clean', 'near_contour') },
    { figure: 'Frame failure AUROC of frame risk, clean + corrupted', statistic: frame('clean_and_corrupted', 'auroc_frame_risk') },
    { figure: 'Frame risk ECE, clean + corrupted', statistic: frame('clean_and_corrupted', 'frame_risk_ece') },
    { figure: 'Spearman of frame risk with 1 − Dice, clean + corrupted', statistic: frame('clean_and_corrupted', 'spearman_frame_risk_vs_1_minus_dice') },
  ];
  if (run.families.length > 0) {
    figures.splice(3, 0,
      { figure: 'Pixel AUROC of rank, corrupted, whole image', statistic: pixelAuroc('corrupted', 'image') },
      { figure: 'Pixel AUROC of rank, corrupted, near the contour', statistic: pixelAuroc('corrupted', 'near_contour') },
    );
  }
  return figures;
}

/**
 * Compares run B with run A on the figures above: both are computed on the same resamples of
 * source frames, so the interval of B − A is paired. Pixel figures here are the coarse
 * histograms' values, so that estimate and interval agree.
 */
export function buildComparison(a: ModelRun, b: ModelRun, o: ResolvedEvalOptions): ComparisonRow[] {
  if (a.baseClipIds.join('\n') !== b.baseClipIds.join('\n')) throw new Error('the two runs evaluated different frames; compare runs of the same input only');
  const figuresA = comparedFigures(a);
  const figuresB = comparedFigures(b);
  const clips = new Set(a.baseClipIds).size;
  const rows = figuresA.map((figureA, k) => {
    const figureB = figuresB[k];
    const [difference, valueA, valueB] = bootstrapFigures(
      a.baseClipIds,
      (multiplicity) => {
        const x = figureA.statistic(multiplicity);
        const y = figureB.statistic(multiplicity);
        return [y - x, x, y];
      },
      Math.min(o.replicates, o.pixelReplicates),
      o.seed,
    );
    return { figure: figureA.figure, a: valueA.estimate, b: valueB.estimate, difference: { ...difference, clips, frames: a.accumulator.records.length } };
  });
  if (a.ood !== undefined && b.ood !== undefined) {
    const shareA = a.ood.frameRisks.filter((risk) => risk > a.manifest.alarm.enter).length / a.ood.frameRisks.length;
    const shareB = b.ood.frameRisks.filter((risk) => risk > b.manifest.alarm.enter).length / b.ood.frameRisks.length;
    const ids = a.ood.frameRisks.map(() => 'ood');
    const [difference] = bootstrapFigures(
      ids,
      (multiplicity) => {
        let aboveA = 0;
        let aboveB = 0;
        let count = 0;
        multiplicity.forEach((times, index) => {
          count += times;
          if (a.ood!.frameRisks[index] > a.manifest.alarm.enter) aboveA += times;
          if (b.ood!.frameRisks[index] > b.manifest.alarm.enter) aboveB += times;
        });
        return [(aboveB - aboveA) / count];
      },
      o.replicates,
      o.seed,
    );
    rows.push({ figure: 'Out-of-distribution share above alarm entry', a: shareA, b: shareB, difference: { ...difference, clips: 1, frames: a.ood.frameRisks.length } });
  }
  return rows;
}
