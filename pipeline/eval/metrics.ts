// Evaluation metrics, named as the literature names them. Every function is pure.
//
// Conventions shared by all functions:
// - A label or outcome is positive when non-zero (a Uint8Array mask works as is).
// - A score orders items by how likely they are positive: for error detection the score is
//   the uncertainty and the label is the pixel error, so higher uncertainty should mean error.
// - A metric that is undefined for its input (no positives, no negatives, nothing to average)
//   returns NaN; callers report it as missing instead of as a number.
// - Ties are handled exactly: tied scores count as half a correctly ordered pair in AUROC,
//   form one threshold in AP, and are averaged over every order in AURC.

import { createRandom } from './random.js';

type Numbers = ArrayLike<number>;

function checkSameLength(name: string, a: Numbers, b: Numbers): void {
  if (a.length !== b.length) {
    throw new RangeError(`${name}: inputs differ in length (${a.length} and ${b.length}); pass one value per item.`);
  }
}

function checkFiniteScores(name: string, scores: Numbers): void {
  for (let i = 0; i < scores.length; i++) {
    if (!Number.isFinite(scores[i])) {
      throw new RangeError(`${name}: score ${scores[i]} at index ${i} is not finite; replace NaN or infinite scores first.`);
    }
  }
}

/** Item indices sorted by score, ascending. */
function sortIndicesByScore(scores: Numbers): Uint32Array {
  const indices = new Uint32Array(scores.length);
  for (let i = 0; i < indices.length; i++) indices[i] = i;
  indices.sort((a, b) => scores[a] - scores[b]);
  return indices;
}

// ---------------------------------------------------------------------------------------------
// Segmentation

/**
 * Dice coefficient 2|P ∩ T| / (|P| + |T|) of two binary masks of equal size (non-zero =
 * structure). Returns 1 when both masks are empty, because an empty prediction of an absent
 * structure is correct.
 */
export function dice(prediction: Numbers, truth: Numbers): number {
  checkSameLength('dice', prediction, truth);
  let intersection = 0;
  let predicted = 0;
  let actual = 0;
  for (let i = 0; i < prediction.length; i++) {
    const p = prediction[i] !== 0;
    const t = truth[i] !== 0;
    if (p) predicted++;
    if (t) actual++;
    if (p && t) intersection++;
  }
  if (predicted + actual === 0) return 1;
  return (2 * intersection) / (predicted + actual);
}

// ---------------------------------------------------------------------------------------------
// Ranking: AUROC and average precision

/**
 * Area under the ROC curve, exact, by the Mann-Whitney U statistic with average ranks for tied
 * scores: the probability that a random positive scores above a random negative, ties counting
 * one half. O(n log n); for millions of items use {@link aurocBinned} or {@link BinnedScores}.
 */
export function auroc(scores: Numbers, labels: Numbers): number {
  checkSameLength('auroc', scores, labels);
  checkFiniteScores('auroc', scores);
  const order = sortIndicesByScore(scores);

  let positives = 0;
  let positiveRankSum = 0;
  let start = 0;
  while (start < order.length) {
    let end = start + 1;
    while (end < order.length && scores[order[end]] === scores[order[start]]) end++;

    // Items start..end-1 share one score; their 1-based ranks start+1..end average to this.
    const averageRank = (start + 1 + end) / 2;
    for (let i = start; i < end; i++) {
      if (labels[order[i]] !== 0) {
        positives++;
        positiveRankSum += averageRank;
      }
    }
    start = end;
  }

  const negatives = order.length - positives;
  if (positives === 0 || negatives === 0) return NaN;
  return (positiveRankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}

/**
 * Average precision (the usual estimate of the area under the precision-recall curve):
 * Σ (R_k − R_{k−1}) · P_k over thresholds at each distinct score, highest first. Tied scores
 * form one threshold, so the result does not depend on the order of tied items.
 */
export function averagePrecision(scores: Numbers, labels: Numbers): number {
  checkSameLength('averagePrecision', scores, labels);
  checkFiniteScores('averagePrecision', scores);
  const order = sortIndicesByScore(scores);

  let positives = 0;
  for (let i = 0; i < labels.length; i++) if (labels[i] !== 0) positives++;
  if (positives === 0) return NaN;

  let truePositives = 0;
  let seen = 0;
  let previousRecall = 0;
  let area = 0;
  let end = order.length;
  while (end > 0) {
    let start = end - 1;
    while (start > 0 && scores[order[start - 1]] === scores[order[end - 1]]) start--;
    for (let i = start; i < end; i++) if (labels[order[i]] !== 0) truePositives++;
    seen += end - start;

    const recall = truePositives / positives;
    area += (recall - previousRecall) * (truePositives / seen);
    previousRecall = recall;
    end = start;
  }
  return area;
}

// ---------------------------------------------------------------------------------------------
// Selective prediction: risk-coverage, AURC, E-AURC

/** Selective risk at each coverage; both arrays have one entry per accepted-item count k = 1..n. */
export interface RiskCoverageCurve {
  /** k / n: the share of items kept, least uncertain first. */
  coverage: Float64Array;
  /** Mean loss over the k kept items, averaged over every order of tied uncertainties. */
  risk: Float64Array;
}

/**
 * Risk-coverage curve: items sorted by uncertainty ascending, the selective risk at coverage
 * k/n is the mean loss of the k least uncertain items. Within a group of tied uncertainties the
 * cumulative loss grows by the group's mean loss per item, which is the expected risk over
 * every order of the tied items. Losses are usually 0/1 errors but may be any real numbers.
 */
export function riskCoverageCurve(uncertainty: Numbers, loss: Numbers): RiskCoverageCurve {
  checkSameLength('riskCoverageCurve', uncertainty, loss);
  checkFiniteScores('riskCoverageCurve', uncertainty);
  const n = uncertainty.length;
  const order = sortIndicesByScore(uncertainty);
  const coverage = new Float64Array(n);
  const risk = new Float64Array(n);

  let cumulativeLoss = 0;
  let start = 0;
  while (start < n) {
    let end = start + 1;
    while (end < n && uncertainty[order[end]] === uncertainty[order[start]]) end++;

    let groupLoss = 0;
    for (let i = start; i < end; i++) groupLoss += loss[order[i]];
    const groupMean = groupLoss / (end - start);

    for (let k = start + 1; k <= end; k++) {
      coverage[k - 1] = k / n;
      risk[k - 1] = (cumulativeLoss + (k - start) * groupMean) / k;
    }
    cumulativeLoss += groupLoss;
    start = end;
  }
  return { coverage, risk };
}

/** Area under the risk-coverage curve, (1/n) Σ_k risk(k/n). Lower is better. */
export function aurc(uncertainty: Numbers, loss: Numbers): number {
  if (uncertainty.length === 0) return NaN;
  const { risk } = riskCoverageCurve(uncertainty, loss);
  return mean(risk);
}

/** AURC of an oracle that keeps the smallest losses first: the lowest AURC these losses allow. */
export function optimalAurc(loss: Numbers): number {
  const n = loss.length;
  if (n === 0) return NaN;
  const sorted = Float64Array.from(loss).sort();
  let cumulativeLoss = 0;
  let area = 0;
  for (let k = 1; k <= n; k++) {
    cumulativeLoss += sorted[k - 1];
    area += cumulativeLoss / k;
  }
  return area / n;
}

/** Excess AURC: AURC minus the oracle's AURC on the same losses; 0 for a perfect ranking. */
export function eAurc(uncertainty: Numbers, loss: Numbers): number {
  return aurc(uncertainty, loss) - optimalAurc(loss);
}

// ---------------------------------------------------------------------------------------------
// Binned ranking metrics for millions of pixels

/** Options of {@link BinnedScores}. */
export interface BinnedScoresOptions {
  /** Number of equal-width bins between `low` and `high`. Default 4096. */
  bins?: number;
  /** Lower edge of the first bin; lower scores fall into the first bin. Default 0. */
  low?: number;
  /** Upper edge of the last bin; higher scores fall into the last bin. Default 1. */
  high?: number;
}

/**
 * Histogram of scores split by binary label, filled chunk by chunk (for example frame by frame),
 * from which AUROC, average precision, AURC and E-AURC follow in O(bins). Scores in one bin count
 * as tied, so the AUROC error is at most half the share of (positive, negative) pairs that fall
 * in a common bin. Memory is O(bins), whatever the number of items.
 */
export class BinnedScores {
  readonly bins: number;
  readonly low: number;
  readonly high: number;
  readonly #positives: Float64Array;
  readonly #negatives: Float64Array;

  constructor({ bins = 4096, low = 0, high = 1 }: BinnedScoresOptions = {}) {
    if (!Number.isInteger(bins) || bins < 1) {
      throw new RangeError(`BinnedScores: bins must be a positive integer, got ${bins}.`);
    }
    if (!(high > low)) {
      throw new RangeError(`BinnedScores: high (${high}) must exceed low (${low}).`);
    }
    this.bins = bins;
    this.low = low;
    this.high = high;
    this.#positives = new Float64Array(bins);
    this.#negatives = new Float64Array(bins);
  }

  /** Adds items; when `include` is given, only items where it is non-zero count. */
  add(scores: Numbers, labels: Numbers, include?: Numbers): void {
    checkSameLength('BinnedScores.add', scores, labels);
    if (include) checkSameLength('BinnedScores.add', scores, include);
    const scale = this.bins / (this.high - this.low);
    for (let i = 0; i < scores.length; i++) {
      if (include && include[i] === 0) continue;
      const score = scores[i];
      if (Number.isNaN(score)) {
        throw new RangeError(`BinnedScores.add: score at index ${i} is NaN; replace NaN scores first.`);
      }
      let bin = Math.floor((score - this.low) * scale);
      if (bin < 0) bin = 0;
      else if (bin >= this.bins) bin = this.bins - 1;
      if (labels[i] !== 0) this.#positives[bin]++;
      else this.#negatives[bin]++;
    }
  }

  /**
   * Adds another histogram's counts, `weight` times (a frame drawn twice by a bootstrap counts
   * twice). Both histograms must have the same bins, low and high.
   */
  merge(other: BinnedScores, weight = 1): void {
    if (other.bins !== this.bins || other.low !== this.low || other.high !== this.high) {
      throw new RangeError(`BinnedScores.merge: bins differ (${other.bins} on [${other.low}, ${other.high}] into ${this.bins} on [${this.low}, ${this.high}]); merge histograms made with the same options.`);
    }
    const positives = other.#positives;
    const negatives = other.#negatives;
    for (let b = 0; b < this.bins; b++) {
      this.#positives[b] += weight * positives[b];
      this.#negatives[b] += weight * negatives[b];
    }
  }

  get positiveCount(): number {
    return sum(this.#positives);
  }

  get negativeCount(): number {
    return sum(this.#negatives);
  }

  /** AUROC with scores in one bin counted as ties. */
  auroc(): number {
    const positives = this.positiveCount;
    const negatives = this.negativeCount;
    if (positives === 0 || negatives === 0) return NaN;
    let negativesBelow = 0;
    let correctPairs = 0;
    for (let b = 0; b < this.bins; b++) {
      correctPairs += this.#positives[b] * (negativesBelow + this.#negatives[b] / 2);
      negativesBelow += this.#negatives[b];
    }
    return correctPairs / (positives * negatives);
  }

  /** Average precision with one threshold per bin. */
  averagePrecision(): number {
    const positives = this.positiveCount;
    if (positives === 0) return NaN;
    let truePositives = 0;
    let seen = 0;
    let previousRecall = 0;
    let area = 0;
    for (let b = this.bins - 1; b >= 0; b--) {
      const inBin = this.#positives[b] + this.#negatives[b];
      if (inBin === 0) continue;
      truePositives += this.#positives[b];
      seen += inBin;
      const recall = truePositives / positives;
      area += (recall - previousRecall) * (truePositives / seen);
      previousRecall = recall;
    }
    return area;
  }

  /**
   * Risk-coverage curve sampled at bin ends (coverage ascending), with the 0/1 label as the loss
   * and the score as the uncertainty; items in one bin count as tied, as in {@link riskCoverageCurve}.
   */
  riskCoverageCurve(): RiskCoverageCurve {
    const n = this.positiveCount + this.negativeCount;
    const coverage: number[] = [];
    const risk: number[] = [];
    let kept = 0;
    let errors = 0;
    for (let b = 0; b < this.bins; b++) {
      const inBin = this.#positives[b] + this.#negatives[b];
      if (inBin === 0) continue;
      kept += inBin;
      errors += this.#positives[b];
      coverage.push(kept / n);
      risk.push(errors / kept);
    }
    return { coverage: Float64Array.from(coverage), risk: Float64Array.from(risk) };
  }

  /** AURC with the 0/1 label as the loss, averaged over every order of items within a bin. */
  aurc(): number {
    const n = this.positiveCount + this.negativeCount;
    if (n === 0) return NaN;
    let kept = 0;
    let errors = 0;
    let area = 0;
    for (let b = 0; b < this.bins; b++) {
      const inBin = this.#positives[b] + this.#negatives[b];
      if (inBin === 0) continue;
      // Σ_{j=1..m} (E + j·r) / (K + j) = m·r + (E − K·r)·(H(K + m) − H(K)), with H the
      // harmonic numbers, so a bin costs O(1) whatever its count.
      const errorRate = this.#positives[b] / inBin;
      area += inBin * errorRate + (errors - kept * errorRate) * (harmonicNumber(kept + inBin) - harmonicNumber(kept));
      kept += inBin;
      errors += this.#positives[b];
    }
    return area / n;
  }

  /** AURC minus the oracle's, which keeps every correct item before any error. */
  eAurc(): number {
    const errors = this.positiveCount;
    const n = errors + this.negativeCount;
    if (n === 0) return NaN;
    return this.aurc() - optimalAurcOfErrors(n, errors);
  }
}

/**
 * H(n) = Σ_{k=1..n} 1/k: summed exactly below 64, else by its asymptotic series
 * ln n + γ + 1/(2n) − 1/(12n²) + 1/(120n⁴), whose error is below 1e-14 there.
 */
function harmonicNumber(n: number): number {
  if (n < 64) {
    let total = 0;
    for (let k = 1; k <= n; k++) total += 1 / k;
    return total;
  }
  const inverseSquare = 1 / (n * n);
  return Math.log(n) + 0.5772156649015329 + 1 / (2 * n) - inverseSquare / 12 + (inverseSquare * inverseSquare) / 120;
}

/** Oracle AURC for n items of which `errors` have loss 1 and the rest loss 0. */
function optimalAurcOfErrors(n: number, errors: number): number {
  // Σ_{k=c+1..n} (k − c) / k = errors − c·(H(n) − H(c)), with c the correct items.
  const correct = n - errors;
  return (errors - correct * (harmonicNumber(n) - harmonicNumber(correct))) / n;
}

/**
 * AUROC from a histogram of the scores; the range defaults to the scores' minimum and maximum.
 * Agrees with {@link auroc} to within half the share of (positive, negative) pairs sharing a bin.
 */
export function aurocBinned(scores: Numbers, labels: Numbers, options: BinnedScoresOptions = {}): number {
  let { low, high } = options;
  if (low === undefined || high === undefined) {
    const [min, max] = extent(scores);
    low ??= min;
    high ??= max > min ? max : min + 1;
  }
  const histogram = new BinnedScores({ ...options, low, high });
  histogram.add(scores, labels);
  return histogram.auroc();
}

// ---------------------------------------------------------------------------------------------
// Calibration: ECE, NLL, Brier

/** One bin of a reliability diagram. */
export interface ReliabilityBin {
  lower: number;
  upper: number;
  count: number;
  /** Mean predicted probability in the bin; NaN when the bin is empty. */
  meanProbability: number;
  /** Share of positive outcomes in the bin; NaN when the bin is empty. */
  observedFrequency: number;
}

/**
 * Accumulates (probability, outcome) pairs into equal-width bins on [0, 1]. Bin b contains
 * probabilities in [b/B, (b+1)/B), and the last bin also contains 1. Probabilities outside [0, 1]
 * are rejected.
 */
export class CalibrationBins {
  readonly bins: number;
  readonly #count: Float64Array;
  readonly #probabilitySum: Float64Array;
  readonly #positives: Float64Array;

  constructor(bins = 15) {
    if (!Number.isInteger(bins) || bins < 1) {
      throw new RangeError(`CalibrationBins: bins must be a positive integer, got ${bins}.`);
    }
    this.bins = bins;
    this.#count = new Float64Array(bins);
    this.#probabilitySum = new Float64Array(bins);
    this.#positives = new Float64Array(bins);
  }

  /** Adds pairs; when `include` is given, only items where it is non-zero count. */
  add(probabilities: Numbers, outcomes: Numbers, include?: Numbers): void {
    checkSameLength('CalibrationBins.add', probabilities, outcomes);
    if (include) checkSameLength('CalibrationBins.add', probabilities, include);
    for (let i = 0; i < probabilities.length; i++) {
      if (include && include[i] === 0) continue;
      const p = probabilities[i];
      if (!(p >= 0 && p <= 1)) {
        throw new RangeError(`CalibrationBins.add: probability ${p} at index ${i} is outside [0, 1].`);
      }
      const bin = Math.min(Math.floor(p * this.bins), this.bins - 1);
      this.#count[bin]++;
      this.#probabilitySum[bin] += p;
      if (outcomes[i] !== 0) this.#positives[bin]++;
    }
  }

  /** Adds another instance's bins, `weight` times; both must have the same number of bins. */
  merge(other: CalibrationBins, weight = 1): void {
    if (other.bins !== this.bins) {
      throw new RangeError(`CalibrationBins.merge: ${other.bins} bins into ${this.bins}; merge instances made with the same bins.`);
    }
    for (let b = 0; b < this.bins; b++) {
      this.#count[b] += weight * other.#count[b];
      this.#probabilitySum[b] += weight * other.#probabilitySum[b];
      this.#positives[b] += weight * other.#positives[b];
    }
  }

  get count(): number {
    return sum(this.#count);
  }

  reliability(): ReliabilityBin[] {
    const result: ReliabilityBin[] = [];
    for (let b = 0; b < this.bins; b++) {
      const count = this.#count[b];
      result.push({
        lower: b / this.bins,
        upper: (b + 1) / this.bins,
        count,
        meanProbability: count > 0 ? this.#probabilitySum[b] / count : NaN,
        observedFrequency: count > 0 ? this.#positives[b] / count : NaN,
      });
    }
    return result;
  }

  /** Expected calibration error: Σ_b (n_b / n) · |mean probability_b − observed frequency_b|. */
  expectedCalibrationError(): number {
    const n = this.count;
    if (n === 0) return NaN;
    let error = 0;
    for (let b = 0; b < this.bins; b++) {
      const count = this.#count[b];
      if (count === 0) continue;
      error += Math.abs(this.#probabilitySum[b] - this.#positives[b]) / n;
    }
    return error;
  }
}

/**
 * Expected calibration error with `bins` equal-width bins (default 15) of the probability that
 * the outcome is positive. For the top-label ECE of a classifier, pass its confidence and
 * whether the top label was correct.
 */
export function expectedCalibrationError(probabilities: Numbers, outcomes: Numbers, bins = 15): number {
  const calibration = new CalibrationBins(bins);
  calibration.add(probabilities, outcomes);
  return calibration.expectedCalibrationError();
}

/** Reliability diagram bins; see {@link CalibrationBins}. */
export function reliabilityBins(probabilities: Numbers, outcomes: Numbers, bins = 15): ReliabilityBin[] {
  const calibration = new CalibrationBins(bins);
  calibration.add(probabilities, outcomes);
  return calibration.reliability();
}

/**
 * Mean binary negative log-likelihood (natural log) of the outcomes under the probabilities.
 * Probabilities are clamped to [epsilon, 1 − epsilon] (default 1e-7, about float32 resolution
 * near 1) so that one confident mistake costs a large but finite amount.
 */
export function negativeLogLikelihood(probabilities: Numbers, outcomes: Numbers, epsilon = 1e-7): number {
  checkSameLength('negativeLogLikelihood', probabilities, outcomes);
  if (probabilities.length === 0) return NaN;
  let total = 0;
  for (let i = 0; i < probabilities.length; i++) {
    const p = Math.min(Math.max(probabilities[i], epsilon), 1 - epsilon);
    total -= outcomes[i] !== 0 ? Math.log(p) : Math.log(1 - p);
  }
  return total / probabilities.length;
}

/** Brier score: mean squared difference between the probability and the 0/1 outcome. */
export function brierScore(probabilities: Numbers, outcomes: Numbers): number {
  checkSameLength('brierScore', probabilities, outcomes);
  if (probabilities.length === 0) return NaN;
  let total = 0;
  for (let i = 0; i < probabilities.length; i++) {
    const difference = probabilities[i] - (outcomes[i] !== 0 ? 1 : 0);
    total += difference * difference;
  }
  return total / probabilities.length;
}

// ---------------------------------------------------------------------------------------------
// Correlation

/** 1-based ranks, tied values sharing the average of their ranks. */
export function averageRanks(values: Numbers): Float64Array {
  checkFiniteScores('averageRanks', values);
  const order = sortIndicesByScore(values);
  const ranks = new Float64Array(values.length);
  let start = 0;
  while (start < order.length) {
    let end = start + 1;
    while (end < order.length && values[order[end]] === values[order[start]]) end++;
    const averageRank = (start + 1 + end) / 2;
    for (let i = start; i < end; i++) ranks[order[i]] = averageRank;
    start = end;
  }
  return ranks;
}

/** Pearson correlation; NaN when either input is constant or has fewer than two items. */
export function pearsonCorrelation(x: Numbers, y: Numbers): number {
  checkSameLength('pearsonCorrelation', x, y);
  const n = x.length;
  if (n < 2) return NaN;
  const meanX = mean(x);
  const meanY = mean(y);
  let covariance = 0;
  let varianceX = 0;
  let varianceY = 0;
  for (let i = 0; i < n; i++) {
    const dx = x[i] - meanX;
    const dy = y[i] - meanY;
    covariance += dx * dy;
    varianceX += dx * dx;
    varianceY += dy * dy;
  }
  if (varianceX === 0 || varianceY === 0) return NaN;
  return covariance / Math.sqrt(varianceX * varianceY);
}

/** Spearman rank correlation: the Pearson correlation of average ranks, so ties are handled. */
export function spearmanCorrelation(x: Numbers, y: Numbers): number {
  checkSameLength('spearmanCorrelation', x, y);
  return pearsonCorrelation(averageRanks(x), averageRanks(y));
}

// ---------------------------------------------------------------------------------------------
// Block bootstrap

/** Options of {@link blockBootstrap}. */
export interface BlockBootstrapOptions {
  /** Number of bootstrap replicates. Default 1000. */
  replicates?: number;
  /** Frames per resampled run; neighbouring frames are correlated, so runs keep them together. Default 10. */
  blockLength?: number;
  /** Coverage of the percentile interval. Default 0.95. */
  confidence?: number;
  /** Seed of the resampling; the same seed gives the same interval. Default 0. */
  seed?: number;
}

/** A statistic with its bootstrap interval and what the figure rests on. */
export interface BootstrapInterval {
  /** The statistic on the original frames. */
  estimate: number;
  lower: number;
  upper: number;
  confidence: number;
  /** Replicates with a finite statistic; the interval comes from these. */
  replicates: number;
  /** Replicates whose statistic was NaN (for example a resample with no failing frame). */
  undefinedReplicates: number;
  /** Distinct clips among the frames: with few clips the interval understates between-clip spread. */
  clipCount: number;
  frameCount: number;
  blockLength: number;
}

/**
 * Moving-block bootstrap within clips. `clipIds[i]` names the clip of frame i, and frames of one
 * clip must appear in time order. Each replicate keeps every clip and its frame count, and
 * refills the clip with runs of `blockLength` consecutive frames starting at uniformly drawn
 * positions (a clip shorter than a run is taken whole). `statistic` receives the frame indices
 * of one resample, repeats included, and returns the figure. The interval is the percentile
 * interval of the finite replicates; clips themselves are not resampled, so it reflects
 * variation within the clips that were measured.
 */
export function blockBootstrap(
  clipIds: ArrayLike<string>,
  statistic: (frameIndices: Int32Array) => number,
  options: BlockBootstrapOptions = {},
): BootstrapInterval {
  const { replicates = 1000, blockLength = 10, confidence = 0.95, seed = 0 } = options;
  if (!Number.isInteger(blockLength) || blockLength < 1) {
    throw new RangeError(`blockBootstrap: blockLength must be a positive integer, got ${blockLength}.`);
  }
  if (!(confidence > 0 && confidence < 1)) {
    throw new RangeError(`blockBootstrap: confidence must lie in (0, 1), got ${confidence}.`);
  }

  const clips = new Map<string, number[]>();
  for (let i = 0; i < clipIds.length; i++) {
    const frames = clips.get(clipIds[i]);
    if (frames) frames.push(i);
    else clips.set(clipIds[i], [i]);
  }

  const all = new Int32Array(clipIds.length);
  for (let i = 0; i < all.length; i++) all[i] = i;
  const estimate = statistic(all);

  const random = createRandom(seed);
  const values: number[] = [];
  let undefinedReplicates = 0;
  const resample = new Int32Array(clipIds.length);
  for (let r = 0; r < replicates; r++) {
    let filled = 0;
    for (const frames of clips.values()) {
      const n = frames.length;
      const starts = Math.max(1, n - blockLength + 1);
      let taken = 0;
      while (taken < n) {
        const start = random.nextInt(starts);
        for (let j = 0; j < blockLength && taken < n && start + j < n; j++) {
          resample[filled++] = frames[start + j];
          taken++;
        }
      }
    }
    const value = statistic(resample);
    if (Number.isNaN(value)) undefinedReplicates++;
    else values.push(value);
  }

  values.sort((a, b) => a - b);
  const tail = (1 - confidence) / 2;
  return {
    estimate,
    lower: quantile(values, tail),
    upper: quantile(values, 1 - tail),
    confidence,
    replicates: values.length,
    undefinedReplicates,
    clipCount: clips.size,
    frameCount: clipIds.length,
    blockLength,
  };
}

/** Quantile of sorted values by linear interpolation between order statistics; NaN when empty. */
export function quantile(sortedValues: Numbers, q: number): number {
  const n = sortedValues.length;
  if (n === 0) return NaN;
  const position = q * (n - 1);
  const below = Math.floor(position);
  const above = Math.min(below + 1, n - 1);
  const weight = position - below;
  return sortedValues[below] * (1 - weight) + sortedValues[above] * weight;
}

// ---------------------------------------------------------------------------------------------
// Small helpers

function sum(values: Numbers): number {
  let total = 0;
  for (let i = 0; i < values.length; i++) total += values[i];
  return total;
}

function mean(values: Numbers): number {
  return values.length === 0 ? NaN : sum(values) / values.length;
}

function extent(values: Numbers): [number, number] {
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < values.length; i++) {
    if (values[i] < min) min = values[i];
    if (values[i] > max) max = values[i];
  }
  return [min, max];
}
