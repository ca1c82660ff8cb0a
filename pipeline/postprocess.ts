// postprocess: turns one frame's model outputs into a Result.
//
// - label mask: argmax of the raw logits per pixel (the lower class index wins a tie);
// - tempered foreground probability: softmax(logits / T)[1] with T = max(1, sqrt(1 + calibration))
//   per pixel, the tempering the head was trained with; it changes confidence, never the argmax;
// - error probability and frame risk: the graph's own outputs, copied as they are. Their
//   mappings were fitted in training and are built into the graph, so they are not recomputed.
// The alarm fields start as 'ok'; the alarm operator that follows sets them.

import type { OperatorFunction } from 'rxjs';

import type { Result } from './types.js';
import type { FrameOutputs, InferredJob, ResultJob } from './job.js';
import { mapOrDrop } from './map-or-drop.js';
import { pixelSpacingWarning } from './pixel-spacing.js';

export interface PostprocessOptions {
  modelId: string;
  classCount: number;
  /** Pixel spacing range of the training data, from the manifest; null when unknown. */
  pixelSpacingRangeMm: { min: number; max: number } | null;
}

/** Computes the label mask and the tempered foreground probability of one frame. */
export function labelAndTemperedForeground(outputs: FrameOutputs, classCount: number): { labelMask: Uint8Array; temperedForeground: Float32Array } {
  const { logits, calibration } = outputs;
  const pixels = calibration.length;
  const labelMask = new Uint8Array(pixels);
  const temperedForeground = new Float32Array(pixels);

  if (classCount === 2) {
    // Two classes: softmax(z / T)[1] = 1 / (1 + exp((z0 - z1) / T)), one exp per pixel.
    for (let i = 0; i < pixels; i++) {
      const cal = calibration[i];
      const temperature = cal > 0 ? Math.sqrt(1 + cal) : 1;
      const margin = logits[pixels + i] - logits[i];
      labelMask[i] = margin > 0 ? 1 : 0;
      temperedForeground[i] = 1 / (1 + Math.exp(-margin / temperature));
    }
    return { labelMask, temperedForeground };
  }

  for (let i = 0; i < pixels; i++) {
    const cal = calibration[i];
    const temperature = cal > 0 ? Math.sqrt(1 + cal) : 1;

    let best = 0;
    let bestLogit = logits[i];
    for (let c = 1; c < classCount; c++) {
      const logit = logits[c * pixels + i];
      if (logit > bestLogit) {
        best = c;
        bestLogit = logit;
      }
    }
    labelMask[i] = best;

    // Softmax of logits / T at class 1, shifted by the largest logit for stability.
    let sum = 0;
    let foreground = 0;
    for (let c = 0; c < classCount; c++) {
      const e = Math.exp((logits[c * pixels + i] - bestLogit) / temperature);
      sum += e;
      if (c === 1) foreground = e;
    }
    temperedForeground[i] = foreground / sum;
  }

  return { labelMask, temperedForeground };
}

/** Copies each map out of the batch buffers, so a Result does not keep a whole batch alive. */
function copyOutputs(extra: Readonly<Record<string, Float32Array>>): Record<string, Float32Array> {
  return Object.fromEntries(Object.entries(extra).map(([name, data]) => [name, data.slice()]));
}

/**
 * Emits one ResultJob per inferred frame, in order; a frame whose postprocessing throws goes to
 * onError instead. Completes and errors with its source.
 */
export function postprocess(o: PostprocessOptions, onError: (job: InferredJob, error: Error) => void): OperatorFunction<InferredJob, ResultJob> {
  return mapOrDrop((job: InferredJob): ResultJob => {
    const { frame, outputs } = job;
    const { labelMask, temperedForeground } = labelAndTemperedForeground(outputs, o.classCount);
    const spacingWarning = pixelSpacingWarning(frame.pixelSpacingMm, o.pixelSpacingRangeMm);

    const result: Result = {
      streamId: frame.streamId,
      sequence: frame.sequence,
      captureTimestampNs: frame.captureTimestampNs,
      timestamps: {
        receivedNs: frame.receivedNs,
        preprocessedNs: job.preprocessedNs,
        inferenceStartNs: job.inferenceStartNs,
        inferenceEndNs: job.inferenceEndNs,
        postprocessedNs: process.hrtime.bigint(),
      },
      modelId: o.modelId,
      letterbox: job.letterbox,
      labelMask,
      errorProbability: outputs.errorProbability.slice(),
      temperedForeground,
      frameRisk: outputs.frameRisk,
      alarm: 'ok',
      alarmReason: '',
      warnings: spacingWarning === undefined ? [] : [spacingWarning],
      gray8: job.gray8,
      frameWidth: frame.width,
      frameHeight: frame.height,
      ...(frame.groundTruthMask === undefined ? {} : { groundTruthMask: frame.groundTruthMask }),
      ...(frame.geometry === undefined ? {} : { geometry: frame.geometry }),
      ...(outputs.extra === undefined ? {} : { extraOutputs: copyOutputs(outputs.extra) }),
    };
    return { ticket: job.ticket, frame, result };
  }, onError);
}
