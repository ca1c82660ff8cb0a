// Shared fixtures for the pipeline tests: the model folder, synthetic frames, a gate that
// delays session runs, and a seeded random generator. Nothing here comes from a dataset.

import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { pino } from 'pino';
import { describe } from 'vitest';

import type { Frame, PixelFormat } from '../../pipeline/types.js';
import type { RunBatch } from '../../pipeline/index.js';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** The committed model; SEGWITHU_MODEL_DIR points the tests at another folder with the same contract. */
export const MODEL_DIR = process.env.SEGWITHU_MODEL_DIR ?? path.join(REPO_ROOT, 'models/carotid');
export const MODEL_AVAILABLE = existsSync(path.join(MODEL_DIR, 'manifest.json'));

if (!MODEL_AVAILABLE) {
  const message = `no model manifest at ${MODEL_DIR}/manifest.json: the pipeline tests that need a real ONNX Runtime session are skipped. ` +
    'Commit the exported model to models/carotid (or set SEGWITHU_MODEL_DIR to a folder with manifest.json and its ONNX files).';
  if (process.env.CI === 'true') throw new Error(`${message} Under CI=true a missing model fails the run.`);
  console.warn(message);
}

/** describe() when the model is there, describe.skip() otherwise. */
export const describeWithModel = MODEL_AVAILABLE ? describe : describe.skip;

export const silentLogger = pino({ level: 'silent' });

export const FRAME_WIDTH = 709;
export const FRAME_HEIGHT = 749;

/** Builds a synthetic B-mode-like GRAY8 frame: a textured background with a dark disc shifted by `sequence`. */
export function syntheticFrame(streamId: string, sequence: number, overrides: Partial<Frame> = {}): Frame {
  const width = FRAME_WIDTH;
  const height = FRAME_HEIGHT;
  const pixels = new Uint8Array(width * height);
  const centreX = 350 + (sequence % 20);
  const centreY = 380;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const inside = (x - centreX) ** 2 + (y - centreY) ** 2 < 60 ** 2;
      const texture = (x * 31 + y * 17 + ((x * y) % 13) * 7) % 64;
      pixels[y * width + x] = inside ? 10 + (texture >> 3) : 90 + texture;
    }
  }
  return {
    streamId,
    sequence,
    captureTimestampNs: BigInt(sequence) * 33_000_000n,
    receivedNs: process.hrtime.bigint(),
    pixelFormat: 'GRAY8' as PixelFormat,
    width,
    height,
    rowStrideBytes: width,
    pixels,
    ...overrides,
  };
}

/** Holds every run until opened; counts the runs that started. */
export class RunGate {
  #open = false;
  #waiters: (() => void)[] = [];
  started = 0;

  wrap = (run: RunBatch): RunBatch => async (input, batchSize) => {
    this.started++;
    if (!this.#open) await new Promise<void>((resolve) => this.#waiters.push(resolve));
    return run(input, batchSize);
  };

  open(): void {
    this.#open = true;
    for (const resolve of this.#waiters.splice(0)) resolve();
  }
}

/** Resolves after the current event-loop turn, once timers of 0 ms and immediates have run. */
export const nextTurn = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 5));

/** Resolves when `condition` holds, polling every 5 ms; rejects after timeoutMs. */
export async function until(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const start = performance.now();
  while (!condition()) {
    if (performance.now() - start > timeoutMs) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Mulberry32: a small seeded generator so random test patterns repeat exactly. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
