// The evaluation's plumbing: score binning, histogram merges for the bootstrap, O(bins) AURC,
// frame-level figures, and the eval command's argument parsing.

import path from 'node:path';

import { describe, expect, it } from 'vitest';

import { ScoreBinning, type FrameRecord } from '../../pipeline/eval/accumulators.js';
import { parseEvalArgs } from '../../pipeline/eval/cli-args.js';
import { auroc, aurc, averagePrecision, BinnedScores, CalibrationBins, eAurc } from '../../pipeline/eval/metrics.js';
import { createRandom } from '../../pipeline/eval/random.js';
import { frameFigures } from '../../pipeline/eval/report.js';

/** Scores and 0/1 errors where errors score higher on average. */
function sampleScores(count: number, seed: number): { scores: Float64Array; labels: Uint8Array } {
  const random = createRandom(seed);
  const scores = new Float64Array(count);
  const labels = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    labels[i] = random.next() < 0.1 ? 1 : 0;
    // Entropy-like: most values tiny, spread over decades, errors larger.
    scores[i] = Math.exp(-12 * random.next() + (labels[i] ? 4 : 0)) / Math.exp(4);
  }
  return { scores, labels };
}

function binnedHistogram(binning: ScoreBinning, scores: Float64Array, labels: Uint8Array): BinnedScores {
  const histogram = binning.histogram();
  histogram.add(Array.from(scores, (score) => binning.binOf(score)), labels);
  return histogram;
}

describe('score binning', () => {
  it('binning keeps score order', () => {
    const { scores } = sampleScores(5000, 1);
    const binning = new ScoreBinning(scores, 256, 16);
    const sorted = [...scores].sort((a, b) => a - b);
    for (let i = 1; i < sorted.length; i++) {
      expect(binning.binOf(sorted[i])).toBeGreaterThanOrEqual(binning.binOf(sorted[i - 1]));
    }
    expect(binning.binOf(1e12)).toBe(binning.bins - 1);
    expect(binning.binOf(-1e12)).toBe(0);
  });

  it('quantile bins reproduce exact figures', () => {
    const { scores, labels } = sampleScores(40_000, 2);
    const binning = new ScoreBinning(scores.subarray(0, 10_000), 8192, 512);
    const histogram = binnedHistogram(binning, scores, labels);
    expect(Math.abs(histogram.auroc() - auroc(scores, labels))).toBeLessThan(1e-3);
    expect(Math.abs(histogram.averagePrecision() - averagePrecision(scores, labels))).toBeLessThan(2e-3);
    expect(Math.abs(histogram.aurc() - aurc(scores, labels))).toBeLessThan(1e-3);
    expect(Math.abs(histogram.eAurc() - eAurc(scores, labels))).toBeLessThan(1e-3);
  });

  it('coarse bins group fine bins', () => {
    const { scores } = sampleScores(5000, 5);
    const binning = new ScoreBinning(scores, 256, 16);
    const coarse = binning.coarseHistogram(16);
    expect(coarse.bins).toBe(Math.floor((binning.bins - 1) / 16) + 1);
    expect(Math.floor(binning.binOf(1e12) / 16)).toBe(coarse.bins - 1);
  });

  it('scores near one stay apart', () => {
    // An entropy that barely moves below 1 must not collapse into one bin.
    const values = Float64Array.from({ length: 1000 }, (_, i) => 0.999 + i * 1e-6);
    const binning = new ScoreBinning(values, 512, 32);
    expect(binning.binOf(values[999])).toBeGreaterThan(binning.binOf(values[0]) + 400);
  });
});

describe('histogram merges', () => {
  it('merge equals adding together', () => {
    const { scores, labels } = sampleScores(6000, 3);
    const whole = new BinnedScores({ bins: 64 });
    whole.add(scores, labels);
    const merged = new BinnedScores({ bins: 64 });
    for (const [start, end] of [[0, 1000], [1000, 4500], [4500, 6000]]) {
      const part = new BinnedScores({ bins: 64 });
      part.add(scores.subarray(start, end), labels.subarray(start, end));
      merged.merge(part);
    }
    expect(merged.auroc()).toBe(whole.auroc());
    expect(merged.aurc()).toBeCloseTo(whole.aurc(), 12);
  });

  it('weighted merge repeats items', () => {
    const part = new BinnedScores({ bins: 8 });
    part.add([0.1, 0.9, 0.5], [0, 1, 0]);
    const twice = new BinnedScores({ bins: 8 });
    twice.add([0.1, 0.9, 0.5, 0.1, 0.9, 0.5], [0, 1, 0, 0, 1, 0]);
    const merged = new BinnedScores({ bins: 8 });
    merged.merge(part, 2);
    expect(merged.positiveCount).toBe(2);
    expect(merged.aurc()).toBeCloseTo(twice.aurc(), 12);
    expect(() => merged.merge(new BinnedScores({ bins: 4 }))).toThrow(/bins differ/);
  });

  it('aurc of crowded bins matches exact', () => {
    // Thousands of items per bin take the harmonic-number path.
    const { scores, labels } = sampleScores(50_000, 4);
    const histogram = new BinnedScores({ bins: 10, low: 0, high: 1 });
    histogram.add(scores, labels);
    const binIndex = Array.from(scores, (score) => Math.min(9, Math.floor(score * 10)));
    expect(histogram.aurc()).toBeCloseTo(aurc(binIndex, labels), 10);
    expect(histogram.eAurc()).toBeCloseTo(eAurc(binIndex, labels), 10);
  });

  it('calibration merge adds bins', () => {
    const a = new CalibrationBins(5);
    a.add([0.1, 0.7], [0, 1]);
    const b = new CalibrationBins(5);
    b.add([0.75, 0.95], [0, 1]);
    const together = new CalibrationBins(5);
    together.add([0.1, 0.7, 0.75, 0.95], [0, 1, 0, 1]);
    a.merge(b);
    expect(a.count).toBe(4);
    expect(a.expectedCalibrationError()).toBeCloseTo(together.expectedCalibrationError(), 12);
  });
});

describe('frame figures', () => {
  const record = (dice: number, frameRisk: number, entropy: number, tta4: number): FrameRecord => ({
    base: 0,
    clipId: 'c',
    frameName: 'f',
    condition: 'clean',
    dice,
    failure: dice < 0.8,
    frameRisk,
    meanEntropyInStructure: entropy,
    tta4FrameScore: tta4,
    mc8FrameScore: NaN,
    predictedAreaPx: 100,
  });

  it('frame figures of a known set', () => {
    const frames = [record(0.95, 0.1, 0.2, 0.3), record(0.9, 0.2, 0.1, 0.6), record(0.5, 0.9, 0.3, 0.4), record(0.1, 0.8, 0.05, 0.9)];
    const [diceMean, riskAuroc, entropyAuroc, tta4Auroc, mc8Auroc, gap, , spearman] = frameFigures(frames);
    expect(diceMean).toBeCloseTo(0.6125, 12);
    expect(riskAuroc).toBe(1);
    expect(entropyAuroc).toBe(0.5);
    expect(tta4Auroc).toBe(0.75);
    expect(mc8Auroc).toBeNaN();
    expect(gap).toBeCloseTo(0.25, 12);
    expect(spearman).toBeCloseTo(0.8, 12);
  });

  it('frame auroc undefined without failures', () => {
    const [, riskAuroc] = frameFigures([record(0.95, 0.1, 0.2, 0.3), record(0.9, 0.2, 0.1, 0.6)]);
    expect(riskAuroc).toBeNaN();
  });
});

describe('eval arguments', () => {
  it('defaults to the test split', () => {
    const options = parseEvalArgs(['--model-dir', 'models/carotid'], {});
    expect(options.splitPart).toBe('test');
    expect(options.input.endsWith(path.join('ccaui-carotid'))).toBe(true);
    expect(options.splitFile).toBe(path.resolve('models/carotid/split.json'));
  });

  it('explicit input keeps every clip', () => {
    const options = parseEvalArgs(['--input', '/tmp/frames', '--corruptions', 'speckle,motion_blur', '--severities', '1,3', '--baselines', 'none', '--corruption-stride', '3'], {});
    expect(options.splitPart).toBeUndefined();
    expect(options.corruptions).toEqual(['speckle', 'motion_blur']);
    expect(options.severities).toEqual([1, 3]);
    expect(options.baselines).toEqual([]);
    expect(options.corruptionStride).toBe(3);
  });

  it('rejects unknown values', () => {
    expect(() => parseEvalArgs(['--corruptions', 'fog'], {})).toThrow(/unknown fog/);
    expect(() => parseEvalArgs(['--severities', '4'], {})).toThrow(/1, 2 and 3/);
    expect(() => parseEvalArgs(['--clips', 'a', '--split-part', 'test'], {})).toThrow(/pass one of them/);
    expect(() => parseEvalArgs(['--corruption-stride', '0'], {})).toThrow(/--corruption-stride/);
  });
});
