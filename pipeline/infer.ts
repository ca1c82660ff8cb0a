// infer: runs each batch through the one ONNX Runtime session, one batch at a time.

import { Observable, type OperatorFunction } from 'rxjs';

import type { Demand } from './demand.js';
import type { FrameOutputs, PreparedJob } from './job.js';
import type { ModelOutputs, RunBatch } from './model-session.js';

export interface InferOptions<T> {
  run: RunBatch;
  demand: Demand;
  /** Model input width × height. */
  pixelsPerFrame: number;
  classCount: number;
  /** Receives every frame of a batch whose run failed; the operator goes on with the next batch. */
  onBatchError: (jobs: T[], error: Error) => void;
  /** Reports each successful run: frames in it and its duration. */
  onRun?: (batchSize: number, durationNs: bigint) => void;
}

/** Frame `index` of `batchSize`'s share of each extra output (views into the batch buffers). */
function frameShares(extra: Record<string, Float32Array>, index: number, batchSize: number): Record<string, Float32Array> {
  const shares: Record<string, Float32Array> = {};
  for (const [name, data] of Object.entries(extra)) {
    const size = data.length / batchSize;
    shares[name] = data.subarray(index * size, (index + 1) * size);
  }
  return shares;
}

/**
 * Emits one job per frame of each batch, with that frame's outputs and the run's start and end
 * times, in batch order. Opens demand whenever the session is idle: on subscription and after
 * each run, before this batch's frames are emitted, so that the next batch can form (and its run
 * start) while this one is postprocessed. Completes after the source has completed and the last
 * run has settled; errors from the source pass through, errors from a run do not.
 */
export function infer<T extends PreparedJob>(o: InferOptions<T>): OperatorFunction<T[], T & { outputs: FrameOutputs; inferenceStartNs: bigint; inferenceEndNs: bigint }> {
  type Out = T & { outputs: FrameOutputs; inferenceStartNs: bigint; inferenceEndNs: bigint };

  return (source) =>
    new Observable<Out>((subscriber) => {
      const waiting: T[][] = [];
      let running = false;
      let sourceDone = false;
      let unsubscribed = false;
      /** Batches whose run ended and whose frames wait for the next turn to be emitted. */
      let emitting = 0;

      const emitFrames = (batch: T[], outputs: ModelOutputs, startNs: bigint, endNs: bigint): void => {
        const mapSize = o.pixelsPerFrame;
        const logitsSize = o.classCount * mapSize;
        batch.forEach((job, i) => {
          const frameOutputs: FrameOutputs = {
            logits: outputs.logits.subarray(i * logitsSize, (i + 1) * logitsSize),
            calibration: outputs.calibration.subarray(i * mapSize, (i + 1) * mapSize),
            errorProbability: outputs.errorProbability.subarray(i * mapSize, (i + 1) * mapSize),
            frameRisk: outputs.frameRisk[i],
          };
          subscriber.next({
            ...job,
            outputs: outputs.extra === undefined ? frameOutputs : { ...frameOutputs, extra: frameShares(outputs.extra, i, batch.length) },
            inferenceStartNs: startNs,
            inferenceEndNs: endNs,
          });
        });
      };

      const completeIfDone = (): void => {
        if (sourceDone && !running && waiting.length === 0 && emitting === 0) subscriber.complete();
      };

      const sessionIdle = (): void => {
        running = false;
        if (waiting.length === 0 && !sourceDone && !unsubscribed) o.demand.open();
      };

      const runNext = (): void => {
        if (running || unsubscribed) return;
        const batch = waiting.shift();
        if (batch === undefined) {
          completeIfDone();
          return;
        }
        running = true;

        const input = new Float32Array(batch.length * o.pixelsPerFrame);
        batch.forEach((job, i) => input.set(job.input, i * o.pixelsPerFrame));

        const startNs = process.hrtime.bigint();
        new Promise<ModelOutputs>((resolve) => resolve(o.run(input, batch.length))).then(
          (outputs) => {
            const endNs = process.hrtime.bigint();
            o.onRun?.(batch.length, endNs - startNs);
            sessionIdle();

            // Emit on the next turn, after microBatch's own close (scheduled while demand
            // opened), so the next run is already going while these frames are postprocessed.
            emitting++;
            setImmediate(() => {
              emitting--;
              if (unsubscribed) return;
              emitFrames(batch, outputs, startNs, endNs);
              runNext();
            });
            runNext();
          },
          (error: unknown) => {
            sessionIdle();
            if (unsubscribed) return;
            o.onBatchError(batch, error instanceof Error ? error : new Error(String(error)));
            runNext();
          },
        );
      };

      const subscription = source.subscribe({
        next(batch) {
          waiting.push(batch);
          runNext();
        },
        error: (error) => subscriber.error(error),
        complete() {
          sourceDone = true;
          runNext();
        },
      });
      o.demand.open();

      return () => {
        unsubscribed = true;
        subscription.unsubscribe();
      };
    });
}
