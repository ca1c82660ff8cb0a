// ONNX Runtime for Node against the reference outputs the export wrote from PyTorch
// (models/carotid/parity): same input, outputs sampled every `stride` pixels.

import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';

import { expect, it } from 'vitest';

import { loadManifest } from '../../pipeline/manifest.js';
import { createModelSession } from '../../pipeline/model-session.js';
import { describeWithModel, MODEL_DIR } from './fixtures.js';

interface ParitySpec {
  input: { file: string; shape: number[] };
  stride: number;
  outputs: Record<string, { file: string; full_shape: number[]; stored_shape: number[] }>;
}

const PARITY_DIR = path.join(MODEL_DIR, 'parity');

async function readFloat32(file: string): Promise<Float32Array> {
  const bytes = await readFile(file);
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}

/** Samples a [N, C, H, W] tensor every `stride` pixels in H and W, as the reference was stored. */
function sample(full: Float32Array, shape: number[], stride: number): Float32Array {
  if (shape.length === 1) return full;
  const [n, c, h, w] = shape;
  const sh = Math.ceil(h / stride);
  const sw = Math.ceil(w / stride);
  const out = new Float32Array(n * c * sh * sw);
  let k = 0;
  for (let plane = 0; plane < n * c; plane++) {
    for (let y = 0; y < h; y += stride) {
      for (let x = 0; x < w; x += stride) out[k++] = full[plane * h * w + y * w + x];
    }
  }
  return out;
}

const maxDeviation = (actual: Float32Array, expected: Float32Array): number =>
  expected.reduce((worst, value, i) => Math.max(worst, Math.abs(actual[i] - value) / (1 + Math.abs(value))), 0);

describeWithModel('ONNX export parity', { timeout: 60_000 }, () => {
  it.skipIf(!existsSync(path.join(PARITY_DIR, 'parity.json')))('outputs match PyTorch reference', async () => {
    const spec = JSON.parse(await readFile(path.join(PARITY_DIR, 'parity.json'), 'utf8')) as ParitySpec;
    const manifest = await loadManifest(MODEL_DIR);
    const session = await createModelSession(manifest, { executionProviders: ['cpu'], intraOpThreads: 2, graphOptimizationLevel: 'all' });

    try {
      const input = await readFloat32(path.join(PARITY_DIR, spec.input.file));
      const batch = spec.input.shape[0];
      const outputs = await session.run(input, batch);
      const checked = { logits: outputs.logits, calibration: outputs.calibration, error_probability: outputs.errorProbability, frame_risk: outputs.frameRisk };

      for (const [name, actual] of Object.entries(checked)) {
        const reference = spec.outputs[name];
        const expected = await readFloat32(path.join(PARITY_DIR, reference.file));
        // Relative to 1 + |value|: float32 kernels differ between PyTorch and ONNX Runtime.
        expect(maxDeviation(sample(actual, reference.full_shape, spec.stride), expected), name).toBeLessThan(1e-3);
      }
    } finally {
      await session.release();
    }
  });
});
