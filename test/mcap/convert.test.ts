import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { McapIndexedReader } from '@mcap/core';
import { PNG } from 'pngjs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { DECOMPRESS_HANDLERS, zstdReady } from '../../stream/mcap/compression.js';
import { convertFolderToRecordings } from '../../stream/mcap/convert.js';
import { readRecordedFrames } from '../../stream/mcap/frames.js';
import { openRecording } from '../../stream/mcap/reader.js';
import { replayRecording } from '../../stream/mcap/replayer.js';
import { makeSyntheticScan } from '../eval/syntheticScan.js';

let root: string;

beforeEach(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'segwithu-convert-'));
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

function grayPng(pixels: Uint8Array, width: number, height: number): Buffer {
  const png = new PNG({ width, height, colorType: 0, inputColorType: 0, inputHasAlpha: false, bitDepth: 8 });
  png.data = Buffer.from(pixels);
  return PNG.sync.write(png, { colorType: 0, inputColorType: 0, inputHasAlpha: false });
}

interface SyntheticRow {
  clip: string;
  order: number;
  name: string;
  withMask: boolean;
}

/** Writes a folder laid out like the carotid data set, with synthetic images. */
async function makeFolder(rows: SyntheticRow[]): Promise<Map<string, ReturnType<typeof makeSyntheticScan>>> {
  const folder = path.join(root, 'frames');
  await mkdir(path.join(folder, 'images'), { recursive: true });
  await mkdir(path.join(folder, 'masks'), { recursive: true });
  const scans = new Map<string, ReturnType<typeof makeSyntheticScan>>();
  const lines = ['clip_id,slice_index,order_in_clip,filename'];
  for (const [i, row] of rows.entries()) {
    const scan = makeSyntheticScan({ width: 40, height: 30, seed: i + 1, centreX: 0.3 + 0.1 * row.order });
    scans.set(row.name, scan);
    await writeFile(path.join(folder, 'images', row.name), grayPng(scan.pixels, scan.width, scan.height));
    if (row.withMask) await writeFile(path.join(folder, 'masks', row.name), grayPng(scan.mask, scan.width, scan.height));
    lines.push(`${row.clip},${100 + row.order * 7},${row.order},${row.name}`);
  }
  await writeFile(path.join(folder, 'manifest.csv'), `${lines.join('\n')}\n`);
  return scans;
}

const ROWS: SyntheticRow[] = [
  { clip: 'clip_b', order: 1, name: 'clip_b_slice_2.png', withMask: true },
  { clip: 'clip_a', order: 0, name: 'clip_a_slice_1.png', withMask: true },
  { clip: 'clip_b', order: 0, name: 'clip_b_slice_1.png', withMask: true },
  { clip: 'clip_a', order: 2, name: 'clip_a_slice_3.png', withMask: false },
  { clip: 'clip_a', order: 1, name: 'clip_a_slice_2.png', withMask: true },
];

describe('convertFolderToRecordings', () => {
  it('converts one recording per clip', async () => {
    await makeFolder(ROWS);
    const output = path.join(root, 'out');
    const converted = await convertFolderToRecordings({ folder: path.join(root, 'frames'), outputDirectory: output, frameRateHz: 10 });
    expect(converted.map((clip) => [clip.streamName, path.basename(clip.filePath), clip.frames, clip.framesWithGroundTruth])).toEqual([
      ['clip_a', 'clip_a.mcap', 3, 2],
      ['clip_b', 'clip_b.mcap', 2, 2],
    ]);
  });

  it('round trip keeps pixels and masks', async () => {
    const scans = await makeFolder(ROWS);
    const output = path.join(root, 'out');
    const [clipA] = await convertFolderToRecordings({ folder: path.join(root, 'frames'), outputDirectory: output, clips: ['clip_a'] });

    const recording = await openRecording(clipA.filePath);
    expect(recording.complete).toBe(true);
    expect(recording.streamName).toBe('clip_a');
    const frames = [];
    for await (const frame of readRecordedFrames(recording)) frames.push(frame);
    await recording.close();

    const names = ['clip_a_slice_1.png', 'clip_a_slice_2.png', 'clip_a_slice_3.png'];
    expect(frames.map((frame) => frame.sequence)).toEqual([0, 1, 2]);
    expect(frames.map((frame) => frame.captureTimestampNs)).toEqual([0n, 100_000_000n, 200_000_000n]);
    frames.forEach((frame, i) => {
      const scan = scans.get(names[i])!;
      expect([frame.width, frame.height]).toEqual([40, 30]);
      expect(frame.gray8).toEqual(scan.pixels);
    });
    expect(frames[0].groundTruthMask).toEqual(scans.get(names[0])!.mask);
    expect(frames[1].groundTruthMask).toEqual(scans.get(names[1])!.mask);
    expect(frames[2].groundTruthMask).toBeUndefined();
  });

  it('records source file names', async () => {
    await makeFolder(ROWS);
    const [clipB] = await convertFolderToRecordings({ folder: path.join(root, 'frames'), outputDirectory: path.join(root, 'out'), clips: ['clip_b'] });
    await zstdReady();
    const bytes = new Uint8Array(await readFile(clipB.filePath));
    const reader = await McapIndexedReader.Initialize({
      readable: { size: async () => BigInt(bytes.length), read: async (offset, size) => bytes.subarray(Number(offset), Number(offset + size)) },
      decompressHandlers: DECOMPRESS_HANDLERS,
    });
    const records = new Map<string, Map<string, string>>();
    for await (const metadata of reader.readMetadata()) records.set(metadata.name, metadata.metadata);
    expect(Object.fromEntries(records.get('segwithu.source_frames')!)).toEqual({ '0': 'clip_b_slice_1.png', '1': 'clip_b_slice_2.png' });
    expect(records.get('segwithu.source')!.get('frame_rate_hz')).toBe('10');
  });

  it('converted recording replays', async () => {
    await makeFolder(ROWS);
    const [clipA] = await convertFolderToRecordings({ folder: path.join(root, 'frames'), outputDirectory: path.join(root, 'out'), clips: ['clip_a'] });
    const sequences = [];
    for await (const frame of replayRecording(clipA.filePath, { pacing: 'fast' })) {
      expect(frame.streamId).toBe('clip_a');
      sequences.push(frame.sequence);
    }
    expect(sequences).toEqual([0, 1, 2]);
  });

  it('rejects an unknown clip', async () => {
    await makeFolder(ROWS);
    await expect(
      convertFolderToRecordings({ folder: path.join(root, 'frames'), outputDirectory: path.join(root, 'out'), clips: ['clip_z'] }),
    ).rejects.toThrow(/clip_z is not in/);
  });
});
