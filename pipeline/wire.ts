// The pipeline's data flow, stage by stage. Each stage is an operator in its own file.

import type { Observable } from 'rxjs';

import type { DropReason } from './types.js';
import type { ModelInputSpec } from './manifest.js';
import type { Job, ResultJob } from './job.js';
import type { RunBatch } from './model-session.js';
import { Demand } from './demand.js';
import { latestWins } from './latest-wins.js';
import { toGray8 } from './to-gray8.js';
import { letterboxInput } from './letterbox.js';
import { microBatch } from './micro-batch.js';
import { infer } from './infer.js';
import { postprocess, type PostprocessOptions } from './postprocess.js';
import { alarm, type AlarmHysteresis } from './alarm.js';

export interface WireOptions {
  input: ModelInputSpec;
  run: RunBatch;
  classCount: number;
  maxBatch: number;
  maxBatchWaitMs: number;
  maxQueuePerStream: number;
  postprocess: PostprocessOptions;
  hysteresis: AlarmHysteresis;
  /** Called as a frame leaves its waiting slot; false skips a frame already accounted for. */
  take: (job: Job) => boolean;
  /** Called for every frame that leaves without a result. */
  drop: (job: Job, reason: DropReason, error?: Error) => void;
  onRun?: (batchSize: number, durationNs: bigint) => void;
}

/**
 * Connects the stages. `frames$` carries the frames of every stream, merged in arrival order.
 * The operators between latestWins and microBatch must stay synchronous: microBatch lowers
 * demand as each released frame reaches it, and latestWins reads demand before each release.
 */
export function wire(frames$: Observable<Job>, o: WireOptions): Observable<ResultJob> {
  const demand = new Demand(o.maxBatch);
  const dropAsError = (job: Job, error: Error) => o.drop(job, 'error', error);

  return frames$.pipe(
    // Streams are joined here. Backpressure: live keeps each stream's newest frame, and lossless
    // queues up to maxQueuePerStream frames per stream. Frames leave round-robin across streams,
    // and only while the session can take them (demand).
    latestWins({ demand, maxQueuePerStream: o.maxQueuePerStream, onDrop: o.drop, onTaken: o.take }),
    toGray8(dropAsError),
    letterboxInput(o.input, dropAsError),
    microBatch({
      demand,
      maxBatch: o.maxBatch,
      maxWaitMs: o.maxBatchWaitMs,
      replaceKey: (job) => (job.mode === 'live' ? job.frame.streamId : undefined),
      onReplaced: (job) => o.drop(job, 'superseded'),
    }),
    infer({
      run: o.run,
      demand,
      pixelsPerFrame: o.input.width * o.input.height,
      classCount: o.classCount,
      onBatchError: (jobs, error) => jobs.forEach((job) => dropAsError(job, error)),
      onRun: o.onRun,
    }),
    postprocess(o.postprocess, dropAsError),
    alarm(o.hysteresis),
  );
}
