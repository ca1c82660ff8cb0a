// SHA-256 verification of the ONNX files a manifest lists.

import type { ModelManifest } from './manifest.js';
import { PipelineError } from './errors.js';

/** Checks every file in manifest.files against its SHA-256; throws ERR_MODEL_CHECKSUM naming the file. */
export async function verifyModelFiles(manifest: ModelManifest): Promise<void> {
  throw new PipelineError('ERR_NOT_IMPLEMENTED', `verifyModelFiles(${manifest.dir})`);
}
