// Figures the viewer exposes for tests and benchmarks as window.__segwithuStats. Every field
// is updated by the render loop or the WebSocket handler; readers take a snapshot with
// page.evaluate and must not write to it.
import type { CssRect } from './viewerScene.js';

/** How many recent per-update latency samples are kept; older ones drop out first. */
export const LATENCY_SAMPLE_LIMIT = 2000;

export interface ViewerStats {
  /** Per painted update: milliseconds from the WebSocket message's arrival to the end of the render call that showed it. */
  arrivalToPaintMs: number[];
  /** Per painted update: device capture to paint, milliseconds, on the server's clock (needs a Pong first). */
  captureToPaintMs: number[];
  /** Updates received over the WebSocket (all streams this page subscribed to). */
  received: number;
  /** Updates painted. */
  painted: number;
  /** Updates replaced in the browser by a newer one before the render loop took them. */
  replaced: number;
  /** Results the server did not send to this viewer because it was behind (sum of skipped_since_last). */
  skippedByServer: number;
  /** Messages that failed to decode or validate; each is logged to the console. */
  invalidMessages: number;
  shownStreamId: string;
  shownSequence: number;
  shownRisk: number;
  shownModelId: string;
  /** Size of the frame shown, pixels; 0 × 0 before the first paint. */
  shownFrameSize: { width: number; height: number };
  alarm: boolean;
  alarmReason: string;
  /** Multiplier on the contour's opacity in effect: 1 normally, lower in alarm. */
  contourStrength: number;
  stale: boolean;
  /** Browser wall clock (Unix epoch, ms) of the last frame before the feed went stale; 0 while live. */
  staleSinceWallMs: number;
  connected: boolean;
  /** WebSocket connections opened so far, the first included. */
  connects: number;
  /** Server wall clock minus browser wall clock, ms; null before the first Pong. */
  clockOffsetMs: number | null;
  clockRoundTripMs: number | null;
  /** Frames painted per second over the last two seconds. */
  paintedFps: number;
  layers: { frame: boolean; contour: boolean; heatMap: boolean };
  opacity: number;
  alarmThresholds: { enter: number; exit: number } | null;
  /** Rectangle the frame is drawn in, CSS pixels relative to the page's top-left corner. */
  frameRectPage: CssRect | null;
}

export function createViewerStats(): ViewerStats {
  return {
    arrivalToPaintMs: [],
    captureToPaintMs: [],
    received: 0,
    painted: 0,
    replaced: 0,
    skippedByServer: 0,
    invalidMessages: 0,
    shownStreamId: '',
    shownSequence: -1,
    shownRisk: Number.NaN,
    shownModelId: '',
    shownFrameSize: { width: 0, height: 0 },
    alarm: false,
    alarmReason: '',
    contourStrength: 1,
    stale: false,
    staleSinceWallMs: 0,
    connected: false,
    connects: 0,
    clockOffsetMs: null,
    clockRoundTripMs: null,
    paintedFps: 0,
    layers: { frame: true, contour: true, heatMap: true },
    opacity: 0.7,
    alarmThresholds: null,
    frameRectPage: null,
  };
}

/** Appends `value`, keeping at most LATENCY_SAMPLE_LIMIT samples. */
export function pushSample(samples: number[], value: number): void {
  samples.push(value);
  if (samples.length > LATENCY_SAMPLE_LIMIT) samples.splice(0, samples.length - LATENCY_SAMPLE_LIMIT);
}

declare global {
  interface Window {
    __segwithuStats?: ViewerStats;
  }
}
