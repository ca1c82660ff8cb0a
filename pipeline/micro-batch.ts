// microBatch: groups prepared frames, from any stream, into batches for one session.run call.

import { Observable, type OperatorFunction } from 'rxjs';

import type { Demand } from './demand.js';

export interface MicroBatchOptions<T> {
  demand: Demand;
  /** Maximum frames in a batch. */
  maxBatch: number;
  /**
   * Maximum wait for more frames, in ms from the batch's first frame. 0 closes the batch on the
   * next event-loop turn, after the frames already waiting (and any a replay submits in
   * response to being released) have arrived.
   */
  maxWaitMs: number;
  /**
   * Latest-wins inside the open batch: a job whose key equals that of a job already in the batch
   * replaces it, and the older one goes to onReplaced. Jobs with an undefined key never replace.
   * Without this, a burst from one live stream (after an event-loop stall) would fill a batch
   * with that stream's stale frames.
   */
  replaceKey?: (job: T) => string | undefined;
  onReplaced?: (older: T) => void;
}

/**
 * Emits a batch when it contains maxBatch frames or when maxWaitMs has passed since its first
 * frame, whichever comes first, and closes demand as it does so. A job that replaces another
 * (replaceKey) keeps the older one's place and leaves batch size and timer as they were. While a batch fills, it keeps
 * demand at the number of free places. On source completion it emits the partial batch and
 * completes; errors pass through.
 */
export function microBatch<T>(o: MicroBatchOptions<T>): OperatorFunction<T, T[]> {
  return (source) =>
    new Observable<T[]>((subscriber) => {
      let batch: T[] = [];
      let cancelTimer: (() => void) | undefined;

      const flush = (): void => {
        cancelTimer?.();
        cancelTimer = undefined;
        if (batch.length === 0) return;

        const full = batch;
        batch = [];
        o.demand.close();
        subscriber.next(full);
      };

      const startTimer = (): void => {
        if (o.maxWaitMs > 0) {
          const timer = setTimeout(flush, o.maxWaitMs);
          cancelTimer = () => clearTimeout(timer);
        } else {
          const immediate = setImmediate(flush);
          cancelTimer = () => clearImmediate(immediate);
        }
      };

      const subscription = source.subscribe({
        next(job) {
          const key = o.replaceKey?.(job);
          const older = key === undefined ? -1 : batch.findIndex((queued) => o.replaceKey?.(queued) === key);
          if (older >= 0) {
            const replaced = batch[older];
            batch[older] = job;
            o.onReplaced?.(replaced);
            return;
          }

          batch.push(job);
          if (batch.length >= o.maxBatch) {
            flush();
            return;
          }
          if (cancelTimer === undefined) startTimer();
          o.demand.set(o.maxBatch - batch.length);
        },
        error: (error) => subscriber.error(error),
        complete() {
          flush();
          subscriber.complete();
        },
      });

      return () => {
        cancelTimer?.();
        subscription.unsubscribe();
      };
    });
}
