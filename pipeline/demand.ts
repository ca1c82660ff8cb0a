// Demand: how many more frames the batcher can take right now. It carries backpressure from
// the session back to the per-stream waiting slots:
//   - infer opens it (to the full batch size) whenever the session is idle;
//   - microBatch lowers it as a batch fills and closes it (0) when the batch is handed on;
//   - latestWins releases waiting frames only while it is positive.
// So frames wait in their stream's slot, where latest-wins can still replace them, until the
// session can actually start on them.

import { BehaviorSubject, type Observable } from 'rxjs';

export class Demand {
  readonly #frames = new BehaviorSubject(0);
  /** Frames in a full batch; open() restores this. */
  readonly capacity: number;
  /** The current demand, on subscription and on every change. */
  readonly changes$: Observable<number> = this.#frames.asObservable();

  constructor(capacity: number) {
    this.capacity = capacity;
  }

  get frames(): number {
    return this.#frames.value;
  }

  /** Sets the demand to `frames` (clamped to 0..capacity); notifies only on a change. */
  set(frames: number): void {
    const clamped = Math.max(0, Math.min(this.capacity, frames));
    if (clamped !== this.#frames.value) this.#frames.next(clamped);
  }

  open(): void {
    this.set(this.capacity);
  }

  close(): void {
    this.set(0);
  }
}
