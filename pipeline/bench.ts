// Pipeline benchmark: raw ONNX Runtime throughput, pipeline overhead, head cost, latency,
// overload fairness and memory, printed as a Markdown table with the targets beside them.
//
//   npx tsx pipeline/bench.ts --help
//
// `segwithu-live bench` calls runBench() with the same options.

import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

import * as ort from 'onnxruntime-node';
import { pino, type Logger } from 'pino';

import { loadManifest } from './manifest.js';
import { verifyModelFiles } from './checksum.js';
import type { PipelineOptions } from './index.js';
import { dropSummary, headCost, liveRun, pipelineOverhead, rawThroughput, soak, type LiveRunReport, type OverheadReport, type SoakReport } from './bench-phases.js';

/** Results per stream a live phase aims for, whatever the model's speed. */
const MIN_LIVE_RESULTS = 30;
const DEFAULT_MODEL_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../models/carotid');

export interface BenchOptions {
  /** Folder with manifest.json. Default models/carotid of this checkout. */
  modelDir?: string;
  /** Pipeline max batch, also the batch of the second raw measurement. Default 4. */
  maxBatch?: number;
  maxBatchWaitMs?: number;
  intraOpThreads?: number;
  executionProviders?: string[];
  /** Lets ONNX Runtime's threads spin-wait between runs, in every phase. Default false, as the server. */
  allowSpinning?: boolean;
  /** Seconds of each throughput window and of half of each latency phase. Default 5. */
  phaseSeconds?: number;
  /** Input rate of the latency phase and of the soak, frames per second. Default 30. */
  fps?: number;
  /** Minutes of the memory soak. Default 0.25; the memory target is stated for 10. */
  soakMinutes?: number;
  /** Stream that receives the table. Default process.stdout. */
  out?: NodeJS.WritableStream;
  logger?: Logger;
}

export interface BenchReport {
  machine: { cpu: string; cores: number; node: string; onnxruntime: string; modelId: string; modelVersion: string; input: string };
  raw: { batch1FramesPerSecond: number; batch1MedianMs: number; maxBatch: number };
  overhead: OverheadReport;
  headCost: { backboneMs: number; segwithuMs: number; ratio: number };
  latency: LiveRunReport;
  overload: LiveRunReport & { offeredPerStreamFps: number; processedRatio: number };
  soak: SoakReport;
  markdown: string;
}

export const BENCH_USAGE = `Usage: npx tsx pipeline/bench.ts [options]

Measures the pipeline on synthetic 709×749 GRAY8 frames and prints a Markdown table.

Options:
  --model-dir DIR          folder with manifest.json (default models/carotid)
  --max-batch N            pipeline max batch and the second raw batch size (default 4)
  --max-batch-wait-ms MS   longest wait for a partly filled batch, ms (default 0)
  --threads N              ONNX Runtime intra-op threads (default 2)
  --providers LIST         comma-separated execution providers (default cpu)
  --ort-spinning           let ONNX Runtime threads spin-wait between runs (default off, as the server)
  --phase-seconds S        seconds per throughput and latency phase (default 5)
  --fps F                  input rate of the latency phase and the soak, frames/s (default 30)
  --soak-minutes M         minutes of the memory soak (default 0.25; the target is for 10)
  --help                   print this text
`;

/** Parses command-line arguments into options; throws ERR_BENCH_ARGS with the offending argument. */
export function parseBenchArgs(argv: string[]): BenchOptions & { help: boolean } {
  const { values } = parseArgs({
    args: argv,
    options: {
      'model-dir': { type: 'string' },
      'max-batch': { type: 'string' },
      'max-batch-wait-ms': { type: 'string' },
      threads: { type: 'string' },
      providers: { type: 'string' },
      'ort-spinning': { type: 'boolean', default: false },
      'phase-seconds': { type: 'string' },
      fps: { type: 'string' },
      'soak-minutes': { type: 'string' },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });

  const number = (name: string, text: string | undefined, min: number): number | undefined => {
    if (text === undefined) return undefined;
    const value = Number(text);
    if (!Number.isFinite(value) || value < min) {
      throw Object.assign(new Error(`--${name} must be a number >= ${min}, got ${JSON.stringify(text)}`), { code: 'ERR_BENCH_ARGS' });
    }
    return value;
  };

  return {
    help: values.help === true,
    modelDir: values['model-dir'],
    maxBatch: number('max-batch', values['max-batch'], 1),
    maxBatchWaitMs: number('max-batch-wait-ms', values['max-batch-wait-ms'], 0),
    intraOpThreads: number('threads', values.threads, 1),
    executionProviders: values.providers?.split(',').map((p) => p.trim()).filter(Boolean),
    allowSpinning: values['ort-spinning'] === true,
    phaseSeconds: number('phase-seconds', values['phase-seconds'], 0.5),
    fps: number('fps', values.fps, 0.1),
    soakMinutes: number('soak-minutes', values['soak-minutes'], 0.05),
  };
}

const fixed = (value: number, digits = 1) => (Number.isFinite(value) ? value.toFixed(digits) : 'n/a');
const verdict = (met: boolean) => (met ? 'met' : 'missed');

/** Runs every phase, prints the table to o.out and returns the figures. */
export async function runBench(o: BenchOptions = {}): Promise<BenchReport> {
  const out = o.out ?? process.stdout;
  const logger = o.logger ?? pino({ name: 'segwithu-bench' });
  const modelDir = o.modelDir ?? DEFAULT_MODEL_DIR;
  const maxBatch = o.maxBatch ?? 4;
  const phaseSeconds = o.phaseSeconds ?? 5;
  const fps = o.fps ?? 30;
  const soakMinutes = o.soakMinutes ?? 0.25;
  const session = {
    executionProviders: o.executionProviders ?? ['cpu'],
    intraOpThreads: o.intraOpThreads ?? 2,
    graphOptimizationLevel: 'all' as const,
    allowSpinning: o.allowSpinning ?? false,
  };

  const manifest = await loadManifest(modelDir);
  await verifyModelFiles(manifest);
  const pipelineOptions: PipelineOptions = {
    modelDir,
    ...session,
    maxBatch,
    maxBatchWaitMs: o.maxBatchWaitMs ?? 0,
    logger: logger.child({ component: 'pipeline' }, { level: 'warn' }),
  };
  const phase = (name: string) => logger.info({ event: 'bench_phase', phase: name }, `bench: ${name}`);

  phase('raw throughput at batch 1');
  const raw1 = await rawThroughput(manifest, session, 1, phaseSeconds);

  phase('head cost');
  const head = await headCost(manifest, session, phaseSeconds);

  phase(`pipeline against raw at batch ${maxBatch}`);
  const overhead = await pipelineOverhead(manifest, session, pipelineOptions, maxBatch, phaseSeconds / 2, 3);

  phase(`latency at ${fps} frames/s`);
  // Each live phase lasts long enough for about MIN_LIVE_RESULTS results per stream, so that
  // percentiles and the rate ratio rest on more than a handful of frames when the model is slow.
  const capacityFps = overhead.pipelineFramesPerSecond;
  const latency = await liveRun(pipelineOptions, ['live'], fps, Math.max(phaseSeconds * 2, MIN_LIVE_RESULTS / Math.min(fps, capacityFps)));

  phase('two streams at full capacity each');
  const offeredPerStreamFps = capacityFps;
  const overloadRun = await liveRun(pipelineOptions, ['overload-a', 'overload-b'], offeredPerStreamFps, Math.max(phaseSeconds * 2, (2 * MIN_LIVE_RESULTS) / capacityFps));
  const rates = overloadRun.perStream.map((s) => s.processedPerSecond);
  const overload = { ...overloadRun, offeredPerStreamFps, processedRatio: Math.min(...rates) / Math.max(...rates) };

  phase(`memory soak, ${soakMinutes} min`);
  const soakReport = await soak(pipelineOptions, fps, soakMinutes, logger);

  const cpus = os.cpus();
  const machine = {
    cpu: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    node: process.version,
    onnxruntime: ort.env.versions.node ?? ort.env.versions.common,
    modelId: manifest.model.id,
    modelVersion: manifest.model.version,
    input: `${manifest.input.width}×${manifest.input.height}`,
  };

  const report: Omit<BenchReport, 'markdown'> = {
    machine,
    raw: { batch1FramesPerSecond: raw1.framesPerSecond, batch1MedianMs: raw1.medianRunMs, maxBatch },
    overhead,
    headCost: { ...head, ratio: head.segwithuMs / head.backboneMs },
    latency,
    overload,
    soak: soakReport,
  };
  const markdown = formatMarkdown(report, { fps, phaseSeconds, soakMinutes, session });
  out.write(markdown);
  return { ...report, markdown };
}

function formatMarkdown(
  r: Omit<BenchReport, 'markdown'>,
  run: { fps: number; phaseSeconds: number; soakMinutes: number; session: { executionProviders: string[]; intraOpThreads: number; allowSpinning: boolean } },
): string {
  const modelMs = r.raw.batch1MedianMs;
  const lat = r.latency.latencyMs;
  const live = r.latency.perStream[0];
  const over = r.overload;
  const soakIsFull = run.soakMinutes >= 10;

  const rows: [string, string, string, string][] = [
    ['raw ONNX Runtime, batch 1', `${fixed(r.raw.batch1FramesPerSecond)} frames/s (median run ${fixed(modelMs)} ms)`, 'context', ''],
    [`raw ONNX Runtime, batch ${r.raw.maxBatch}`, `${fixed(r.overhead.rawFramesPerSecond)} frames/s`, 'context', ''],
    ['pipeline sustained, lossless', `${fixed(r.overhead.pipelineFramesPerSecond)} frames/s (mean batch ${fixed(r.overhead.meanBatch, 2)})`, 'context', ''],
    [
      `pipeline / raw batch ${r.raw.maxBatch}`,
      `${fixed(r.overhead.ratio, 3)} (median of rounds ${r.overhead.roundRatios.map((x) => fixed(x, 3)).join(', ')})`,
      '≥ 0.90',
      verdict(r.overhead.ratio >= 0.9),
    ],
    ['head cost: segwithu / backbone, batch 1', `${fixed(r.headCost.ratio, 3)} (${fixed(r.headCost.segwithuMs)} ms / ${fixed(r.headCost.backboneMs)} ms)`, '≤ 1.15', verdict(r.headCost.ratio <= 1.15)],
    [`latency p50 at ${run.fps} frames/s`, `${fixed(lat.p50)} ms (model ${fixed(modelMs)} ms)`, `≤ ${fixed(modelMs + 5)} ms`, verdict(lat.p50 <= modelMs + 5)],
    [`latency p99 at ${run.fps} frames/s`, `${fixed(lat.p99)} ms`, `≤ ${fixed(2 * lat.p50)} ms (2 × p50)`, verdict(lat.p99 <= 2 * lat.p50)],
    [`drops at ${run.fps} frames/s`, `${dropSummary(live.dropped)} of ${live.offered}`, 'counted', ''],
    [`2 streams × ${fixed(over.offeredPerStreamFps)} frames/s: latency p99`, `${fixed(over.latencyMs.p99)} ms (p50 ${fixed(over.latencyMs.p50)} ms, mean batch ${fixed(over.meanBatch, 2)})`, '≤ 100 ms', verdict(over.latencyMs.p99 <= 100)],
    ...over.perStream.map((s): [string, string, string, string] => [
      `2 streams: ${s.streamId}`,
      `${fixed(s.processedPerSecond)} frames/s processed; drops: ${dropSummary(s.dropped)} of ${s.offered}`,
      'counted',
      '',
    ]),
    ['2 streams: processed rate ratio (lower / higher)', fixed(over.processedRatio, 3), '≥ 0.90', verdict(over.processedRatio >= 0.9)],
    [
      `resident memory over ${run.soakMinutes} min (after ${fixed(r.soak.settleSeconds, 0)} s)`,
      `${fixed(r.soak.rssAfterSettleMiB)} → ${fixed(r.soak.rssEndMiB)} MiB (${fixed(r.soak.growthPercent, 2)}%, max ${fixed(r.soak.rssMaxMiB)} MiB)`,
      '≤ 5% over 10 min',
      soakIsFull ? verdict(Math.abs(r.soak.growthPercent) <= 5) : 'indicative only (run --soak-minutes 10)',
    ],
  ];

  const m = r.machine;
  return [
    `Machine: ${m.cpu}, ${m.cores} cores; Node ${m.node}; onnxruntime-node ${m.onnxruntime}; providers ${run.session.executionProviders.join(',')}, ${run.session.intraOpThreads} intra-op threads, spin-waiting ${run.session.allowSpinning ? 'on' : 'off'}`,
    `Model: ${m.modelId} ${m.modelVersion}, input ${m.input}; synthetic 709×749 GRAY8 frames; throughput windows of ${run.phaseSeconds / 2} s, 3 rounds each side`,
    '',
    '| measure | value | target | result |',
    '| --- | --- | --- | --- |',
    ...rows.map((cells) => `| ${cells.join(' | ')} |`),
    '',
  ].join('\n');
}

const invokedDirectly = process.argv[1] !== undefined && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href;
if (invokedDirectly) {
  try {
    const { help, ...options } = parseBenchArgs(process.argv.slice(2));
    if (help) process.stdout.write(BENCH_USAGE);
    else await runBench(options);
  } catch (error) {
    process.stderr.write(`bench failed: ${(error as Error).message}\n`);
    process.exitCode = 1;
  }
}
