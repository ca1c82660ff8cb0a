// Parity of the exported ONNX model with PyTorch: the recipe saved synthetic inputs and the
// PyTorch outputs (every 4th pixel in each direction) next to the model; onnxruntime-node
// must reproduce each output to within 1e-4 of that output's largest magnitude.
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';

const modelDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../models/carotid');
const RELATIVE_TOLERANCE = 1e-4;
const MAX_TOTAL_ONNX_BYTES = 20 * 1024 * 1024;

interface ParityIndex {
  input: { file: string; shape: number[] };
  stride: number;
  outputs: Record<string, { file: string; full_shape: number[]; stored_shape: number[] }>;
}

function readFloat32(file: string): Float32Array {
  const bytes = readFileSync(path.join(modelDir, 'parity', file));
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}

/** Pick every `stride`-th pixel of an [N, C, H, W] tensor, as the fixture stores it. */
function strided(data: Float32Array, shape: number[], stride: number): Float32Array {
  if (shape.length !== 4) return data;
  const [n, c, h, w] = shape;
  const hs = Math.ceil(h / stride);
  const ws = Math.ceil(w / stride);
  const out = new Float32Array(n * c * hs * ws);
  let k = 0;
  for (let i = 0; i < n * c; i++) {
    for (let y = 0; y < h; y += stride) {
      for (let x = 0; x < w; x += stride) out[k++] = data[i * h * w + y * w + x];
    }
  }
  return out;
}

describe('exported model', () => {
  const manifest = JSON.parse(readFileSync(path.join(modelDir, 'manifest.json'), 'utf8'));

  it('matches manifest checksums and size budget', () => {
    let total = 0;
    for (const [name, file] of Object.entries<{ path: string; sha256: string }>(manifest.files)) {
      const bytes = readFileSync(path.join(modelDir, file.path));
      total += statSync(path.join(modelDir, file.path)).size;
      expect(createHash('sha256').update(bytes).digest('hex'), `${name} checksum`).toBe(file.sha256);
    }
    expect(total).toBeLessThanOrEqual(MAX_TOTAL_ONNX_BYTES);
  });

  it('reproduces PyTorch outputs in onnxruntime-node', async () => {
    const index: ParityIndex = JSON.parse(readFileSync(path.join(modelDir, 'parity', 'parity.json'), 'utf8'));
    const session = await ort.InferenceSession.create(path.join(modelDir, manifest.files.segwithu.path), {
      graphOptimizationLevel: 'all',
      intraOpNumThreads: 2,
    });
    const input = new ort.Tensor('float32', readFloat32(index.input.file), index.input.shape);
    const results = await session.run({ [manifest.input.name]: input });

    expect(Object.keys(index.outputs).sort()).toEqual(Object.values<string>(manifest.outputs).sort());
    for (const [name, spec] of Object.entries(index.outputs)) {
      const actual = results[name];
      expect(actual, `output ${name} missing`).toBeDefined();
      expect(Array.from(actual.dims), `${name} shape`).toEqual(spec.full_shape);
      const got = strided(actual.data as Float32Array, spec.full_shape, index.stride);
      const want = readFloat32(spec.file);
      expect(got.length, `${name} stored length`).toBe(want.length);
      let largest = 0;
      let worst = 0;
      for (let i = 0; i < want.length; i++) {
        largest = Math.max(largest, Math.abs(want[i]));
        worst = Math.max(worst, Math.abs(got[i] - want[i]));
      }
      expect(worst, `${name}: max |onnx - torch| vs largest magnitude ${largest}`).toBeLessThanOrEqual(
        RELATIVE_TOLERANCE * Math.max(largest, 1e-12),
      );
    }
  });

  it('draws new dropout masks per run', async () => {
    const session = await ort.InferenceSession.create(path.join(modelDir, manifest.files.mc_dropout.path));
    const size = manifest.input.width * manifest.input.height;
    const input = new ort.Tensor('float32', new Float32Array(size).fill(0.5), [1, 1, manifest.input.height, manifest.input.width]);
    const first = (await session.run({ image: input })).logits.data as Float32Array;
    const second = (await session.run({ image: input })).logits.data as Float32Array;
    let differing = 0;
    for (let i = 0; i < first.length; i++) if (first[i] !== second[i]) differing++;
    expect(differing).toBeGreaterThan(0);
  });
});
