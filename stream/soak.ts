// `segwithu-live soak`: runs the server in this process for a long time and checks that it
// stays healthy. A device streams live frames over WS /ingest (the synthetic probe, or a folder
// replayed in a loop) and two viewers watch over WS /view. The fast viewer reads everything. The
// slow one pauses its socket for seconds at a time, so it falls behind.
//
// Phases: a baseline with the fast viewer alone, the main phase with both, then a closing
// baseline with the fast viewer alone again. Every reportIntervalS it prints resident memory,
// per-viewer latency (received by the server -> delivered to the viewer) and the frame
// counters. At the end it prints a verdict table:
//   - resident memory at 1 min into the main phase vs at its end, within 5%;
//   - the fast viewer's p99 with the slow viewer vs without it, moved by 10% or less. The
//     "without" figure pools both baselines, one before and one after the main phase, so a
//     drift in the machine's load over the run weighs on both sides of the comparison;
//   - frames lost without being counted: frames the device sent that the server did not
//     receive, plus received frames neither processed nor counted as dropped, must be 0.
// Everything runs in one process, so the memory figure covers server, device and viewers.

import { WebSocket } from 'ws';

import type { Pipeline } from '../pipeline/index.js';
import { DROP_REASONS } from '../pipeline/types.js';
import { formatOptions, parseInteger, parsePositiveNumber, readOptions, type OptionSpec } from './cli-options.js';
import { DeviceConnection } from './device-client.js';
import { OptionError } from './errors.js';
import { createLogger } from './log.js';
import { startServer, type RunningServer } from './server.js';
import { listFolderFrames } from './sources/folder.js';
import { MAX_UNACKED_UPDATES_LIMIT } from './viewer-hub.js';
import { decodedFrames, FramePacer, sleep } from './sources/playback.js';
import { SyntheticProbe } from './sources/synthetic.js';
import {
  formatLatency,
  formatMiB,
  formatMs,
  formatPercent,
  formatTable,
  formatVerdicts,
  LatencyRecorder,
  type LatencySummary,
  type Verdict,
} from './soak-report.js';
import { bigIntToUint64, encodeViewerRequest, messageBytes, proto, uint64ToBigInt, wallClockNs } from './wire.js';

export interface SoakOptions {
  /** Length of the main phase (both viewers), in minutes. Default 10. */
  minutes?: number;
  /** Frames per second the device sends. Default 30. */
  fps?: number;
  /** Length of each baseline phase (fast viewer alone, before and after the main phase), in s. Default 60. */
  baselineS?: number;
  /** Interval between progress lines, in s. Default 30. */
  reportIntervalS?: number;
  /** Folder of PNG frames to send in a loop; default: the synthetic probe at 640 × 480. */
  replayDir?: string;
  /** Model folder. Default: the server's (models/carotid). */
  modelDir?: string;
  /** A pipeline built by the caller; the soak then loads no model. */
  pipeline?: Pipeline;
  /** The slow viewer stops reading for slowPauseMs, then reads for slowReadMs, and so on. Defaults 3000 and 100. */
  slowPauseMs?: number;
  slowReadMs?: number;
  /** Acknowledgement window both viewers subscribe with, in updates; 0 for none. Default 2, as the browser viewer. */
  viewerWindow?: number;
  /** pino level of the server's log. Default 'warn'. */
  logLevel?: string;
  /** Stops the soak early; the report covers what ran. */
  signal?: AbortSignal;
  /** Progress lines and the final report. Default: stdout. */
  out?: (line: string) => void;
}

export interface SoakReport {
  streamId: string;
  /** Seconds the main phase ran. */
  mainS: number;
  rssSamples: { atS: number; rssBytes: number }[];
  rssAtOneMinuteBytes: number;
  rssAtEndBytes: number;
  /** Fast viewer alone: both baselines pooled, and each on its own. */
  baselineFast: LatencySummary;
  baselineBefore: LatencySummary;
  baselineAfter: LatencySummary;
  fast: LatencySummary;
  slow: LatencySummary;
  /** Frames the device sent, and frames it left out because its socket was still busy. */
  framesSent: number;
  framesNotSentBusy: number;
  counters: { received: number; processed: number; inFlight: number; dropped: Record<string, number> };
  /** Frames sent but never received, plus received frames neither processed nor counted as dropped. */
  framesLostUncounted: number;
  viewerUpdatesSkipped: number;
  /** True when /healthz still returned 200 at the end of the main phase. */
  serverUp: boolean;
  verdicts: Verdict[];
}

/** RSS target: the end of the run within 5% of the value at 1 min. */
const RSS_TOLERANCE = 0.05;
/** Fast viewer p99 target: moves by 10% or less when the slow viewer joins. */
const P99_TOLERANCE = 0.1;
/** Frames the device may have queued on its socket before it leaves a frame out, as a live device would. */
const DEVICE_QUEUE_FRAMES = 4;

/** A viewer over WS /view that records latency and can pause its socket. */
class SoakViewer {
  /** Latency of the current phase; reset between phases. */
  readonly phase = new LatencyRecorder();
  /** Latency since the last progress line. */
  readonly window = new LatencyRecorder();
  /** A third recorder that also gets each latency while set (the pooled baselines). */
  alsoRecordTo: LatencyRecorder | undefined;
  delivered = 0;
  /** Sum of skipped_since_last over the updates received: results the server did not send it. */
  skippedReported = 0;
  readonly #socket: WebSocket;

  private constructor(socket: WebSocket) {
    this.#socket = socket;
    socket.on('message', (data) => this.#onMessage(messageBytes(data as Buffer)));
  }

  /** Subscribes with an acknowledgement window of `maxUnackedUpdates` (0: none); each update is acked on arrival. */
  static async connect(baseUrl: string, streamId: string, maxUnackedUpdates: number): Promise<SoakViewer> {
    const socket = new WebSocket(`${baseUrl.replace(/^http/, 'ws')}/view`);
    const viewer = new SoakViewer(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once('open', resolve);
      socket.once('error', reject);
    });
    socket.send(encodeViewerRequest({ subscribe: { streamId, maxUnackedUpdates } }));
    return viewer;
  }

  #onMessage(bytes: Uint8Array): void {
    const arrivalNs = process.hrtime.bigint();
    const message = proto.ViewerMessage.decode(bytes);
    if (message.body !== 'update') {
      return;
    }
    const receivedNs = uint64ToBigInt(message.update?.result?.timestamps?.receivedNs);
    const latencyMs = Number(arrivalNs - receivedNs) / 1e6;
    this.phase.observe(latencyMs);
    this.window.observe(latencyMs);
    this.alsoRecordTo?.observe(latencyMs);
    this.delivered += 1;
    this.skippedReported += Number(uint64ToBigInt(message.update?.skippedSinceLast));
    const updateId = uint64ToBigInt(message.update?.updateId);
    if (updateId > 0n) {
      this.#socket.send(encodeViewerRequest({ ack: { updateId: bigIntToUint64(updateId) } }));
    }
  }

  pause(): void {
    this.#socket.pause();
  }

  resume(): void {
    this.#socket.resume();
  }

  close(): void {
    this.#socket.close();
  }
}

/** The device side: sends live frames at `fps` until stopped, counting what it sent. */
class SoakDevice {
  sent = 0;
  notSentBusy = 0;
  readonly streamId: string;
  readonly #connection: DeviceConnection;
  readonly #frames: AsyncGenerator<{ width: number; height: number; pixels: Uint8Array }>;
  readonly #abort = new AbortController();
  #done: Promise<void> | undefined;

  private constructor(connection: DeviceConnection, streamId: string, frames: AsyncGenerator<{ width: number; height: number; pixels: Uint8Array }>) {
    this.#connection = connection;
    this.streamId = streamId;
    this.#frames = frames;
  }

  static async connect(baseUrl: string, fps: number, replayDir: string | undefined): Promise<SoakDevice> {
    const frames = replayDir === undefined ? syntheticFrames() : folderFrames(replayDir);
    const first = await frames.next();
    if (first.done === true) {
      throw new OptionError(`no frames to send in ${replayDir}; pass a folder of PNG frames`);
    }

    const connection = await DeviceConnection.connect(`${baseUrl.replace(/^http/, 'ws')}/ingest`);
    connection.send({ hello: { streamName: 'soak', nominalRateHz: fps, width: first.value.width, height: first.value.height, pixelFormat: proto.PixelFormat.GRAY8, deviceModel: 'segwithu-live soak' } });
    const reply = await connection.waitForReply((candidate) => candidate.body === 'helloAck' || candidate.body === 'error');
    if (reply.body !== 'helloAck') {
      throw new Error(`the soak device's hello was rejected: ${reply.error?.code}: ${reply.error?.message}`);
    }
    const device = new SoakDevice(connection, reply.helloAck?.streamId ?? '', frames);
    device.#done = device.#run(first.value, fps);
    return device;
  }

  async #run(first: { width: number; height: number; pixels: Uint8Array }, fps: number): Promise<void> {
    const pacer = new FramePacer(fps);
    let frame = first;
    // Sequence numbers count frames sent, so a frame left out leaves no gap.
    while (!this.#abort.signal.aborted && !this.#connection.isClosed) {
      try {
        await pacer.next(this.#abort.signal);
      } catch {
        return;
      }
      if (this.#connection.bufferedBytes > DEVICE_QUEUE_FRAMES * frame.pixels.length) {
        this.notSentBusy += 1;
      } else {
        this.#connection.send({
          frame: { sequence: this.sent, captureTimestampNs: bigIntToUint64(wallClockNs()), pixelFormat: proto.PixelFormat.GRAY8, width: frame.width, height: frame.height, pixels: frame.pixels },
        });
        this.sent += 1;
      }
      const next = await this.#frames.next();
      if (next.done === true) {
        return;
      }
      frame = next.value;
    }
  }

  /** Stops sending, sends a Goodbye and closes the connection once the frames sent so far are written. */
  async stop(): Promise<void> {
    this.#abort.abort(new Error('soak finished'));
    await this.#done;
    await this.#frames.return(undefined);
    if (!this.#connection.isClosed) {
      this.#connection.send({ goodbye: { reason: 'soak finished' } });
      await this.#connection.close();
    }
  }
}

async function* syntheticFrames(): AsyncGenerator<{ width: number; height: number; pixels: Uint8Array }> {
  const probe = new SyntheticProbe();
  const startMs = performance.now();
  for (;;) {
    const { pixels } = probe.render((performance.now() - startMs) / 1000);
    yield { width: probe.width, height: probe.height, pixels };
  }
}

async function* folderFrames(dir: string): AsyncGenerator<{ width: number; height: number; pixels: Uint8Array }> {
  const frames = await listFolderFrames(dir);
  for await (const decoded of decodedFrames(frames, { loop: true })) {
    yield { width: decoded.width, height: decoded.height, pixels: decoded.pixels };
  }
}

async function healthy(server: RunningServer): Promise<boolean> {
  try {
    return (await fetch(`${server.url}/healthz`)).status === 200;
  } catch {
    return false;
  }
}

async function skippedUpdates(server: RunningServer, streamId: string): Promise<number> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  const line = text.split('\n').find((candidate) => candidate.startsWith(`segwithu_viewer_updates_skipped_total{stream="${streamId}"}`));
  return line === undefined ? 0 : Number(line.split(' ').at(-1));
}

/** Runs `phaseS` seconds, printing a progress line every reportIntervalS; calls onSecond once a second. */
async function runPhase(phaseS: number, reportIntervalS: number, signal: AbortSignal | undefined, report: (atS: number) => void, onSecond: (atS: number) => void): Promise<number> {
  const startMs = performance.now();
  let nextReportS = reportIntervalS;
  let nextSecond = 1;
  for (;;) {
    const atS = (performance.now() - startMs) / 1000;
    if (atS >= phaseS || signal?.aborted === true) {
      return atS;
    }
    if (atS >= nextSecond) {
      onSecond(atS);
      nextSecond = Math.floor(atS) + 1;
    }
    if (atS >= nextReportS) {
      report(atS);
      nextReportS += reportIntervalS;
    }
    await sleep(Math.min(250, Math.max(1, (phaseS - atS) * 1000)));
  }
}

export async function runSoak(options: SoakOptions = {}): Promise<SoakReport> {
  const minutes = options.minutes ?? 10;
  const fps = options.fps ?? 30;
  const baselineS = options.baselineS ?? 60;
  const reportIntervalS = options.reportIntervalS ?? 30;
  const slowPauseMs = options.slowPauseMs ?? 3000;
  const slowReadMs = options.slowReadMs ?? 100;
  const viewerWindow = options.viewerWindow ?? 2;
  const out = options.out ?? ((line: string) => process.stdout.write(`${line}\n`));

  const server = await startServer({
    host: '127.0.0.1',
    port: 0,
    source: { kind: 'none' },
    logger: createLogger(options.logLevel ?? 'warn'),
    ...(options.modelDir === undefined ? {} : { modelDir: options.modelDir }),
    ...(options.pipeline === undefined ? {} : { pipeline: options.pipeline }),
  });
  const viewers: SoakViewer[] = [];
  let slowTimer: NodeJS.Timeout | undefined;

  try {
    const device = await SoakDevice.connect(server.url, fps, options.replayDir);
    const { streamId } = device;
    const fast = await SoakViewer.connect(server.url, streamId, viewerWindow);
    viewers.push(fast);
    out(`soak: model ${server.pipeline.manifest.model.id}@${server.pipeline.manifest.model.version}, ${fps} frames/s, baseline ${baselineS} s, main phase ${minutes} min, progress every ${reportIntervalS} s, viewer acknowledgement window ${viewerWindow === 0 ? 'off' : `${viewerWindow} updates`}`);

    const progress = (phase: string, atS: number, slow?: SoakViewer): void => {
      const counters = server.pipeline.counters(streamId);
      const dropped = DROP_REASONS.filter((reason) => counters.dropped[reason] > 0).map((reason) => `${reason} ${counters.dropped[reason]}`).join(', ') || 'none';
      out(`${phase} t=${atS.toFixed(0)} s  rss ${formatMiB(process.memoryUsage().rss)}  received ${counters.received} processed ${counters.processed} dropped ${dropped}`);
      out(`    fast viewer ${formatLatency(fast.window.summary())}`);
      fast.window.reset();
      if (slow !== undefined) {
        out(`    slow viewer ${formatLatency(slow.window.summary())}`);
        slow.window.reset();
      }
    };

    // Baseline: the fast viewer alone. The first seconds (model warm-up) are left out.
    // NOTE: the baseline runs only before the main phase, so a change in other processes' load
    // between the phases shows in the p99 comparison as if the slow viewer had caused it.
    const warmUpS = Math.min(5, baselineS / 4);
    await runPhase(warmUpS, Infinity, options.signal, () => undefined, () => undefined);
    fast.phase.reset();
    fast.window.reset();
    const baselinePooled = new LatencyRecorder();
    fast.alsoRecordTo = baselinePooled;
    await runPhase(baselineS - warmUpS, reportIntervalS, options.signal, (atS) => progress('baseline', atS + warmUpS), () => undefined);
    fast.alsoRecordTo = undefined;
    const baselineBefore = fast.phase.summary();
    out(`baseline done: fast viewer ${formatLatency(baselineBefore)}`);

    // Main phase: the slow viewer joins and alternates between pausing and reading.
    fast.phase.reset();
    fast.window.reset();
    const slow = await SoakViewer.connect(server.url, streamId, viewerWindow);
    viewers.push(slow);
    const cycleSlowViewer = (reading: boolean): void => {
      if (reading) {
        slow.resume();
      } else {
        slow.pause();
      }
      slowTimer = setTimeout(() => cycleSlowViewer(!reading), reading ? slowReadMs : slowPauseMs);
    };
    cycleSlowViewer(false);

    const rssSamples: { atS: number; rssBytes: number }[] = [];
    let rssAtOneMinuteBytes: number | undefined;
    const mainS = await runPhase(
      minutes * 60,
      reportIntervalS,
      options.signal,
      (atS) => {
        rssSamples.push({ atS, rssBytes: process.memoryUsage().rss });
        progress('main', atS, slow);
      },
      (atS) => {
        if (rssAtOneMinuteBytes === undefined && atS >= 60) {
          rssAtOneMinuteBytes = process.memoryUsage().rss;
        }
      },
    );
    const rssAtEndBytes = process.memoryUsage().rss;
    rssAtOneMinuteBytes ??= rssSamples[0]?.rssBytes ?? rssAtEndBytes;
    const serverUp = await healthy(server);
    const fastSummary = fast.phase.summary();
    const slowSummary = slow.phase.summary();
    out(`main phase done: fast viewer ${formatLatency(fastSummary)}`);

    // Closing baseline: the slow viewer leaves, the fast viewer runs alone again.
    clearTimeout(slowTimer);
    slow.resume();
    slow.close();
    await sleep(1000);
    fast.phase.reset();
    fast.window.reset();
    fast.alsoRecordTo = baselinePooled;
    await runPhase(baselineS - warmUpS, reportIntervalS, options.signal, (atS) => progress('closing baseline', atS), () => undefined);
    fast.alsoRecordTo = undefined;
    const baselineAfter = fast.phase.summary();
    const baselineFast = baselinePooled.summary();
    out(`closing baseline done: fast viewer ${formatLatency(baselineAfter)}`);

    // Accounting: stop the device, wait until the server has every frame it sent and none is in flight.
    await device.stop();
    const drainedBy = performance.now() + 30_000;
    while (performance.now() < drainedBy) {
      const counters = server.pipeline.counters(streamId);
      if (counters.received >= device.sent && counters.inFlight === 0) {
        break;
      }
      await sleep(50);
    }
    const counters = server.pipeline.counters(streamId);
    const droppedTotal = DROP_REASONS.reduce((sum, reason) => sum + counters.dropped[reason], 0);
    const framesLostUncounted = Math.max(0, device.sent - counters.received) + Math.abs(counters.received - counters.processed - droppedTotal - counters.inFlight);
    const viewerUpdatesSkipped = await skippedUpdates(server, streamId);

    const rssChange = rssAtEndBytes / rssAtOneMinuteBytes - 1;
    const p99Change = fastSummary.p99Ms / baselineFast.p99Ms - 1;
    const verdicts: Verdict[] = [
      {
        check: 'resident memory, 1 min vs end',
        target: `within ${RSS_TOLERANCE * 100}%`,
        measured: `${formatMiB(rssAtOneMinuteBytes)} -> ${formatMiB(rssAtEndBytes)} (${formatPercent(rssChange)})`,
        pass: Math.abs(rssChange) <= RSS_TOLERANCE,
      },
      {
        check: 'fast viewer p99, with vs without slow viewer (pooled baselines)',
        target: `moves ${P99_TOLERANCE * 100}% or less`,
        measured: `${formatMs(baselineFast.p99Ms)} -> ${formatMs(fastSummary.p99Ms)} (${formatPercent(p99Change)})`,
        pass: Math.abs(p99Change) <= P99_TOLERANCE,
      },
      {
        check: 'frames lost without being counted',
        target: '0',
        measured: String(framesLostUncounted),
        pass: framesLostUncounted === 0,
      },
      { check: 'server up at the end', target: '/healthz 200', measured: serverUp ? '200' : 'no answer', pass: serverUp },
    ];

    const report: SoakReport = {
      streamId,
      mainS,
      rssSamples,
      rssAtOneMinuteBytes,
      rssAtEndBytes,
      baselineFast,
      baselineBefore,
      baselineAfter,
      fast: fastSummary,
      slow: slowSummary,
      framesSent: device.sent,
      framesNotSentBusy: device.notSentBusy,
      counters: { received: counters.received, processed: counters.processed, inFlight: counters.inFlight, dropped: { ...counters.dropped } },
      framesLostUncounted,
      viewerUpdatesSkipped,
      serverUp,
      verdicts,
    };
    out(formatSoakReport(report));
    return report;
  } finally {
    clearTimeout(slowTimer);
    for (const viewer of viewers) {
      viewer.close();
    }
    await server.close();
  }
}

export function formatSoakReport(report: SoakReport): string {
  const dropped = Object.entries(report.counters.dropped).map(([reason, count]) => `${reason} ${count}`).join(', ');
  const context = formatTable(['figure', 'value'], [
    ['main phase', `${report.mainS.toFixed(0)} s`],
    ['frames sent by the device', `${report.framesSent} (left out while its socket was busy: ${report.framesNotSentBusy})`],
    ['received / processed / in flight', `${report.counters.received} / ${report.counters.processed} / ${report.counters.inFlight}`],
    ['dropped, by reason', dropped],
    ['updates skipped for slow viewers', String(report.viewerUpdatesSkipped)],
    ['fast viewer, baseline before', formatLatency(report.baselineBefore)],
    ['fast viewer, baseline after', formatLatency(report.baselineAfter)],
    ['fast viewer, baselines pooled', formatLatency(report.baselineFast)],
    ['fast viewer, main phase', formatLatency(report.fast)],
    ['slow viewer, main phase', formatLatency(report.slow)],
    ['resident memory samples', report.rssSamples.map((sample) => `${sample.atS.toFixed(0)} s ${formatMiB(sample.rssBytes)}`).join(', ') || 'none'],
  ]);
  return `\n${context}\n\n${formatVerdicts(report.verdicts)}\n`;
}

const SOAK_OPTIONS: readonly OptionSpec[] = [
  { flag: 'minutes', valueName: 'MIN', help: 'Length of the main phase, with both viewers, in minutes.', defaultText: '10' },
  { flag: 'fps', valueName: 'RATE', help: 'Frames per second the device sends.', defaultText: '30' },
  { flag: 'baseline-s', valueName: 'S', help: 'Length of the baseline phase, fast viewer alone, in s.', defaultText: '60' },
  { flag: 'report-interval-s', valueName: 'S', help: 'Interval between progress lines, in s.', defaultText: '30' },
  { flag: 'viewer-window', valueName: 'N', help: 'Updates each viewer may hold unacknowledged (as the browser viewer does); 0 for no acknowledgements, leaving only the send budget.', defaultText: '2' },
  { flag: 'folder', valueName: 'DIR', help: 'Folder of PNG frames to send in a loop.', defaultText: 'the synthetic probe' },
  { flag: 'model-dir', env: 'SEGWITHU_MODEL_DIR', valueName: 'DIR', help: 'Model folder with manifest.json.', defaultText: 'models/carotid' },
  { flag: 'log-level', valueName: 'LEVEL', help: 'pino log level of the server.', defaultText: 'warn' },
  { flag: 'json', help: 'Also print the report as one line of JSON.' },
];

export const SOAK_USAGE = `Usage: segwithu-live soak [options]

Runs the server in this process with a device and two viewers (one too slow to keep up), prints
resident memory, latency per viewer and the frame counters every interval, and ends with a
verdict table. The fast viewer runs alone for a baseline before and after the main phase.
Exits 1 when a target is missed.

Options:
${formatOptions(SOAK_OPTIONS)}`;

/** `segwithu-live soak`: parses argv, runs the soak, and returns the exit code. */
export async function runSoakCommand(argv: string[], output: { out: (text: string) => void }): Promise<number> {
  const { values, positionals } = readOptions(SOAK_OPTIONS, argv, process.env);
  if (values.help === true) {
    output.out(SOAK_USAGE);
    return 0;
  }
  if (positionals.length > 0) {
    throw new OptionError(`soak takes no arguments, got "${positionals.join(' ')}"; options start with --`);
  }
  const number = (flag: string, fallback: number, fix: string): number => {
    const text = values[flag];
    return typeof text === 'string' ? parsePositiveNumber(text, `--${flag}`, fix) : fallback;
  };

  const abort = new AbortController();
  const stop = (): void => abort.abort(new Error('interrupted'));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    const report = await runSoak({
      minutes: number('minutes', 10, 'pass minutes, for example 10'),
      fps: number('fps', 30, 'pass frames per second, for example 30'),
      baselineS: number('baseline-s', 60, 'pass seconds, for example 60'),
      reportIntervalS: number('report-interval-s', 30, 'pass seconds, for example 30'),
      viewerWindow: typeof values['viewer-window'] === 'string' ? parseInteger(values['viewer-window'], '--viewer-window', 0, MAX_UNACKED_UPDATES_LIMIT, `pass 0 to ${MAX_UNACKED_UPDATES_LIMIT}, for example 2`) : undefined,
      replayDir: typeof values.folder === 'string' ? values.folder : undefined,
      modelDir: typeof values['model-dir'] === 'string' ? values['model-dir'] : undefined,
      logLevel: typeof values['log-level'] === 'string' ? values['log-level'] : undefined,
      signal: abort.signal,
      out: output.out,
    });
    if (values.json === true) {
      output.out(JSON.stringify(report));
    }
    return report.verdicts.every((verdict) => verdict.pass) ? 0 : 1;
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}
