// The real datasets for the end-to-end viewer tests. They are found through one setting,
// SEGWITHU_DATA_DIR (default ../shared/data from the repository root). When they are missing
// the tests skip with a message saying how to get them, except under CI=true, where a missing
// dataset fails the run. Images are read at test time and never copied into the repository.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PNG } from 'pngjs';

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const DATA_DIR = resolve(REPO_ROOT, process.env.SEGWITHU_DATA_DIR ?? '../shared/data');
export const CAROTID_DIR = join(DATA_DIR, 'ccaui-carotid');
export const LIVER_DIR = join(DATA_DIR, 'imfusion-liver-sweep');

export const DATA_MISSING_MESSAGE =
  `datasets not found under ${DATA_DIR}: put ccaui-carotid/ and imfusion-liver-sweep/ there, or set SEGWITHU_DATA_DIR to the folder that contains them`;

export function datasetsAvailable(): boolean {
  return existsSync(join(CAROTID_DIR, 'manifest.csv')) && existsSync(join(LIVER_DIR, 'frames'));
}

export interface GrayImage {
  width: number;
  height: number;
  /** One byte per pixel, rows tightly packed. */
  pixels: Uint8Array;
}

/** Reads a PNG as 8-bit grey; colour PNGs are converted with ITU-R 601 luma. */
export function readGrayPng(path: string): GrayImage {
  const png = PNG.sync.read(readFileSync(path));
  const pixels = new Uint8Array(png.width * png.height);
  for (let i = 0; i < pixels.length; i++) {
    pixels[i] = Math.round(0.299 * png.data[i * 4] + 0.587 * png.data[i * 4 + 1] + 0.114 * png.data[i * 4 + 2]);
  }
  return { width: png.width, height: png.height, pixels };
}

/** File names of one clip's frames, in order, from ccaui-carotid/manifest.csv. */
export function carotidClipFrames(clipIndex = 0): string[] {
  const lines = readFileSync(join(CAROTID_DIR, 'manifest.csv'), 'utf8').trim().split(/\r?\n/);
  const header = lines[0].split(',');
  const clipColumn = header.indexOf('clip_id');
  const orderColumn = header.indexOf('order_in_clip');
  const fileColumn = header.indexOf('filename');
  const rows = lines.slice(1).map((line) => line.split(','));
  const clipIds = [...new Set(rows.map((row) => row[clipColumn]))];
  const clipId = clipIds[clipIndex % clipIds.length];
  return rows
    .filter((row) => row[clipColumn] === clipId)
    .sort((a, b) => Number(a[orderColumn]) - Number(b[orderColumn]))
    .map((row) => row[fileColumn]);
}

export function readCarotidFrame(fileName: string): { image: GrayImage; mask: GrayImage } {
  return { image: readGrayPng(join(CAROTID_DIR, 'images', fileName)), mask: readGrayPng(join(CAROTID_DIR, 'masks', fileName)) };
}

/** Paths of the liver sweep's frames in acquisition order (frame_0000.png, frame_0001.png, ...). */
export function liverFramePaths(): string[] {
  const framesDir = join(LIVER_DIR, 'frames');
  return readdirSync(framesDir).filter((name) => name.endsWith('.png')).sort().map((name) => join(framesDir, name));
}
