// A stand-in for the pipeline, for the server's unit tests only. It keeps the Pipeline
// interface's contract: latest-wins or a bounded lossless queue per stream, and every frame a
// result or a counted drop. Inference is replaced by an all-background mask after `runMs`, so
// tests drive the transports deterministically and without a model. Integration tests use the real one.

import { Subject } from 'rxjs';

import type { DropEvent, HistogramSnapshot, LatencyStage, Pipeline, PipelineMetrics, StreamCounters, SubmitMode } from '../../pipeline/index.js';
import type { ModelManifest } from '../../pipeline/manifest.js';
import { DROP_REASONS, type DropReason, type Frame, type Result } from '../../pipeline/types.js';

export const FAKE_MODEL_SIZE = 32;

const EMPTY_HISTOGRAM: HistogramSnapshot = { upperBounds: [Infinity], cumulativeCounts: [0], count: 0, sum: 0 };
const STAGES: readonly LatencyStage[] = ['queue', 'preprocess', 'batch', 'inference', 'postprocess', 'total'];

export const FAKE_MANIFEST: ModelManifest = {
  schema_version: 1,
  model: { id: 'fake-model', version: 'test' },
  files: { segwithu: { path: 'none.onnx', sha256: '0'.repeat(64) } },
  input: { name: 'image', width: FAKE_MODEL_SIZE, height: FAKE_MODEL_SIZE, mean: 0, std: 1, letterbox_pad_value: 0 },
  classes: ['background', 'carotid_artery'],
  outputs: { logits: 'logits', rank: 'rank', calibration: 'calibration', epistemic: 'epistemic', aleatoric: 'aleatoric', error_probability: 'error_probability', frame_risk: 'frame_risk' },
  tempering: 'none',
  alarm: { enter: 0.5, exit: 0.3, enter_frames: 3, exit_frames: 3 },
  pixel_spacing_mm: null,
  dir: '/nonexistent',
};

interface FakeStream {
  counters: StreamCounters;
  /** Live: the one frame waiting (latest-wins). */
  waiting: Frame | undefined;
  /** Lossless: frames waiting, with the submit promise to resolve when taken. */
  queue: { frame: Frame; taken: () => void }[];
}

export class FakePipeline implements Pipeline {
  readonly manifest = FAKE_MANIFEST;
  readonly results$ = new Subject<Result>();
  readonly drops$ = new Subject<DropEvent>();
  /** Time each fake inference takes, in ms. */
  runMs: number;
  readonly #maxQueuePerStream: number;
  readonly #streams = new Map<string, FakeStream>();
  #busy = false;
  #closed = false;

  constructor({ runMs = 1, maxQueuePerStream = 8 }: { runMs?: number; maxQueuePerStream?: number } = {}) {
    this.runMs = runMs;
    this.#maxQueuePerStream = maxQueuePerStream;
  }

  submit(frame: Frame, mode: SubmitMode): Promise<void> {
    const stream = this.#stream(frame.streamId);
    stream.counters.received += 1;
    if (this.#closed) {
      this.#drop(stream, frame, 'shutdown');
      return Promise.resolve();
    }

    if (mode === 'live') {
      if (stream.waiting !== undefined) {
        this.#drop(stream, stream.waiting, 'superseded');
      } else {
        stream.counters.inFlight += 1;
      }
      stream.waiting = frame;
      this.#kick();
      return Promise.resolve();
    }

    if (stream.queue.length >= this.#maxQueuePerStream) {
      this.#drop(stream, frame, 'queue_full');
      return Promise.resolve();
    }
    stream.counters.inFlight += 1;
    return new Promise((resolve) => {
      stream.queue.push({ frame, taken: resolve });
      this.#kick();
    });
  }

  countInvalid(streamId: string): void {
    const stream = this.#stream(streamId);
    stream.counters.received += 1;
    stream.counters.dropped.invalid += 1;
  }

  counters(streamId: string): StreamCounters {
    const { counters } = this.#stream(streamId);
    return { ...counters, dropped: { ...counters.dropped } };
  }

  metrics(): PipelineMetrics {
    const streams = [...this.#streams].map(([streamId, stream]) => ({
      streamId,
      counters: this.counters(streamId),
      queueDepth: stream.queue.length + (stream.waiting === undefined ? 0 : 1),
      framesPerSecond: 0,
      latencyMs: Object.fromEntries(STAGES.map((stage) => [stage, EMPTY_HISTOGRAM])) as Record<LatencyStage, HistogramSnapshot>,
      alarm: 'ok' as const,
    }));
    const accountingHolds = streams.every(({ counters }) =>
      counters.received === counters.processed + DROP_REASONS.reduce((sum, reason) => sum + counters.dropped[reason], 0) + counters.inFlight);
    return { modelId: 'fake-model', maxBatch: 1, streams, batchSize: EMPTY_HISTOGRAM, accountingHolds };
  }

  removeStream(streamId: string): void {
    const stream = this.#streams.get(streamId);
    if (stream === undefined) {
      return;
    }
    this.#dropWaiting(stream, 'shutdown');
    this.#streams.delete(streamId);
  }

  async close(deadlineMs = 5000): Promise<void> {
    this.#closed = true;
    const deadline = performance.now() + deadlineMs;
    while (this.#busy && performance.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    for (const stream of this.#streams.values()) {
      this.#dropWaiting(stream, 'shutdown');
    }
    this.results$.complete();
    this.drops$.complete();
  }

  #stream(streamId: string): FakeStream {
    let stream = this.#streams.get(streamId);
    if (stream === undefined) {
      const dropped = Object.fromEntries(DROP_REASONS.map((reason) => [reason, 0])) as Record<DropReason, number>;
      stream = { counters: { received: 0, processed: 0, dropped, inFlight: 0 }, waiting: undefined, queue: [] };
      this.#streams.set(streamId, stream);
    }
    return stream;
  }

  #drop(stream: FakeStream, frame: Frame, reason: DropReason): void {
    stream.counters.dropped[reason] += 1;
    this.drops$.next({ streamId: frame.streamId, sequence: frame.sequence, reason });
  }

  #dropWaiting(stream: FakeStream, reason: DropReason): void {
    if (stream.waiting !== undefined) {
      stream.counters.inFlight -= 1;
      this.#drop(stream, stream.waiting, reason);
      stream.waiting = undefined;
    }
    for (const { frame, taken } of stream.queue.splice(0)) {
      stream.counters.inFlight -= 1;
      this.#drop(stream, frame, reason);
      taken();
    }
  }

  /** Takes the next waiting frame of any stream (round-robin by map order) and runs it. */
  #kick(): void {
    if (this.#busy) {
      return;
    }
    for (const stream of this.#streams.values()) {
      const next = stream.queue.shift();
      const frame = next?.frame ?? stream.waiting;
      if (frame === undefined) {
        continue;
      }
      if (next === undefined) {
        stream.waiting = undefined;
      }
      next?.taken();
      this.#busy = true;
      setTimeout(() => this.#finish(stream, frame), this.runMs);
      return;
    }
  }

  #finish(stream: FakeStream, frame: Frame): void {
    this.#busy = false;
    stream.counters.inFlight -= 1;
    stream.counters.processed += 1;
    this.results$.next(fakeResult(frame));
    this.#kick();
  }
}

/** Builds an all-background result for `frame`, letterboxed into the fake model's square input. */
export function fakeResult(frame: Frame): Result {
  const size = FAKE_MODEL_SIZE;
  const scale = size / Math.max(frame.width, frame.height);
  const contentWidth = Math.round(frame.width * scale);
  const contentHeight = Math.round(frame.height * scale);
  const now = process.hrtime.bigint();
  return {
    streamId: frame.streamId,
    sequence: frame.sequence,
    captureTimestampNs: frame.captureTimestampNs,
    timestamps: { receivedNs: frame.receivedNs, preprocessedNs: now, inferenceStartNs: now, inferenceEndNs: now, postprocessedNs: now },
    modelId: 'fake-model',
    letterbox: {
      modelWidth: size,
      modelHeight: size,
      scale,
      offsetX: (size - contentWidth) / 2,
      offsetY: (size - contentHeight) / 2,
      contentWidth,
      contentHeight,
    },
    labelMask: new Uint8Array(size * size),
    errorProbability: new Float32Array(size * size).fill(0.25),
    temperedForeground: new Float32Array(size * size),
    frameRisk: 0.1,
    alarm: 'ok',
    alarmReason: '',
    warnings: [],
    gray8: frame.pixelFormat === 'GRAY8' ? frame.pixels.subarray(0, frame.width * frame.height) : new Uint8Array(frame.width * frame.height),
    frameWidth: frame.width,
    frameHeight: frame.height,
  };
}
