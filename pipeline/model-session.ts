// The ONNX Runtime session behind the pipeline, reduced to one function: run a batch.
// The session is created once and runs one batch at a time; the pipeline never calls run
// again before the previous call has settled.

import * as ort from 'onnxruntime-node';

import type { ModelManifest } from './manifest.js';
import { modelFilePath } from './manifest.js';
import { PipelineError } from './errors.js';

/** The graph outputs the pipeline uses, for a batch of N frames; maps are row-major. */
export interface ModelOutputs {
  /** [N, C, H, W] raw logits. */
  logits: Float32Array;
  /** [N, 1, H, W] calibration map U_cal. */
  calibration: Float32Array;
  /** [N, 1, H, W] P(pixel wrong). */
  errorProbability: Float32Array;
  /** [N] calibrated P(segmentation unacceptable). */
  frameRisk: Float32Array;
  /**
   * The graph outputs named in SessionOptions.extraOutputs, by output name, for the whole batch
   * ([N, ...] row-major). Absent when none were requested.
   */
  extra?: Record<string, Float32Array>;
}

/** Runs the model on `input` ([batchSize, 1, H, W] normalised float32). */
export type RunBatch = (input: Float32Array, batchSize: number) => Promise<ModelOutputs>;

export interface ModelSession {
  run: RunBatch;
  /** Waits for a run in progress, then frees the native session. */
  release(): Promise<void>;
}

export interface SessionOptions {
  executionProviders: string[];
  intraOpThreads: number;
  graphOptimizationLevel: 'disabled' | 'basic' | 'extended' | 'all';
  /**
   * Lets ONNX Runtime's intra-op threads spin-wait between runs instead of sleeping. Default
   * false: on a machine with few cores the spinning threads take CPU from the event loop that
   * receives frames and sends results.
   */
  allowSpinning?: boolean;
  /** Further graph outputs to fetch on every run, for evaluation (for example 'rank'). Default none. */
  extraOutputs?: readonly string[];
}

/** Creates an ONNX Runtime session options object from the pipeline's settings. */
export function ortSessionOptions(options: SessionOptions): ort.InferenceSession.SessionOptions {
  return {
    executionProviders: options.executionProviders,
    intraOpNumThreads: options.intraOpThreads,
    // One batch runs at a time, so inter-op parallelism would only add threads.
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: options.graphOptimizationLevel,
    extra: { session: { intra_op: { allow_spinning: options.allowSpinning === true ? '1' : '0' } } },
  };
}

/**
 * Creates an ONNX Runtime session for the manifest's segwithu file and checks that the graph has
 * the input and outputs the manifest names (ERR_MODEL_CONTRACT otherwise).
 */
export async function createModelSession(manifest: ModelManifest, options: SessionOptions): Promise<ModelSession> {
  const file = modelFilePath(manifest, 'segwithu');
  const session = await ort.InferenceSession.create(file, ortSessionOptions(options));

  const names = manifest.outputs;
  const extraOutputs = [...new Set(options.extraOutputs ?? [])];
  const fetches = [...new Set([names.logits, names.calibration, names.error_probability, names.frame_risk, ...extraOutputs])];
  const missing = [
    ...(session.inputNames.includes(manifest.input.name) ? [] : [`input ${manifest.input.name}`]),
    ...fetches.filter((name) => !session.outputNames.includes(name)).map((name) => `output ${name}`),
  ];
  // An extra output is one the caller asked for, not one the manifest promises.
  const what = extraOutputs.some((name) => !session.outputNames.includes(name)) ? 'requested or ' : '';
  if (missing.length > 0) {
    await session.release();
    throw new PipelineError(
      'ERR_MODEL_CONTRACT',
      `${file} lacks ${missing.join(', ')} ${what}named in the manifest (graph inputs: ${session.inputNames.join(', ')}; outputs: ${session.outputNames.join(', ')}); re-export the model`,
    );
  }

  const { width, height } = manifest.input;
  const classCount = manifest.classes.length;
  let running: Promise<unknown> = Promise.resolve();

  const run: RunBatch = async (input, batchSize) => {
    const tensor = new ort.Tensor('float32', input, [batchSize, 1, height, width]);
    const pending = session.run({ [manifest.input.name]: tensor }, fetches);
    running = pending.catch(() => undefined);
    const out = await pending;

    const take = (name: string, valuesPerFrame: number): Float32Array => {
      const data = out[name]?.data;
      if (!(data instanceof Float32Array) || data.length !== batchSize * valuesPerFrame) {
        throw new PipelineError(
          'ERR_MODEL_CONTRACT',
          `output ${name} of ${file} holds ${data instanceof Float32Array ? `${data.length} float32 values` : 'no float32 data'}; expected ${batchSize} × ${valuesPerFrame}`,
        );
      }
      return data;
    };
    const outputs: ModelOutputs = {
      logits: take(names.logits, classCount * width * height),
      calibration: take(names.calibration, width * height),
      errorProbability: take(names.error_probability, width * height),
      frameRisk: take(names.frame_risk, 1),
    };
    if (extraOutputs.length > 0) {
      outputs.extra = {};
      for (const name of extraOutputs) {
        const data = out[name]?.data;
        if (!(data instanceof Float32Array) || data.length % batchSize !== 0) {
          throw new PipelineError('ERR_MODEL_CONTRACT', `output ${name} of ${file} holds no float32 data that splits into ${batchSize} frames`);
        }
        outputs.extra[name] = data;
      }
    }
    return outputs;
  };

  return {
    run,
    async release() {
      await running;
      await session.release();
    },
  };
}
