// createPipeline: loads and verifies the model, creates the session, warms it up and runs the
// wired stages behind the Pipeline interface (submission, accounting, metrics, shutdown).

import { Subject, type Observable, type Subscription } from 'rxjs';
import { pino, type Logger } from 'pino';

import type { Frame, Result } from './types.js';
import type { DropEvent, Pipeline, PipelineMetrics, PipelineOptions, StreamCounters, SubmitMode } from './index.js';
import { LATENCY_STAGES } from './index.js';
import type { ModelManifest } from './manifest.js';
import { loadManifest } from './manifest.js';
import { verifyModelFiles } from './checksum.js';
import { createModelSession, type ModelSession, type RunBatch } from './model-session.js';
import { PipelineError } from './errors.js';
import { checkFrame } from './frame-check.js';
import { Ledger } from './accounting.js';
import { AlarmHysteresis, type AlarmThresholds } from './alarm.js';
import { Histogram } from './metrics.js';
import type { Job } from './job.js';
import { wire } from './wire.js';

interface Settings {
  executionProviders: string[];
  intraOpThreads: number;
  graphOptimizationLevel: 'disabled' | 'basic' | 'extended' | 'all';
  allowSpinning: boolean;
  maxBatch: number;
  maxBatchWaitMs: number;
  maxQueuePerStream: number;
  alarm: AlarmThresholds;
  extraOutputs: string[];
}

const DEFAULT_CLOSE_DEADLINE_MS = 5000;
/** Shortest interval between two log lines about the same kind of frame error. */
const ERROR_LOG_INTERVAL_MS = 10_000;

/** Applies the defaults and checks every option; throws ERR_PIPELINE_OPTIONS naming the bad one. */
function resolveSettings(o: PipelineOptions, manifest: ModelManifest): Settings {
  const integer = (name: string, value: number | undefined, fallback: number, min: number, max: number): number => {
    const v = value ?? fallback;
    if (!Number.isInteger(v) || v < min || v > max) {
      throw new PipelineError('ERR_PIPELINE_OPTIONS', `pipeline option ${name} must be an integer in ${min}..${max}, got ${v}`);
    }
    return v;
  };

  const maxBatchWaitMs = o.maxBatchWaitMs ?? 0;
  if (!Number.isFinite(maxBatchWaitMs) || maxBatchWaitMs < 0) {
    throw new PipelineError('ERR_PIPELINE_OPTIONS', `pipeline option maxBatchWaitMs must be a number >= 0, got ${maxBatchWaitMs}`);
  }

  const alarm = o.alarm ?? {
    enter: manifest.alarm.enter,
    exit: manifest.alarm.exit,
    enterFrames: manifest.alarm.enter_frames,
    exitFrames: manifest.alarm.exit_frames,
  };
  if (!(alarm.exit <= alarm.enter) || !Number.isInteger(alarm.enterFrames) || alarm.enterFrames < 1 || !Number.isInteger(alarm.exitFrames) || alarm.exitFrames < 1) {
    throw new PipelineError('ERR_PIPELINE_OPTIONS', `pipeline option alarm ${JSON.stringify(alarm)} needs exit <= enter and enterFrames, exitFrames >= 1`);
  }

  return {
    executionProviders: o.executionProviders ?? ['cpu'],
    intraOpThreads: integer('intraOpThreads', o.intraOpThreads, 2, 1, 256),
    graphOptimizationLevel: o.graphOptimizationLevel ?? 'all',
    allowSpinning: o.allowSpinning ?? false,
    maxBatch: integer('maxBatch', o.maxBatch, 4, 1, 256),
    maxBatchWaitMs,
    maxQueuePerStream: integer('maxQueuePerStream', o.maxQueuePerStream, 8, 1, 100_000),
    alarm,
    extraOutputs: o.extraOutputs ?? [],
  };
}

/** Runs the session once at batch 1 and once at maxBatch so the first frames do not pay for allocation; returns ms per run. */
async function warmUp(run: RunBatch, manifest: ModelManifest, maxBatch: number): Promise<{ batch1Ms: number; maxBatchMs: number }> {
  const { width, height, mean, std, letterbox_pad_value: pad } = manifest.input;
  const timeRun = async (batch: number): Promise<number> => {
    const input = new Float32Array(batch * width * height).fill((pad / 255 - mean) / std);
    const start = performance.now();
    await run(input, batch);
    return performance.now() - start;
  };
  const batch1Ms = await timeRun(1);
  const maxBatchMs = maxBatch > 1 ? await timeRun(maxBatch) : batch1Ms;
  return { batch1Ms, maxBatchMs };
}

/**
 * Loads the manifest in o.modelDir, verifies each file's SHA-256 (ERR_MODEL_CHECKSUM names the
 * file and both hashes), creates the ONNX Runtime session, runs it once at batch 1 and once at
 * maxBatch, and resolves with a pipeline ready for frames.
 */
export async function createPipeline(o: PipelineOptions): Promise<Pipeline> {
  const logger = o.logger ?? pino({ name: 'segwithu-pipeline' });
  const manifest = await loadManifest(o.modelDir);
  const settings = resolveSettings(o, manifest);
  await verifyModelFiles(manifest);

  const session = await createModelSession(manifest, settings);
  let warm: { batch1Ms: number; maxBatchMs: number };
  try {
    warm = await warmUp(session.run, manifest, settings.maxBatch);
  } catch (error) {
    await session.release();
    throw new PipelineError('ERR_INFERENCE_FAILED', `warm-up run of ${manifest.model.id} failed: ${(error as Error).message}`, { cause: error });
  }

  logger.info(
    {
      event: 'pipeline_start',
      modelId: manifest.model.id,
      modelVersion: manifest.model.version,
      executionProviders: settings.executionProviders,
      intraOpThreads: settings.intraOpThreads,
      allowSpinning: settings.allowSpinning,
      maxBatch: settings.maxBatch,
      maxBatchWaitMs: settings.maxBatchWaitMs,
      maxQueuePerStream: settings.maxQueuePerStream,
      warmUpBatch1Ms: Math.round(warm.batch1Ms * 10) / 10,
      warmUpMaxBatchMs: Math.round(warm.maxBatchMs * 10) / 10,
    },
    'pipeline started',
  );

  const run = o.wrapRun ? o.wrapRun(session.run) : session.run;
  return new RunningPipeline(manifest, settings, session, run, logger);
}

class RunningPipeline implements Pipeline {
  readonly manifest: ModelManifest;
  readonly results$: Observable<Result>;
  readonly drops$: Observable<DropEvent>;

  readonly #settings: Settings;
  readonly #session: ModelSession;
  readonly #logger: Logger;
  readonly #frames$ = new Subject<Job>();
  readonly #results$ = new Subject<Result>();
  readonly #drops$ = new Subject<DropEvent>();
  readonly #ledger: Ledger;
  readonly #hysteresis: AlarmHysteresis;
  readonly #batchSizes: Histogram;
  readonly #subscription: Subscription;
  readonly #drained: Promise<void>;
  readonly #errorLog = new Map<string, { lastMs: number; suppressed: number }>();
  #closing: Promise<void> | undefined;

  constructor(manifest: ModelManifest, settings: Settings, session: ModelSession, run: RunBatch, logger: Logger) {
    this.manifest = manifest;
    this.#settings = settings;
    this.#session = session;
    this.#logger = logger;
    this.results$ = this.#results$.asObservable();
    this.drops$ = this.#drops$.asObservable();
    this.#ledger = new Ledger((event) => this.#drops$.next(event));
    this.#hysteresis = new AlarmHysteresis(settings.alarm);
    this.#batchSizes = new Histogram(Array.from({ length: settings.maxBatch }, (_, i) => i + 1));

    const results = wire(this.#frames$, {
      input: manifest.input,
      run,
      classCount: manifest.classes.length,
      maxBatch: settings.maxBatch,
      maxBatchWaitMs: settings.maxBatchWaitMs,
      maxQueuePerStream: settings.maxQueuePerStream,
      postprocess: { modelId: manifest.model.id, classCount: manifest.classes.length, pixelSpacingRangeMm: manifest.pixel_spacing_mm },
      hysteresis: this.#hysteresis,
      take: (job) => this.#ledger.take(job.ticket),
      drop: (job, reason, error) => {
        if (this.#ledger.drop(job.ticket, reason, error) && error !== undefined) this.#logFrameError(job.frame, error);
      },
      onRun: (batchSize) => this.#batchSizes.observe(batchSize),
    });

    let resolveDrained: () => void = () => undefined;
    this.#drained = new Promise<void>((resolve) => {
      resolveDrained = resolve;
    });
    this.#subscription = results.subscribe({
      next: ({ ticket, result }) => {
        if (this.#ledger.process(ticket, result)) this.#results$.next(result);
      },
      error: (error: unknown) => {
        // Stages catch per-frame errors, so this is a defect; the close deadline then counts what is left.
        this.#logger.error({ event: 'pipeline_failed', err: error }, 'pipeline stages failed; frames in flight will be dropped at close');
        resolveDrained();
      },
      complete: () => resolveDrained(),
    });
  }

  submit(frame: Frame, mode: SubmitMode): Promise<void> {
    if (this.#closing !== undefined) {
      const error = new PipelineError('ERR_PIPELINE_CLOSED', `stream ${frame.streamId} frame ${frame.sequence} arrived after the pipeline began closing`);
      this.#ledger.reject(frame.streamId, frame.sequence, 'shutdown', error);
      return Promise.resolve();
    }

    const invalid = mode !== 'live' && mode !== 'lossless'
      ? new PipelineError('ERR_FRAME_INVALID', `stream ${frame.streamId} frame ${frame.sequence}: submit mode ${JSON.stringify(mode)} is neither 'live' nor 'lossless'`)
      : checkFrame(frame);
    if (invalid !== undefined) {
      this.#ledger.reject(frame.streamId, frame.sequence, 'invalid', invalid);
      this.#logFrameError(frame, invalid);
      return Promise.resolve();
    }

    return new Promise<void>((resolve) => {
      const ticket = this.#ledger.admit(frame.streamId, frame.sequence, resolve);
      this.#frames$.next({ frame, mode, ticket });
    });
  }

  countInvalid(streamId: string, sequence = -1, error?: Error): void {
    this.#ledger.reject(streamId, sequence, 'invalid', error);
  }

  counters(streamId: string): StreamCounters {
    const record = this.#ledger.peek(streamId);
    if (record !== undefined) return record.counters();
    return { received: 0, processed: 0, dropped: { superseded: 0, invalid: 0, queue_full: 0, error: 0, shutdown: 0 }, inFlight: 0 };
  }

  metrics(): PipelineMetrics {
    const streams = [...this.#ledger.streams()].map((record) => ({
      streamId: record.streamId,
      counters: record.counters(),
      queueDepth: record.waiting,
      framesPerSecond: record.rate.perSecond(),
      latencyMs: Object.fromEntries(LATENCY_STAGES.map((stage) => [stage, record.latencyMs[stage].snapshot()])) as PipelineMetrics['streams'][number]['latencyMs'],
      alarm: this.#hysteresis.state(record.streamId),
    }));
    return {
      modelId: this.manifest.model.id,
      maxBatch: this.#settings.maxBatch,
      streams,
      batchSize: this.#batchSizes.snapshot(),
      accountingHolds: [...this.#ledger.streams()].every((record) => record.balanced()),
    };
  }

  removeStream(streamId: string): void {
    const record = this.#ledger.remove(streamId);
    this.#hysteresis.forget(streamId);
    if (record === undefined) return;
    const dropped = this.#ledger.dropWaiting(record, 'shutdown');
    this.#logger.info({ event: 'stream_removed', streamId, droppedWaiting: dropped, inFlight: record.inFlight }, 'stream removed from the pipeline');
  }

  close(deadlineMs = DEFAULT_CLOSE_DEADLINE_MS): Promise<void> {
    this.#closing ??= this.#close(deadlineMs);
    return this.#closing;
  }

  async #close(deadlineMs: number): Promise<void> {
    this.#frames$.complete();

    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<'deadline'>((resolve) => {
      timer = setTimeout(() => resolve('deadline'), deadlineMs);
    });
    const outcome = await Promise.race([this.#drained.then(() => 'drained' as const), deadline]);
    clearTimeout(timer);

    this.#subscription.unsubscribe();
    const leftovers = this.#ledger.dropAllOpen('shutdown');
    await this.#session.release();

    this.#logger.info({ event: 'pipeline_stop', outcome, deadlineMs, droppedAtShutdown: leftovers }, 'pipeline stopped');
    this.#results$.complete();
    this.#drops$.complete();
  }

  /** Logs a frame error, at most one line per error code per interval, with the count suppressed meanwhile. */
  #logFrameError(frame: Frame, error: Error): void {
    const code = (error as { code?: string }).code ?? error.name;
    const now = performance.now();
    const entry = this.#errorLog.get(code);
    if (entry !== undefined && now - entry.lastMs < ERROR_LOG_INTERVAL_MS) {
      entry.suppressed++;
      return;
    }
    this.#logger.warn(
      { event: 'frame_dropped', streamId: frame.streamId, sequence: frame.sequence, code, err: error, suppressedSinceLast: entry?.suppressed ?? 0 },
      'frame dropped after an error',
    );
    this.#errorLog.set(code, { lastMs: now, suppressed: 0 });
  }
}
