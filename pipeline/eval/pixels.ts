// Pixel-level inputs of the evaluation, at model resolution. Pixel figures exclude the letterbox
// padding, so this file marks the content region. It also resamples the ground truth as the
// training code does, marks pixel errors and the band near the predicted contour, and computes
// the one-pass baseline scores (normalised entropy and margin) from logits.

import { letterboxNormalise } from '../letterbox.js';
import type { Letterbox } from '../types.js';

/** Distance from the predicted contour, in model pixels, within which a pixel counts as "near the contour". */
export const NEAR_CONTOUR_PX = 5;

/** Marks the letterbox content region: 1 inside, 0 on the padding. */
export function contentRegion(letterbox: Letterbox): Uint8Array {
  const { modelWidth, modelHeight, offsetX, offsetY, contentWidth, contentHeight } = letterbox;
  const region = new Uint8Array(modelWidth * modelHeight);
  const x0 = Math.floor(offsetX);
  const y0 = Math.floor(offsetY);
  for (let y = y0; y < Math.min(modelHeight, y0 + contentHeight); y++) {
    region.fill(1, y * modelWidth + x0, y * modelWidth + Math.min(modelWidth, x0 + contentWidth));
  }
  return region;
}

/**
 * Resamples a frame-resolution ground truth (non-zero = structure) to model resolution as the
 * training code does: the 0/1 mask is letterboxed with the same bilinear resize as the image and
 * thresholded at 0.5. Returns 0/1 per model pixel; the padding is 0.
 */
export function groundTruthToModel(mask: Uint8Array, frameWidth: number, frameHeight: number, modelWidth: number, modelHeight: number): Uint8Array {
  const binary = new Uint8Array(mask.length);
  for (let i = 0; i < mask.length; i++) binary[i] = mask[i] !== 0 ? 255 : 0;
  // mean 0 and std 1 turn letterboxNormalise's output into p / 255, the resized 0/1 mask.
  const { tensor } = letterboxNormalise(binary, frameWidth, frameHeight, {
    name: 'mask',
    width: modelWidth,
    height: modelHeight,
    mean: 0,
    std: 1,
    letterbox_pad_value: 0,
  });
  const out = new Uint8Array(tensor.length);
  for (let i = 0; i < tensor.length; i++) out[i] = tensor[i] > 0.5 ? 1 : 0;
  return out;
}

/** Marks pixels whose predicted class differs from the truth (both class indices per pixel). */
export function pixelErrors(labelMask: Uint8Array, truth: Uint8Array): Uint8Array {
  if (labelMask.length !== truth.length) {
    throw new RangeError(`pixelErrors: label mask has ${labelMask.length} pixels and truth ${truth.length}; resample the truth to model resolution first.`);
  }
  const errors = new Uint8Array(labelMask.length);
  for (let i = 0; i < errors.length; i++) errors[i] = labelMask[i] !== truth[i] ? 1 : 0;
  return errors;
}

/**
 * Marks pixels within `radiusPx` (Euclidean, model pixels) of the predicted contour: the
 * structure pixels that touch background or the image edge across a side. Empty when nothing is
 * predicted.
 */
export function nearContourBand(labelMask: Uint8Array, width: number, height: number, radiusPx = NEAR_CONTOUR_PX): Uint8Array {
  const band = new Uint8Array(width * height);
  const reach = Math.floor(radiusPx);
  const radiusSquared = radiusPx * radiusPx;

  const isStructure = (x: number, y: number): boolean => x >= 0 && y >= 0 && x < width && y < height && labelMask[y * width + x] !== 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (!isStructure(x, y)) continue;
      const onContour = !isStructure(x - 1, y) || !isStructure(x + 1, y) || !isStructure(x, y - 1) || !isStructure(x, y + 1);
      if (!onContour) continue;

      for (let dy = -reach; dy <= reach; dy++) {
        const row = y + dy;
        if (row < 0 || row >= height) continue;
        for (let dx = -reach; dx <= reach; dx++) {
          const column = x + dx;
          if (column < 0 || column >= width || dx * dx + dy * dy > radiusSquared) continue;
          band[row * width + column] = 1;
        }
      }
    }
  }
  return band;
}

/**
 * Computes softmax probabilities from one frame's logits laid out [C, H, W], in the same layout.
 * Subtracts the per-pixel maximum first, so large logits do not overflow.
 */
export function softmax(logits: Float32Array, classCount: number): Float32Array {
  const pixels = logits.length / classCount;
  if (!Number.isInteger(pixels)) {
    throw new RangeError(`softmax: ${logits.length} logits do not split into ${classCount} classes.`);
  }
  const probabilities = new Float32Array(logits.length);
  for (let i = 0; i < pixels; i++) {
    let max = -Infinity;
    for (let c = 0; c < classCount; c++) max = Math.max(max, logits[c * pixels + i]);
    let total = 0;
    for (let c = 0; c < classCount; c++) {
      const value = Math.exp(logits[c * pixels + i] - max);
      probabilities[c * pixels + i] = value;
      total += value;
    }
    for (let c = 0; c < classCount; c++) probabilities[c * pixels + i] /= total;
  }
  return probabilities;
}

/** Normalised entropy −Σ p log p / log C per pixel, in [0, 1], from probabilities laid out [C, H, W]. */
export function normalisedEntropy(probabilities: Float32Array, classCount: number): Float32Array {
  const pixels = probabilities.length / classCount;
  const entropy = new Float32Array(pixels);
  const normaliser = Math.log(classCount);
  for (let i = 0; i < pixels; i++) {
    let total = 0;
    for (let c = 0; c < classCount; c++) {
      const p = probabilities[c * pixels + i];
      if (p > 0) total -= p * Math.log(p);
    }
    entropy[i] = total / normaliser;
  }
  return entropy;
}

/**
 * Margin uncertainty 1 − (p_top1 − p_top2) per pixel, in [0, 1], so that, like entropy, a higher
 * value means less certain.
 */
export function marginUncertainty(probabilities: Float32Array, classCount: number): Float32Array {
  const pixels = probabilities.length / classCount;
  const uncertainty = new Float32Array(pixels);
  for (let i = 0; i < pixels; i++) {
    let first = -Infinity;
    let second = -Infinity;
    for (let c = 0; c < classCount; c++) {
      const p = probabilities[c * pixels + i];
      if (p > first) {
        second = first;
        first = p;
      } else if (p > second) {
        second = p;
      }
    }
    uncertainty[i] = 1 - (first - (classCount > 1 ? second : 0));
  }
  return uncertainty;
}

/** Per-pixel mean of several probability maps of one layout, as TTA and MC dropout average their passes. */
export function meanProbabilities(passes: Float32Array[]): Float32Array {
  if (passes.length === 0) throw new RangeError('meanProbabilities: no passes to average.');
  const mean = new Float32Array(passes[0].length);
  for (const pass of passes) {
    if (pass.length !== mean.length) throw new RangeError(`meanProbabilities: passes differ in length (${pass.length} and ${mean.length}).`);
    for (let i = 0; i < mean.length; i++) mean[i] += pass[i];
  }
  for (let i = 0; i < mean.length; i++) mean[i] /= passes.length;
  return mean;
}
