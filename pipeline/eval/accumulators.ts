// Accumulates scored frames into what the report needs, in memory that does not grow with the
// pixel count:
// - per group of conditions, method and region (whole image, near the contour): a fine
//   histogram of every pixel's score split by error, for the point estimates;
// - per leaf group (clean, or one corruption family) and per source frame: a coarse histogram
//   and calibration bins, which the block bootstrap resamples;
// - one FrameRecord per evaluated frame, for the frame-level figures.
//
// Histogram bins are quantiles of each method's scores over the first frames, so they are
// narrow where the pixels are, whatever the method's scale (an entropy that sits near 1 as
// much as a rank map spread over decades). Scores outside that sample fall into tail bins,
// equal steps of t(s) = asinh(s · 1e8) out to |s| ≈ 1e9. Binning is monotone, so scores in
// different bins keep their order and only scores in one bin count as tied. A coarse bin is
// COARSE_FACTOR consecutive fine bins, so one binary search per pixel serves both.

import { CORRUPTION_IDS, HELD_OUT_CORRUPTIONS, type CorruptionId, type Severity } from './corruptions.js';
import type { FrameMaps, FrameScalars, Method } from './frame-scores.js';
import { BinnedScores, CalibrationBins, brierScore, negativeLogLikelihood } from './metrics.js';

/** Quantile bins of the fine histograms, plus FINE_TAIL_BINS on each side. */
const FINE_QUANTILE_BINS = 8192;
const FINE_TAIL_BINS = 512;
/** Fine bins per coarse bin of the per-frame histograms the bootstrap resamples (about 580 bins). */
const COARSE_FACTOR = 16;
/** Range of t covered by the tail bins. */
const T_LOW = -40;
const T_HIGH = 40;
/** Frames whose scores set the bins before any histogram is filled. */
const BINNING_FRAMES = 4;
/** Pixel reliability diagrams and ECE use 15 equal-width bins; frame risk uses 10. */
export const PIXEL_CALIBRATION_BINS = 15;
export const FRAME_CALIBRATION_BINS = 10;

export const REGIONS = ['image', 'near_contour'] as const;
export type Region = (typeof REGIONS)[number];

export interface Condition {
  /** 'clean', or `<family>_s<severity>`. */
  id: string;
  family: CorruptionId | 'clean';
  severity: Severity | 0;
  /** True for the corruption families the head never saw in training. */
  heldOut: boolean;
}

export type LeafGroup = 'clean' | CorruptionId;
/** Groups of conditions that figures are reported for. */
export type Group = LeafGroup | 'corrupted' | 'seen_families' | 'held_out_families';

export function conditionOf(family: CorruptionId | 'clean', severity: Severity | 0): Condition {
  if (family === 'clean') return { id: 'clean', family, severity: 0, heldOut: false };
  return { id: `${family}_s${severity}`, family, severity, heldOut: HELD_OUT_CORRUPTIONS.includes(family) };
}

/** Lists the groups a condition's frames count in: its leaf, and for corruptions the pooled groups. */
export function groupsOf(condition: Condition): Group[] {
  if (condition.family === 'clean') return ['clean'];
  return [condition.family, 'corrupted', condition.heldOut ? 'held_out_families' : 'seen_families'];
}

/** Lists the leaf groups a pooled group is made of, given the families evaluated. */
export function leavesOf(group: Group, families: readonly CorruptionId[]): LeafGroup[] {
  switch (group) {
    case 'corrupted':
      return [...families];
    case 'seen_families':
      return families.filter((family) => !HELD_OUT_CORRUPTIONS.includes(family));
    case 'held_out_families':
      return families.filter((family) => HELD_OUT_CORRUPTIONS.includes(family));
    default:
      return [group];
  }
}

export const ALL_LEAF_GROUPS: readonly LeafGroup[] = ['clean', ...CORRUPTION_IDS];

function transformScore(score: number): number {
  return Math.asinh(score * 1e8);
}

function inverseTransform(t: number): number {
  return Math.sinh(t) / 1e8;
}

/**
 * Maps a score to a bin index. Bin edges are quantiles of a sample of scores, with tail bins
 * below the sample's minimum and above its maximum that take equal steps of t(s) out to
 * t = ±40. BinnedScores then counts the index itself, so it is built with low = 0 and
 * high = bins.
 */
export class ScoreBinning {
  readonly #edges: Float64Array;

  constructor(sample: ArrayLike<number>, quantileBins: number, tailBins: number) {
    const sorted = Float64Array.from(sample).sort();
    const low = sorted.length > 0 ? sorted[0] : 0;
    const high = sorted.length > 0 ? sorted[sorted.length - 1] : 0;
    const edges: number[] = [];
    const push = (edge: number): void => {
      if (edges.length === 0 || edge > edges[edges.length - 1]) edges.push(edge);
    };

    const lowT = transformScore(low);
    const tailStart = Math.min(T_LOW, lowT - 1);
    for (let k = 1; k < tailBins; k++) push(inverseTransform(tailStart + ((lowT - tailStart) * k) / tailBins));
    push(low);
    for (let k = 1; k < quantileBins; k++) {
      if (sorted.length > 0) push(sorted[Math.floor((k * sorted.length) / quantileBins)]);
    }
    // The sample's maximum gets a bin of its own, so the largest sampled scores are not merged with the next ones.
    push(high);
    const highT = transformScore(high);
    const tailEnd = Math.max(T_HIGH, highT + 1);
    for (let k = 1; k < tailBins; k++) push(inverseTransform(highT + ((tailEnd - highT) * k) / tailBins));
    this.#edges = Float64Array.from(edges);
  }

  /** Number of bins: one more than the edges. */
  get bins(): number {
    return this.#edges.length + 1;
  }

  /** Computes the bin of a score: the number of edges at or below it. */
  binOf(score: number): number {
    const edges = this.#edges;
    let low = 0;
    let high = edges.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (edges[middle] <= score) low = middle + 1;
      else high = middle;
    }
    return low;
  }

  /** Creates a histogram whose scores are this binning's bin indices. */
  histogram(): BinnedScores {
    return new BinnedScores({ bins: this.bins, low: 0, high: this.bins });
  }

  /** Creates a histogram of coarse bins: `factor` consecutive bins of this binning each. */
  coarseHistogram(factor: number): BinnedScores {
    const bins = Math.floor((this.bins - 1) / factor) + 1;
    return new BinnedScores({ bins, low: 0, high: bins });
  }
}

/** One evaluated frame: where it came from, under which condition, and its frame-level figures. */
export interface FrameRecord extends FrameScalars {
  /** Index of the source frame in the run's frame list (clips in order, frames in time order). */
  base: number;
  clipId: string;
  frameName: string;
  condition: string;
  /** Dice below the manifest's failure threshold. */
  failure: boolean;
}

/** Calibration of the raw and the tempered foreground probability over a set of pixels. */
export class PixelCalibration {
  readonly raw = new CalibrationBins(PIXEL_CALIBRATION_BINS);
  readonly tempered = new CalibrationBins(PIXEL_CALIBRATION_BINS);
  rawNllSum = 0;
  rawBrierSum = 0;
  temperedNllSum = 0;
  temperedBrierSum = 0;
  pixels = 0;

  merge(other: PixelCalibration, weight = 1): void {
    this.raw.merge(other.raw, weight);
    this.tempered.merge(other.tempered, weight);
    this.rawNllSum += weight * other.rawNllSum;
    this.rawBrierSum += weight * other.rawBrierSum;
    this.temperedNllSum += weight * other.temperedNllSum;
    this.temperedBrierSum += weight * other.temperedBrierSum;
    this.pixels += weight * other.pixels;
  }

  /** ECE, NLL and Brier of both probabilities; NaN when no pixel was added. */
  figures(): { raw: CalibrationFigures; tempered: CalibrationFigures } {
    return {
      raw: { ece: this.raw.expectedCalibrationError(), nll: this.rawNllSum / this.pixels, brier: this.rawBrierSum / this.pixels },
      tempered: { ece: this.tempered.expectedCalibrationError(), nll: this.temperedNllSum / this.pixels, brier: this.temperedBrierSum / this.pixels },
    };
  }
}

export interface CalibrationFigures {
  ece: number;
  nll: number;
  brier: number;
}

/** Coarse per-source-frame data of one leaf group, for the bootstrap. */
export interface LeafFrameData {
  /** By method, then region. */
  histograms: Map<Method, Record<Region, BinnedScores>>;
  calibration: PixelCalibration;
}

interface PendingFrame {
  groups: Group[];
  base: number;
  maps: FrameMaps;
  /** Content pixels within 5 px of the predicted contour. */
  nearContour: Uint8Array;
}

export class EvalAccumulator {
  readonly methods: readonly Method[];
  readonly records: FrameRecord[] = [];
  /** Fine histograms by group, method and region. */
  readonly fine = new Map<Group, Map<Method, Record<Region, BinnedScores>>>();
  /** Pixel calibration by group. */
  readonly calibration = new Map<Group, PixelCalibration>();
  /** Coarse data by leaf group and source frame. */
  readonly perFrame = new Map<LeafGroup, Map<number, LeafFrameData>>();
  /** Fine and coarse binning per method, set from the first frames. */
  binning: Map<Method, ScoreBinning> | undefined;
  readonly #pending: PendingFrame[] = [];

  constructor(methods: readonly Method[]) {
    this.methods = methods;
  }

  /** Adds one scored frame; `record.base` is the index of its source frame, `condition` what was done to it. */
  add(record: FrameRecord, condition: Condition, maps: FrameMaps): void {
    this.records.push(record);
    const groups = groupsOf(condition);

    const frameCalibration = pixelCalibrationOf(maps);
    for (const group of groups) {
      let calibration = this.calibration.get(group);
      if (calibration === undefined) this.calibration.set(group, (calibration = new PixelCalibration()));
      calibration.merge(frameCalibration);
    }
    this.#leafFrame(groups[0] as LeafGroup, record.base).calibration.merge(frameCalibration);

    const nearContour = new Uint8Array(maps.content.length);
    for (let i = 0; i < nearContour.length; i++) nearContour[i] = maps.content[i] & maps.band[i];

    this.#pending.push({ groups, base: record.base, maps, nearContour });
    if (this.binning !== undefined) this.#flushPending();
    else if (this.#pending.length >= BINNING_FRAMES) this.#fixBinning();
  }

  /** Sets the binning if fewer frames than BINNING_FRAMES came, and fills what is pending. */
  finish(): void {
    if (this.binning === undefined && this.#pending.length > 0) this.#fixBinning();
    this.#flushPending();
  }

  /** Creates an empty coarse histogram of this method. */
  coarseHistogram(method: Method): BinnedScores {
    const binning = this.binning?.get(method);
    if (binning === undefined) throw new Error(`no binning for ${method} yet: call finish() after the last frame`);
    return binning.coarseHistogram(COARSE_FACTOR);
  }

  #leafFrame(leaf: LeafGroup, base: number): LeafFrameData {
    let byBase = this.perFrame.get(leaf);
    if (byBase === undefined) this.perFrame.set(leaf, (byBase = new Map()));
    let data = byBase.get(base);
    if (data === undefined) byBase.set(base, (data = { histograms: new Map(), calibration: new PixelCalibration() }));
    return data;
  }

  /** Sets each method's bins from the content pixels of the pending frames. */
  #fixBinning(): void {
    this.binning = new Map();
    for (const method of this.methods) {
      const sample: number[] = [];
      for (const { maps } of this.#pending) {
        const scores = maps.scores[method];
        if (scores === undefined) continue;
        for (let i = 0; i < scores.length; i++) if (maps.content[i] !== 0) sample.push(scores[i]);
      }
      this.binning.set(method, new ScoreBinning(sample, FINE_QUANTILE_BINS, FINE_TAIL_BINS));
    }
    this.#flushPending();
  }

  /**
   * Bins each pending frame's scores once, fills a fine histogram of the frame and merges it into
   * every group the frame counts in, and fills the frame's coarse histograms. A method without
   * scores for the frame (a baseline not run on corrupted frames) is left out.
   */
  #flushPending(): void {
    for (const { groups, base, maps, nearContour } of this.#pending.splice(0)) {
      const leafData = this.#leafFrame(groups[0] as LeafGroup, base);
      for (const method of this.methods) {
        const scores = maps.scores[method];
        if (scores === undefined) continue;
        const binning = this.binning!.get(method)!;
        const fineBins = new Int32Array(scores.length);
        const coarseBins = new Int32Array(scores.length);
        for (let i = 0; i < scores.length; i++) {
          if (maps.content[i] === 0) continue;
          fineBins[i] = binning.binOf(scores[i]);
          coarseBins[i] = Math.floor(fineBins[i] / COARSE_FACTOR);
        }

        const frameImage = binning.histogram();
        frameImage.add(fineBins, maps.errors, maps.content);
        const frameNear = binning.histogram();
        frameNear.add(fineBins, maps.errors, nearContour);
        for (const group of groups) {
          const histograms = this.#fineFor(group, method);
          histograms.image.merge(frameImage);
          histograms.near_contour.merge(frameNear);
        }

        let frameHistograms = leafData.histograms.get(method);
        if (frameHistograms === undefined) {
          frameHistograms = { image: binning.coarseHistogram(COARSE_FACTOR), near_contour: binning.coarseHistogram(COARSE_FACTOR) };
          leafData.histograms.set(method, frameHistograms);
        }
        frameHistograms.image.add(coarseBins, maps.errors, maps.content);
        frameHistograms.near_contour.add(coarseBins, maps.errors, nearContour);
      }
    }
  }

  #fineFor(group: Group, method: Method): Record<Region, BinnedScores> {
    let byMethod = this.fine.get(group);
    if (byMethod === undefined) this.fine.set(group, (byMethod = new Map()));
    let histograms = byMethod.get(method);
    if (histograms === undefined) {
      const binning = this.binning!.get(method)!;
      histograms = { image: binning.histogram(), near_contour: binning.histogram() };
      byMethod.set(method, histograms);
    }
    return histograms;
  }
}

/** Calibration of one frame's content pixels: foreground probability against the ground truth. */
function pixelCalibrationOf(maps: FrameMaps): PixelCalibration {
  const calibration = new PixelCalibration();
  calibration.raw.add(maps.rawForeground, maps.truth, maps.content);
  calibration.tempered.add(maps.temperedForeground, maps.truth, maps.content);

  let count = 0;
  for (let i = 0; i < maps.content.length; i++) if (maps.content[i] !== 0) count++;
  const raw = new Float32Array(count);
  const tempered = new Float32Array(count);
  const truth = new Uint8Array(count);
  for (let i = 0, j = 0; i < maps.content.length; i++) {
    if (maps.content[i] === 0) continue;
    raw[j] = maps.rawForeground[i];
    tempered[j] = maps.temperedForeground[i];
    truth[j] = maps.truth[i];
    j++;
  }
  if (count > 0) {
    calibration.rawNllSum = negativeLogLikelihood(raw, truth) * count;
    calibration.rawBrierSum = brierScore(raw, truth) * count;
    calibration.temperedNllSum = negativeLogLikelihood(tempered, truth) * count;
    calibration.temperedBrierSum = brierScore(tempered, truth) * count;
  }
  calibration.pixels = count;
  return calibration;
}
