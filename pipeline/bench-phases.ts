// The measurements behind pipeline/bench.ts. Each phase returns numbers; bench.ts turns them
// into the table. Frames are synthetic 709 × 749 GRAY8, generated once and reused.

import * as ort from 'onnxruntime-node';
import type { Logger } from 'pino';

import type { Frame } from './types.js';
import type { ModelManifest } from './manifest.js';
import { modelFilePath } from './manifest.js';
import { createModelSession, ortSessionOptions, type SessionOptions } from './model-session.js';
import { createPipeline } from './create-pipeline.js';
import type { DropReason } from './types.js';
import { DROP_REASONS } from './types.js';
import type { Pipeline, PipelineOptions } from './index.js';

const FRAME_WIDTH = 709;
/** Minimum number of runs in a throughput window or timing loop, however slow the model, because fewer make the rate mostly noise. */
const MIN_RUNS = 6;
const FRAME_HEIGHT = 749;

/** Eight distinct synthetic frames' pixels: a textured background with a dark disc that moves. */
const FRAME_PIXELS: Uint8Array[] = Array.from({ length: 8 }, (_, k) => {
  const pixels = new Uint8Array(FRAME_WIDTH * FRAME_HEIGHT);
  for (let y = 0; y < FRAME_HEIGHT; y++) {
    for (let x = 0; x < FRAME_WIDTH; x++) {
      const inside = (x - 340 - 4 * k) ** 2 + (y - 380) ** 2 < 60 ** 2;
      const texture = (x * 31 + y * 17 + ((x * y) % 13) * 7) % 64;
      pixels[y * FRAME_WIDTH + x] = inside ? 12 + (texture >> 3) : 90 + texture;
    }
  }
  return pixels;
});

export function syntheticFrame(streamId: string, sequence: number): Frame {
  return {
    streamId,
    sequence,
    captureTimestampNs: BigInt(Date.now()) * 1_000_000n,
    receivedNs: process.hrtime.bigint(),
    pixelFormat: 'GRAY8',
    width: FRAME_WIDTH,
    height: FRAME_HEIGHT,
    rowStrideBytes: FRAME_WIDTH,
    pixels: FRAME_PIXELS[sequence % FRAME_PIXELS.length],
  };
}

/** Nearest-rank percentile of unsorted values; NaN for none. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

const median = (values: number[]): number => percentile(values, 50);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function modelInput(manifest: ModelManifest, batch: number): Float32Array {
  // A real letterboxed frame would cost the same: the graph does not branch on values.
  const { width, height } = manifest.input;
  const input = new Float32Array(batch * width * height);
  for (let i = 0; i < input.length; i++) input[i] = Math.sin(i * 0.001);
  return input;
}

/** Measures raw session throughput at one batch size, in frames per second, and the median run in ms. */
export async function rawThroughput(manifest: ModelManifest, session: SessionOptions, batch: number, seconds: number): Promise<{ framesPerSecond: number; medianRunMs: number }> {
  const model = await createModelSession(manifest, session);
  try {
    const input = modelInput(manifest, batch);
    await model.run(input, batch);

    const runsMs: number[] = [];
    const start = performance.now();
    while (performance.now() - start < seconds * 1000 || runsMs.length < MIN_RUNS) {
      const t = performance.now();
      await model.run(input, batch);
      runsMs.push(performance.now() - t);
    }
    const elapsedMs = performance.now() - start;
    return { framesPerSecond: (runsMs.length * batch * 1000) / elapsedMs, medianRunMs: median(runsMs) };
  } finally {
    await model.release();
  }
}

/**
 * Measures the median batch-1 run time of backbone.onnx and of segwithu.onnx (every output
 * fetched), run alternately so that load from other processes hits both alike.
 */
export async function headCost(manifest: ModelManifest, session: SessionOptions, seconds: number): Promise<{ backboneMs: number; segwithuMs: number }> {
  const options = ortSessionOptions(session);
  const backbone = await ort.InferenceSession.create(modelFilePath(manifest, 'backbone'), options);
  const segwithu = await ort.InferenceSession.create(modelFilePath(manifest, 'segwithu'), options);
  try {
    const { width, height, name } = manifest.input;
    const feeds = { [name]: new ort.Tensor('float32', modelInput(manifest, 1), [1, 1, height, width]) };
    await backbone.run(feeds);
    await segwithu.run(feeds);

    const backboneMs: number[] = [];
    const segwithuMs: number[] = [];
    const start = performance.now();
    while (performance.now() - start < seconds * 1000 || backboneMs.length < MIN_RUNS) {
      let t = performance.now();
      await backbone.run(feeds);
      backboneMs.push(performance.now() - t);
      t = performance.now();
      await segwithu.run(feeds);
      segwithuMs.push(performance.now() - t);
    }
    return { backboneMs: median(backboneMs), segwithuMs: median(segwithuMs) };
  } finally {
    await backbone.release();
    await segwithu.release();
  }
}

async function withPipeline<T>(options: PipelineOptions, body: (pipeline: Pipeline) => Promise<T>): Promise<T> {
  const pipeline = await createPipeline(options);
  try {
    return await body(pipeline);
  } finally {
    await pipeline.close(5000);
  }
}

/** Counts the frames after the first run and the seconds from that run's end to the last run's end (a steady-state rate). */
function steadyRate(runs: { endMs: number; frames: number }[]): { frames: number; seconds: number } {
  if (runs.length < 2) return { frames: 0, seconds: 0 };
  const frames = runs.slice(1).reduce((sum, run) => sum + run.frames, 0);
  return { frames, seconds: (runs[runs.length - 1].endMs - runs[0].endMs) / 1000 };
}

export interface OverheadReport {
  rawFramesPerSecond: number;
  pipelineFramesPerSecond: number;
  /** Median over rounds of pipeline / raw, so a single round slowed by another process barely moves it. */
  ratio: number;
  /** Pipeline / raw per round, to show how much the shared machine moved the figure. */
  roundRatios: number[];
  meanBatch: number;
}

/**
 * Measures the raw session at maxBatch against the pipeline fed a lossless replay as fast as it takes frames,
 * in alternating windows (raw, pipeline, raw, ...) so that load from other processes falls on
 * both alike. Each window lasts windowSeconds and at least MIN_RUNS runs. Its rate counts the
 * frames after its first run, over the time from that run's end to the last run's end, so
 * start-up of a window is left out on both sides.
 */
export async function pipelineOverhead(manifest: ModelManifest, session: SessionOptions, options: PipelineOptions, maxBatch: number, windowSeconds: number, rounds: number): Promise<OverheadReport> {
  const raw = await createModelSession(manifest, session);
  const pipeline = await createPipeline({ ...options, maxBatch });
  try {
    const input = modelInput(manifest, maxBatch);
    await raw.run(input, maxBatch);

    let pipelineRuns: { endMs: number; frames: number }[] = [];
    let lastEndNs = -1n;
    pipeline.results$.subscribe((result) => {
      // Frames of one batch share inferenceEndNs; only differences between run ends are used.
      if (result.timestamps.inferenceEndNs !== lastEndNs) {
        lastEndNs = result.timestamps.inferenceEndNs;
        pipelineRuns.push({ endMs: Number(lastEndNs) / 1e6, frames: 0 });
      }
      pipelineRuns[pipelineRuns.length - 1].frames++;
    });

    let rawTotal = { frames: 0, seconds: 0 };
    let pipelineTotal = { frames: 0, seconds: 0 };
    const roundRatios: number[] = [];
    let sequence = 0;

    for (let round = 0; round < rounds; round++) {
      const rawRuns: { endMs: number; frames: number }[] = [];
      const rawStart = performance.now();
      while (performance.now() - rawStart < windowSeconds * 1000 || rawRuns.length < MIN_RUNS) {
        await raw.run(input, maxBatch);
        rawRuns.push({ endMs: performance.now(), frames: maxBatch });
      }

      pipelineRuns = [];
      const pipelineStart = performance.now();
      while (performance.now() - pipelineStart < windowSeconds * 1000 || pipelineRuns.length < MIN_RUNS) {
        await pipeline.submit(syntheticFrame('replay', sequence++), 'lossless');
      }
      while (pipeline.counters('replay').inFlight > 0) await sleep(2);

      const r = steadyRate(rawRuns);
      const p = steadyRate(pipelineRuns);
      rawTotal = { frames: rawTotal.frames + r.frames, seconds: rawTotal.seconds + r.seconds };
      pipelineTotal = { frames: pipelineTotal.frames + p.frames, seconds: pipelineTotal.seconds + p.seconds };
      roundRatios.push(p.frames / p.seconds / (r.frames / r.seconds));
    }

    const rawFramesPerSecond = rawTotal.frames / rawTotal.seconds;
    const pipelineFramesPerSecond = pipelineTotal.frames / pipelineTotal.seconds;
    const batches = pipeline.metrics().batchSize;
    return {
      rawFramesPerSecond,
      pipelineFramesPerSecond,
      ratio: median(roundRatios),
      roundRatios,
      meanBatch: batches.count > 0 ? batches.sum / batches.count : 0,
    };
  } finally {
    await pipeline.close(5000);
    await raw.release();
  }
}

export interface LiveRunReport {
  latencyMs: { p50: number; p99: number; max: number };
  perStream: { streamId: string; offered: number; processed: number; processedPerSecond: number; dropped: Record<DropReason, number> }[];
  meanBatch: number;
}

/**
 * Runs live streams, each sending at `fps` on its own clock for `seconds`, and measures latency
 * from submit (receivedNs) to the result's emission. Frames still in flight at the end are waited for.
 */
export async function liveRun(options: PipelineOptions, streamIds: string[], fps: number, seconds: number): Promise<LiveRunReport> {
  return withPipeline(options, async (pipeline) => {
    const latenciesMs: number[] = [];
    pipeline.results$.subscribe((result) => latenciesMs.push(Number(process.hrtime.bigint() - result.timestamps.receivedNs) / 1e6));

    const periodMs = 1000 / fps;
    const offered = new Map(streamIds.map((id) => [id, 0]));
    const senders = streamIds.map(async (streamId, index) => {
      // Offset the streams by a fraction of a period so they do not arrive in lockstep.
      const start = performance.now() + (index * periodMs) / streamIds.length;
      for (let sequence = 0; ; sequence++) {
        const due = start + sequence * periodMs;
        if (due - start > seconds * 1000) break;
        const wait = due - performance.now();
        if (wait > 0) await sleep(wait);
        void pipeline.submit(syntheticFrame(streamId, sequence), 'live');
        offered.set(streamId, sequence + 1);
      }
    });
    await Promise.all(senders);
    const runSeconds = seconds;

    const idleBy = performance.now() + 5000;
    while (streamIds.some((id) => pipeline.counters(id).inFlight > 0) && performance.now() < idleBy) await sleep(10);

    const batches = pipeline.metrics().batchSize;
    return {
      latencyMs: { p50: percentile(latenciesMs, 50), p99: percentile(latenciesMs, 99), max: Math.max(...latenciesMs) },
      perStream: streamIds.map((streamId) => {
        const c = pipeline.counters(streamId);
        return { streamId, offered: offered.get(streamId) ?? 0, processed: c.processed, processedPerSecond: c.processed / runSeconds, dropped: c.dropped };
      }),
      meanBatch: batches.count > 0 ? batches.sum / batches.count : 0,
    };
  });
}

export interface SoakReport {
  samples: { atSeconds: number; rssMiB: number }[];
  /** Seconds excluded at the start (allocator and JIT settle). */
  settleSeconds: number;
  rssAfterSettleMiB: number;
  rssEndMiB: number;
  rssMaxMiB: number;
  /** (end - after settle) / after settle, in percent. */
  growthPercent: number;
  processed: number;
}

/** Runs one live stream at `fps` for `minutes` and samples resident memory once a second. */
export async function soak(options: PipelineOptions, fps: number, minutes: number, logger: Logger): Promise<SoakReport> {
  return withPipeline(options, async (pipeline) => {
    const seconds = minutes * 60;
    // The target excludes the first minute; shorter soaks exclude their first quarter instead.
    const settleSeconds = Math.min(60, seconds / 4);
    const samples: { atSeconds: number; rssMiB: number }[] = [];
    const start = performance.now();
    const sampler = setInterval(() => {
      const atSeconds = (performance.now() - start) / 1000;
      const rssMiB = process.memoryUsage().rss / 2 ** 20;
      samples.push({ atSeconds, rssMiB });
      if (samples.length % 60 === 0) logger.info({ event: 'soak_sample', atSeconds: Math.round(atSeconds), rssMiB: Math.round(rssMiB) }, 'soak progress');
    }, 1000);

    const periodMs = 1000 / fps;
    for (let sequence = 0; ; sequence++) {
      const due = start + sequence * periodMs;
      if (due - start > seconds * 1000) break;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
      void pipeline.submit(syntheticFrame('soak', sequence), 'live');
    }
    clearInterval(sampler);

    const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / Math.max(1, values.length);
    const afterSettle = samples.filter((s) => s.atSeconds >= settleSeconds).slice(0, 5).map((s) => s.rssMiB);
    const end = samples.slice(-5).map((s) => s.rssMiB);
    const rssAfterSettleMiB = mean(afterSettle);
    const rssEndMiB = mean(end);
    return {
      samples,
      settleSeconds,
      rssAfterSettleMiB,
      rssEndMiB,
      rssMaxMiB: Math.max(...samples.filter((s) => s.atSeconds >= settleSeconds).map((s) => s.rssMiB)),
      growthPercent: (100 * (rssEndMiB - rssAfterSettleMiB)) / rssAfterSettleMiB,
      processed: pipeline.counters('soak').processed,
    };
  });
}

export const dropSummary = (dropped: Record<DropReason, number>): string =>
  DROP_REASONS.filter((reason) => dropped[reason] > 0).map((reason) => `${reason} ${dropped[reason]}`).join(', ') || 'none';
