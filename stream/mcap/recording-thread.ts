// Records live streams to MCAP off the ingest event loop: a worker thread runs one McapRecorder
// per stream (recording-worker.ts), and this class is its handle on the main thread.
//
// Backpressure policy: drop, never block. write() copies the frame and result into a message
// and returns at once. At most maxQueuedFrames frames are in flight to the worker (posted, not
// yet written); a frame beyond that is dropped and counted, so a slow disk or a slow encoder
// costs recorded frames, never ingest latency. The cost left on the caller's thread is the
// structured clone of about 1 MB per 709 × 749 frame with its maps.

import { Worker } from 'node:worker_threads';

import type { Logger } from 'pino';

import type { Result } from '../../pipeline/index.js';
import type { RecordedFrame, RecorderStatus } from './recorder.js';
import type { FromWorker, ToWorker } from './recording-worker.js';

export interface RecordingThreadOptions {
  /** Folder the recordings go to; created when missing. One file set per stream. */
  directory: string;
  /** Frames posted to the worker and not yet written, across streams; beyond it write() drops. Default 32. */
  maxQueuedFrames?: number;
  /** Uncompressed bytes per chunk; at most this much is lost on SIGKILL. Default 1 MiB. */
  chunkSizeBytes?: number;
  /** Chunk compression. Default 'zstd'. */
  compression?: 'zstd' | 'none';
  /** zstd level. Default 1. */
  zstdLevel?: number;
  /** A new file starts after the frame that brings the current one to this many bytes. Default 1 GiB. */
  maxFileBytes?: number;
  /** Capture time one file spans at most. Default 10 minutes. */
  maxFileDurationMs?: number;
  logger?: Logger;
}

/** What the worker needs, passed as workerData. */
export interface RecordingThreadSettings {
  directory: string;
  chunkSizeBytes?: number;
  compression?: 'zstd' | 'none';
  zstdLevel?: number;
  maxFileBytes?: number;
  maxFileDurationMs?: number;
  logLevel: string;
}

export interface RecordingThreadStatus {
  /** Frames handed to the worker. */
  framesQueued: number;
  /** Frames dropped here because maxQueuedFrames were in flight, or after close() began. */
  framesDroppedQueueFull: number;
  /** The latest status of each stream's recorder, by stream name. */
  streams: Record<string, RecorderStatus>;
}

const PINO_LEVELS: Record<number, 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal'> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };

export class RecordingThread {
  readonly #worker: Worker;
  readonly #maxQueuedFrames: number;
  readonly #logger?: Logger;
  readonly #streams: Record<string, RecorderStatus> = {};
  readonly #requests = new Map<number, (message: FromWorker) => void>();
  #inFlight = 0;
  #framesQueued = 0;
  #framesDroppedQueueFull = 0;
  #nextRequestId = 0;
  #closing?: Promise<RecordingThreadStatus>;
  #failure?: Error;

  constructor(options: RecordingThreadOptions) {
    this.#maxQueuedFrames = options.maxQueuedFrames ?? 32;
    this.#logger = options.logger?.child({ recorder: 'mcap-thread' });
    const settings: RecordingThreadSettings = {
      directory: options.directory,
      chunkSizeBytes: options.chunkSizeBytes,
      compression: options.compression,
      zstdLevel: options.zstdLevel,
      maxFileBytes: options.maxFileBytes,
      maxFileDurationMs: options.maxFileDurationMs,
      logLevel: options.logger?.level ?? 'silent',
    };
    this.#worker = new Worker(new URL('./recording-worker-entry.mjs', import.meta.url), { workerData: settings });
    this.#worker.on('message', (message: FromWorker) => this.#onMessage(message));
    this.#worker.on('error', (error) => {
      // The worker died: recording stops, the live streams go on.
      this.#failure = error;
      this.#logger?.error({ err: error }, 'recording worker failed; streams continue unrecorded');
      for (const resolve of this.#requests.values()) resolve({ type: 'closed', requestId: -1, statuses: {} });
      this.#requests.clear();
    });
  }

  get status(): RecordingThreadStatus {
    return { framesQueued: this.#framesQueued, framesDroppedQueueFull: this.#framesDroppedQueueFull, streams: structuredClone(this.#streams) };
  }

  /**
   * Hands a frame and its result to the worker and returns at once: true when queued, false
   * when dropped (queue full, worker failed, or closing). Never throws.
   */
  write(streamName: string, frame: RecordedFrame, result?: Result): boolean {
    if (this.#closing !== undefined || this.#failure !== undefined || this.#inFlight >= this.#maxQueuedFrames) {
      this.#framesDroppedQueueFull++;
      return false;
    }
    try {
      const message: ToWorker = { type: 'frame', stream: streamName, frame, ...(result === undefined ? {} : { result: slimResult(result) }) };
      this.#worker.postMessage(message);
    } catch (error) {
      this.#framesDroppedQueueFull++;
      this.#logger?.warn({ err: error, streamName, sequence: frame.sequence }, 'frame not recorded: it could not be posted to the recording worker');
      return false;
    }
    this.#inFlight++;
    this.#framesQueued++;
    return true;
  }

  /** Finalises a stream's open file (the stream ended); a later frame of that name starts new files. */
  async closeStream(streamName: string): Promise<RecorderStatus | undefined> {
    if (this.#closing !== undefined || this.#failure !== undefined) return this.#streams[streamName];
    const reply = await this.#request((requestId) => ({ type: 'close-stream', stream: streamName, requestId }));
    return reply.type === 'closed-stream' ? reply.status : this.#streams[streamName];
  }

  /** Writes what was queued, finalises every file and ends the worker. Safe to call more than once. */
  close(): Promise<RecordingThreadStatus> {
    this.#closing ??= (async () => {
      if (this.#failure === undefined) {
        const reply = await this.#request((requestId) => ({ type: 'close', requestId }));
        if (reply.type === 'closed') Object.assign(this.#streams, reply.statuses);
      }
      await this.#worker.terminate();
      const status = this.status;
      this.#logger?.info({ framesQueued: status.framesQueued, framesDroppedQueueFull: status.framesDroppedQueueFull, files: Object.values(status.streams).flatMap((stream) => stream.files) }, 'recording thread closed');
      return status;
    })();
    return this.#closing;
  }

  #request(build: (requestId: number) => ToWorker): Promise<FromWorker> {
    const requestId = this.#nextRequestId++;
    return new Promise((resolve) => {
      this.#requests.set(requestId, resolve);
      this.#worker.postMessage(build(requestId));
    });
  }

  #onMessage(message: FromWorker): void {
    switch (message.type) {
      case 'written':
        this.#inFlight--;
        this.#streams[message.stream] = message.status;
        return;
      case 'closed-stream':
      case 'closed': {
        if (message.type === 'closed-stream' && message.status !== undefined) this.#streams[message.stream] = message.status;
        const resolve = this.#requests.get(message.requestId);
        this.#requests.delete(message.requestId);
        resolve?.(message);
        return;
      }
      case 'log':
        this.#relog(message.line);
        return;
    }
  }

  /** Re-logs a pino line from the worker with this thread's logger. */
  #relog(line: string): void {
    if (this.#logger === undefined) return;
    try {
      const { level, msg, time: _time, pid: _pid, hostname: _hostname, ...fields } = JSON.parse(line) as Record<string, unknown>;
      const method = PINO_LEVELS[Number(level)] ?? 'info';
      this.#logger[method](fields, String(msg ?? ''));
    } catch {
      this.#logger.warn({ line }, 'unreadable log line from the recording worker');
    }
  }
}

/** The fields of a Result that a recording keeps; the frame's pixels travel in the RecordedFrame. */
function slimResult(result: Result): Result {
  const { gray8: _gray8, groundTruthMask: _mask, temperedForeground: _tempered, extraOutputs: _extra, ...kept } = result;
  return { ...kept, gray8: new Uint8Array(0), temperedForeground: new Float32Array(0) };
}
