// The risk timeline: frame risk over the last few seconds on a 2D canvas, with the alarm
// thresholds as dashed lines and alarm periods shaded, newest sample at the right edge.
import type { AlarmThresholdsView } from './wire.js';

/** Width of the time window shown, milliseconds. */
export const TIMELINE_WINDOW_MS = 10_000;

interface RiskSample {
  wallMs: number;
  risk: number;
  alarm: boolean;
}

export class RiskTimeline {
  readonly #canvas: HTMLCanvasElement;
  #samples: RiskSample[] = [];

  constructor(canvas: HTMLCanvasElement) {
    this.#canvas = canvas;
  }

  add(wallMs: number, risk: number, alarm: boolean): void {
    this.#samples.push({ wallMs, risk, alarm });
  }

  clear(): void {
    this.#samples = [];
  }

  /** Redraws the window that ends at `nowWallMs`; drops samples older than the window. */
  draw(nowWallMs: number, thresholds: AlarmThresholdsView | null, stale: boolean): void {
    const startMs = nowWallMs - TIMELINE_WINDOW_MS;
    const firstKept = this.#samples.findIndex((sample) => sample.wallMs >= startMs);
    this.#samples = firstKept < 0 ? [] : this.#samples.slice(firstKept);

    const context = this.#prepareContext();
    if (!context) return;
    const { width, height } = this.#canvas.getBoundingClientRect();
    const x = (wallMs: number) => ((wallMs - startMs) / TIMELINE_WINDOW_MS) * width;
    const y = (risk: number) => (1 - Math.min(1, Math.max(0, risk))) * (height - 2) + 1;

    context.fillStyle = '#181b1f';
    context.fillRect(0, 0, width, height);

    context.fillStyle = 'rgba(255, 59, 48, 0.25)';
    for (let i = 0; i < this.#samples.length; i++) {
      const sample = this.#samples[i];
      if (!sample.alarm) continue;
      const end = this.#samples[i + 1]?.wallMs ?? nowWallMs;
      context.fillRect(x(sample.wallMs), 0, Math.max(1, x(end) - x(sample.wallMs)), height);
    }

    if (thresholds) {
      context.setLineDash([4, 3]);
      context.lineWidth = 1;
      context.strokeStyle = '#ff6b5e';
      this.#horizontalLine(context, y(thresholds.enter), width);
      context.strokeStyle = '#f5c542';
      this.#horizontalLine(context, y(thresholds.exit), width);
      context.setLineDash([]);
    }

    context.strokeStyle = stale ? '#777' : '#e8e8e8';
    context.lineWidth = 1.5;
    context.beginPath();
    this.#samples.forEach((sample, index) => {
      if (index === 0) context.moveTo(x(sample.wallMs), y(sample.risk));
      else context.lineTo(x(sample.wallMs), y(sample.risk));
    });
    context.stroke();
  }

  #prepareContext(): CanvasRenderingContext2D | null {
    const { width, height } = this.#canvas.getBoundingClientRect();
    const ratio = window.devicePixelRatio || 1;
    const pixelWidth = Math.max(1, Math.round(width * ratio));
    const pixelHeight = Math.max(1, Math.round(height * ratio));
    if (this.#canvas.width !== pixelWidth || this.#canvas.height !== pixelHeight) {
      this.#canvas.width = pixelWidth;
      this.#canvas.height = pixelHeight;
    }
    const context = this.#canvas.getContext('2d');
    context?.setTransform(ratio, 0, 0, ratio, 0, 0);
    return context;
  }

  #horizontalLine(context: CanvasRenderingContext2D, y: number, width: number): void {
    context.beginPath();
    context.moveTo(0, y);
    context.lineTo(width, y);
    context.stroke();
  }
}
