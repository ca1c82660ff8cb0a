import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import type { Frame } from '../../pipeline/index.js';
import { McapRecorder } from '../../stream/mcap/recorder.js';
import { MAX_CAPTURE_STEP_MS, replayRecording, type ReplacedCaptureStep, type ReplayOptions } from '../../stream/mcap/replayer.js';
import { startServer } from '../../stream/server.js';
import { FakePipeline } from '../stream/fake-pipeline.js';
import { fetchMetrics, metricValue, waitUntil } from '../stream/helpers.js';
import { FRAME_INTERVAL_NS, START_NS, makeFrame, makeResult } from './fixtures.js';

let directory: string;
let recordingPath: string;
const FRAME_COUNT = 6;

beforeEach(async () => {
  directory = await mkdtemp(path.join(os.tmpdir(), 'segwithu-replay-'));
  const recorder = new McapRecorder({ directory, streamName: 'probe-a', chunkSizeBytes: 8 * 1024 });
  for (let sequence = 0; sequence < FRAME_COUNT; sequence++) {
    const frame = makeFrame(sequence);
    await recorder.append(frame, makeResult(frame));
  }
  recordingPath = (await recorder.close()).files[0];
});

afterEach(async () => {
  await rm(directory, { recursive: true, force: true });
});

async function collect(filePath: string, options: ReplayOptions): Promise<Frame[]> {
  const frames: Frame[] = [];
  for await (const frame of replayRecording(filePath, options)) frames.push(frame);
  return frames;
}

/** Records frames 0 to n - 1 with the given capture timestamps, in that order, into one finalised file. */
async function recordWithTimestamps(name: string, timestampsNs: bigint[]): Promise<string> {
  // A file spans at most a day of capture time here, so that a clock jump does not start a new file.
  const recorder = new McapRecorder({ directory: path.join(directory, name), streamName: name, maxFileDurationMs: 24 * 3600 * 1000 });
  for (const [sequence, captureTimestampNs] of timestampsNs.entries()) {
    const frame = { ...makeFrame(sequence), captureTimestampNs };
    await recorder.append(frame, makeResult(frame));
  }
  const { files } = await recorder.close();
  expect(files).toHaveLength(1);
  return files[0];
}

const HOUR_NS = 3600n * 1_000_000_000n;
const INTERVAL_MS = Number(FRAME_INTERVAL_NS) / 1e6;

/** Creates a virtual clock whose sleep() advances it and records each requested wait. */
function virtualClock(): { nowMs: () => number; sleep: (ms: number) => Promise<void>; waits: number[] } {
  let now = 1000;
  const waits: number[] = [];
  return {
    nowMs: () => now,
    sleep: async (ms) => {
      waits.push(ms);
      now += ms;
    },
    waits,
  };
}

/** Replays a file in original pacing on a virtual clock; returns the frames, the waits and the replaced steps. */
async function collectPaced(filePath: string): Promise<{ frames: Frame[]; waits: number[]; replaced: ReplacedCaptureStep[] }> {
  const clock = virtualClock();
  const replaced: ReplacedCaptureStep[] = [];
  const frames = await collect(filePath, { nowMs: clock.nowMs, sleep: clock.sleep, onStepReplaced: (step) => replaced.push(step) });
  return { frames, waits: clock.waits, replaced };
}

describe('replayRecording', () => {
  it('fast pacing yields every frame', async () => {
    const frames = await collect(recordingPath, { pacing: 'fast' });
    expect(frames.map((frame) => frame.sequence)).toEqual([0, 1, 2, 3, 4, 5]);
    for (const frame of frames) {
      const original = makeFrame(frame.sequence);
      expect(frame.streamId).toBe('probe-a');
      expect(frame.pixelFormat).toBe('GRAY8');
      expect(frame.rowStrideBytes).toBe(frame.width);
      expect(frame.pixels).toEqual(original.gray8);
      expect(frame.captureTimestampNs).toBe(original.captureTimestampNs);
      expect(frame.groundTruthMask).toEqual(original.groundTruthMask!.map((value) => (value ? 255 : 0)));
    }
  });

  it('original pacing waits scaled intervals', async () => {
    const clock = virtualClock();
    const frames = await collect(recordingPath, { pacing: 'original', rate: 2, nowMs: clock.nowMs, sleep: clock.sleep });
    expect(frames).toHaveLength(FRAME_COUNT);
    // The first frame is due at once; each later one half a frame interval (16.67 ms) after the last.
    expect(clock.waits).toHaveLength(FRAME_COUNT - 1);
    for (const wait of clock.waits) expect(wait).toBeCloseTo(Number(FRAME_INTERVAL_NS) / 1e6 / 2, 3);
  });

  it('late frames are not delayed further', async () => {
    let now = 0;
    const waits: number[] = [];
    // Every pull takes 50 ms, longer than a frame interval at rate 1.
    const nowMs = () => (now += 50);
    const frames = await collect(recordingPath, { nowMs, sleep: async (ms) => void waits.push(ms) });
    expect(frames).toHaveLength(FRAME_COUNT);
    expect(waits).toEqual([]);
  });

  it('passes continue sequence and time', async () => {
    const frames = await collect(recordingPath, { pacing: 'fast', passes: 3 });
    expect(frames.map((frame) => frame.sequence)).toEqual([...Array(3 * FRAME_COUNT).keys()]);
    for (let i = 1; i < frames.length; i++) expect(frames[i].captureTimestampNs).toBeGreaterThan(frames[i - 1].captureTimestampNs);
    // Pass length: five intervals from first to last frame, plus one.
    expect(frames[2 * FRAME_COUNT].captureTimestampNs).toBe(START_NS + 2n * 6n * FRAME_INTERVAL_NS);
    expect(frames[2 * FRAME_COUNT].pixels).toEqual(frames[0].pixels);
  });

  it('starts from a given time', async () => {
    const frames = await collect(recordingPath, { pacing: 'fast', startAtMs: 50 });
    expect(frames.map((frame) => frame.sequence)).toEqual([2, 3, 4, 5]);
  });

  it('abort ends a looped replay', async () => {
    const abort = new AbortController();
    let count = 0;
    for await (const frame of replayRecording(recordingPath, { pacing: 'fast', passes: Infinity, signal: abort.signal })) {
      expect(frame.sequence).toBe(count);
      count++;
      if (count === 10) abort.abort();
    }
    expect(count).toBe(10);
  });

  it('replay is deterministic', async () => {
    const strip = (frames: Frame[]) => frames.map(({ receivedNs: _receivedNs, ...rest }) => rest);
    const first = await collect(recordingPath, { pacing: 'fast', passes: 2 });
    const second = await collect(recordingPath, { pacing: 'fast', passes: 2 });
    expect(strip(second)).toEqual(strip(first));
  });

  it('replays a recording cut short', async () => {
    const bytes = await readFile(recordingPath);
    const cutPath = path.join(directory, 'cut.mcap');
    await writeFile(cutPath, bytes.subarray(0, Math.floor(bytes.length * 0.6)));
    const frames = await collect(cutPath, { pacing: 'fast' });
    expect(frames.length).toBeGreaterThan(0);
    expect(frames.length).toBeLessThan(FRAME_COUNT);
    expect(frames.map((frame) => frame.sequence)).toEqual([...Array(frames.length).keys()]);
  });

  it('stream id option overrides the name', async () => {
    const copyPath = path.join(directory, 'copy.mcap');
    await copyFile(recordingPath, copyPath);
    const frames = await collect(copyPath, { pacing: 'fast', streamId: 'replay-1' });
    expect(new Set(frames.map((frame) => frame.streamId))).toEqual(new Set(['replay-1']));
  });

  it('forward clock jump paced at nominal interval', async () => {
    const timestamps = [0n, 1n, 2n, 3n, 4n, 5n].map((i) => START_NS + i * FRAME_INTERVAL_NS + (i >= 3n ? HOUR_NS : 0n));
    const file = await recordWithTimestamps('jump', timestamps);
    const { frames, waits, replaced } = await collectPaced(file);

    expect(frames.map((frame) => frame.captureTimestampNs)).toEqual(timestamps);
    expect(waits).toHaveLength(5);
    for (const wait of waits) expect(wait).toBeCloseTo(INTERVAL_MS, 3);
    expect(replaced).toHaveLength(1);
    expect(replaced[0]).toMatchObject({ pass: 0, frameIndex: 3, sequence: 3 });
    expect(replaced[0].stepMs).toBeCloseTo(3600_000 + INTERVAL_MS, 3);
    expect(replaced[0].nominalIntervalMs).toBeCloseTo(INTERVAL_MS, 3);
  });

  it('backward clock step paced at nominal interval', async () => {
    // Frame 3 was captured after the device clock was set back by 10 s.
    const back = 10_000_000_000n;
    const timestamps = [0n, 1n, 2n, 3n, 4n, 5n].map((i) => START_NS + i * FRAME_INTERVAL_NS - (i >= 3n ? back : 0n));
    const finalised = await recordWithTimestamps('back', timestamps);
    // Without its last byte the file has no footer and is read in file order, not log-time order.
    const cutPath = path.join(directory, 'back-cut.mcap');
    const bytes = await readFile(finalised);
    await writeFile(cutPath, bytes.subarray(0, bytes.length - 1));

    const { frames, waits, replaced } = await collectPaced(cutPath);

    expect(frames.map((frame) => frame.sequence)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(waits).toHaveLength(5);
    for (const wait of waits) expect(wait).toBeCloseTo(INTERVAL_MS, 3);
    expect(replaced).toHaveLength(1);
    expect(replaced[0]).toMatchObject({ pass: 0, frameIndex: 3, sequence: 3 });
    expect(replaced[0].stepMs).toBeCloseTo(-10_000 + INTERVAL_MS, 3);
  });

  it('backward clock step keeps recording order', async () => {
    const back = 10_000_000_000n;
    const timestamps = [0n, 1n, 2n, 3n, 4n, 5n].map((i) => START_NS + i * FRAME_INTERVAL_NS - (i >= 3n ? back : 0n));
    const file = await recordWithTimestamps('back-finalised', timestamps);
    const { frames, replaced } = await collectPaced(file);

    expect(frames.map((frame) => frame.sequence)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(frames.map((frame) => frame.captureTimestampNs)).toEqual(timestamps);
    expect(replaced.map((step) => step.frameIndex)).toEqual([3]);
  });

  it('unstamped frames paced at default interval', async () => {
    // A device may send capture timestamp 0 (unknown); the replay keeps it.
    const file = await recordWithTimestamps('unstamped', Array<bigint>(6).fill(0n));
    const { frames, waits, replaced } = await collectPaced(file);

    expect(frames.map((frame) => frame.sequence)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(frames.every((frame) => frame.captureTimestampNs === 0n)).toBe(true);
    expect(waits).toHaveLength(5);
    for (const wait of waits) expect(wait).toBeCloseTo(1000 / 30, 3);
    expect(replaced.map((step) => step.frameIndex)).toEqual([1, 2, 3, 4, 5]);
    expect(replaced.every((step) => step.stepMs === 0)).toBe(true);
  });

  it('step at the maximum is followed', async () => {
    const timestamps = [START_NS, START_NS + BigInt(MAX_CAPTURE_STEP_MS) * 1_000_000n];
    const file = await recordWithTimestamps('longest', timestamps);
    const { waits, replaced } = await collectPaced(file);
    expect(waits).toEqual([MAX_CAPTURE_STEP_MS]);
    expect(replaced).toEqual([]);
  });

  it('slow recording keeps its own rate', async () => {
    // Every step is 10 s, above the maximum: the nominal interval is their median, 10 s.
    const timestamps = [0n, 1n, 2n].map((i) => START_NS + i * 10_000_000_000n);
    const file = await recordWithTimestamps('slow', timestamps);
    const { waits, replaced } = await collectPaced(file);
    expect(waits).toEqual([10_000, 10_000]);
    expect(replaced.map((step) => step.nominalIntervalMs)).toEqual([10_000, 10_000]);
  });

  it('rejects a non-positive rate', async () => {
    await expect(collect(recordingPath, { rate: 0 })).rejects.toThrow(/rate must be positive/);
  });
});

describe('MCAP source', () => {
  it('counts replaced steps, logs once', async () => {
    // Two forward jumps of an hour: at frame 2 and at frame 4.
    const timestamps = [0n, 1n, 2n, 3n, 4n, 5n].map((i) => START_NS + i * FRAME_INTERVAL_NS + (i >= 2n ? HOUR_NS : 0n) + (i >= 4n ? HOUR_NS : 0n));
    const file = await recordWithTimestamps('jumps', timestamps);
    const lines: string[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(line) });
    const server = await startServer({
      host: '127.0.0.1',
      port: 0,
      logger,
      pipeline: new FakePipeline(),
      clientDir: '/nonexistent',
      source: { kind: 'mcap', file, rate: 'original', lossless: true, name: 'jumps' },
    });
    try {
      // At the recorded steps this would take two hours; paced at the nominal interval it takes about 170 ms.
      await waitUntil(() => server.pipeline.counters('jumps').processed === 6, 10_000, 'six frames processed');
      const metrics = await fetchMetrics(server.url);
      expect(metricValue(metrics, 'segwithu_replay_capture_steps_replaced_total', { stream: 'jumps' })).toBe(2);

      const warnings = lines.map((line) => JSON.parse(line) as Record<string, unknown>).filter((record) => String(record.msg).startsWith('capture timestamp step out of range'));
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatchObject({ streamId: 'jumps', frameIndex: 2, sequence: 2, maxCaptureStepMs: MAX_CAPTURE_STEP_MS });
    } finally {
      await server.close();
    }
  });
});
