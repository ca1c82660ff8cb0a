// Recording on a worker thread, recording live streams from the server, replaying a recording
// into the pipeline, and the record / replay commands. Frames are synthetic.

import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { Result } from '../../pipeline/index.js';
import { main } from '../../stream/cli.js';
import { replayToServeArgs } from '../../stream/mcap/cli.js';
import { readRecordedFrames } from '../../stream/mcap/frames.js';
import { openRecording } from '../../stream/mcap/reader.js';
import { RecordingThread } from '../../stream/mcap/recording-thread.js';
import { TOPICS } from '../../stream/mcap/schemas.js';
import { startServer } from '../../stream/server.js';
import { makeSyntheticScan } from '../eval/syntheticScan.js';
import { describeWithModel, MODEL_DIR, silentLogger } from '../pipeline/fixtures.js';
import { makeFrame, makeResult } from './fixtures.js';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const FRAMES = 6;

let root: string;
/** A recording of FRAMES synthetic frames with masks, made by `segwithu-live record`. */
let recordingFile: string;

function capture(): { out: string[]; err: string[]; output: { out: (text: string) => void; err: (text: string) => void } } {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, output: { out: (text) => out.push(text), err: (text) => err.push(text) } };
}

function grayPng(pixels: Uint8Array, width: number, height: number): Buffer {
  const png = new PNG({ width, height, colorType: 0, inputColorType: 0, inputHasAlpha: false, bitDepth: 8 });
  png.data = Buffer.from(pixels);
  return PNG.sync.write(png, { colorType: 0, inputColorType: 0, inputHasAlpha: false });
}

async function countMessages(file: string, topic: string): Promise<{ count: number; complete: boolean }> {
  const recording = await openRecording(file);
  try {
    let count = 0;
    for await (const _message of recording.messages({ topics: [topic] })) count++;
    return { count, complete: recording.complete };
  } finally {
    await recording.close();
  }
}

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'segwithu-record-replay-'));
  const folder = path.join(root, 'frames');
  await mkdir(path.join(folder, 'images'), { recursive: true });
  await mkdir(path.join(folder, 'masks'), { recursive: true });
  for (let i = 0; i < FRAMES; i++) {
    const scan = makeSyntheticScan({ width: 96, height: 80, centreX: 0.35 + 0.05 * i, seed: i + 1 });
    await writeFile(path.join(folder, 'images', `f${i}.png`), grayPng(scan.pixels, scan.width, scan.height));
    await writeFile(path.join(folder, 'masks', `f${i}.png`), grayPng(scan.mask, scan.width, scan.height));
  }
  recordingFile = path.join(root, 'probe.mcap');
  const { out, err, output } = capture();
  const code = await main(['record', '--folder', folder, '--out', recordingFile, '--fps', '20'], output);
  if (code !== 0) throw new Error(`record failed: ${err.join('\n')}`);
  expect(out.join('\n')).toContain(`${FRAMES} frames (${FRAMES} with ground truth)`);
});

afterAll(async () => {
  if (root !== undefined) await rm(root, { recursive: true, force: true });
});

describe('recording thread', () => {
  it('full queue drops, never blocks', async () => {
    const directory = path.join(root, 'thread');
    const thread = new RecordingThread({ directory, maxQueuedFrames: 2, logger: silentLogger });
    const accepted: boolean[] = [];
    for (let sequence = 0; sequence < 10; sequence++) {
      const frame = makeFrame(sequence);
      accepted.push(thread.write('probe', frame, makeResult(frame)));
    }
    // write() returns before the worker has written anything, so only two slots were free.
    expect(accepted).toEqual([true, true, false, false, false, false, false, false, false, false]);
    expect(thread.status.framesDroppedQueueFull).toBe(8);

    const status = await thread.close();
    expect(status.streams.probe.framesWritten).toBe(2);
    expect(status.streams.probe.state).toBe('closed');
    const [file] = status.streams.probe.files;
    expect(await countMessages(file, TOPICS.result)).toEqual({ count: 2, complete: true });
    expect(thread.write('probe', makeFrame(11))).toBe(false);
  });

  it('slots free after frames are written', async () => {
    const thread = new RecordingThread({ directory: path.join(root, 'thread-slow'), maxQueuedFrames: 1, logger: silentLogger });
    let written = 0;
    for (let sequence = 0; sequence < 4; sequence++) {
      const deadline = performance.now() + 20_000;
      while (!thread.write('probe', makeFrame(sequence)) && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
      written++;
    }
    const status = await thread.close();
    expect(written).toBe(4);
    expect(status.streams.probe.framesWritten).toBe(4);
  });

  it('repeated unstamped sequences all read back', async () => {
    // A live device that sends sequences 0 to 4 twice, all with capture timestamp 0 (unknown).
    const thread = new RecordingThread({ directory: path.join(root, 'thread-repeated'), maxQueuedFrames: 16, logger: silentLogger });
    for (let index = 0; index < 10; index++) {
      const frame = { ...makeFrame(index), sequence: index % 5, captureTimestampNs: 0n };
      expect(thread.write('probe', frame, makeResult(frame))).toBe(true);
    }
    const status = await thread.close();
    expect(status.streams.probe.framesWritten).toBe(10);

    const recording = await openRecording(status.streams.probe.files[0]);
    const frames = [];
    for await (const frame of readRecordedFrames(recording)) frames.push(frame);
    await recording.close();
    expect(frames.map((frame) => frame.sequence)).toEqual([0, 1, 2, 3, 4, 0, 1, 2, 3, 4]);
    expect(frames.map((frame) => frame.captureTimestampNs)).toEqual(Array<bigint>(10).fill(0n));
    for (const [index, frame] of frames.entries()) expect(frame.gray8).toEqual(makeFrame(index).gray8);
  });
});

describe('record and replay commands', () => {
  it('record converts a folder', async () => {
    const recording = await openRecording(recordingFile);
    const frames = [];
    for await (const frame of readRecordedFrames(recording)) frames.push(frame);
    await recording.close();
    expect(recording.complete).toBe(true);
    expect(frames.map((frame) => frame.sequence)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(frames.every((frame) => frame.groundTruthMask !== undefined)).toBe(true);
    expect(frames[1].captureTimestampNs - frames[0].captureTimestampNs).toBe(50_000_000n);
  });

  it('record never overwrites a file', async () => {
    const { err, output } = capture();
    expect(await main(['record', '--folder', path.join(root, 'frames'), '--out', recordingFile], output)).toBe(2);
    expect(err.join('\n')).toContain('recordings are never overwritten');
  });

  it('replay arguments become serve arguments', () => {
    expect(replayToServeArgs(['a.mcap', '--rate', '2', '--loop'])).toEqual(['--source', 'mcap:a.mcap', '--rate', '2', '--loop']);
    expect(replayToServeArgs(['--rate', 'max', 'a.mcap', '--from', '1.5'])).toEqual(['--source', 'mcap:a.mcap', '--rate', 'max', '--from', '1.5']);
    expect(() => replayToServeArgs(['--rate', 'max'])).toThrow(/replay needs a recording/);
  });

  it('bad replay rate exits 2', async () => {
    const { err, output } = capture();
    expect(await main(['replay', recordingFile, '--rate', 'fast'], output)).toBe(2);
    expect(err.join('\n')).toContain('--rate "fast" is not a number above 0');
  });
});

describeWithModel('replay through the pipeline', () => {
  /** Serves the recording at rate max (lossless) and returns its results in order. */
  async function replayOnce(record?: string): Promise<{ results: Result[]; recorded?: string[] }> {
    const server = await startServer({
      port: 0,
      modelDir: MODEL_DIR,
      logger: silentLogger,
      source: { kind: 'mcap', file: recordingFile, rate: 'max' },
      ...(record === undefined ? {} : { record: { directory: record } }),
    });
    const results: Result[] = [];
    const subscription = server.pipeline.results$.subscribe((result) => results.push(result));
    const deadline = performance.now() + 60_000;
    while (results.length < FRAMES && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    subscription.unsubscribe();
    await server.close();
    const recorded = server.recording === undefined ? undefined : Object.values(server.recording.status.streams).flatMap((stream) => stream.files);
    return { results, recorded };
  }

  it('two replays give identical results', async () => {
    const first = await replayOnce();
    const second = await replayOnce();
    expect(first.results).toHaveLength(FRAMES);
    expect(second.results).toHaveLength(FRAMES);
    for (let i = 0; i < FRAMES; i++) {
      const [a, b] = [first.results[i], second.results[i]];
      expect(b.sequence).toBe(a.sequence);
      expect(b.captureTimestampNs).toBe(a.captureTimestampNs);
      expect(Buffer.from(b.labelMask).equals(Buffer.from(a.labelMask))).toBe(true);
      expect(Math.abs(b.frameRisk - a.frameRisk)).toBeLessThanOrEqual(1e-6);
      let largest = 0;
      for (let p = 0; p < a.errorProbability.length; p++) largest = Math.max(largest, Math.abs(b.errorProbability[p] - a.errorProbability[p]));
      expect(largest).toBeLessThanOrEqual(1e-6);
      expect(a.groundTruthMask).toBeDefined();
    }
  });

  it('serve record finalises files on close', async () => {
    const directory = path.join(root, 'live');
    const { results, recorded } = await replayOnce(directory);
    expect(results).toHaveLength(FRAMES);
    expect(recorded).toHaveLength(1);
    expect(await countMessages(recorded![0], TOPICS.result)).toEqual({ count: FRAMES, complete: true });
    expect(await countMessages(recorded![0], TOPICS.groundTruth)).toEqual({ count: FRAMES, complete: true });
  });

  it('sigterm finalises the recording', async () => {
    const directory = path.join(root, 'sigterm');
    const child = spawn(
      process.execPath,
      [path.join(REPO_ROOT, 'bin/segwithu-live.js'), 'replay', recordingFile, '--rate', '2', '--loop', '--port', '0', '--record', directory, '--model-dir', MODEL_DIR, '--log-level', 'info'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      // Wait until the recording thread has written a file, then stop the server as a service manager would.
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no recording file was started within 90 s')), 90_000);
        createInterface({ input: child.stdout! }).on('line', (line) => {
          if (line.includes('recording file started')) {
            clearTimeout(timer);
            resolve();
          }
        });
      });
      await new Promise((resolve) => setTimeout(resolve, 1500));
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }

    const files = (await readdir(directory)).filter((name) => name.endsWith('.mcap'));
    expect(files).toHaveLength(1);
    const { count, complete } = await countMessages(path.join(directory, files[0]), TOPICS.result);
    expect(complete).toBe(true);
    expect(count).toBeGreaterThan(0);
    expect(existsSync(path.join(directory, files[0]))).toBe(true);
  });
});
