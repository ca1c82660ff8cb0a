// runEval: runs the frames of an evaluation through the real pipeline (createPipeline, lossless,
// the committed ONNX graph) and through the sampling baselines. It does so on clean frames and
// on seeded corruptions generated on the fly, then writes the JSON report, the SVG plots and
// the Markdown summary. Given a second model folder, it evaluates both on the same frames and
// reports their differences with paired intervals.

import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';

import { pino, type Logger } from 'pino';

import { createPipeline } from '../create-pipeline.js';
import type { DropEvent, Pipeline } from '../index.js';
import { letterboxNormalise } from '../letterbox.js';
import type { ModelManifest } from '../manifest.js';
import type { RunBatch } from '../model-session.js';
import type { Frame, Result } from '../types.js';
import { EvalAccumulator, conditionOf, type Condition, type FrameRecord } from './accumulators.js';
import { BaselineModels, type SamplingBaseline } from './baselines.js';
import { applyCorruption, CORRUPTION_IDS, type CorruptionId, type Severity } from './corruptions.js';
import { EVAL_OUTPUTS, scoreFrame, type Method } from './frame-scores.js';
import { openEvalInput, type EvalClip, type EvalInputOptions } from './inputs.js';
import { deriveSeed } from './random.js';
import { buildComparison, buildModelReport, displayPath, type EvalReport, type ModelReport } from './report.js';
import { writeFigures } from './figures.js';
import { formatSummary } from './summary.js';
import { listFolderFrames, readPngGray8 } from '../../stream/sources/folder.js';

/** Failure threshold when the manifest gives none: the default the frame-risk model is fitted with. */
const DEFAULT_FAILURE_DICE_THRESHOLD = 0.8;

export interface EvalOptions extends EvalInputOptions {
  /** Model folder with manifest.json, segwithu.onnx, backbone.onnx and mc_dropout.onnx. */
  modelDir: string;
  /** A second model folder to evaluate on the same frames and compare with the first. */
  compareModelDir?: string;
  /** Folder the report, the plots and the summary are written to; created when missing. */
  outDir: string;
  /** Corruption families to apply. Default: all seven. */
  corruptions?: readonly CorruptionId[];
  /** Severities of each family. Default [1, 2, 3]. */
  severities?: readonly Severity[];
  /** Corrupt only every Nth frame of each clip (the clean frames are all kept). Default 1. */
  corruptionStride?: number;
  /** Sampling baselines to run. Default tta4, tta8 and mc8. */
  baselines?: readonly SamplingBaseline[];
  /** Sampling baselines to run on corrupted frames, a subset of `baselines`. Default: all of `baselines`. */
  corruptedBaselines?: readonly SamplingBaseline[];
  /** Clean frames (from the start) on which each model's cost is timed. Default 10. */
  timingFrames?: number;
  /** A folder of frames without ground truth that should all read as high risk (the liver sweep). */
  oodFolder?: string;
  /** Bootstrap replicates of frame-level figures. Default 1000. */
  replicates?: number;
  /** Bootstrap replicates of pixel-level figures (each merges histograms). Default 200. */
  pixelReplicates?: number;
  /** Seed of the corruptions and of the bootstrap. Default 0. */
  seed?: number;
  /** ONNX Runtime intra-op threads of every session. Default 2. */
  intraOpThreads?: number;
  executionProviders?: string[];
  /** The command line, recorded in the report. */
  command?: string;
  /** Called after every evaluated frame. */
  onProgress?: (progress: EvalProgress) => void;
  logger?: Logger;
}

export interface EvalProgress {
  model: string;
  /** Phase of the run: 'test frames' or 'out-of-distribution frames'. */
  phase: string;
  done: number;
  total: number;
  elapsedMs: number;
  /** Estimated time to the end of this model's phase, from the mean time per frame so far. */
  etaMs: number;
}

export interface EvalOutput {
  report: EvalReport;
  /** Paths written, report.json first. */
  files: string[];
}

/** Per-method run times on the timing frames, ms per call. */
export interface CostSamples {
  backbone: number[];
  segwithu: number[];
  tta4: number[];
  tta8: number[];
  mc8: number[];
  /** segwithu.onnx batch-1 run time of every frame the pipeline ran, not only timing frames. */
  segwithuAllFrames: number[];
}

/** Everything one model's run produced, before it is summarised. */
export interface ModelRun {
  label: string;
  modelDir: string;
  manifest: ModelManifest;
  accumulator: EvalAccumulator;
  /** Clip of each source frame, in order: the block bootstrap's unit. */
  baseClipIds: string[];
  conditions: Condition[];
  families: CorruptionId[];
  /** Dice below which a frame counts as failed. */
  failureDiceThreshold: number;
  costs: CostSamples;
  ood?: { folder: string; frameNames: string[]; frameRisks: number[] };
  durationMs: number;
}

export interface ResolvedEvalOptions {
  corruptions: CorruptionId[];
  severities: Severity[];
  corruptionStride: number;
  baselines: SamplingBaseline[];
  corruptedBaselines: SamplingBaseline[];
  timingFrames: number;
  replicates: number;
  pixelReplicates: number;
  seed: number;
  intraOpThreads: number;
  executionProviders: string[];
}

export function resolveEvalOptions(options: EvalOptions): ResolvedEvalOptions {
  const positiveInteger = (name: string, value: number | undefined, fallback: number, min = 1): number => {
    const v = value ?? fallback;
    if (!Number.isInteger(v) || v < min) throw new RangeError(`eval option ${name} must be an integer >= ${min}, got ${v}`);
    return v;
  };
  const baselines: SamplingBaseline[] = [...(options.baselines ?? ['tta4', 'tta8', 'mc8'])];
  const corruptedBaselines: SamplingBaseline[] = [...(options.corruptedBaselines ?? baselines)];
  const extra = corruptedBaselines.filter((baseline) => !baselines.includes(baseline));
  if (extra.length > 0) throw new RangeError(`eval option corruptedBaselines names ${extra.join(', ')}, which baselines leaves out; corrupted frames run a subset of baselines`);
  return {
    corruptions: [...(options.corruptions ?? CORRUPTION_IDS)],
    severities: [...(options.severities ?? [1, 2, 3])],
    corruptionStride: positiveInteger('corruptionStride', options.corruptionStride, 1),
    baselines,
    corruptedBaselines,
    timingFrames: positiveInteger('timingFrames', options.timingFrames, 10, 0),
    replicates: positiveInteger('replicates', options.replicates, 1000),
    pixelReplicates: positiveInteger('pixelReplicates', options.pixelReplicates, 200),
    seed: positiveInteger('seed', options.seed, 0, 0),
    intraOpThreads: positiveInteger('intraOpThreads', options.intraOpThreads, 2),
    executionProviders: options.executionProviders ?? ['cpu'],
  };
}

/** Evaluates one model (or two, compared), writes report.json, summary.md and the plots. */
export async function runEval(options: EvalOptions): Promise<EvalOutput> {
  const resolved = resolveEvalOptions(options);
  const logger = options.logger ?? pino({ level: 'warn' });
  const input = await openEvalInput(options);

  const runs: ModelRun[] = [];
  const modelDirs = [options.modelDir, ...(options.compareModelDir === undefined ? [] : [options.compareModelDir])];
  for (const [index, modelDir] of modelDirs.entries()) {
    let label = 'model';
    if (modelDirs.length === 2) label = index === 0 ? 'A' : 'B';
    runs.push(await evaluateModel(path.resolve(modelDir), label, input.clips, resolved, options, logger));
  }

  const models: ModelReport[] = runs.map((run) => buildModelReport(run, resolved));
  const report: EvalReport = {
    schema_version: 1,
    generated_at: new Date().toISOString(),
    command: options.command ?? '',
    input: {
      kind: input.kind,
      path: displayPath(input.path),
      selection: input.selection,
      clips: input.clips.map((clip) => ({ clip_id: clip.clipId, frames: clip.frameNames.length })),
    },
    subsampling: {
      corruptions: resolved.corruptions,
      severities: resolved.severities,
      corruption_stride: resolved.corruptionStride,
      baselines: resolved.baselines,
      corrupted_baselines: resolved.corruptedBaselines,
      max_frames_per_clip: options.maxFramesPerClip ?? null,
      note: subsamplingNote(resolved, options.maxFramesPerClip),
    },
    models,
    ...(runs.length === 2 ? { comparison: buildComparison(runs[0], runs[1], resolved) } : {}),
  };

  await mkdir(options.outDir, { recursive: true });
  const files: string[] = [];
  const reportPath = path.join(options.outDir, 'report.json');
  await writeFile(reportPath, `${JSON.stringify(report, jsonNumber, 2)}\n`);
  files.push(reportPath);
  for (const run of runs) files.push(...(await writeFigures(run, models[runs.indexOf(run)], options.outDir, runs.length === 2 ? `${run.label}-` : '')));
  const summaryPath = path.join(options.outDir, 'summary.md');
  await writeFile(summaryPath, formatSummary(report, files.map((file) => path.basename(file))));
  files.push(summaryPath);
  return { report, files };
}

/** Rounds numbers to 6 significant digits and writes NaN as null, so the JSON stays readable and valid. */
function jsonNumber(_key: string, value: unknown): unknown {
  if (typeof value !== 'number') return value;
  if (!Number.isFinite(value)) return null;
  return Number.isInteger(value) ? value : Number(value.toPrecision(6));
}

function subsamplingNote(o: ResolvedEvalOptions, maxFramesPerClip: number | undefined): string {
  const parts: string[] = [];
  if (o.corruptions.length < CORRUPTION_IDS.length) parts.push(`corruption families ${o.corruptions.join(', ')} only`);
  if (o.severities.length < 3) parts.push(`severities ${o.severities.join(', ')} only`);
  const skipped = o.baselines.filter((baseline) => !o.corruptedBaselines.includes(baseline));
  if (skipped.length > 0 && o.corruptions.length > 0) parts.push(`${skipped.join(', ')} on clean frames only`);
  if (o.corruptionStride > 1) parts.push(`one frame in ${o.corruptionStride} of each clip corrupted (all clean frames kept)`);
  if (maxFramesPerClip !== undefined) parts.push(`first ${maxFramesPerClip} frames of each clip`);
  return parts.length === 0 ? 'nothing subsampled' : parts.join('; ');
}

/** Lists the conditions each source frame is evaluated under: clean, then each family and severity. */
function conditionsFor(o: ResolvedEvalOptions): Condition[] {
  return [conditionOf('clean', 0), ...o.corruptions.flatMap((family) => o.severities.map((severity) => conditionOf(family, severity)))];
}

async function evaluateModel(modelDir: string, label: string, clips: EvalClip[], o: ResolvedEvalOptions, options: EvalOptions, logger: Logger): Promise<ModelRun> {
  const startedMs = performance.now();
  const runTimesMs: number[] = [];
  const wrapRun = (run: RunBatch): RunBatch => async (input, batchSize) => {
    const start = performance.now();
    const outputs = await run(input, batchSize);
    if (batchSize === 1) runTimesMs.push(performance.now() - start);
    return outputs;
  };
  // Batch 1 and one frame at a time: the cost measured is the live, batch-1 cost, and every
  // frame's outputs are its own.
  const pipeline = await createPipeline({
    modelDir,
    maxBatch: 1,
    intraOpThreads: o.intraOpThreads,
    executionProviders: o.executionProviders,
    extraOutputs: [...EVAL_OUTPUTS],
    wrapRun,
    logger,
  });
  const manifest = pipeline.manifest;
  const baselines = await BaselineModels.create(manifest, { executionProviders: o.executionProviders, intraOpThreads: o.intraOpThreads });
  const runner = new PipelineRunner(pipeline);

  const conditions = conditionsFor(o);
  const methods: Method[] = ['segwithu', 'entropy', 'margin', ...o.baselines];
  const accumulator = new EvalAccumulator(methods);
  const costs: CostSamples = { backbone: [], segwithu: [], tta4: [], tta8: [], mc8: [], segwithuAllFrames: runTimesMs };
  const baseClipIds: string[] = [];
  const classCount = manifest.classes.length;
  const failureDiceThreshold = manifest.failure_dice_threshold ?? DEFAULT_FAILURE_DICE_THRESHOLD;

  const total = clips.reduce((sum, clip) => sum + clip.frameNames.length + Math.ceil(clip.frameNames.length / o.corruptionStride) * (conditions.length - 1), 0);
  let done = 0;
  const loopStartMs = performance.now();

  try {
    for (const clip of clips) {
      let indexInClip = 0;
      for await (const source of clip.frames()) {
        if (source.mask === undefined) {
          throw new Error(`frame ${source.name} of clip ${clip.clipId} has no ground-truth mask; the eval needs masks/ next to the frames (or a recording with /ground_truth/mask)`);
        }
        const base = baseClipIds.length;
        baseClipIds.push(clip.clipId);
        const timed = base < o.timingFrames;

        for (const condition of conditions) {
          if (condition.family !== 'clean' && indexInClip % o.corruptionStride !== 0) continue;
          const image = condition.family === 'clean'
            ? { pixels: source.gray8, width: source.width, height: source.height, mask: source.mask }
            : applyCorruption({ pixels: source.gray8, width: source.width, height: source.height, mask: source.mask }, condition.family, condition.severity as Severity, deriveSeed(o.seed, `${clip.clipId}/${source.name}/${condition.id}`));

          const runsBefore = runTimesMs.length;
          const result = await runner.run(`${condition.id}/${clip.clipId}`, indexInClip, image.pixels, image.width, image.height, image.mask!);
          const { tensor } = letterboxNormalise(image.pixels, image.width, image.height, manifest.input);
          const { entropies, runMs } = await baselines.entropies(tensor, condition.family === 'clean' ? o.baselines : o.corruptedBaselines);

          if (timed && condition.family === 'clean') {
            await timeCosts(baselines, tensor, o.baselines, runMs, runTimesMs.slice(runsBefore), costs);
          }

          const { maps, scalars } = scoreFrame(result, image.mask!, classCount, entropies);
          const record: FrameRecord = {
            ...scalars,
            base,
            clipId: clip.clipId,
            frameName: source.name,
            condition: condition.id,
            failure: scalars.dice < failureDiceThreshold,
          };
          accumulator.add(record, condition, maps);

          done++;
          const elapsedMs = performance.now() - loopStartMs;
          options.onProgress?.({ model: label, phase: 'test frames', done, total, elapsedMs, etaMs: (elapsedMs / done) * (total - done) });
        }
        indexInClip++;
      }
    }
    accumulator.finish();

    const ood = options.oodFolder === undefined ? undefined : await runOod(runner, options.oodFolder, label, options.onProgress);
    return {
      label,
      modelDir,
      manifest,
      accumulator,
      baseClipIds,
      conditions,
      families: o.corruptions,
      failureDiceThreshold,
      costs,
      ...(ood === undefined ? {} : { ood }),
      durationMs: performance.now() - startedMs,
    };
  } finally {
    await baselines.release();
    await pipeline.close();
  }
}

/**
 * Records one timing frame's costs: the pipeline's segwithu.onnx batch-1 run, the sampling
 * baselines' batch runs, and a backbone-only batch-1 run. TTA-8 and MC-8 reuse the runs that
 * scored the frame. TTA-4 gets its own batch of 4 when TTA-8 ran in its place.
 */
async function timeCosts(baselines: BaselineModels, input: Float32Array, requested: readonly SamplingBaseline[], runMs: { tta?: number; mc?: number }, segwithuRuns: number[], costs: CostSamples): Promise<void> {
  costs.segwithu.push(...segwithuRuns);
  costs.backbone.push((await baselines.runBatch('backbone', [input])).runMs);
  if (requested.includes('tta8') && runMs.tta !== undefined) costs.tta8.push(runMs.tta);
  if (requested.includes('tta4')) {
    costs.tta4.push(requested.includes('tta8') || runMs.tta === undefined ? (await baselines.runBatch('backbone', [input, input, input, input])).runMs : runMs.tta);
  }
  if (requested.includes('mc8') && runMs.mc !== undefined) costs.mc8.push(runMs.mc);
}

/** Runs a folder of frames without ground truth through the pipeline and keeps each frame's risk. */
async function runOod(runner: PipelineRunner, folder: string, label: string, onProgress: EvalOptions['onProgress']): Promise<NonNullable<ModelRun['ood']>> {
  const frames = await listFolderFrames(folder);
  const frameRisks: number[] = [];
  const startMs = performance.now();
  for (const [sequence, frame] of frames.entries()) {
    const image = await readPngGray8(frame.imagePath);
    const result = await runner.run(`ood/${path.basename(folder)}`, sequence, image.pixels, image.width, image.height);
    frameRisks.push(result.frameRisk);
    const elapsedMs = performance.now() - startMs;
    onProgress?.({ model: label, phase: 'out-of-distribution frames', done: sequence + 1, total: frames.length, elapsedMs, etaMs: (elapsedMs / (sequence + 1)) * (frames.length - sequence - 1) });
  }
  return { folder: path.resolve(folder), frameNames: frames.map((frame) => frame.name), frameRisks };
}

/**
 * Submits frames to a pipeline in lossless mode and resolves each with its Result; a frame the
 * pipeline drops rejects with the drop's reason.
 */
class PipelineRunner {
  readonly #pipeline: Pipeline;
  readonly #waiting = new Map<string, { resolve: (result: Result) => void; reject: (error: Error) => void }>();

  constructor(pipeline: Pipeline) {
    this.#pipeline = pipeline;
    pipeline.results$.subscribe((result) => this.#settle(result.streamId, result.sequence, (waiter) => waiter.resolve(result)));
    pipeline.drops$.subscribe((drop: DropEvent) =>
      this.#settle(drop.streamId, drop.sequence, (waiter) =>
        waiter.reject(new Error(`the pipeline dropped frame ${drop.sequence} of ${drop.streamId} (${drop.reason})${drop.error ? `: ${drop.error.message}` : ''}`)),
      ),
    );
  }

  run(streamId: string, sequence: number, gray8: Uint8Array, width: number, height: number, mask?: Uint8Array): Promise<Result> {
    const frame: Frame = {
      streamId,
      sequence,
      captureTimestampNs: BigInt(sequence) * 100_000_000n,
      receivedNs: process.hrtime.bigint(),
      pixelFormat: 'GRAY8',
      width,
      height,
      rowStrideBytes: width,
      pixels: gray8,
      ...(mask === undefined ? {} : { groundTruthMask: mask }),
    };
    const settled = new Promise<Result>((resolve, reject) => this.#waiting.set(`${streamId}#${sequence}`, { resolve, reject }));
    void this.#pipeline.submit(frame, 'lossless');
    return settled;
  }

  #settle(streamId: string, sequence: number, action: (waiter: { resolve: (result: Result) => void; reject: (error: Error) => void }) => void): void {
    const key = `${streamId}#${sequence}`;
    const waiter = this.#waiting.get(key);
    if (waiter === undefined) return;
    this.#waiting.delete(key);
    action(waiter);
  }
}
