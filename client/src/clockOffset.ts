// Estimate of the offset between the server's wall clock and this browser's, from Ping/Pong
// round trips, in the way NTP does it: for a ping sent at browser time t0, stamped by the
// server at s and received back at t3, offset = s - (t0 + t3) / 2 with an error of at most
// half the round trip t3 - t0. Among recent samples the one with the shortest round trip is
// the most trustworthy, because queueing delay inflates both the round trip and the error.

export interface ClockOffsetEstimate {
  /** Server wall clock minus browser wall clock, milliseconds. */
  offsetMs: number;
  /** Round trip of the sample the estimate comes from, milliseconds; the error is at most half of it. */
  roundTripMs: number;
  samples: number;
}

export class ClockOffsetEstimator {
  readonly #window: number;
  #samples: { offsetMs: number; roundTripMs: number }[] = [];

  /** `window`: how many recent samples are kept; the oldest drops out first. */
  constructor(window = 8) {
    this.#window = window;
  }

  /** Adds one round trip: browser send and receive times and the server stamp, all milliseconds. */
  addSample(clientSendMs: number, serverMs: number, clientReceiveMs: number): void {
    const roundTripMs = clientReceiveMs - clientSendMs;
    if (!(roundTripMs >= 0) || !Number.isFinite(serverMs)) return;
    this.#samples.push({ offsetMs: serverMs - (clientSendMs + clientReceiveMs) / 2, roundTripMs });
    if (this.#samples.length > this.#window) this.#samples.shift();
  }

  /** Returns the estimate from the shortest round trip, or null before the first sample. */
  estimate(): ClockOffsetEstimate | null {
    if (this.#samples.length === 0) return null;
    let best = this.#samples[0];
    for (const sample of this.#samples) {
      if (sample.roundTripMs < best.roundTripMs) best = sample;
    }
    return { offsetMs: best.offsetMs, roundTripMs: best.roundTripMs, samples: this.#samples.length };
  }

  reset(): void {
    this.#samples = [];
  }
}
