// SHA-256 verification of the ONNX files a manifest lists, so that a model file that was
// replaced, truncated or left as a Git LFS pointer fails at start-up with its name.

import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';

import type { ModelManifest } from './manifest.js';
import { modelFilePath } from './manifest.js';
import { PipelineError } from './errors.js';

/** Returns the lower-case hex SHA-256 of a file, read as a stream. */
export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * Checks every file in manifest.files against its SHA-256. Throws ERR_MODEL_FILE_NOT_FOUND for a
 * missing file and ERR_MODEL_CHECKSUM naming the file, the expected and the actual hash.
 */
export async function verifyModelFiles(manifest: ModelManifest): Promise<void> {
  for (const [key, entry] of Object.entries(manifest.files)) {
    const file = modelFilePath(manifest, key);

    try {
      await stat(file);
    } catch (error) {
      throw new PipelineError(
        'ERR_MODEL_FILE_NOT_FOUND',
        `model file ${file} (files.${key} in ${manifest.dir}/manifest.json) is missing; restore it or re-export the model`,
        { cause: error },
      );
    }

    const actual = await sha256File(file);
    if (actual !== entry.sha256.toLowerCase()) {
      throw new PipelineError(
        'ERR_MODEL_CHECKSUM',
        `model file ${file} has SHA-256 ${actual} but the manifest expects ${entry.sha256.toLowerCase()}; ` +
          'the file was changed or only partly copied: restore it, or re-export the model so that file and manifest agree',
      );
    }
  }
}
