// The text of the status line under the view: frame rate, end-to-end latency with the clock
// offset it relies on, and every way a frame can fail to reach the screen.
import type { ClockOffsetEstimate } from './clockOffset.js';
import type { CountersView } from './wire.js';

export interface StatusFigures {
  paintedFps: number;
  /** Device capture to paint of the frame shown, ms on the server clock; null before the first Pong. */
  captureToPaintMs: number | null;
  clock: ClockOffsetEstimate | null;
  counters: CountersView | null;
  skippedByServer: number;
  replacedInBrowser: number;
  sequence: number;
  modelId: string;
}

/**
 * Largest capture-to-paint delay shown as a latency, in ms. A larger or negative value means the
 * device's clock is not synchronised with the server's, so the figure would measure the clocks,
 * not the pipeline.
 */
export const MAX_PLAUSIBLE_CAPTURE_TO_PAINT_MS = 60_000;

/** True when a capture-to-paint delay can be a real latency rather than a clock difference. */
export function plausibleCaptureToPaint(ms: number): boolean {
  return ms >= 0 && ms <= MAX_PLAUSIBLE_CAPTURE_TO_PAINT_MS;
}

function formatSigned(value: number, digits: number): string {
  return `${value >= 0 ? '+' : '−'}${Math.abs(value).toFixed(digits)}`;
}

export function formatStatusLine(figures: StatusFigures): string {
  const parts: string[] = [`${figures.paintedFps.toFixed(1)} fps`];

  if (figures.captureToPaintMs === null || figures.clock === null) {
    parts.push('latency capture→paint: waiting for clock offset');
  } else if (!plausibleCaptureToPaint(figures.captureToPaintMs)) {
    parts.push(`latency capture→paint: not shown, the device clock differs from the server's by ${formatSigned(figures.captureToPaintMs / 1000, 0)} s (synchronise it, for example by NTP)`);
  } else {
    parts.push(`latency capture→paint ${figures.captureToPaintMs.toFixed(0)} ms`);
  }
  if (figures.clock) {
    parts.push(`clock offset ${formatSigned(figures.clock.offsetMs, 1)} ms ±${(figures.clock.roundTripMs / 2).toFixed(1)}`);
  }

  if (figures.counters) {
    const reasons = Object.entries(figures.counters.droppedByReason)
      .filter(([, count]) => count > 0)
      .map(([reason, count]) => `${reason} ${count}`);
    parts.push(`dropped ${figures.counters.dropped}${reasons.length ? ` (${reasons.join(', ')})` : ''} of ${figures.counters.received}`);
  }
  parts.push(`skipped ${figures.skippedByServer} by server, ${figures.replacedInBrowser} in browser`);

  if (figures.sequence >= 0) parts.push(`frame ${figures.sequence}`);
  if (figures.modelId) parts.push(`model ${figures.modelId}`);
  return parts.join(' · ');
}
