// Scores one evaluated frame: Dice at frame resolution, and at model resolution inside the
// letterbox content region the pixel errors of the deployed mask, the band near its contour,
// every method's uncertainty map, and the raw and tempered foreground probabilities.
// The definitions match models/evaluate.ts, whose figures the model card quotes.

import { maskToFrame } from '../mask.js';
import type { Result } from '../types.js';
import type { BaselineEntropies, SamplingBaseline } from './baselines.js';
import { dice } from './metrics.js';
import { contentRegion, groundTruthToModel, marginUncertainty, nearContourBand, normalisedEntropy, pixelErrors, softmax } from './pixels.js';

/** Pixel scoring methods: SegWithU's rank map, the one-pass baselines and the sampling baselines. */
export type Method = 'segwithu' | 'entropy' | 'margin' | SamplingBaseline;

export const METHOD_LABELS: Record<Method, string> = {
  segwithu: 'SegWithU rank',
  entropy: 'Entropy',
  margin: 'Margin',
  tta4: 'TTA-4',
  tta8: 'TTA-8',
  mc8: 'MC dropout-8',
};

/** Graph outputs the evaluation requests the pipeline to attach to each Result. */
export const EVAL_OUTPUTS = ['logits', 'rank'] as const;

export interface FrameMaps {
  /** 1 inside the letterbox content region. */
  content: Uint8Array;
  /** 1 where the deployed mask differs from the ground truth resampled to model resolution. */
  errors: Uint8Array;
  /** 1 within 5 model pixels of the predicted contour. */
  band: Uint8Array;
  /** Ground truth at model resolution, 0 or 1. */
  truth: Uint8Array;
  /** Uncertainty per pixel for each method, higher = more likely wrong. */
  scores: Partial<Record<Method, Float32Array>>;
  /** softmax(logits)[1]: the untempered foreground probability. */
  rawForeground: Float32Array;
  /** softmax(logits / T)[1], as the pipeline computes it. */
  temperedForeground: Float32Array;
}

export interface FrameScalars {
  dice: number;
  frameRisk: number;
  /** Mean normalised entropy over the predicted structure; 1 when nothing is predicted. */
  meanEntropyInStructure: number;
  /** Mean TTA-4 entropy over the predicted structure; 1 when nothing is predicted; NaN without TTA-4. */
  tta4FrameScore: number;
  /** Mean MC dropout-8 entropy over the predicted structure; as tta4FrameScore. */
  mc8FrameScore: number;
  /** Model pixels predicted as structure. */
  predictedAreaPx: number;
}

/**
 * Value of a structure-averaged score when the mask is empty: the most uncertain value, the same
 * choice as the manifest's empty_prediction_value for the frame-risk aggregates.
 */
const EMPTY_PREDICTION_SCORE = 1;

/** Scores one frame whose Result carries the logits and rank outputs. */
export function scoreFrame(result: Result, truthMask: Uint8Array, classCount: number, baselines: BaselineEntropies): { maps: FrameMaps; scalars: FrameScalars } {
  const logits = result.extraOutputs?.logits;
  const rank = result.extraOutputs?.rank;
  if (logits === undefined || rank === undefined) {
    throw new Error(`result ${result.streamId}/${result.sequence} lacks the logits or rank output; create the pipeline with extraOutputs ${JSON.stringify(EVAL_OUTPUTS)}`);
  }
  const { letterbox, labelMask } = result;
  const { modelWidth, modelHeight } = letterbox;

  const frameMask = maskToFrame(labelMask, letterbox, result.frameWidth, result.frameHeight);
  const frameDice = dice(frameMask, truthMask);

  const truth = groundTruthToModel(truthMask, result.frameWidth, result.frameHeight, modelWidth, modelHeight);
  const probabilities = softmax(logits, classCount);
  const entropy = normalisedEntropy(probabilities, classCount);
  const pixels = modelWidth * modelHeight;

  const scores: FrameMaps['scores'] = { segwithu: rank, entropy, margin: marginUncertainty(probabilities, classCount), ...baselines };
  const maps: FrameMaps = {
    content: contentRegion(letterbox),
    errors: pixelErrors(labelMask, truth),
    band: nearContourBand(labelMask, modelWidth, modelHeight),
    truth,
    scores,
    rawForeground: probabilities.subarray(pixels, 2 * pixels),
    temperedForeground: result.temperedForeground,
  };

  let predictedAreaPx = 0;
  for (let i = 0; i < pixels; i++) if (labelMask[i] !== 0) predictedAreaPx++;
  const scalars: FrameScalars = {
    dice: frameDice,
    frameRisk: result.frameRisk,
    meanEntropyInStructure: meanOverStructure(entropy, labelMask),
    tta4FrameScore: baselines.tta4 === undefined ? NaN : meanOverStructure(baselines.tta4, labelMask),
    mc8FrameScore: baselines.mc8 === undefined ? NaN : meanOverStructure(baselines.mc8, labelMask),
    predictedAreaPx,
  };
  return { maps, scalars };
}

function meanOverStructure(values: Float32Array, labelMask: Uint8Array): number {
  let total = 0;
  let count = 0;
  for (let i = 0; i < values.length; i++) {
    if (labelMask[i] === 0) continue;
    total += values[i];
    count++;
  }
  return count === 0 ? EMPTY_PREDICTION_SCORE : total / count;
}
