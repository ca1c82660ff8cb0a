// createPipeline: loads and verifies the model, creates the session, wires the stages.

import type { Pipeline, PipelineOptions } from './index.js';
import { PipelineError } from './errors.js';

/** Loads the manifest in o.modelDir, verifies each ONNX file's SHA-256, creates the session and warms it up. */
export async function createPipeline(o: PipelineOptions): Promise<Pipeline> {
  throw new PipelineError('ERR_NOT_IMPLEMENTED', `createPipeline(${o.modelDir})`);
}
