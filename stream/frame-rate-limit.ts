// Per-stream frame rate limit: a token bucket that refills at maxFrameRateHz and has room for
// half a second's frames. A device at or below the rate is not limited while its jitter bunches
// fewer frames than that together. One that sends faster for longer has the excess rejected.

/** Share of a second whose frames may arrive at once. */
const BURST_SECONDS = 0.5;

export class FrameRateLimiter {
  readonly #rateHz: number;
  readonly #capacity: number;
  #tokens: number;
  #lastMs: number | undefined;

  /** `rateHz` frames per second, sustained. */
  constructor(rateHz: number) {
    this.#rateHz = rateHz;
    this.#capacity = Math.max(1, rateHz * BURST_SECONDS);
    this.#tokens = this.#capacity;
  }

  /** Takes one frame's token at `nowMs` (a monotonic clock); false when the stream is above its rate. */
  tryTake(nowMs: number): boolean {
    if (this.#lastMs !== undefined) {
      const elapsedS = Math.max(0, nowMs - this.#lastMs) / 1000;
      this.#tokens = Math.min(this.#capacity, this.#tokens + elapsedS * this.#rateHz);
    }
    this.#lastMs = nowMs;

    if (this.#tokens < 1) {
      return false;
    }
    this.#tokens -= 1;
    return true;
  }
}
