import { describe, expect, it } from 'vitest';

import {
  BinnedScores,
  CalibrationBins,
  aurc,
  auroc,
  aurocBinned,
  averagePrecision,
  averageRanks,
  blockBootstrap,
  brierScore,
  dice,
  eAurc,
  expectedCalibrationError,
  negativeLogLikelihood,
  optimalAurc,
  quantile,
  reliabilityBins,
  riskCoverageCurve,
  spearmanCorrelation,
} from '../../pipeline/eval/metrics.js';
import { createRandom } from '../../pipeline/eval/random.js';

describe('dice', () => {
  it('dice of half overlap', () => {
    expect(dice([1, 1, 0, 0], [1, 0, 1, 0])).toBeCloseTo(0.5, 12);
  });

  it('dice of two empty masks', () => {
    expect(dice(new Uint8Array(4), new Uint8Array(4))).toBe(1);
  });

  it('dice treats any non-zero as structure', () => {
    expect(dice(Uint8Array.of(255, 1, 0), Uint8Array.of(1, 255, 0))).toBe(1);
  });

  it('dice rejects unequal lengths', () => {
    expect(() => dice([1], [1, 0])).toThrow(/differ in length/);
  });
});

describe('auroc', () => {
  it('auroc of a known ranking', () => {
    // Pairs (positive, negative): 0.35>0.1, 0.35<0.4, 0.8>0.1, 0.8>0.4: three of four.
    expect(auroc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])).toBeCloseTo(0.75, 12);
  });

  it('auroc counts ties as half', () => {
    // Pairs: 0.5>0.2 (1), 0.5=0.5 (1/2), 0.9>0.2 (1), 0.9>0.5 (1): 3.5 of 4.
    expect(auroc([0.2, 0.5, 0.5, 0.9], [0, 1, 0, 1])).toBeCloseTo(0.875, 12);
  });

  it('auroc of all-equal scores', () => {
    expect(auroc([3, 3, 3, 3], [0, 1, 0, 1])).toBeCloseTo(0.5, 12);
  });

  it('auroc without negatives is NaN', () => {
    expect(auroc([0.1, 0.2], [1, 1])).toBeNaN();
  });

  it('auroc rejects NaN scores', () => {
    expect(() => auroc([NaN, 0.2], [0, 1])).toThrow(/not finite/);
  });
});

describe('averagePrecision', () => {
  it('average precision of a known ranking', () => {
    // Descending: 0.8 (+) P=1 R=1/2; 0.4 (-); 0.35 (+) P=2/3 R=1. AP = 1/2 + 1/2 * 2/3.
    expect(averagePrecision([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])).toBeCloseTo(5 / 6, 12);
  });

  it('average precision treats a tie as one threshold', () => {
    // Thresholds 0.9: P=1 R=1/2; 0.5 (one +, one -): P=2/3 R=1.
    const forward = averagePrecision([0.9, 0.5, 0.5, 0.2], [1, 1, 0, 0]);
    const swapped = averagePrecision([0.9, 0.5, 0.5, 0.2], [1, 0, 1, 0]);
    expect(forward).toBeCloseTo(5 / 6, 12);
    expect(swapped).toBeCloseTo(5 / 6, 12);
  });

  it('average precision without positives is NaN', () => {
    expect(averagePrecision([0.3, 0.4], [0, 0])).toBeNaN();
  });
});

describe('risk-coverage', () => {
  it('curve of a known ranking', () => {
    const curve = riskCoverageCurve([0.1, 0.2, 0.3, 0.4], [0, 1, 0, 1]);
    expect(Array.from(curve.coverage)).toEqual([0.25, 0.5, 0.75, 1]);
    expect(curve.risk[0]).toBeCloseTo(0, 12);
    expect(curve.risk[1]).toBeCloseTo(1 / 2, 12);
    expect(curve.risk[2]).toBeCloseTo(1 / 3, 12);
    expect(curve.risk[3]).toBeCloseTo(1 / 2, 12);
  });

  it('aurc of a known curve', () => {
    // (0 + 1/2 + 1/3 + 1/2) / 4
    expect(aurc([0.1, 0.2, 0.3, 0.4], [0, 1, 0, 1])).toBeCloseTo(4 / 3 / 4, 12);
  });

  it('aurc averages over tied orders', () => {
    // Tied middle pair (losses 1 and 0): risk at k=2 is 1/2 or 0 by order, 1/4 on average.
    expect(aurc([0.1, 0.5, 0.5, 0.9], [0, 1, 0, 1])).toBeCloseTo((0 + 0.25 + 1 / 3 + 0.5) / 4, 12);
  });

  it('optimal aurc keeps errors last', () => {
    // Oracle risks 0, 0, 1/3, 1/2.
    expect(optimalAurc([0, 1, 0, 1])).toBeCloseTo((1 / 3 + 1 / 2) / 4, 12);
  });

  it('e-aurc of a known ranking', () => {
    expect(eAurc([0.1, 0.2, 0.3, 0.4], [0, 1, 0, 1])).toBeCloseTo(1 / 3 - 5 / 24, 12);
  });

  it('e-aurc zero for perfect ranking', () => {
    const random = createRandom(7);
    const loss = Array.from({ length: 200 }, () => (random.next() < 0.3 ? 1 : 0));
    const uncertainty = loss.map((l) => l + random.next() * 0.5);
    expect(eAurc(uncertainty, loss)).toBeCloseTo(0, 12);
  });

  it('e-aurc positive for reversed ranking', () => {
    const loss = [0, 0, 0, 1, 1];
    const reversed = loss.map((l) => 1 - l);
    expect(eAurc(reversed, loss)).toBeGreaterThan(0.3);
  });
});

describe('binned scores', () => {
  it('binned auroc close to exact', () => {
    const random = createRandom(11);
    const n = 20000;
    const labels = new Uint8Array(n);
    const scores = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      labels[i] = random.next() < 0.1 ? 1 : 0;
      scores[i] = 1 / (1 + Math.exp(-(random.normal() + 1.5 * labels[i])));
    }
    const exact = auroc(scores, labels);
    expect(Math.abs(aurocBinned(scores, labels, { bins: 4096 }) - exact)).toBeLessThan(1e-3);
    expect(Math.abs(aurocBinned(scores, labels, { bins: 4096, low: 0, high: 1 }) - exact)).toBeLessThan(1e-3);
  });

  it('binned equals exact on binned values', () => {
    // Scores on a grid of bin centres: binning loses nothing, so every metric must agree.
    const random = createRandom(3);
    const n = 3000;
    const scores = new Float64Array(n);
    const labels = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      const level = random.nextInt(20);
      scores[i] = (level + 0.5) / 20;
      labels[i] = random.next() < level / 25 ? 1 : 0;
    }
    const histogram = new BinnedScores({ bins: 20 });
    histogram.add(scores.subarray(0, 1000), labels.subarray(0, 1000));
    histogram.add(scores.subarray(1000), labels.subarray(1000));
    expect(histogram.auroc()).toBeCloseTo(auroc(scores, labels), 10);
    expect(histogram.averagePrecision()).toBeCloseTo(averagePrecision(scores, labels), 10);
    expect(histogram.aurc()).toBeCloseTo(aurc(scores, labels), 10);
    expect(histogram.eAurc()).toBeCloseTo(eAurc(scores, labels), 10);
  });

  it('binned curve ends at full coverage', () => {
    const histogram = new BinnedScores({ bins: 4 });
    histogram.add([0.1, 0.3, 0.6, 0.9], [0, 0, 1, 1]);
    const curve = histogram.riskCoverageCurve();
    expect(Array.from(curve.coverage)).toEqual([0.25, 0.5, 0.75, 1]);
    expect(Array.from(curve.risk)).toEqual([0, 0, 1 / 3, 0.5]);
  });

  it('binned add honours include mask', () => {
    const histogram = new BinnedScores({ bins: 10 });
    histogram.add([0.1, 0.9, 0.5], [0, 1, 1], [1, 1, 0]);
    expect(histogram.positiveCount).toBe(1);
    expect(histogram.negativeCount).toBe(1);
    expect(histogram.auroc()).toBe(1);
  });

  it('binned clamps out-of-range scores', () => {
    const histogram = new BinnedScores({ bins: 2, low: 0, high: 1 });
    histogram.add([-5, 7], [0, 1]);
    expect(histogram.auroc()).toBe(1);
  });
});

describe('calibration', () => {
  const probabilities = [0.1, 0.15, 0.3, 0.7, 0.9, 0.95];
  const outcomes = [0, 1, 0, 1, 1, 1];

  it('ece of a known binning', () => {
    // Five bins: [0,.2) p=.125 f=.5; [.2,.4) p=.3 f=0; [.6,.8) p=.7 f=1; [.8,1] p=.925 f=1.
    // (2*.375 + .3 + .3 + 2*.075) / 6 = 0.25
    expect(expectedCalibrationError(probabilities, outcomes, 5)).toBeCloseTo(0.25, 12);
  });

  it('reliability bins of a known binning', () => {
    const bins = reliabilityBins(probabilities, outcomes, 5);
    expect(bins.map((b) => b.count)).toEqual([2, 1, 0, 1, 2]);
    expect(bins[0].meanProbability).toBeCloseTo(0.125, 12);
    expect(bins[0].observedFrequency).toBeCloseTo(0.5, 12);
    expect(bins[2].meanProbability).toBeNaN();
    expect(bins[4].upper).toBe(1);
  });

  it('ece puts probability one last', () => {
    const calibration = new CalibrationBins(4);
    calibration.add([1, 0], [1, 0]);
    const bins = calibration.reliability();
    expect(bins[3].count).toBe(1);
    expect(bins[0].count).toBe(1);
    expect(calibration.expectedCalibrationError()).toBe(0);
  });

  it('ece rejects probability above one', () => {
    expect(() => expectedCalibrationError([1.2], [1])).toThrow(/outside \[0, 1\]/);
  });

  it('nll of known probabilities', () => {
    expect(negativeLogLikelihood([0.8, 0.3], [1, 0])).toBeCloseTo(-(Math.log(0.8) + Math.log(0.7)) / 2, 12);
  });

  it('nll stays finite when certain and wrong', () => {
    const value = negativeLogLikelihood([0], [1]);
    expect(Number.isFinite(value)).toBe(true);
    expect(value).toBeCloseTo(-Math.log(1e-7), 6);
  });

  it('brier of known probabilities', () => {
    expect(brierScore([0.8, 0.3], [1, 0])).toBeCloseTo((0.04 + 0.09) / 2, 12);
  });
});

describe('spearman', () => {
  it('average ranks share ties', () => {
    expect(Array.from(averageRanks([5, 6, 7, 8, 7]))).toEqual([1, 2, 3.5, 5, 3.5]);
  });

  it('spearman of a known pair', () => {
    // Ranks of y are 1, 2, 3.5, 5, 3.5: covariance 8, variances 10 and 9.5.
    expect(spearmanCorrelation([1, 2, 3, 4, 5], [5, 6, 7, 8, 7])).toBeCloseTo(8 / Math.sqrt(95), 12);
  });

  it('spearman of monotone transform', () => {
    expect(spearmanCorrelation([0.1, 0.5, 0.2, 0.9], [1, 125, 8, 729])).toBeCloseTo(1, 12);
  });

  it('spearman of constant input', () => {
    expect(spearmanCorrelation([1, 1, 1], [1, 2, 3])).toBeNaN();
  });
});

describe('block bootstrap', () => {
  const clipIds = [...Array(25).fill('a'), ...Array(12).fill('b'), ...Array(4).fill('c')];

  it('bootstrap keeps clip frame counts', () => {
    blockBootstrap(
      clipIds,
      (indices) => {
        const counts = { a: 0, b: 0, c: 0 } as Record<string, number>;
        for (const i of indices) counts[clipIds[i]]++;
        expect(counts).toEqual({ a: 25, b: 12, c: 4 });
        return 0;
      },
      { replicates: 20 },
    );
  });

  it('bootstrap resamples consecutive runs', () => {
    let calls = 0;
    let checked = 0;
    blockBootstrap(
      clipIds,
      (indices) => {
        // The first call computes the estimate on the original frames.
        if (calls++ === 0) return 0;
        // Clip a (frames 0..24) comes first in each resample: runs of 10, 10 and 5.
        for (const [from, length] of [[0, 10], [10, 10], [20, 5]]) {
          for (let j = 1; j < length; j++) expect(indices[from + j]).toBe(indices[from] + j);
        }
        // Clip c (4 frames) is shorter than a run, so it is taken whole.
        expect(Array.from(indices.subarray(37))).toEqual([37, 38, 39, 40]);
        checked++;
        return 0;
      },
      { replicates: 30, seed: 5 },
    );
    expect(checked).toBe(30);
  });

  it('bootstrap is deterministic per seed', () => {
    const values = clipIds.map((_, i) => Math.sin(i));
    const meanOf = (indices: Int32Array) => indices.reduce((total, i) => total + values[i], 0) / indices.length;
    const first = blockBootstrap(clipIds, meanOf, { seed: 42, replicates: 200 });
    const second = blockBootstrap(clipIds, meanOf, { seed: 42, replicates: 200 });
    const other = blockBootstrap(clipIds, meanOf, { seed: 43, replicates: 200 });
    expect(second).toEqual(first);
    expect(other.lower).not.toBe(first.lower);
  });

  it('bootstrap reports what it rests on', () => {
    const values = clipIds.map((_, i) => (i % 7) / 7);
    const meanOf = (indices: Int32Array) => indices.reduce((total, i) => total + values[i], 0) / indices.length;
    const interval = blockBootstrap(clipIds, meanOf, { replicates: 500 });
    expect(interval.clipCount).toBe(3);
    expect(interval.frameCount).toBe(41);
    expect(interval.blockLength).toBe(10);
    expect(interval.replicates).toBe(500);
    expect(interval.lower).toBeLessThan(interval.estimate);
    expect(interval.upper).toBeGreaterThan(interval.estimate);
  });

  it('bootstrap counts undefined replicates', () => {
    let call = 0;
    const interval = blockBootstrap(clipIds, () => (call++ % 2 === 0 ? 1 : NaN), { replicates: 10 });
    expect(interval.undefinedReplicates).toBe(5);
    expect(interval.replicates).toBe(5);
  });

  it('quantile interpolates order statistics', () => {
    expect(quantile([1, 2, 3, 4], 0.5)).toBe(2.5);
    expect(quantile([1, 2, 3, 4], 0)).toBe(1);
    expect(quantile([1, 2, 3, 4], 1)).toBe(4);
  });
});
