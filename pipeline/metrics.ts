// Metric primitives kept per stream: fixed-bucket histograms (memory stays constant however
// long a stream runs) and a processed-frame rate.

import type { HistogramSnapshot } from './index.js';

/** Latency bucket upper bounds in ms; they span a fast CPU batch to a stalled run. */
export const LATENCY_BUCKETS_MS: readonly number[] = [1, 2, 5, 10, 15, 20, 30, 40, 50, 75, 100, 150, 200, 300, 500, 1000, 2000, 5000];

export class Histogram {
  readonly #upperBounds: number[];
  readonly #counts: Float64Array;
  #count = 0;
  #sum = 0;

  /** `upperBounds` ascending; an Infinity bucket is added at the end. */
  constructor(upperBounds: readonly number[]) {
    this.#upperBounds = [...upperBounds, Infinity];
    this.#counts = new Float64Array(this.#upperBounds.length);
  }

  observe(value: number): void {
    let i = 0;
    while (value > this.#upperBounds[i]) i++;
    this.#counts[i]++;
    this.#count++;
    this.#sum += value;
  }

  snapshot(): HistogramSnapshot {
    let running = 0;
    const cumulativeCounts = Array.from(this.#counts, (count) => (running += count));
    return { upperBounds: [...this.#upperBounds], cumulativeCounts, count: this.#count, sum: this.#sum };
  }
}

/** Counts events in one-second slots and reports the mean rate over the last complete ones. */
export class RateMeter {
  static readonly SLOTS = 6;
  readonly #counts = new Float64Array(RateMeter.SLOTS);
  #currentSecond = -1;

  mark(nowMs: number = performance.now()): void {
    this.#advance(nowMs);
    this.#counts[this.#currentSecond % RateMeter.SLOTS]++;
  }

  /** Events per second over the last SLOTS - 1 complete seconds. */
  perSecond(nowMs: number = performance.now()): number {
    this.#advance(nowMs);
    let total = 0;
    for (let i = 1; i < RateMeter.SLOTS; i++) total += this.#counts[(this.#currentSecond - i + RateMeter.SLOTS) % RateMeter.SLOTS];
    return total / (RateMeter.SLOTS - 1);
  }

  #advance(nowMs: number): void {
    const second = Math.floor(nowMs / 1000);
    if (this.#currentSecond < 0) this.#currentSecond = second;
    // Clear the slots of the seconds that passed without a call, at most one full turn.
    for (let s = this.#currentSecond + 1; s <= second && s <= this.#currentSecond + RateMeter.SLOTS; s++) this.#counts[s % RateMeter.SLOTS] = 0;
    this.#currentSecond = Math.max(this.#currentSecond, second);
  }
}
