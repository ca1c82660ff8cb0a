// The model manifest (models/<name>/manifest.json, schema_version 1): which ONNX files make up
// the model, their SHA-256, the input geometry and normalisation, output names and the alarm
// defaults. loadManifest validates every field the pipeline relies on, so a bad manifest fails
// at start-up with the field's name instead of as a wrong result later.

import { readFile } from 'node:fs/promises';
import path from 'node:path';

import { PipelineError } from './errors.js';

export interface ModelFileEntry {
  /** Path relative to the manifest's folder. */
  path: string;
  /** Lower-case hex SHA-256 of the file's bytes. */
  sha256: string;
}

export interface ModelInputSpec {
  /** Name of the graph input, float32 [N, 1, height, width]. */
  name: string;
  width: number;
  height: number;
  /** Normalisation applied after scaling grey values to [0, 1]: (p / 255 - mean) / std. */
  mean: number;
  std: number;
  /** Raw grey value (0..255) of the letterbox padding, before normalisation. */
  letterbox_pad_value: number;
}

export interface ModelOutputNames {
  logits: string;
  rank: string;
  calibration: string;
  epistemic: string;
  aleatoric: string;
  error_probability: string;
  frame_risk: string;
}

export interface AlarmThresholds {
  enter: number;
  exit: number;
  enter_frames: number;
  exit_frames: number;
}

export interface ModelManifest {
  schema_version: 1;
  model: { id: string; version: string };
  files: { segwithu: ModelFileEntry; backbone?: ModelFileEntry; mc_dropout?: ModelFileEntry } & Record<string, ModelFileEntry>;
  input: ModelInputSpec;
  classes: string[];
  outputs: ModelOutputNames;
  tempering: string;
  error_probability_mapping?: unknown;
  frame_risk_model?: unknown;
  failure_dice_threshold?: number;
  alarm: AlarmThresholds;
  /** Pixel spacing range of the training data; null when the data declared none. */
  pixel_spacing_mm: { min: number; max: number } | null;
  training_data?: unknown;
  test_metrics?: unknown;
  /** Absolute folder the manifest was loaded from; added by loadManifest, not part of the file. */
  dir: string;
}

const OUTPUT_KEYS: readonly (keyof ModelOutputNames)[] = [
  'logits', 'rank', 'calibration', 'epistemic', 'aleatoric', 'error_probability', 'frame_risk',
];

/** Reads and validates `<dir>/manifest.json`. Throws ERR_MANIFEST_NOT_FOUND or ERR_MANIFEST_INVALID naming the field. */
export async function loadManifest(dir: string): Promise<ModelManifest> {
  const absoluteDir = path.resolve(dir);
  const file = path.join(absoluteDir, 'manifest.json');

  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new PipelineError(
      'ERR_MANIFEST_NOT_FOUND',
      `model manifest ${file} could not be read (${(error as Error).message}); point modelDir at a folder with manifest.json, for example models/carotid`,
      { cause: error },
    );
  }

  let raw: unknown;
  try {
    raw = JSON.parse(replacePythonNonFinite(text));
  } catch (error) {
    throw new PipelineError('ERR_MANIFEST_INVALID', `model manifest ${file} is not valid JSON: ${(error as Error).message}`, { cause: error });
  }

  return { ...validateManifest(raw, file), dir: absoluteDir };
}

/**
 * Replaces the bare tokens NaN, Infinity and -Infinity with null. Python's json module writes
 * them by default (for example an AUROC that is undefined on a one-class fit), and standard JSON
 * has no such values. Strings are matched first so their contents are left alone. A field the
 * pipeline needs then fails validation as "a finite number" instead of failing the whole parse.
 */
function replacePythonNonFinite(text: string): string {
  return text.replace(/"(?:[^"\\]|\\.)*"|-?Infinity|NaN/g, (token) => (token.startsWith('"') ? token : 'null'));
}

/** Checks the parsed manifest field by field; `file` only names the source in messages. */
export function validateManifest(raw: unknown, file: string): Omit<ModelManifest, 'dir'> {
  const fail = (field: string, expected: string, value: unknown): never => {
    throw new PipelineError(
      'ERR_MANIFEST_INVALID',
      `model manifest ${file}: field ${field} must be ${expected}, got ${JSON.stringify(value)}; re-export the model or fix the manifest`,
    );
  };
  const object = (value: unknown, field: string): Record<string, unknown> =>
    typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : fail(field, 'an object', value);
  const string = (value: unknown, field: string): string => (typeof value === 'string' && value.length > 0 ? value : fail(field, 'a non-empty string', value));
  const finite = (value: unknown, field: string): number => (typeof value === 'number' && Number.isFinite(value) ? value : fail(field, 'a finite number', value));
  const positiveInteger = (value: unknown, field: string): number =>
    Number.isInteger(value) && (value as number) > 0 ? (value as number) : fail(field, 'a positive integer', value);

  const top = object(raw, '(root)');
  if (top.schema_version !== 1) fail('schema_version', '1', top.schema_version);

  const model = object(top.model, 'model');
  string(model.id, 'model.id');
  string(model.version, 'model.version');

  const files = object(top.files, 'files');
  if (files.segwithu === undefined) fail('files.segwithu', 'an entry {path, sha256}', undefined);
  for (const [key, value] of Object.entries(files)) {
    const entry = object(value, `files.${key}`);
    string(entry.path, `files.${key}.path`);
    if (typeof entry.sha256 !== 'string' || !/^[0-9a-f]{64}$/i.test(entry.sha256)) fail(`files.${key}.sha256`, '64 hex digits', entry.sha256);
  }

  const input = object(top.input, 'input');
  string(input.name, 'input.name');
  positiveInteger(input.width, 'input.width');
  positiveInteger(input.height, 'input.height');
  finite(input.mean, 'input.mean');
  if (finite(input.std, 'input.std') <= 0) fail('input.std', 'a positive number', input.std);
  const pad = finite(input.letterbox_pad_value, 'input.letterbox_pad_value');
  if (pad < 0 || pad > 255) fail('input.letterbox_pad_value', 'a grey value in 0..255', pad);

  if (!Array.isArray(top.classes) || top.classes.length < 2 || !top.classes.every((c) => typeof c === 'string')) {
    fail('classes', 'a list of at least two class names (background first)', top.classes);
  }

  const outputs = object(top.outputs, 'outputs');
  for (const key of OUTPUT_KEYS) string(outputs[key], `outputs.${key}`);

  const alarm = object(top.alarm, 'alarm');
  const enter = finite(alarm.enter, 'alarm.enter');
  const exit = finite(alarm.exit, 'alarm.exit');
  if (exit > enter) fail('alarm.exit', `at most alarm.enter (${enter})`, exit);
  positiveInteger(alarm.enter_frames, 'alarm.enter_frames');
  positiveInteger(alarm.exit_frames, 'alarm.exit_frames');

  if (top.pixel_spacing_mm !== null && top.pixel_spacing_mm !== undefined) {
    const spacing = object(top.pixel_spacing_mm, 'pixel_spacing_mm');
    const min = finite(spacing.min, 'pixel_spacing_mm.min');
    const max = finite(spacing.max, 'pixel_spacing_mm.max');
    if (min <= 0 || max < min) fail('pixel_spacing_mm', 'null or {min, max} with 0 < min <= max', spacing);
  }

  return { ...(top as unknown as Omit<ModelManifest, 'dir'>), pixel_spacing_mm: (top.pixel_spacing_mm ?? null) as ModelManifest['pixel_spacing_mm'] };
}

/** Resolves a manifest file entry (segwithu, backbone, mc_dropout) to an absolute path. */
export function modelFilePath(manifest: ModelManifest, key: string): string {
  const entry = manifest.files[key];
  if (entry === undefined) {
    throw new PipelineError('ERR_MANIFEST_INVALID', `model manifest in ${manifest.dir} lists no file "${key}"; re-export the model with that file`);
  }
  return path.resolve(manifest.dir, entry.path);
}
