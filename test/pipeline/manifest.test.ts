import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { createPipeline, loadManifest } from '../../pipeline/index.js';
import { sha256File } from '../../pipeline/checksum.js';
import { silentLogger } from './fixtures.js';

const WRONG_HASH = 'ab'.repeat(32);

function manifest(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    schema_version: 1,
    model: { id: 'test-model', version: '0.0.0' },
    files: { segwithu: { path: 'segwithu.onnx', sha256: WRONG_HASH } },
    input: { name: 'image', width: 8, height: 8, mean: 0.2, std: 0.25, letterbox_pad_value: 0 },
    classes: ['background', 'carotid_artery'],
    outputs: {
      logits: 'logits', rank: 'rank', calibration: 'calibration', epistemic: 'epistemic',
      aleatoric: 'aleatoric', error_probability: 'error_probability', frame_risk: 'frame_risk',
    },
    tempering: 'temperature = max(1, sqrt(1 + calibration))',
    alarm: { enter: 0.5, exit: 0.3, enter_frames: 3, exit_frames: 3 },
    pixel_spacing_mm: null,
    ...overrides,
  };
}

describe('model manifest', () => {
  let dir: string;

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'segwithu-manifest-'));
    await writeFile(path.join(dir, 'segwithu.onnx'), 'not really a model');
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('checksum mismatch names file and hashes', async () => {
    await writeFile(path.join(dir, 'manifest.json'), JSON.stringify(manifest()));
    const actual = await sha256File(path.join(dir, 'segwithu.onnx'));

    const error = await createPipeline({ modelDir: dir, logger: silentLogger }).then(
      () => undefined,
      (e: unknown) => e as Error & { code?: string },
    );
    expect(error).toBeInstanceOf(Error);
    expect(error?.code).toBe('ERR_MODEL_CHECKSUM');
    expect(error?.message).toContain(path.join(dir, 'segwithu.onnx'));
    expect(error?.message).toContain(`SHA-256 ${actual}`);
    expect(error?.message).toContain(`expects ${WRONG_HASH}`);
  });

  it('missing model file is named', async () => {
    await writeFile(path.join(dir, 'manifest.json'), JSON.stringify(manifest({ files: { segwithu: { path: 'absent.onnx', sha256: WRONG_HASH } } })));
    await expect(createPipeline({ modelDir: dir, logger: silentLogger })).rejects.toMatchObject({ code: 'ERR_MODEL_FILE_NOT_FOUND', message: expect.stringContaining('absent.onnx') });
  });

  it('invalid field is named', async () => {
    await writeFile(path.join(dir, 'manifest.json'), JSON.stringify(manifest({ input: { name: 'image', width: 8, height: 8, mean: 0, std: 0, letterbox_pad_value: 0 } })));
    await expect(loadManifest(dir)).rejects.toMatchObject({ code: 'ERR_MANIFEST_INVALID', message: expect.stringContaining('input.std') });
  });

  it('Python NaN tokens read as null', async () => {
    const text = JSON.stringify(manifest({ frame_risk_model: { auroc: 'NaN-marker', note: 'NaN stays in strings' } }))
      .replace('"NaN-marker"', 'NaN');
    await writeFile(path.join(dir, 'manifest.json'), text);
    const loaded = await loadManifest(dir);
    expect(loaded.frame_risk_model).toEqual({ auroc: null, note: 'NaN stays in strings' });
  });

  it('NaN in a needed field is named', async () => {
    const text = JSON.stringify(manifest()).replace('"mean":0.2', '"mean":NaN');
    await writeFile(path.join(dir, 'manifest.json'), text);
    await expect(loadManifest(dir)).rejects.toMatchObject({ code: 'ERR_MANIFEST_INVALID', message: expect.stringContaining('input.mean') });
  });

  it('missing manifest says where', async () => {
    await expect(loadManifest(path.join(dir, 'nowhere'))).rejects.toMatchObject({ code: 'ERR_MANIFEST_NOT_FOUND' });
  });
});
