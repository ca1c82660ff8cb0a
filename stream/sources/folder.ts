// A folder of recorded frames, as the replay source and the device client read it:
//   DIR/images/*.png or DIR/frames/*.png (or PNG files in DIR itself), the frames;
//   DIR/masks/<same name>.png, optional ground truth (0 = background, non-zero = structure);
//   DIR/manifest.csv, optional, with columns filename, clip_id, order_in_clip: when present it
//   sets which files belong to the replay and their order (by clip_id, then order_in_clip).
// Without a manifest the PNG files play in natural name order (frame_2 before frame_10).

import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';

import { PNG } from 'pngjs';

import { OptionError } from '../errors.js';

export interface FolderFrame {
  /** File name, for example frame_0000.png. */
  name: string;
  imagePath: string;
  maskPath: string | undefined;
  clipId: string | undefined;
  orderInClip: number | undefined;
}

export interface ListFolderOptions {
  /** Only frames of these clip ids; needs manifest.csv. Default: every frame. */
  clips?: readonly string[];
}

export interface Gray8Image {
  width: number;
  height: number;
  /** One byte per pixel, rows tightly packed. */
  pixels: Uint8Array;
}

function frameDirectory(dir: string): string {
  for (const name of ['images', 'frames']) {
    if (existsSync(path.join(dir, name))) {
      return path.join(dir, name);
    }
  }
  return dir;
}

interface ManifestRow {
  filename: string;
  clipId: string | undefined;
  orderInClip: number | undefined;
}

/** Parses manifest.csv (plain comma-separated values, no quoted fields). */
function parseManifest(text: string, manifestPath: string): ManifestRow[] {
  const lines = text.split(/\r?\n/).filter((line) => line.trim().length > 0);
  const header = (lines[0] ?? '').split(',').map((column) => column.trim());
  const filenameColumn = header.indexOf('filename');
  const clipColumn = header.indexOf('clip_id');
  const orderColumn = header.indexOf('order_in_clip');
  if (filenameColumn === -1) {
    throw new OptionError(`${manifestPath} has no "filename" column (header: ${header.join(',')}); add one, or remove the manifest to play files in name order`);
  }

  return lines.slice(1).map((line) => {
    const cells = line.split(',').map((cell) => cell.trim());
    const order = orderColumn === -1 ? undefined : Number(cells[orderColumn]);
    return {
      filename: cells[filenameColumn],
      clipId: clipColumn === -1 ? undefined : cells[clipColumn],
      orderInClip: order === undefined || Number.isNaN(order) ? undefined : order,
    };
  });
}

const byNaturalName = (a: string, b: string): number => a.localeCompare(b, 'en', { numeric: true });

/** Lists the frames of a recorded folder in play order; throws OptionError when the folder cannot be played. */
export async function listFolderFrames(dir: string, { clips }: ListFolderOptions = {}): Promise<FolderFrame[]> {
  if (!existsSync(dir)) {
    throw new OptionError(`frame folder ${dir} does not exist; pass a folder with images/ or frames/ of PNG files`);
  }
  const imageDir = frameDirectory(dir);
  const maskDir = path.join(dir, 'masks');
  const hasMasks = existsSync(maskDir);
  const manifestPath = path.join(dir, 'manifest.csv');

  let rows: ManifestRow[];
  if (existsSync(manifestPath)) {
    rows = parseManifest(await readFile(manifestPath, 'utf8'), manifestPath);
    rows.sort((a, b) => byNaturalName(a.clipId ?? '', b.clipId ?? '') || (a.orderInClip ?? 0) - (b.orderInClip ?? 0));
  } else {
    const names = (await readdir(imageDir)).filter((name) => name.toLowerCase().endsWith('.png')).sort(byNaturalName);
    rows = names.map((filename) => ({ filename, clipId: undefined, orderInClip: undefined }));
  }

  if (clips !== undefined && clips.length > 0) {
    if (!existsSync(manifestPath)) {
      throw new OptionError(`--clip needs ${manifestPath} with a clip_id column; remove --clip to play every frame`);
    }
    const known = new Set(rows.map((row) => row.clipId));
    const unknown = clips.filter((clip) => !known.has(clip));
    if (unknown.length > 0) {
      throw new OptionError(`clip ${unknown.join(', ')} is not in ${manifestPath}; known clips: ${[...known].join(', ')}`);
    }
    const wanted = new Set(clips);
    rows = rows.filter((row) => row.clipId !== undefined && wanted.has(row.clipId));
  }

  if (rows.length === 0) {
    throw new OptionError(`no PNG frames found in ${imageDir}; put the frames in DIR/images or DIR/frames`);
  }

  return rows.map((row) => {
    const imagePath = path.join(imageDir, row.filename);
    if (!existsSync(imagePath)) {
      throw new OptionError(`${manifestPath} lists ${row.filename}, but ${imagePath} does not exist; restore the file or remove its row`);
    }
    const maskPath = path.join(maskDir, row.filename);
    return {
      name: row.filename,
      imagePath,
      maskPath: hasMasks && existsSync(maskPath) ? maskPath : undefined,
      clipId: row.clipId,
      orderInClip: row.orderInClip,
    };
  });
}

/** Decodes a PNG to 8-bit grey: grey PNGs as they are, colour by ITU-R 601 luma, alpha ignored. */
export function decodePngGray8(buffer: Buffer): Gray8Image {
  // pngjs always returns 8-bit RGBA (16-bit samples are scaled down).
  const png = PNG.sync.read(buffer);
  const { width, height, data } = png;
  const pixels = new Uint8Array(width * height);
  for (let i = 0, p = 0; i < pixels.length; i += 1, p += 4) {
    const r = data[p];
    const g = data[p + 1];
    const b = data[p + 2];
    pixels[i] = r === g && g === b ? r : Math.round(0.299 * r + 0.587 * g + 0.114 * b);
  }
  return { width, height, pixels };
}

export async function readPngGray8(file: string): Promise<Gray8Image> {
  return decodePngGray8(await readFile(file));
}
