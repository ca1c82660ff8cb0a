// SVG plots for evaluation reports: risk-coverage curves, reliability diagrams and frame risk
// over time. Each function returns a standalone SVG document as a string, with a title, axis
// labels and a legend, so a report can embed or link it as is. No dependencies.

import type { ReliabilityBin, RiskCoverageCurve } from './metrics.js';

/** Okabe-Ito colours, distinguishable with the common forms of colour blindness. */
const PALETTE = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#000000', '#F0E442'];

/** Points kept per drawn curve; longer series are thinned evenly, keeping both ends. */
const MAX_POINTS_PER_SERIES = 1000;

export interface PlotSize {
  /** Width of the SVG in CSS pixels, legend included. Default 720. */
  width?: number;
  /** Height of the SVG in CSS pixels. Default 420. */
  height?: number;
}

export interface RiskCoverageSeries {
  label: string;
  curve: RiskCoverageCurve;
  /** Shown in the legend next to the label when given. */
  aurc?: number;
}

export interface FrameRiskSeries {
  label: string;
  /** Frame index or seconds since the start, ascending. */
  time: ArrayLike<number>;
  /** Frame risk in [0, 1]; NaN leaves a gap. */
  risk: ArrayLike<number>;
}

// ---------------------------------------------------------------------------------------------
// Public plots

/** Selective risk against coverage for one or more uncertainty scores; lower curves are better. */
export function riskCoverageSvg(series: RiskCoverageSeries[], title: string, size: PlotSize = {}): string {
  const maxRisk = Math.max(0, ...series.flatMap((s) => finiteValues(s.curve.risk)));
  const chart = new Chart(title, 'Coverage (share of pixels kept, least uncertain first)', 'Selective risk (error rate of kept pixels)', {
    x: [0, 1],
    y: [0, niceCeiling(maxRisk)],
    size,
  });
  const legend = series.map((s, i) => {
    chart.polyline(s.curve.coverage, s.curve.risk, colour(i));
    const suffix = s.aurc === undefined ? '' : ` (AURC ${formatNumber(s.aurc)})`;
    return { label: s.label + suffix, colour: colour(i) };
  });
  chart.legend(legend);
  return chart.render();
}

/**
 * Reliability diagram: the observed frequency in each probability bin as bars against the
 * diagonal of perfect calibration, with each bin's share of items as a grey histogram along the
 * bottom, where a bar of height 0.2 means every item. `expectedCalibrationError`, when given,
 * is shown in the legend.
 */
export function reliabilityDiagramSvg(
  bins: ReliabilityBin[],
  title: string,
  options: PlotSize & { label?: string; expectedCalibrationError?: number } = {},
): string {
  const chart = new Chart(title, 'Predicted probability', 'Observed frequency', { x: [0, 1], y: [0, 1], size: options });
  chart.line([0, 1], [0, 1], '#777777', { dashed: true });

  for (const bin of bins) {
    if (bin.count > 0 && Number.isFinite(bin.observedFrequency)) {
      chart.bar(bin.lower, bin.upper, 0, bin.observedFrequency, colour(0), 0.75);
    }
  }
  const total = bins.reduce((sum, bin) => sum + bin.count, 0);
  for (const bin of bins) {
    if (total > 0 && bin.count > 0) chart.bar(bin.lower, bin.upper, 0, (0.2 * bin.count) / total, '#555555', 0.6);
  }

  const ece = options.expectedCalibrationError;
  const label = (options.label ?? 'Observed frequency') + (ece === undefined ? '' : ` (ECE ${formatNumber(ece)})`);
  chart.legend([
    { label, colour: colour(0) },
    { label: 'Perfect calibration', colour: '#777777', dashed: true },
    { label: 'Share of items (0.2 = all)', colour: '#555555' },
  ]);
  return chart.render();
}

/**
 * Frame risk over time for one or more series, with the alarm's entry and exit thresholds as
 * dashed lines and, when given, failing frames (for example Dice below the failure threshold)
 * as red ticks along the bottom.
 */
export function frameRiskTimelineSvg(
  series: FrameRiskSeries[],
  title: string,
  options: PlotSize & {
    timeLabel?: string;
    alarmEnter?: number;
    alarmExit?: number;
    /** Times of failing frames. */
    failures?: ArrayLike<number>;
  } = {},
): string {
  const times = series.flatMap((s) => finiteValues(s.time));
  const first = times.length > 0 ? Math.min(...times) : 0;
  const last = times.length > 0 ? Math.max(...times) : 1;
  const chart = new Chart(title, options.timeLabel ?? 'Frame', 'Frame risk', {
    x: [first, last > first ? last : first + 1],
    y: [0, 1],
    size: options,
  });

  const legend: LegendEntry[] = [];
  series.forEach((s, i) => {
    chart.polyline(s.time, s.risk, colour(i));
    legend.push({ label: s.label, colour: colour(i) });
  });
  if (options.alarmEnter !== undefined) {
    chart.line([first, last], [options.alarmEnter, options.alarmEnter], '#D55E00', { dashed: true });
    legend.push({ label: `Alarm entry (${formatNumber(options.alarmEnter)})`, colour: '#D55E00', dashed: true });
  }
  if (options.alarmExit !== undefined) {
    chart.line([first, last], [options.alarmExit, options.alarmExit], '#009E73', { dashed: true });
    legend.push({ label: `Alarm exit (${formatNumber(options.alarmExit)})`, colour: '#009E73', dashed: true });
  }
  if (options.failures && options.failures.length > 0) {
    chart.ticks(options.failures, '#CC0000');
    legend.push({ label: 'Failing frame', colour: '#CC0000' });
  }
  chart.legend(legend);
  return chart.render();
}

// ---------------------------------------------------------------------------------------------
// A minimal chart: linear axes, a plot area, and marks added in data coordinates.

interface LegendEntry {
  label: string;
  colour: string;
  dashed?: boolean;
}

interface ChartDomain {
  x: [number, number];
  y: [number, number];
  size: PlotSize;
}

const MARGIN = { left: 64, right: 16, top: 40, bottom: 52 };
const LEGEND_ROW_HEIGHT = 16;

/** Width of a legend box in CSS pixels: the key line plus an estimate of 6.5 pixels per character at font size 12. */
function legendWidth(entries: LegendEntry[]): number {
  return 48 + 6.5 * Math.max(0, ...entries.map((entry) => entry.label.length));
}

class Chart {
  readonly #width: number;
  readonly #height: number;
  readonly #x: [number, number];
  readonly #y: [number, number];
  readonly #title: string;
  readonly #xLabel: string;
  readonly #yLabel: string;
  /** Marks render after the legend has set the plot area, so each is kept as a function. */
  readonly #marks: Array<() => string> = [];
  #legend: LegendEntry[] = [];
  #marginRight = MARGIN.right;

  constructor(title: string, xLabel: string, yLabel: string, domain: ChartDomain) {
    this.#width = domain.size.width ?? 720;
    this.#height = domain.size.height ?? 420;
    this.#x = domain.x;
    this.#y = domain.y;
    this.#title = title;
    this.#xLabel = xLabel;
    this.#yLabel = yLabel;
  }

  #toX(value: number): number {
    const [low, high] = this.#x;
    return MARGIN.left + ((value - low) / (high - low)) * (this.#width - MARGIN.left - this.#marginRight);
  }

  #toY(value: number): number {
    const [low, high] = this.#y;
    return this.#height - MARGIN.bottom - ((value - low) / (high - low)) * (this.#height - MARGIN.top - MARGIN.bottom);
  }

  /** Draws a curve; a non-finite value ends one path segment and the next finite value starts another. */
  polyline(xs: ArrayLike<number>, ys: ArrayLike<number>, stroke: string): void {
    const indices = thinIndices(Math.min(xs.length, ys.length), MAX_POINTS_PER_SERIES);
    const points = indices.map((i) => [xs[i], ys[i]]);
    this.#marks.push(() => {
      let path = '';
      let penDown = false;
      for (const [x, y] of points) {
        if (!Number.isFinite(x) || !Number.isFinite(y)) {
          penDown = false;
          continue;
        }
        path += `${penDown ? 'L' : 'M'}${coordinate(this.#toX(x))},${coordinate(this.#toY(y))}`;
        penDown = true;
      }
      return path ? `<path d="${path}" fill="none" stroke="${stroke}" stroke-width="1.8"/>` : '';
    });
  }

  line(xs: [number, number], ys: [number, number], stroke: string, { dashed = false } = {}): void {
    const dash = dashed ? ' stroke-dasharray="6 4"' : '';
    this.#marks.push(
      () =>
        `<line x1="${coordinate(this.#toX(xs[0]))}" y1="${coordinate(this.#toY(ys[0]))}" ` +
        `x2="${coordinate(this.#toX(xs[1]))}" y2="${coordinate(this.#toY(ys[1]))}" stroke="${stroke}" stroke-width="1.2"${dash}/>`,
    );
  }

  bar(xLow: number, xHigh: number, yLow: number, yHigh: number, fill: string, opacity: number): void {
    this.#marks.push(() => {
      const left = this.#toX(xLow);
      const right = this.#toX(xHigh);
      const top = this.#toY(yHigh);
      const bottom = this.#toY(yLow);
      return (
        `<rect x="${coordinate(left + 0.5)}" y="${coordinate(top)}" width="${coordinate(Math.max(0, right - left - 1))}" ` +
        `height="${coordinate(Math.max(0, bottom - top))}" fill="${fill}" fill-opacity="${opacity}"/>`
      );
    });
  }

  /** Short vertical ticks at the bottom of the plot area, one per value. */
  ticks(xs: ArrayLike<number>, stroke: string): void {
    const values = finiteValues(xs);
    this.#marks.push(() => {
      const bottom = this.#toY(this.#y[0]);
      let path = '';
      for (const value of values) {
        const x = coordinate(this.#toX(value));
        path += `M${x},${coordinate(bottom)}L${x},${coordinate(bottom - 8)}`;
      }
      return path ? `<path d="${path}" stroke="${stroke}" stroke-width="1.5"/>` : '';
    });
  }

  /** Sets the legend, drawn right of the plot area so that it never hides a mark. */
  legend(entries: LegendEntry[]): void {
    this.#legend = entries;
    this.#marginRight = entries.length > 0 ? MARGIN.right + legendWidth(entries) + 8 : MARGIN.right;
  }

  render(): string {
    const width = this.#width;
    const height = this.#height;
    const plotRight = width - this.#marginRight;
    const plotBottom = height - MARGIN.bottom;
    const parts: string[] = [
      `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ` +
        `font-family="sans-serif" font-size="12">`,
      `<title>${escapeXml(this.#title)}</title>`,
      `<rect width="${width}" height="${height}" fill="#FFFFFF"/>`,
      `<text x="${width / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${escapeXml(this.#title)}</text>`,
    ];

    // Grid, tick labels and axes.
    for (const value of niceTicks(this.#x[0], this.#x[1])) {
      const x = coordinate(this.#toX(value));
      parts.push(`<line x1="${x}" y1="${MARGIN.top}" x2="${x}" y2="${plotBottom}" stroke="#EEEEEE"/>`);
      parts.push(`<text x="${x}" y="${plotBottom + 16}" text-anchor="middle">${formatNumber(value)}</text>`);
    }
    for (const value of niceTicks(this.#y[0], this.#y[1])) {
      const y = coordinate(this.#toY(value));
      parts.push(`<line x1="${MARGIN.left}" y1="${y}" x2="${plotRight}" y2="${y}" stroke="#EEEEEE"/>`);
      parts.push(`<text x="${MARGIN.left - 6}" y="${y + 4}" text-anchor="end">${formatNumber(value)}</text>`);
    }
    parts.push(
      `<path d="M${MARGIN.left},${MARGIN.top}L${MARGIN.left},${plotBottom}L${plotRight},${plotBottom}" fill="none" stroke="#333333"/>`,
    );
    parts.push(`<text x="${(MARGIN.left + plotRight) / 2}" y="${height - 12}" text-anchor="middle">${escapeXml(this.#xLabel)}</text>`);
    const yLabelY = (MARGIN.top + plotBottom) / 2;
    parts.push(
      `<text x="16" y="${yLabelY}" text-anchor="middle" transform="rotate(-90 16 ${yLabelY})">${escapeXml(this.#yLabel)}</text>`,
    );

    for (const mark of this.#marks) parts.push(mark());

    if (this.#legend.length > 0) {
      const left = plotRight + 8;
      const top = MARGIN.top;
      parts.push(
        `<rect x="${left}" y="${top}" width="${legendWidth(this.#legend)}" height="${this.#legend.length * LEGEND_ROW_HEIGHT + 8}" ` +
          `fill="#FFFFFF" stroke="#CCCCCC"/>`,
      );
      this.#legend.forEach((entry, i) => {
        const y = top + 14 + i * LEGEND_ROW_HEIGHT;
        const dash = entry.dashed ? ' stroke-dasharray="6 4"' : '';
        parts.push(`<line x1="${left + 8}" y1="${y - 4}" x2="${left + 32}" y2="${y - 4}" stroke="${entry.colour}" stroke-width="2.5"${dash}/>`);
        parts.push(`<text x="${left + 38}" y="${y}">${escapeXml(entry.label)}</text>`);
      });
    }

    parts.push('</svg>');
    return parts.join('\n') + '\n';
  }
}

// ---------------------------------------------------------------------------------------------
// Helpers

function colour(index: number): string {
  return PALETTE[index % PALETTE.length];
}

function finiteValues(values: ArrayLike<number>): number[] {
  const result: number[] = [];
  for (let i = 0; i < values.length; i++) if (Number.isFinite(values[i])) result.push(values[i]);
  return result;
}

/** Up to `max` indices spread evenly over 0..n-1, always including the first and the last. */
function thinIndices(n: number, max: number): number[] {
  if (n <= max) return Array.from({ length: n }, (_, i) => i);
  const indices: number[] = [];
  for (let k = 0; k < max; k++) indices.push(Math.round((k * (n - 1)) / (max - 1)));
  return indices;
}

/** Tick values at 1, 2 or 5 × 10^k spacing, about five to ten of them, within [low, high]. */
function niceTicks(low: number, high: number): number[] {
  const span = high - low;
  if (!(span > 0)) return [low];
  const rough = span / 5;
  const power = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 5, 10].map((m) => m * power).find((candidate) => span / candidate <= 10) ?? 10 * power;
  const ticks: number[] = [];
  for (let value = Math.ceil(low / step) * step; value <= high + step * 1e-9; value += step) {
    ticks.push(Math.abs(value) < step * 1e-9 ? 0 : value);
  }
  return ticks;
}

/** Rounds up to the nearest 1, 2, 2.5, 5 or 10 × 10^k; returns 1 for 0 or less. */
function niceCeiling(value: number): number {
  if (!(value > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  const multiple = [1, 2, 2.5, 5, 10].find((m) => m * power >= value * (1 - 1e-12)) ?? 10;
  return multiple * power;
}

function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return 'n/a';
  if (value === 0) return '0';
  const magnitude = Math.abs(value);
  if (magnitude >= 1000 || magnitude < 0.001) return value.toExponential(2);
  return String(Number(value.toPrecision(3)));
}

function coordinate(value: number): string {
  return value.toFixed(2);
}

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}
