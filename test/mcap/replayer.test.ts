import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import type { Frame } from '../../pipeline/index.js';
import { McapRecorder } from '../../stream/mcap/recorder.js';
import { replayRecording, type ReplayOptions } from '../../stream/mcap/replayer.js';
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

  it('rejects a non-positive rate', async () => {
    await expect(collect(recordingPath, { rate: 0 })).rejects.toThrow(/rate must be positive/);
  });
});
