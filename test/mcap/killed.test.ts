import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

import { McapIndexedReader } from '@mcap/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { DECOMPRESS_HANDLERS } from '../../stream/mcap/compression.js';
import { readRecordedFrames } from '../../stream/mcap/frames.js';
import { openRecording } from '../../stream/mcap/reader.js';
import { TOPICS } from '../../stream/mcap/schemas.js';
import { makeFrame } from './fixtures.js';

const childScript = fileURLToPath(new URL('./record-child.ts', import.meta.url));

let directory: string;
let child: ChildProcess | undefined;

beforeEach(async () => {
  directory = await mkdtemp(path.join(os.tmpdir(), 'segwithu-mcap-kill-'));
});

afterEach(async () => {
  if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  child = undefined;
  await rm(directory, { recursive: true, force: true });
});

interface ChildLine {
  framesWritten?: number;
  file?: string;
  closed?: { framesWritten: number; files: string[]; state: string };
}

/** Starts the recording child and resolves with its first line at or above `minFrames` written. */
function startRecordingChild(minFrames: number): Promise<{ lines: ChildLine[]; exited: Promise<{ code: number | null; signal: string | null }> }> {
  const started = spawn(process.execPath, ['--import', 'tsx', childScript, directory], { stdio: ['ignore', 'pipe', 'pipe'] });
  child = started;
  const lines: ChildLine[] = [];
  let stderr = '';
  started.stderr!.on('data', (data: Buffer) => (stderr += data.toString()));
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
    started.once('exit', (code, signal) => resolve({ code, signal })),
  );

  return new Promise((resolve, reject) => {
    createInterface({ input: started.stdout! }).on('line', (text) => {
      const line = JSON.parse(text) as ChildLine;
      lines.push(line);
      if ((line.framesWritten ?? 0) >= minFrames) resolve({ lines, exited });
    });
    void exited.then(({ code, signal }) => reject(new Error(`recording child exited early (code ${code}, signal ${signal}): ${stderr}`)));
  });
}

describe('recording killed mid-stream', () => {
  it('sigkill leaves a readable prefix', async () => {
    const { lines, exited } = await startRecordingChild(40);
    child!.kill('SIGKILL');
    expect((await exited).signal).toBe('SIGKILL');
    const filePath = lines.at(-1)!.file!;

    // No footer: the indexed reader rejects the file.
    const bytes = new Uint8Array(await readFile(filePath));
    await expect(
      McapIndexedReader.Initialize({
        readable: { size: async () => BigInt(bytes.length), read: async (offset, size) => bytes.subarray(Number(offset), Number(offset + size)) },
        decompressHandlers: DECOMPRESS_HANDLERS,
      }),
    ).rejects.toThrow();

    const recording = await openRecording(filePath);
    expect(recording.complete).toBe(false);
    expect(recording.streamName).toBe('killed-probe');
    const frames = [];
    for await (const frame of readRecordedFrames(recording)) frames.push(frame);
    // 16 KiB chunks hold two or three frames, so all but the last few written frames are on disk.
    expect(frames.length).toBeGreaterThanOrEqual(30);
    expect(frames.map((frame) => frame.sequence)).toEqual([...Array(frames.length).keys()]);
    for (const frame of frames) expect(frame.gray8).toEqual(makeFrame(frame.sequence).gray8);

    let results = 0;
    for await (const message of recording.messages({ topics: [TOPICS.result] })) {
      expect(recording.decode(message).stream_id).toBe('killed-probe');
      results++;
    }
    expect(results).toBeGreaterThanOrEqual(frames.length - 1);
  }, 60_000);

  it('sigterm finalises the file', async () => {
    const { lines, exited } = await startRecordingChild(20);
    child!.kill('SIGTERM');
    const { code } = await exited;
    expect(code).toBe(0);
    const closed = lines.find((line) => line.closed)?.closed;
    expect(closed?.state).toBe('closed');

    const recording = await openRecording(closed!.files[0]);
    expect(recording.complete).toBe(true);
    let frames = 0;
    for await (const frame of readRecordedFrames(recording)) {
      expect(frame.sequence).toBe(frames);
      frames++;
    }
    await recording.close();
    expect(frames).toBe(closed!.framesWritten);
  }, 60_000);
});
