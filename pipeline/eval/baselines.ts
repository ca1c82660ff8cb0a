// The sampling baselines the evaluation compares SegWithU with, each run as ONE batch:
// - TTA-N: the first N test-time augmentations of TTA_TRANSFORMS through backbone.onnx, each
//   pass's probabilities mapped back onto the original grid, score = entropy of the mean;
// - MC-T: T copies of the input through mc_dropout.onnx (dropout stays on, so every pass draws
//   new masks), score = entropy of the mean probability.
// The one-pass baselines (entropy and margin of the SegWithU logits) need no session.

import * as ort from 'onnxruntime-node';

import type { ModelManifest } from '../manifest.js';
import { modelFilePath } from '../manifest.js';
import { ortSessionOptions } from '../model-session.js';
import { meanProbabilities, normalisedEntropy, softmax } from './pixels.js';
import { applyTtaToInput, ttaTransforms, undoTtaOnMaps } from './tta.js';

export type SamplingBaseline = 'tta4' | 'tta8' | 'mc8';
export const SAMPLING_BASELINES: readonly SamplingBaseline[] = ['tta4', 'tta8', 'mc8'];

/** Entropy maps of the sampling baselines for one frame, H × W, by baseline. */
export type BaselineEntropies = Partial<Record<SamplingBaseline, Float32Array>>;

export interface BaselineSessionOptions {
  executionProviders: string[];
  intraOpThreads: number;
}

/** backbone.onnx and mc_dropout.onnx, loaded once, each run one batch at a time. */
export class BaselineModels {
  readonly #manifest: ModelManifest;
  readonly #backbone: ort.InferenceSession;
  readonly #mcDropout: ort.InferenceSession;

  private constructor(manifest: ModelManifest, backbone: ort.InferenceSession, mcDropout: ort.InferenceSession) {
    this.#manifest = manifest;
    this.#backbone = backbone;
    this.#mcDropout = mcDropout;
  }

  /** Opens both sessions; throws an Error naming the file when the manifest lacks one. */
  static async create(manifest: ModelManifest, options: BaselineSessionOptions): Promise<BaselineModels> {
    const sessionOptions = ortSessionOptions({ ...options, graphOptimizationLevel: 'all' });
    for (const name of ['backbone', 'mc_dropout']) {
      if (manifest.files[name] === undefined) {
        throw new Error(`the model manifest lists no "${name}" file; the sampling baselines need backbone.onnx and mc_dropout.onnx next to segwithu.onnx`);
      }
    }
    const backbone = await ort.InferenceSession.create(modelFilePath(manifest, 'backbone'), sessionOptions);
    const mcDropout = await ort.InferenceSession.create(modelFilePath(manifest, 'mc_dropout'), sessionOptions);
    return new BaselineModels(manifest, backbone, mcDropout);
  }

  /**
   * Runs `inputs` (normalised model inputs, H × W each) through `model` as one batch and returns
   * the logits of each pass ([C, H, W] views) and the run's time in ms.
   */
  async runBatch(model: 'backbone' | 'mc_dropout', inputs: Float32Array[]): Promise<{ logits: Float32Array[]; runMs: number }> {
    const { width, height } = this.#manifest.input;
    const pixels = width * height;
    const batch = new Float32Array(inputs.length * pixels);
    inputs.forEach((input, i) => batch.set(input, i * pixels));
    const session = model === 'backbone' ? this.#backbone : this.#mcDropout;
    const tensor = new ort.Tensor('float32', batch, [inputs.length, 1, height, width]);

    const start = performance.now();
    const outputs = await session.run({ [session.inputNames[0]]: tensor });
    const runMs = performance.now() - start;

    const data = outputs[session.outputNames[0]]?.data;
    const perPass = this.#manifest.classes.length * pixels;
    if (!(data instanceof Float32Array) || data.length !== inputs.length * perPass) {
      throw new Error(`${model}.onnx returned no float32 logits of ${inputs.length} × ${perPass} values; re-export it with the manifest's input size and classes`);
    }
    return { logits: inputs.map((_, i) => data.subarray(i * perPass, (i + 1) * perPass)), runMs };
  }

  /**
   * Computes the entropy of the mean probability for each requested baseline, and the time of
   * each batch run. TTA-4 reuses the first four passes of the TTA-8 batch when both are
   * requested, because they are the same transforms. Its cost is then timed as a separate batch
   * of 4 (timeCosts in runner.ts).
   */
  async entropies(input: Float32Array, baselines: readonly SamplingBaseline[]): Promise<{ entropies: BaselineEntropies; runMs: { tta?: number; mc?: number } }> {
    const { width, height } = this.#manifest.input;
    const classCount = this.#manifest.classes.length;
    const result: BaselineEntropies = {};
    const runMs: { tta?: number; mc?: number } = {};

    const ttaCount = baselines.includes('tta8') ? 8 : baselines.includes('tta4') ? 4 : 0;
    if (ttaCount > 0) {
      const transforms = ttaTransforms(ttaCount);
      const inputs = transforms.map((transform) => applyTtaToInput(input, width, height, transform, this.#manifest.input));
      const run = await this.runBatch('backbone', inputs);
      runMs.tta = run.runMs;
      const probabilities = run.logits.map((passLogits, i) => undoTtaOnMaps(softmax(passLogits, classCount), classCount, width, height, transforms[i]));
      if (baselines.includes('tta4')) result.tta4 = normalisedEntropy(meanProbabilities(probabilities.slice(0, 4)), classCount);
      if (baselines.includes('tta8')) result.tta8 = normalisedEntropy(meanProbabilities(probabilities), classCount);
    }

    if (baselines.includes('mc8')) {
      const run = await this.runBatch('mc_dropout', Array.from({ length: 8 }, () => input));
      runMs.mc = run.runMs;
      result.mc8 = normalisedEntropy(meanProbabilities(run.logits.map((passLogits) => softmax(passLogits, classCount))), classCount);
    }
    return { entropies: result, runMs };
  }

  async release(): Promise<void> {
    await this.#backbone.release();
    await this.#mcDropout.release();
  }
}
