// Writes small synthetic frame folders for the source and CLI tests: PNG frames, optional
// masks and an optional manifest.csv. Nothing here comes from a dataset.

import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { PNG } from 'pngjs';

export interface FixtureFrame {
  name: string;
  /** Grey level of every pixel, so a test can tell frames apart after decoding. */
  grey: number;
  clipId?: string;
  orderInClip?: number;
}

function writeGreyPng(file: string, width: number, height: number, grey: number): void {
  const png = new PNG({ width, height });
  for (let i = 0; i < width * height; i += 1) {
    png.data[4 * i] = grey;
    png.data[4 * i + 1] = grey;
    png.data[4 * i + 2] = grey;
    png.data[4 * i + 3] = 255;
  }
  writeFileSync(file, PNG.sync.write(png));
}

/** Creates a temporary folder with frames/ (or images/ when masks are written), masks/ and manifest.csv as asked. */
export function writeFixtureFolder(frames: FixtureFrame[], { masks = false, manifest = false, width = 40, height = 30 } = {}): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'segwithu-frames-'));
  const imageDir = path.join(dir, masks ? 'images' : 'frames');
  mkdirSync(imageDir);
  if (masks) {
    mkdirSync(path.join(dir, 'masks'));
  }

  for (const frame of frames) {
    writeGreyPng(path.join(imageDir, frame.name), width, height, frame.grey);
    if (masks) {
      writeGreyPng(path.join(dir, 'masks', frame.name), width, height, 255);
    }
  }

  if (manifest) {
    const rows = frames.map((frame) => `${frame.clipId},${frame.orderInClip},${frame.name}`);
    writeFileSync(path.join(dir, 'manifest.csv'), ['clip_id,order_in_clip,filename', ...rows].join('\n'));
  }
  return dir;
}
