// `segwithu-live soak`: runs the server in this process for a long time and checks that it
// stays healthy. A device streams live frames over WS /ingest (the synthetic probe, or a folder
// replayed in a loop) and two viewers watch over WS /view. The fast viewer reads everything. The
// slow one pauses its socket for seconds at a time, so it falls behind.
//
// Phases: the main phase (both viewers) is split into blocks, and the fast viewer runs alone
// for a block before each and after the last. Every reportIntervalS it prints resident memory,
// per-viewer latency (received by the server -> delivered to the viewer) and the frame
// counters. At the end it prints a verdict table:
//   - resident memory after the first minute of the main phase vs at its end, within 5%
//     (each the mean of a minute of samples);
//   - the fast viewer's p99 with the slow viewer vs without it, each pooled over its blocks,
//     moved by 10% or less. Interleaving the blocks lets a drift in the machine's speed over
//     the run weigh on both sides of the comparison;
//   - frames lost without being counted: frames the device sent that the server did not
//     receive, plus received frames neither processed nor counted as dropped, must be 0.
// Everything runs in one process, so the memory figure covers server, device and viewers.

import { WebSocket } from 'ws';

import type { Pipeline } from '../pipeline/index.js';
import { DROP_REASONS } from '../pipeline/types.js';
import { formatOptions, parseBoundedNumber, parseInteger, parseLogLevel, readOptions, type OptionSpec } from './cli-options.js';
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
  /** Length of each block of the fast viewer alone, in s. Default 20. */
  baselineS?: number;
  /** Blocks the main phase is split into, with a block of the fast viewer alone before each and after the last. Default 5. */
  blocks?: number;
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
  /** Seconds the main phase ran, its blocks added up. */
  mainS: number;
  /** Resident memory every RSS_SAMPLE_INTERVAL_S of main-phase time. */
  rssSamples: { atS: number; rssBytes: number }[];
  /** Mean of the samples in the second minute of the main phase: the value after the first minute. */
  rssAtOneMinuteBytes: number;
  /** Mean of the samples in the last minute of the main phase. */
  rssAtEndBytes: number;
  /** Fast viewer alone: every alone block pooled, the first one, and the last one. */
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
/**
 * Interval between resident memory samples, in s of main-phase time. Single samples move by
 * a few MiB with the timing of garbage collection (frames are freed in batches), so each end of
 * the comparison is the mean of a minute of samples.
 */
const RSS_SAMPLE_INTERVAL_S = 5;
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

/** Returns the mean resident memory of the samples taken from fromS (inclusive) to toS (exclusive) of main-phase time, or undefined when there are none. */
function meanRss(samples: { atS: number; rssBytes: number }[], fromS: number, toS: number): number | undefined {
  const inWindow = samples.filter((sample) => sample.atS >= fromS && sample.atS < toS);
  return inWindow.length === 0 ? undefined : inWindow.reduce((sum, sample) => sum + sample.rssBytes, 0) / inWindow.length;
}

function rssRange(samples: { atS: number; rssBytes: number }[]): string {
  if (samples.length === 0) {
    return 'no samples';
  }
  const values = samples.map((sample) => sample.rssBytes);
  return `${formatMiB(Math.min(...values))} to ${formatMiB(Math.max(...values))} (${samples.length} samples, every ${RSS_SAMPLE_INTERVAL_S} s)`;
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
  const baselineS = options.baselineS ?? 20;
  const blocks = options.blocks ?? 5;
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
    out(`soak: model ${server.pipeline.manifest.model.id}@${server.pipeline.manifest.model.version}, ${fps} frames/s, main phase ${minutes} min in ${blocks} blocks, each after ${baselineS} s of the fast viewer alone (and ${baselineS} s alone at the end), progress every ${reportIntervalS} s, viewer acknowledgement window ${viewerWindow === 0 ? 'off' : `${viewerWindow} updates`}`);

    const progress = (phase: string, atS: number, slow?: SoakViewer): void => {
      const counters = server.pipeline.counters(streamId);
      const dropped = DROP_REASONS.filter((reason) => counters.dropped[reason] > 0).map((reason) => `${reason} ${counters.dropped[reason]}`).join(', ') || 'none';
      const memory = process.memoryUsage();
      out(`${phase} t=${atS.toFixed(0)} s  rss ${formatMiB(memory.rss)} (V8 heap ${formatMiB(memory.heapTotal)}, array buffers ${formatMiB(memory.arrayBuffers)})  received ${counters.received} processed ${counters.processed} dropped ${dropped}`);
      out(`    fast viewer ${formatLatency(fast.window.summary())}`);
      fast.window.reset();
      if (slow !== undefined) {
        out(`    slow viewer ${formatLatency(slow.window.summary())}`);
        slow.window.reset();
      }
    };

    // The model's warm-up seconds are left out of every figure.
    await runPhase(Math.min(5, baselineS / 4), Infinity, options.signal, () => undefined, () => undefined);
    fast.window.reset();

    // Blocks with the slow viewer alternate with blocks of the fast viewer alone, starting and
    // ending alone, so that a change in the machine's speed over the run weighs on both sides of
    // the p99 comparison. Each side's latencies are pooled over its blocks.
    const alone = new LatencyRecorder();
    const withSlow = new LatencyRecorder();
    const slowAll = new LatencyRecorder();
    const rssSamples: { atS: number; rssBytes: number }[] = [];
    let mainS = 0;
    let baselineBefore: LatencySummary | undefined;
    let baselineAfter: LatencySummary | undefined;

    const runAloneBlock = async (index: number): Promise<LatencySummary> => {
      fast.phase.reset();
      fast.alsoRecordTo = alone;
      await runPhase(baselineS, reportIntervalS, options.signal, (atS) => progress(`alone ${index + 1}/${blocks + 1}`, atS), () => undefined);
      fast.alsoRecordTo = undefined;
      const summary = fast.phase.summary();
      out(`alone ${index + 1}/${blocks + 1} done: fast viewer ${formatLatency(summary)}`);
      return summary;
    };

    const runSlowBlock = async (index: number): Promise<void> => {
      const slow = await SoakViewer.connect(server.url, streamId, viewerWindow);
      viewers.push(slow);
      slow.alsoRecordTo = slowAll;
      const cycleSlowViewer = (reading: boolean): void => {
        if (reading) {
          slow.resume();
        } else {
          slow.pause();
        }
        slowTimer = setTimeout(() => cycleSlowViewer(!reading), reading ? slowReadMs : slowPauseMs);
      };
      cycleSlowViewer(false);

      fast.phase.reset();
      fast.alsoRecordTo = withSlow;
      const offsetS = mainS;
      mainS += await runPhase(
        blockS,
        reportIntervalS,
        options.signal,
        (atS) => progress(`main ${index + 1}/${blocks}`, offsetS + atS, slow),
        (atS) => {
          const mainAtS = offsetS + atS;
          if (mainAtS >= (rssSamples.at(-1)?.atS ?? 0) + RSS_SAMPLE_INTERVAL_S - 0.5) {
            rssSamples.push({ atS: mainAtS, rssBytes: process.memoryUsage().rss });
          }
        },
      );
      fast.alsoRecordTo = undefined;
      out(`main ${index + 1}/${blocks} done: fast viewer ${formatLatency(fast.phase.summary())}`);

      // The slow viewer leaves; a second of the fast viewer alone lets its last updates drain.
      clearTimeout(slowTimer);
      slow.resume();
      slow.close();
      await sleep(1000);
    };

    const blockS = (minutes * 60) / blocks;
    for (let index = 0; index < blocks && options.signal?.aborted !== true; index += 1) {
      const summary = await runAloneBlock(index);
      baselineBefore ??= summary;
      await runSlowBlock(index);
    }
    baselineAfter = await runAloneBlock(blocks);
    baselineBefore ??= baselineAfter;

    rssSamples.push({ atS: mainS, rssBytes: process.memoryUsage().rss });
    const rssAtOneMinuteBytes = meanRss(rssSamples, 60, 120) ?? meanRss(rssSamples, 0, Infinity)!;
    const rssAtEndBytes = meanRss(rssSamples, mainS - 60, Infinity)!;
    const serverUp = await healthy(server);
    const fastSummary = withSlow.summary();
    const slowSummary = slowAll.summary();
    const baselineFast = alone.summary();

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
    // The memory check needs a second minute and a last minute that do not overlap.
    const rssMeasured = mainS >= 180;
    const p99Measured = fastSummary.count > 0 && baselineFast.count > 0;
    if (options.signal?.aborted === true) {
      out(`interrupted after ${mainS.toFixed(0)} s of the main phase; the figures cover what ran`);
    }
    const verdicts: Verdict[] = [
      {
        check: 'resident memory, mean of 2nd vs last minute',
        target: `within ${RSS_TOLERANCE * 100}%`,
        measured: rssMeasured
          ? `${formatMiB(rssAtOneMinuteBytes)} -> ${formatMiB(rssAtEndBytes)} (${formatPercent(rssChange)})`
          : `main phase ran ${mainS.toFixed(0)} s; the check needs at least 180 s`,
        pass: rssMeasured && Math.abs(rssChange) <= RSS_TOLERANCE,
        notMeasured: !rssMeasured,
      },
      {
        check: 'fast viewer p99, with vs without slow viewer (blocks pooled)',
        target: `moves ${P99_TOLERANCE * 100}% or less`,
        measured: p99Measured
          ? `${formatMs(baselineFast.p99Ms)} -> ${formatMs(fastSummary.p99Ms)} (${formatPercent(p99Change)})`
          : `no latency recorded ${baselineFast.count === 0 ? 'with the fast viewer alone' : 'with the slow viewer'}`,
        pass: p99Measured && Math.abs(p99Change) <= P99_TOLERANCE,
        notMeasured: !p99Measured,
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
    ['fast viewer alone, first block', formatLatency(report.baselineBefore)],
    ['fast viewer alone, last block', formatLatency(report.baselineAfter)],
    ['fast viewer alone, blocks pooled', formatLatency(report.baselineFast)],
    ['fast viewer with the slow viewer, blocks pooled', formatLatency(report.fast)],
    ['slow viewer, blocks pooled', formatLatency(report.slow)],
    ['resident memory, range after 1 min', rssRange(report.rssSamples.filter((sample) => sample.atS >= 60))],
    ['resident memory, each minute', report.rssSamples.filter((sample, i) => i === 0 || Math.floor(sample.atS / 60) > Math.floor(report.rssSamples[i - 1].atS / 60)).map((sample) => `${sample.atS.toFixed(0)} s ${formatMiB(sample.rssBytes)}`).join(', ') || 'none'],
  ]);
  return `\n${context}\n\n${formatVerdicts(report.verdicts)}\n`;
}

const SOAK_OPTIONS: readonly OptionSpec[] = [
  { flag: 'minutes', valueName: 'MIN', help: 'Length of the main phase, with both viewers, in minutes.', defaultText: '10' },
  { flag: 'fps', valueName: 'RATE', help: 'Frames per second the device sends.', defaultText: '30' },
  { flag: 'baseline-s', valueName: 'S', help: 'Length of each block of the fast viewer alone, in s.', defaultText: '20' },
  { flag: 'blocks', valueName: 'N', help: 'Blocks the main phase is split into, each after a block of the fast viewer alone.', defaultText: '5' },
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
verdict table. The main phase is split into blocks, and the fast viewer runs alone for a block
before each and after the last, so that both sides of the latency comparison span the run.
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
  // Decimal numbers only, each up to a stated maximum: a week of soak, an hour for a phase.
  const number = (flag: string, fallback: number, max: number, fix: string): number => {
    const text = values[flag];
    return typeof text === 'string' ? parseBoundedNumber(text, `--${flag}`, max, fix) : fallback;
  };
  const logLevel = typeof values['log-level'] === 'string' ? parseLogLevel(values['log-level'], '--log-level') : undefined;

  const abort = new AbortController();
  const stop = (): void => abort.abort(new Error('interrupted'));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    const report = await runSoak({
      minutes: number('minutes', 10, 10_080, 'pass minutes, for example 10'),
      fps: number('fps', 30, 240, 'pass frames per second, for example 30'),
      baselineS: number('baseline-s', 20, 3600, 'pass seconds, for example 20'),
      blocks: typeof values.blocks === 'string' ? parseInteger(values.blocks, '--blocks', 1, 1000, 'pass a whole number of blocks, for example 5') : undefined,
      reportIntervalS: number('report-interval-s', 30, 3600, 'pass seconds, for example 30'),
      viewerWindow: typeof values['viewer-window'] === 'string' ? parseInteger(values['viewer-window'], '--viewer-window', 0, MAX_UNACKED_UPDATES_LIMIT, `pass 0 to ${MAX_UNACKED_UPDATES_LIMIT}, for example 2`) : undefined,
      replayDir: typeof values.folder === 'string' ? values.folder : undefined,
      modelDir: typeof values['model-dir'] === 'string' ? values['model-dir'] : undefined,
      logLevel,
      signal: abort.signal,
      out: output.out,
    });
    if (values.json === true) {
      output.out(JSON.stringify(report));
    }
    return report.verdicts.every((verdict) => verdict.pass || verdict.notMeasured === true) ? 0 : 1;
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}
