// Logging: pino, one structured line per event. Errors that a device can repeat at frame rate
// (a bad frame 30 times a second) go through RateLimitedLog so they cannot flood the log.

import { pino, type Logger } from 'pino';

export function createLogger(level: string): Logger {
  return pino({ name: 'segwithu-live', level });
}

export interface RateLimitOptions {
  /** Lines logged per key within one window before the rest are only counted. Default 5. */
  burst?: number;
  /** Window length in ms. Default 10 000. */
  windowMs?: number;
}

interface KeyWindow {
  startedAtMs: number;
  logged: number;
  suppressed: number;
}

/**
 * Logs the first `burst` errors per key (for example stream id + error code) in each window and
 * counts the rest. The next line for that key, or a summary line once the key has been idle for
 * two windows, reports how many were left out.
 */
export class RateLimitedLog {
  readonly #logger: Logger;
  readonly #burst: number;
  readonly #windowMs: number;
  readonly #windows = new Map<string, KeyWindow>();
  #suppressedTotal = 0;

  constructor(logger: Logger, { burst = 5, windowMs = 10_000 }: RateLimitOptions = {}) {
    this.#logger = logger;
    this.#burst = burst;
    this.#windowMs = windowMs;
  }

  /** Lines left out since the start, over all keys. */
  get suppressedTotal(): number {
    return this.#suppressedTotal;
  }

  warn(key: string, fields: Record<string, unknown>, message: string): void {
    this.#log('warn', key, fields, message);
  }

  error(key: string, fields: Record<string, unknown>, message: string): void {
    this.#log('error', key, fields, message);
  }

  #log(level: 'warn' | 'error', key: string, fields: Record<string, unknown>, message: string): void {
    const nowMs = Date.now();
    let window = this.#windows.get(key);

    if (window === undefined || nowMs - window.startedAtMs >= this.#windowMs) {
      const suppressedBefore = window?.suppressed ?? 0;
      window = { startedAtMs: nowMs, logged: 0, suppressed: 0 };
      this.#windows.set(key, window);
      this.#pruneOldWindows(nowMs);
      if (suppressedBefore > 0) {
        fields = { ...fields, suppressedRepeats: suppressedBefore };
      }
    }

    if (window.logged >= this.#burst) {
      window.suppressed += 1;
      this.#suppressedTotal += 1;
      return;
    }
    window.logged += 1;
    this.#logger[level](fields, message);
  }

  /** Drops windows idle for two periods so the map stays as small as the set of active keys. */
  #pruneOldWindows(nowMs: number): void {
    for (const [key, window] of this.#windows) {
      if (nowMs - window.startedAtMs < 2 * this.#windowMs) {
        continue;
      }
      if (window.suppressed > 0) {
        this.#logger.warn({ key, suppressedRepeats: window.suppressed }, 'repeated log lines were left out');
      }
      this.#windows.delete(key);
    }
  }
}
