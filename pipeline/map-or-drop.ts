// mapOrDrop: the per-frame map every stage uses, so that an exception on one frame drops that
// frame instead of erroring the whole stream of frames.

import { Observable, type OperatorFunction } from 'rxjs';

/**
 * Emits project(job) for each job, in order. When project throws, calls onError(job, error)
 * and emits nothing for that job; the operator goes on. Completes and errors with its source.
 */
export function mapOrDrop<In, Out>(project: (job: In) => Out, onError: (job: In, error: Error) => void): OperatorFunction<In, Out> {
  return (source) =>
    new Observable<Out>((subscriber) =>
      source.subscribe({
        next(job) {
          let out: Out;
          try {
            out = project(job);
          } catch (error) {
            onError(job, error instanceof Error ? error : new Error(String(error)));
            return;
          }
          subscriber.next(out);
        },
        error: (error) => subscriber.error(error),
        complete: () => subscriber.complete(),
      }),
    );
}
