// The ONNX Runtime session behind the pipeline, reduced to one function: run a batch.

import type { ModelManifest } from './manifest.js';
import { PipelineError } from './errors.js';

/** The graph outputs the pipeline uses, for a batch of N frames, each map N × H × W row-major. */
export interface ModelOutputs {
  /** [N, C, H, W] raw logits. */
  logits: Float32Array;
  /** [N, 1, H, W] calibration map U_cal. */
  calibration: Float32Array;
  /** [N, 1, H, W] P(pixel wrong). */
  errorProbability: Float32Array;
  /** [N] calibrated P(segmentation unacceptable). */
  frameRisk: Float32Array;
}

/** Runs the model on `input` ([batchSize, 1, H, W] normalised float32). */
export type RunBatch = (input: Float32Array, batchSize: number) => Promise<ModelOutputs>;

export interface ModelSession {
  run: RunBatch;
  release(): Promise<void>;
}

export interface SessionOptions {
  executionProviders: string[];
  intraOpThreads: number;
  graphOptimizationLevel: 'disabled' | 'basic' | 'extended' | 'all';
}

/** Creates an ONNX Runtime session for the manifest's segwithu.onnx. */
export async function createModelSession(manifest: ModelManifest, options: SessionOptions): Promise<ModelSession> {
  throw new PipelineError('ERR_NOT_IMPLEMENTED', `createModelSession(${manifest.model.id}, ${JSON.stringify(options)})`);
}
