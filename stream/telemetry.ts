// Counters kept by the transports and the viewer fan-out, next to the pipeline's own metrics:
// rejected messages by error code, frame arrival rate, viewer sends and skips, and the
// received -> sent latency. /metrics renders them with the pipeline's figures.

import type { HistogramSnapshot } from '../pipeline/index.js';
import { INGEST_ERROR_CODES, type IngestErrorCode, VIEWER_ERROR_CODES, type ViewerErrorCode } from './errors.js';

/** Label used for rejected messages that arrived before a stream existed (no hello yet). */
export const NO_STREAM = '';

/** Upper bounds of the latency histograms, in ms (Prometheus le labels are these / 1000 s). */
export const LATENCY_BUCKETS_MS: readonly number[] = [1, 2, 5, 10, 20, 35, 50, 75, 100, 150, 250, 500, 1000, 2500, Infinity];

export class Histogram {
  readonly #upperBounds: readonly number[];
  readonly #counts: number[];
  #count = 0;
  #sum = 0;

  constructor(upperBounds: readonly number[]) {
    this.#upperBounds = upperBounds;
    this.#counts = upperBounds.map(() => 0);
  }

  observe(value: number): void {
    const index = this.#upperBounds.findIndex((bound) => value <= bound);
    this.#counts[index === -1 ? this.#counts.length - 1 : index] += 1;
    this.#count += 1;
    this.#sum += value;
  }

  snapshot(): HistogramSnapshot {
    let running = 0;
    const cumulativeCounts = this.#counts.map((count) => (running += count));
    return { upperBounds: [...this.#upperBounds], cumulativeCounts, count: this.#count, sum: this.#sum };
  }
}

/** Events per second over a sliding window, from the arrival times of the latest events. */
export class RateMeter {
  readonly #windowMs: number;
  readonly #times: number[] = [];
  readonly #capacity: number;

  constructor(windowMs = 2000, capacity = 1024) {
    this.#windowMs = windowMs;
    this.#capacity = capacity;
  }

  mark(nowMs = performance.now()): void {
    this.#times.push(nowMs);
    if (this.#times.length > this.#capacity) {
      this.#times.shift();
    }
  }

  /** Events per second within the window that ends now; 0 after the window has passed idle. */
  perSecond(nowMs = performance.now()): number {
    const since = nowMs - this.#windowMs;
    let inWindow = 0;
    for (let i = this.#times.length - 1; i >= 0 && this.#times[i] >= since; i -= 1) {
      inWindow += 1;
    }
    return inWindow / (this.#windowMs / 1000);
  }
}

export interface StreamTelemetry {
  /** Frames that arrived from the device, valid or not. */
  arrivals: RateMeter;
  /** received -> sent to the first viewer, in ms. */
  sendLatencyMs: Histogram;
  viewerUpdatesSent: number;
  /** Updates not sent to a viewer that was behind: its socket above the send budget, or its acknowledgement window full. */
  viewerUpdatesSkipped: number;
  /** The part of viewerUpdatesSkipped that was held back by a full acknowledgement window. */
  viewerUpdatesAwaitingAck: number;
  /** Sequence numbers a device skipped (frames never received), across reconnects of the stream. */
  sequenceGapFrames: number;
  /** Frames whose sequence number was at or below the previous frame's; each was still processed. */
  sequenceRegressions: number;
  /** Recording replays only: capture-time steps out of range, paced at the nominal frame interval instead. */
  captureStepsReplaced: number;
  /** Times a device reconnected and resumed this stream id after its connection ended. */
  resumes: number;
}

export class Telemetry {
  readonly #invalid = new Map<string, Map<IngestErrorCode, number>>();
  readonly #streams = new Map<string, StreamTelemetry>();
  readonly #connections = new Map<string, number>();
  /** Connections rejected for a missing or invalid token, by "role transport". */
  readonly #authFailures = new Map<string, number>();
  /** Viewer requests rejected with an ErrorReport, by code. */
  readonly #viewerRejections = new Map<ViewerErrorCode, number>();

  stream(streamId: string): StreamTelemetry {
    let entry = this.#streams.get(streamId);
    if (entry === undefined) {
      entry = {
        arrivals: new RateMeter(),
        sendLatencyMs: new Histogram(LATENCY_BUCKETS_MS),
        viewerUpdatesSent: 0,
        viewerUpdatesSkipped: 0,
        viewerUpdatesAwaitingAck: 0,
        sequenceGapFrames: 0,
        sequenceRegressions: 0,
        captureStepsReplaced: 0,
        resumes: 0,
      };
      this.#streams.set(streamId, entry);
    }
    return entry;
  }

  streams(): [string, StreamTelemetry][] {
    return [...this.#streams];
  }

  /** Drops a forgotten stream's counters, so streams that come and go cannot grow these maps. */
  forgetStream(streamId: string): void {
    this.#streams.delete(streamId);
    this.#invalid.delete(streamId);
  }

  /** Counts a rejected message; streamId is NO_STREAM when the connection had no stream yet. */
  countInvalid(streamId: string, code: IngestErrorCode): void {
    let byCode = this.#invalid.get(streamId);
    if (byCode === undefined) {
      byCode = new Map();
      this.#invalid.set(streamId, byCode);
    }
    byCode.set(code, (byCode.get(code) ?? 0) + 1);
  }

  /** Rejected messages per stream and code, every code listed (zeros included) so series never vanish. */
  invalidCounts(): { streamId: string; code: IngestErrorCode; count: number }[] {
    const rows: { streamId: string; code: IngestErrorCode; count: number }[] = [];
    for (const [streamId, byCode] of this.#invalid) {
      for (const code of INGEST_ERROR_CODES) {
        rows.push({ streamId, code, count: byCode.get(code) ?? 0 });
      }
    }
    return rows;
  }

  connectionOpened(transport: string): void {
    this.#connections.set(transport, (this.#connections.get(transport) ?? 0) + 1);
  }

  connectionClosed(transport: string): void {
    this.#connections.set(transport, Math.max(0, (this.#connections.get(transport) ?? 0) - 1));
  }

  connections(): [string, number][] {
    return [...this.#connections];
  }

  /** Counts a connection or request rejected for a missing or invalid token. */
  countAuthFailure(role: string, transport: string): void {
    const key = `${role} ${transport}`;
    this.#authFailures.set(key, (this.#authFailures.get(key) ?? 0) + 1);
  }

  countViewerRejection(code: ViewerErrorCode): void {
    this.#viewerRejections.set(code, (this.#viewerRejections.get(code) ?? 0) + 1);
  }

  /** Rejected viewer requests by code, every code listed (zeros included) so series never vanish. */
  viewerRejections(): { code: ViewerErrorCode; count: number }[] {
    return VIEWER_ERROR_CODES.map((code) => ({ code, count: this.#viewerRejections.get(code) ?? 0 }));
  }

  authFailures(): { role: string; transport: string; count: number }[] {
    return [...this.#authFailures].map(([key, count]) => {
      const [role, transport] = key.split(' ');
      return { role, transport, count };
    });
  }
}
