// The worker side of RecordingThread (recording-thread.ts): one McapRecorder per stream, fed
// with the frames the main thread posts. Encoding and zstd compression (about 30 ms per
// 709 × 749 frame on the loaded 2-core development machine) run here, off the event loop that
// ingests frames. After each frame the worker posts the stream's status back, which is also the
// main thread's signal that a queue slot is free.

import { parentPort, workerData } from 'node:worker_threads';

import { pino } from 'pino';

import type { Result } from '../../pipeline/index.js';
import { McapRecorder, type RecorderStatus, type RecordedFrame } from './recorder.js';
import type { RecordingThreadSettings } from './recording-thread.js';

/** Messages from the main thread. */
export type ToWorker =
  | { type: 'frame'; stream: string; frame: RecordedFrame; result?: Result }
  | { type: 'close-stream'; stream: string; requestId: number }
  | { type: 'close'; requestId: number };

/** Messages to the main thread. */
export type FromWorker =
  | { type: 'written'; stream: string; status: RecorderStatus }
  | { type: 'closed-stream'; requestId: number; stream: string; status: RecorderStatus | undefined }
  | { type: 'closed'; requestId: number; statuses: Record<string, RecorderStatus> }
  | { type: 'log'; line: string };

const port = parentPort!;
if (parentPort === null) throw new Error('recording-worker.ts runs as a worker thread; start it through RecordingThread');

const settings = workerData as RecordingThreadSettings;
const post = (message: FromWorker): void => port.postMessage(message);
// pino writes JSON lines here; the main thread re-logs them with its own logger.
const logger = pino({ level: settings.logLevel }, { write: (line: string) => post({ type: 'log', line }) });

const recorders = new Map<string, McapRecorder>();
/** Streams whose recorder closed (stream ended); a frame that still comes starts a new recorder. */
const finished = new Map<string, RecorderStatus>();
/** Work runs in arrival order, one message at a time, so a close waits for the frames before it. */
let queue: Promise<void> = Promise.resolve();

function recorderFor(stream: string): McapRecorder {
  let recorder = recorders.get(stream);
  if (recorder === undefined) {
    recorder = new McapRecorder({
      directory: settings.directory,
      streamName: stream,
      chunkSizeBytes: settings.chunkSizeBytes,
      compression: settings.compression,
      zstdLevel: settings.zstdLevel,
      maxFileBytes: settings.maxFileBytes,
      maxFileDurationMs: settings.maxFileDurationMs,
      logger,
    });
    recorders.set(stream, recorder);
  }
  return recorder;
}

async function handle(message: ToWorker): Promise<void> {
  switch (message.type) {
    case 'frame': {
      const recorder = recorderFor(message.stream);
      // The main thread bounds the frames in flight, so waiting for room here never grows memory.
      await recorder.append(message.frame, message.result);
      post({ type: 'written', stream: message.stream, status: recorder.status });
      return;
    }
    case 'close-stream': {
      const recorder = recorders.get(message.stream);
      recorders.delete(message.stream);
      const status = recorder === undefined ? finished.get(message.stream) : await recorder.close();
      if (status !== undefined) finished.set(message.stream, status);
      post({ type: 'closed-stream', requestId: message.requestId, stream: message.stream, status });
      return;
    }
    case 'close': {
      const statuses: Record<string, RecorderStatus> = Object.fromEntries(finished);
      for (const [stream, recorder] of recorders) statuses[stream] = await recorder.close();
      recorders.clear();
      post({ type: 'closed', requestId: message.requestId, statuses });
      port.close();
      return;
    }
  }
}

port.on('message', (message: ToWorker) => {
  queue = queue.then(() => handle(message)).catch((error: unknown) => {
    logger.error({ err: error, message: message.type }, 'recording worker failed on a message');
  });
});
