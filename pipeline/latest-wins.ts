// latestWins: the per-stream waiting slots, and the point where streams are joined.
//
// Backpressure policy, per stream, chosen by each frame's mode:
//   - live: keep only the newest frame. A frame that arrives while an older one of the same
//     stream still waits replaces it; the older one is dropped as 'superseded'.
//   - lossless: keep frames in order, up to maxQueuePerStream; a frame beyond that is dropped
//     as 'queue_full'. A live frame also supersedes waiting lossless frames of its stream.
// Frames leave only while `demand` is positive, one stream at a time in round-robin order, so
// every stream with a waiting frame gets one frame into each batch before any stream gets two.

import { Observable, type OperatorFunction } from 'rxjs';

import type { Demand } from './demand.js';
import type { Job } from './job.js';

export interface LatestWinsOptions<T extends Job> {
  demand: Demand;
  /** Lossless frames that may wait per stream. */
  maxQueuePerStream: number;
  /** Receives a frame that will not be processed. */
  onDrop: (job: T, reason: 'superseded' | 'queue_full') => void;
  /**
   * Called as a frame leaves its slot. Returns false when the frame was already accounted for
   * elsewhere (its stream was removed), and the frame is then skipped.
   */
  onTaken: (job: T) => boolean;
}

/**
 * Emits waiting frames while demand is positive, round-robin across streams, in sequence order
 * within a stream. When the source completes, frames still waiting are released as demand
 * allows, then the output completes. Errors pass through.
 */
export function latestWins<T extends Job>(o: LatestWinsOptions<T>): OperatorFunction<T, T> {
  return (source) =>
    new Observable<T>((subscriber) => {
      // Invariant: a stream has a lane exactly when it has waiting frames, and then its id is
      // in `ready` exactly once.
      const lanes = new Map<string, T[]>();
      const ready: string[] = [];
      let sourceDone = false;
      let releasing = false;

      const enqueue = (job: T): void => {
        const streamId = job.frame.streamId;
        const lane = lanes.get(streamId);

        if (lane === undefined) {
          lanes.set(streamId, [job]);
          ready.push(streamId);
          return;
        }

        if (job.mode === 'live') {
          for (const older of lane.splice(0)) o.onDrop(older, 'superseded');
        } else if (lane.length >= o.maxQueuePerStream) {
          o.onDrop(job, 'queue_full');
          return;
        }
        lane.push(job);
      };

      const release = (): void => {
        // A released frame can change demand synchronously downstream and so call this again.
        // The loop below re-reads demand on every pass, so the inner call has nothing to add.
        if (releasing) return;
        releasing = true;

        while (o.demand.frames > 0 && ready.length > 0) {
          const streamId = ready.shift() as string;
          const lane = lanes.get(streamId) as T[];
          const job = lane.shift() as T;
          if (lane.length > 0) ready.push(streamId);
          else lanes.delete(streamId);

          if (o.onTaken(job)) subscriber.next(job);
        }

        releasing = false;
        if (sourceDone && ready.length === 0) subscriber.complete();
      };

      const demandSubscription = o.demand.changes$.subscribe(() => release());
      const sourceSubscription = source.subscribe({
        next(job) {
          enqueue(job);
          release();
        },
        error: (error) => subscriber.error(error),
        complete() {
          sourceDone = true;
          release();
        },
      });

      return () => {
        demandSubscription.unsubscribe();
        sourceSubscription.unsubscribe();
      };
    });
}
