// Public API of the processing pipeline, for stream/ and any other caller.
//
// A transport decodes what a device sent into a Frame and calls submit(). The pipeline then
// runs latest-wins (or a bounded lossless queue) per stream, preprocessing, micro-batching
// across streams, one ONNX Runtime session, postprocessing and the alarm. Each frame ends as a
// Result on results$ or as a counted drop on drops$. Per stream, at all times:
//   received = processed + sum(dropped) + inFlight.

import type { Observable } from 'rxjs';
import type { Logger } from 'pino';

import type { DropReason, Frame, Result } from './types.js';
import type { ModelManifest } from './manifest.js';
import type { RunBatch } from './model-session.js';
import type { SubmitMode } from './job.js';

export type { DropReason, Frame, Letterbox, PixelFormat, Result, StageTimestamps, AlarmState } from './types.js';
export { DROP_REASONS } from './types.js';
export type { ModelManifest, ModelInputSpec, ModelOutputNames, AlarmThresholds, ModelFileEntry } from './manifest.js';
export { loadManifest, modelFilePath } from './manifest.js';
export { verifyModelFiles } from './checksum.js';
export { PipelineError } from './errors.js';
export type { PipelineErrorCode } from './errors.js';
export type { RunBatch, ModelOutputs } from './model-session.js';
export { frameToGray8 } from './to-gray8.js';
export { computeLetterbox, letterboxNormalise } from './letterbox.js';
export { maskToFrame, dice } from './mask.js';
export { createPipeline } from './create-pipeline.js';

export type { SubmitMode } from './job.js';

export interface AlarmOptions {
  /** Frame risk above which a frame counts towards entering the alarm. */
  enter: number;
  /** Frame risk below which a frame counts towards leaving the alarm. */
  exit: number;
  /** Consecutive frames above `enter` needed to enter the alarm. */
  enterFrames: number;
  /** Consecutive frames below `exit` needed to leave the alarm. */
  exitFrames: number;
}

export interface PipelineOptions {
  /** Folder that contains manifest.json and the ONNX files it lists (for example models/carotid). */
  modelDir: string;
  /** ONNX Runtime execution providers in order of preference. Default ['cpu']. */
  executionProviders?: string[];
  /** ONNX Runtime intra-op threads. Default 2. */
  intraOpThreads?: number;
  /** ONNX Runtime graph optimisation level. Default 'all'. */
  graphOptimizationLevel?: 'disabled' | 'basic' | 'extended' | 'all';
  /** Lets ONNX Runtime's intra-op threads spin-wait between runs. Default false (see SessionOptions.allowSpinning). */
  allowSpinning?: boolean;
  /** Maximum frames in one session.run call, across streams. Default 4. */
  maxBatch?: number;
  /**
   * Maximum time a partly filled batch waits for more frames, in ms. Default 0: the batch
   * closes once the frames already waiting have been taken, so a lone live stream adds no wait.
   */
  maxBatchWaitMs?: number;
  /** Lossless frames that may wait per stream; a frame beyond it is dropped as 'queue_full'. Default 8. */
  maxQueuePerStream?: number;
  /** Alarm hysteresis. Default: the manifest's `alarm` block. */
  alarm?: AlarmOptions;
  logger?: Logger;
  /** Wraps the session's run function, for fault injection in tests. */
  wrapRun?: (run: RunBatch) => RunBatch;
  /**
   * Further graph outputs (names as in the ONNX graph, for example 'rank' or 'logits') to fetch
   * on every run and attach to each Result as `extraOutputs`, for evaluation. Each costs a copy
   * of its map per frame. Default none.
   */
  extraOutputs?: string[];
}

export interface StreamCounters {
  received: number;
  processed: number;
  dropped: Record<DropReason, number>;
  /** Frames accepted but not yet processed or dropped. */
  inFlight: number;
}

/** Prometheus-style histogram: cumulativeCounts[i] = observations <= upperBounds[i]. */
export interface HistogramSnapshot {
  /** Ascending upper bounds; the last one is Infinity (Prometheus le="+Inf"). */
  upperBounds: number[];
  cumulativeCounts: number[];
  count: number;
  sum: number;
}

/**
 * Stages a frame passes, timed on the monotonic clock:
 * queue (received -> taken from the stream's waiting slot), preprocess (taken -> model input
 * ready), batch (input ready -> session.run starts), inference (session.run), postprocess
 * (run ends -> result emitted), total (received -> result emitted).
 */
export type LatencyStage = 'queue' | 'preprocess' | 'batch' | 'inference' | 'postprocess' | 'total';
export const LATENCY_STAGES: readonly LatencyStage[] = ['queue', 'preprocess', 'batch', 'inference', 'postprocess', 'total'];

export interface StreamMetrics {
  streamId: string;
  counters: StreamCounters;
  /** Frames waiting in the stream's latest-wins slot or lossless queue. */
  queueDepth: number;
  /** Processed frames per second over the last few seconds. */
  framesPerSecond: number;
  /** Per-stage latency in milliseconds. */
  latencyMs: Record<LatencyStage, HistogramSnapshot>;
  alarm: 'ok' | 'alarm';
}

export interface PipelineMetrics {
  modelId: string;
  maxBatch: number;
  streams: StreamMetrics[];
  /** Frames per session.run call. */
  batchSize: HistogramSnapshot;
  /** True when received = processed + dropped + inFlight holds for every stream. */
  accountingHolds: boolean;
}

export interface DropEvent {
  streamId: string;
  sequence: number;
  reason: DropReason;
  error?: Error;
}

export interface Pipeline {
  readonly manifest: ModelManifest;
  /**
   * Hands a frame to the pipeline without waiting for the session. When the session is idle
   * the frame is preprocessed before submit returns (about a millisecond for 709×749 GRAY8 on
   * the 2-core development machine). live: latest-wins per stream (a waiting frame is replaced
   * and counted 'superseded'). lossless: queued up to maxQueuePerStream; beyond it
   * the frame is dropped as 'queue_full'. The promise resolves once the frame has been taken
   * for processing or dropped, so a replay that awaits it is paced (backpressure). It never
   * rejects: drops are reported on drops$ and in counters().
   */
  submit(frame: Frame, mode: SubmitMode): Promise<void>;
  /**
   * Counts a frame a transport rejected before it became a Frame (reason 'invalid'). The drop
   * event carries `sequence` (-1 when unknown) and `error` when given.
   */
  countInvalid(streamId: string, sequence?: number, error?: Error): void;
  /** Results of every stream, in sequence order within a stream. */
  readonly results$: Observable<Result>;
  readonly drops$: Observable<DropEvent>;
  counters(streamId: string): StreamCounters;
  metrics(): PipelineMetrics;
  /** Forgets a stream: its waiting frames are dropped as 'shutdown', its counters and alarm state go. */
  removeStream(streamId: string): void;
  /**
   * Stops accepting frames, processes what was accepted until deadlineMs (default 5000) has
   * passed, counts what is left as 'shutdown', completes results$ and drops$ and releases the
   * session. A frame submitted later is still counted ('shutdown') but no longer reported on drops$.
   */
  close(deadlineMs?: number): Promise<void>;
}
