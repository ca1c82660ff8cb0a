// Command-line options of `segwithu-live eval`: one table gives each option's flag, unit and
// default; --help is generated from it, and an invalid value is rejected with an OptionError
// naming the flag, the value and the fix.

import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { OptionError } from '../../stream/errors.js';
import { formatOptions, parseInteger, parseList, readOptions, type OptionSpec } from '../../stream/cli-options.js';
import { SAMPLING_BASELINES, type SamplingBaseline } from './baselines.js';
import { CORRUPTION_IDS, type CorruptionId, type Severity } from './corruptions.js';
import type { SplitPart } from './inputs.js';
import { runEval, type EvalOptions } from './runner.js';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/** Dataset folder: $SEGWITHU_DATA_DIR, else ../shared/data beside the repository. */
export const DATA_DIR = process.env.SEGWITHU_DATA_DIR ?? path.join(REPO_ROOT, '../shared/data');
const DEFAULT_MODEL_DIR = path.join(REPO_ROOT, 'models/carotid');

const EVAL_OPTIONS: readonly OptionSpec[] = [
  { flag: 'input', valueName: 'DIR|FILE', help: 'Frames to evaluate: a folder with images/, masks/ and manifest.csv, or an .mcap recording with ground truth. Without it: the test clips of the carotid dataset.', defaultText: '$SEGWITHU_DATA_DIR/ccaui-carotid with --split-part test' },
  { flag: 'clips', valueName: 'IDS', help: 'Only these clip ids of the folder (comma-separated).', defaultText: 'every clip' },
  { flag: 'split-part', valueName: 'PART', help: "Only the clips of this part of the model folder's split.json: train, validation or test." },
  { flag: 'model-dir', env: 'SEGWITHU_MODEL_DIR', valueName: 'DIR', help: 'Model folder: manifest.json, segwithu.onnx, backbone.onnx, mc_dropout.onnx.', defaultText: 'models/carotid' },
  { flag: 'compare-model-dir', valueName: 'DIR', help: 'A second model folder, evaluated on the same frames and reported beside the first with differences.' },
  { flag: 'out', valueName: 'DIR', help: 'Folder for report.json, summary.md and the SVG plots.', defaultText: 'eval-report' },
  { flag: 'corruptions', valueName: 'LIST', help: `Corruption families (comma-separated), all or none: ${CORRUPTION_IDS.join(', ')}.`, defaultText: 'all' },
  { flag: 'severities', valueName: 'LIST', help: 'Corruption severities (comma-separated, from 1, 2, 3).', defaultText: '1,2,3' },
  { flag: 'corruption-stride', valueName: 'N', help: 'Corrupt only every Nth frame of each clip; every clean frame is kept.', defaultText: '1' },
  { flag: 'baselines', valueName: 'LIST', help: `Sampling baselines (comma-separated) or none: ${SAMPLING_BASELINES.join(', ')}.`, defaultText: SAMPLING_BASELINES.join(',') },
  { flag: 'corrupted-baselines', valueName: 'LIST', help: 'Sampling baselines run on corrupted frames (a subset of --baselines, or none); the rest run on clean frames only.', defaultText: 'the --baselines list' },
  { flag: 'ood', valueName: 'DIR', help: 'Folder of out-of-distribution frames without masks (the liver sweep): reports the share above the alarm entry.', defaultText: 'none' },
  { flag: 'timing-frames', valueName: 'N', help: 'Clean frames from the start on which each method is timed.', defaultText: '10' },
  { flag: 'replicates', valueName: 'N', help: 'Bootstrap replicates of frame-level figures.', defaultText: '1000' },
  { flag: 'pixel-replicates', valueName: 'N', help: 'Bootstrap replicates of pixel-level figures.', defaultText: '200' },
  { flag: 'max-frames-per-clip', valueName: 'N', help: 'Only the first N frames of each clip (smoke runs).', defaultText: 'every frame' },
  { flag: 'seed', valueName: 'N', help: 'Seed of the corruptions and the bootstrap.', defaultText: '0' },
  { flag: 'threads', env: 'SEGWITHU_THREADS', valueName: 'N', help: 'ONNX Runtime intra-op threads of each session.', defaultText: '2' },
  { flag: 'quiet', help: 'Print no progress lines.' },
];

export const EVAL_USAGE = `Usage: segwithu-live eval [options]

Runs frames through the pipeline and the sampling baselines (TTA, MC dropout), on clean frames
and on seeded corruptions, and writes report.json, summary.md and SVG plots: Dice, pixel error
detection (AUROC, AUPRC, AURC, E-AURC), calibration, frame failure detection and cost, each with
95% block-bootstrap intervals. Progress goes to stderr.

Options:
${formatOptions(EVAL_OPTIONS)}`;

function listOf<T extends string>(text: string, flag: string, allowed: readonly T[], allWord?: string): T[] {
  if (text === 'none') return [];
  if (allWord !== undefined && text === allWord) return [...allowed];
  const items = parseList(text);
  const unknown = items.filter((item) => !allowed.includes(item as T));
  if (unknown.length > 0) throw new OptionError(`--${flag} "${text}" names unknown ${unknown.join(', ')}; pass a comma-separated list of ${allowed.join(', ')}${allWord ? `, ${allWord}` : ''} or none`);
  return items as T[];
}

/** Turns `eval` arguments into EvalOptions; throws OptionError naming the bad value. */
export function parseEvalArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): EvalOptions & { help: boolean; quiet: boolean } {
  const { values, positionals } = readOptions(EVAL_OPTIONS, argv, env);
  if (positionals.length > 0) throw new OptionError(`eval takes no arguments, got "${positionals.join(' ')}"; pass the frames with --input`);
  const text = (flag: string): string | undefined => (typeof values[flag] === 'string' ? (values[flag] as string) : undefined);
  const integer = (flag: string, min: number, fix: string): number | undefined => {
    const value = text(flag);
    return value === undefined ? undefined : parseInteger(value, `--${flag}`, min, 1_000_000_000, fix);
  };

  const modelDir = path.resolve(text('model-dir') ?? DEFAULT_MODEL_DIR);
  let input = text('input');
  let splitPart = text('split-part') as SplitPart | undefined;
  if (splitPart !== undefined && !['train', 'validation', 'test'].includes(splitPart)) {
    throw new OptionError(`--split-part "${splitPart}" is not a part of split.json; pass train, validation or test`);
  }
  const clips = text('clips') === undefined ? undefined : parseList(text('clips')!);
  if (clips !== undefined && splitPart !== undefined) throw new OptionError('--clips and --split-part both pick clips; pass one of them');
  if (input === undefined) {
    input = path.join(DATA_DIR, 'ccaui-carotid');
    if (clips === undefined) splitPart ??= 'test';
  }

  const severities = text('severities') === undefined ? undefined : parseList(text('severities')!).map((item) => {
    if (!['1', '2', '3'].includes(item)) throw new OptionError(`--severities "${text('severities')}" is not a list of 1, 2 and 3; pass for example 1,3`);
    return Number(item) as Severity;
  });
  const splitFile = path.join(modelDir, 'split.json');

  const options: EvalOptions & { help: boolean; quiet: boolean } = {
    help: values.help === true,
    quiet: values.quiet === true,
    input: path.resolve(input),
    modelDir,
    outDir: path.resolve(text('out') ?? 'eval-report'),
    command: ['segwithu-live', 'eval', ...argv].join(' '),
  };
  if (clips !== undefined) options.clips = clips;
  if (splitPart !== undefined) {
    if (!existsSync(splitFile)) throw new OptionError(`--split-part needs ${splitFile}; pass --clips instead, or a model folder with split.json`);
    options.splitPart = splitPart;
    options.splitFile = splitFile;
  }
  if (text('compare-model-dir') !== undefined) options.compareModelDir = path.resolve(text('compare-model-dir')!);
  if (text('corruptions') !== undefined) options.corruptions = listOf<CorruptionId>(text('corruptions')!, 'corruptions', CORRUPTION_IDS, 'all');
  if (severities !== undefined) options.severities = severities;
  if (text('baselines') !== undefined) options.baselines = listOf<SamplingBaseline>(text('baselines')!, 'baselines', SAMPLING_BASELINES);
  if (text('corrupted-baselines') !== undefined) options.corruptedBaselines = listOf<SamplingBaseline>(text('corrupted-baselines')!, 'corrupted-baselines', SAMPLING_BASELINES);
  if (text('ood') !== undefined && text('ood') !== 'none') options.oodFolder = path.resolve(text('ood')!);
  options.corruptionStride = integer('corruption-stride', 1, 'pass a frame count, for example 2');
  options.timingFrames = integer('timing-frames', 0, 'pass a frame count, for example 10');
  options.replicates = integer('replicates', 1, 'pass a count, for example 1000');
  options.pixelReplicates = integer('pixel-replicates', 1, 'pass a count, for example 200');
  options.maxFramesPerClip = integer('max-frames-per-clip', 1, 'pass a frame count, for example 5');
  options.seed = integer('seed', 0, 'pass a non-negative integer');
  options.intraOpThreads = integer('threads', 1, 'pass the number of threads, for example 2');
  for (const key of Object.keys(options) as (keyof EvalOptions)[]) if (options[key] === undefined) delete options[key];
  return options;
}

/** Formats a progress line: model, phase, frames done of total, rate and estimated time left. */
export function formatProgress(progress: { model: string; phase: string; done: number; total: number; elapsedMs: number; etaMs: number }): string {
  const minutes = (ms: number): string => `${Math.floor(ms / 60_000)}m${String(Math.round((ms % 60_000) / 1000)).padStart(2, '0')}s`;
  const perFrame = progress.elapsedMs / Math.max(1, progress.done) / 1000;
  return `eval ${progress.model}: ${progress.phase} ${progress.done}/${progress.total} (${((100 * progress.done) / progress.total).toFixed(1)}%), ${perFrame.toFixed(2)} s/frame, elapsed ${minutes(progress.elapsedMs)}, ETA ${minutes(progress.etaMs)}`;
}

/**
 * Runs `segwithu-live eval` with these arguments: progress lines go to `err`, the summary's
 * path and the headline figures to `out`. Returns the exit code.
 */
export async function runEvalCommand(argv: string[], out: (text: string) => void, err: (text: string) => void): Promise<number> {
  const options = parseEvalArgs(argv);
  if (options.help) {
    out(EVAL_USAGE);
    return 0;
  }

  let lastPrintMs = 0;
  const { files, report } = await runEval({
    ...options,
    onProgress: (progress) => {
      const now = performance.now();
      if (options.quiet || (now - lastPrintMs < 5000 && progress.done !== progress.total && progress.done !== 1)) return;
      lastPrintMs = now;
      err(formatProgress(progress));
    },
  });

  const figure = (value: number | undefined, digits: number): string => (value === undefined || !Number.isFinite(value) ? 'n/a' : value.toFixed(digits));
  for (const model of report.models) {
    const pixels = model.pixel_error_detection.clean?.image.methods;
    const dice = figure(model.frame_failure.clean?.dice_mean.estimate, 4);
    const rank = figure(pixels?.segwithu?.auroc.estimate, 4);
    const entropy = figure(pixels?.entropy?.auroc.estimate, 4);
    const frames = figure(model.frame_failure.clean_and_corrupted?.auroc_frame_risk.estimate, 3);
    out(`${model.model.id} ${model.model.version}: clean Dice ${dice}; clean pixel AUROC rank ${rank}, entropy ${entropy}; frame failure AUROC ${frames} (clean + corrupted)`);
  }
  out(`wrote ${files.length} files to ${options.outDir}: ${files.map((file) => path.basename(file)).join(', ')}`);
  return 0;
}
