// The model manifest (models/<name>/manifest.json, schema_version 1): which ONNX files make up
// the model, their SHA-256, the input geometry and normalisation, output names and the alarm
// defaults. Loading validates every field the pipeline relies on.

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
  /** The absolute folder the manifest was loaded from (added by loadManifest). */
  dir: string;
}

/** Reads and validates `<dir>/manifest.json`. Throws ERR_MANIFEST_INVALID naming the bad field. */
export async function loadManifest(dir: string): Promise<ModelManifest> {
  throw new PipelineError('ERR_NOT_IMPLEMENTED', `loadManifest(${dir}) is not implemented yet`);
}

/** Resolves a manifest file entry to an absolute path. */
export function modelFilePath(manifest: ModelManifest, key: string): string {
  const entry = manifest.files[key];
  if (entry === undefined) {
    throw new PipelineError('ERR_MANIFEST_INVALID', `manifest in ${manifest.dir} lists no file "${key}"`);
  }
  return path.resolve(manifest.dir, entry.path);
}
