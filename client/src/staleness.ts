// When the feed counts as stale: no frame for about four nominal frame intervals, but never
// sooner than 500 ms, so that one late frame on a fast stream does not flash the warning.

export const MIN_STALE_AFTER_MS = 500;
export const STALE_AFTER_INTERVALS = 4;
/** Used while the stream's nominal rate is unknown (0): the interval of a 2 Hz stream. */
export const STALE_AFTER_UNKNOWN_RATE_MS = 2000;

/** Returns how long without a frame, in milliseconds, makes a stream at `nominalRateHz` stale. */
export function staleAfterMs(nominalRateHz: number): number {
  if (!(nominalRateHz > 0)) return STALE_AFTER_UNKNOWN_RATE_MS;
  return Math.max(MIN_STALE_AFTER_MS, (STALE_AFTER_INTERVALS * 1000) / nominalRateHz);
}
