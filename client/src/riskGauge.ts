// The frame-risk gauge: a horizontal bar from 0 to 1 with the alarm's enter and exit
// thresholds marked, so the reader sees how close the frame is to raising or clearing it.
import type { AlarmThresholdsView } from './wire.js';

export class RiskGauge {
  readonly #root: HTMLElement;
  readonly #fill: HTMLElement;
  readonly #enterMark: HTMLElement;
  readonly #exitMark: HTMLElement;
  readonly #value: HTMLElement;

  constructor(root: HTMLElement, value: HTMLElement) {
    this.#root = root;
    this.#value = value;
    this.#fill = root.appendChild(document.createElement('div'));
    this.#fill.className = 'gauge-fill';
    this.#enterMark = this.#createMark('gauge-mark gauge-mark-enter');
    this.#exitMark = this.#createMark('gauge-mark gauge-mark-exit');
  }

  setThresholds(thresholds: AlarmThresholdsView | null): void {
    this.#placeMark(this.#enterMark, thresholds?.enter, 'enter');
    this.#placeMark(this.#exitMark, thresholds?.exit, 'exit');
  }

  /** Shows `risk` (0..1) and the alarm state; `stale` greys the gauge out. */
  show(risk: number, alarm: boolean, stale: boolean, thresholds: AlarmThresholdsView | null): void {
    const clamped = Math.min(1, Math.max(0, risk));
    this.#fill.style.width = `${(clamped * 100).toFixed(1)}%`;

    let level = 'low';
    if (thresholds && risk >= thresholds.enter) level = 'high';
    else if (thresholds && risk >= thresholds.exit) level = 'between';
    this.#root.dataset.level = level;
    this.#root.dataset.risk = risk.toFixed(4);
    this.#root.classList.toggle('stale', stale);
    this.#root.setAttribute('aria-valuenow', risk.toFixed(3));

    this.#value.textContent = `risk ${risk.toFixed(2)} · ${alarm ? 'ALARM' : 'no alarm'}${stale ? ' · stale' : ''}`;
  }

  #createMark(className: string): HTMLElement {
    const mark = this.#root.appendChild(document.createElement('div'));
    mark.className = className;
    mark.appendChild(document.createElement('span'));
    return mark;
  }

  #placeMark(mark: HTMLElement, threshold: number | undefined, name: string): void {
    mark.hidden = threshold === undefined;
    if (threshold === undefined) return;
    mark.style.left = `${(Math.min(1, Math.max(0, threshold)) * 100).toFixed(1)}%`;
    mark.firstElementChild!.textContent = `${name} ${threshold.toFixed(2)}`;
  }
}
