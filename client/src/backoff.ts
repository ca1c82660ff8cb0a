// Reconnect delays for the viewer's WebSocket: exponential growth, capped, with jitter so
// that many viewers do not all reconnect at the same instant after a server restart.

export interface BackoffOptions {
  /** Delay before the first retry, milliseconds. Default 250. */
  initialMs?: number;
  /** Growth factor per failed attempt. Default 2. */
  factor?: number;
  /** Upper bound of the delay before jitter, milliseconds. Default 8000. */
  maxMs?: number;
  /** Share of the delay that is random: the delay is drawn from [(1 - jitter) × d, d]. Default 0.5. */
  jitter?: number;
}

/**
 * Returns the delay in milliseconds before reconnect attempt `attempt` (0 for the first retry).
 * `random` is a number in [0, 1), Math.random() outside tests.
 */
export function reconnectDelayMs(attempt: number, random: number, options: BackoffOptions = {}): number {
  const { initialMs = 250, factor = 2, maxMs = 8000, jitter = 0.5 } = options;
  const exponent = Math.max(0, Math.floor(attempt));
  const ceilingMs = Math.min(maxMs, initialMs * factor ** exponent);
  return ceilingMs * (1 - jitter * random);
}
