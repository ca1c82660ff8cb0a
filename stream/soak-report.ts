// Figures of the soak run: a fixed-size latency histogram (so that recording a long run does
// not grow the resident memory the soak measures), and the verdict table printed at the end.

/** Relative width of a latency bucket: percentiles are exact to within 1%. */
const BUCKET_GROWTH = 1.01;
/** Upper edge of the first bucket, in ms: smaller latencies are not resolved. */
const MIN_LATENCY_MS = 0.01;
/** Buckets from 0.01 ms up to about 100 s (1.01^1620 is about 1e7). */
const BUCKET_COUNT = 1620;
const LOG_GROWTH = Math.log(BUCKET_GROWTH);

/** Latency samples in log-spaced buckets: constant memory, percentiles within 1%. */
export class LatencyRecorder {
  readonly #counts = new Uint32Array(BUCKET_COUNT);
  #count = 0;
  #maxMs = 0;

  get count(): number {
    return this.#count;
  }

  observe(latencyMs: number): void {
    const index = latencyMs <= MIN_LATENCY_MS ? 0 : Math.min(BUCKET_COUNT - 1, Math.ceil(Math.log(latencyMs / MIN_LATENCY_MS) / LOG_GROWTH));
    this.#counts[index] += 1;
    this.#count += 1;
    this.#maxMs = Math.max(this.#maxMs, latencyMs);
  }

  /** Returns the latency at quantile q (0..1), in ms, as its bucket's upper edge; NaN with no samples. */
  quantile(q: number): number {
    if (this.#count === 0) {
      return Number.NaN;
    }
    const rank = Math.max(1, Math.ceil(q * this.#count));
    let seen = 0;
    for (let index = 0; index < BUCKET_COUNT; index += 1) {
      seen += this.#counts[index];
      if (seen >= rank) {
        return Math.min(this.#maxMs, MIN_LATENCY_MS * BUCKET_GROWTH ** index);
      }
    }
    return this.#maxMs;
  }

  reset(): void {
    this.#counts.fill(0);
    this.#count = 0;
    this.#maxMs = 0;
  }

  summary(): LatencySummary {
    return { count: this.#count, p50Ms: this.quantile(0.5), p90Ms: this.quantile(0.9), p99Ms: this.quantile(0.99), maxMs: this.#count === 0 ? Number.NaN : this.#maxMs };
  }
}

export interface LatencySummary {
  count: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
}

export interface Verdict {
  check: string;
  target: string;
  measured: string;
  pass: boolean;
  /** True when the run was too short or stopped too early to measure this check; it then counts as neither pass nor miss. */
  notMeasured?: boolean;
}

export function formatMiB(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
}

export function formatMs(ms: number): string {
  return Number.isNaN(ms) ? 'n/a' : `${ms.toFixed(1)} ms`;
}

export function formatPercent(ratio: number): string {
  return `${ratio >= 0 ? '+' : ''}${(ratio * 100).toFixed(1)}%`;
}

export function formatLatency(summary: LatencySummary): string {
  return `p50 ${formatMs(summary.p50Ms)}  p90 ${formatMs(summary.p90Ms)}  p99 ${formatMs(summary.p99Ms)}  max ${formatMs(summary.maxMs)}  (${summary.count} updates)`;
}

/** Formats rows as a Markdown table with padded columns. */
export function formatTable(header: string[], rows: string[][]): string {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column].length)));
  const line = (cells: string[]): string => `| ${cells.map((cell, column) => cell.padEnd(widths[column])).join(' | ')} |`;
  return [line(header), `| ${widths.map((width) => '-'.repeat(width)).join(' | ')} |`, ...rows.map(line)].join('\n');
}

export function formatVerdicts(verdicts: Verdict[]): string {
  return formatTable(['check', 'target', 'measured', 'verdict'], verdicts.map((verdict) => [verdict.check, verdict.target, verdict.measured, verdictText(verdict)]));
}

function verdictText(verdict: Verdict): string {
  if (verdict.notMeasured === true) {
    return 'not measured';
  }
  return verdict.pass ? 'pass' : 'MISS';
}
