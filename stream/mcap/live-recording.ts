// Records every stream a server processes: each Result (with its frame) goes to a
// RecordingThread under the stream's id, and a stream's files are finalised when the registry
// forgets the stream. close() finalises the rest; the server calls it at shutdown (SIGTERM included), after
// the pipeline has emitted its last results.

import type { Subscription } from 'rxjs';

import type { Pipeline } from '../../pipeline/index.js';
import type { StreamRegistry } from '../registry.js';
import { recordedFrameFromResult } from './encode.js';
import { RecordingThread, type RecordingThreadOptions, type RecordingThreadStatus } from './recording-thread.js';

export interface LiveRecording {
  readonly status: RecordingThreadStatus;
  /** Stops recording, finalises every file and ends the worker thread. */
  close(): Promise<RecordingThreadStatus>;
}

export function startLiveRecording(pipeline: Pipeline, registry: StreamRegistry, options: RecordingThreadOptions): LiveRecording {
  const thread = new RecordingThread(options);
  const recording = new Set<string>();

  const subscriptions: Subscription[] = [
    pipeline.results$.subscribe((result) => {
      recording.add(result.streamId);
      // NOTE: Result carries no pixel spacing, so recordings of live streams leave it out.
      thread.write(result.streamId, recordedFrameFromResult(result), result);
    }),
    // A stream's files are finalised once the registry forgets it (its retention time after it
    // ended), because results of frames already taken still come after the stream ends, and a
    // device that reconnects within the retention time keeps its stream and its recording.
    registry.changes$.subscribe(() => {
      for (const streamId of recording) {
        if (registry.get(streamId) !== undefined) continue;
        recording.delete(streamId);
        void thread.closeStream(streamId);
      }
    }),
  ];
  options.logger?.info({ directory: options.directory, maxQueuedFrames: options.maxQueuedFrames ?? 32 }, 'recording every stream');

  return {
    get status() {
      return thread.status;
    },
    close: () => {
      for (const subscription of subscriptions) subscription.unsubscribe();
      return thread.close();
    },
  };
}
