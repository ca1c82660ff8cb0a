// Pixel checks on viewer screenshots: which screen pixels carry the contour colour, and where
// a model-resolution mask lands on the screen through the letterbox and the frame rectangle.
import { PNG } from 'pngjs';
import type { CssRect } from '../../client/src/viewerScene.js';
import type { LetterboxView } from '../../client/src/wire.js';

export interface Screenshot {
  width: number;
  height: number;
  /** RGBA, row-major. */
  data: Uint8Array;
}

export function decodeScreenshot(png: Buffer): Screenshot {
  const image = PNG.sync.read(png);
  return { width: image.width, height: image.height, data: image.data };
}

/**
 * True for the contour's magenta (255, 51, 204) blended over grey at opacity ≥ 0.4: red and
 * blue then exceed green by more than 80 and 60. Grey pixels have equal channels, and no
 * viridis colour has red above green by that much.
 */
export function isContourColour(r: number, g: number, b: number): boolean {
  return r - g > 80 && b - g > 60;
}

/** True when a pixel is visibly coloured (not grey). */
export function isColoured(r: number, g: number, b: number): boolean {
  return Math.max(r, g, b) - Math.min(r, g, b) > 24;
}

/** Returns the screen pixels (x, y) inside `rect` for which `test` holds. */
export function findPixels(shot: Screenshot, rect: CssRect, test: (r: number, g: number, b: number) => boolean): [number, number][] {
  const found: [number, number][] = [];
  const x0 = Math.max(0, Math.ceil(rect.x));
  const y0 = Math.max(0, Math.ceil(rect.y));
  const x1 = Math.min(shot.width, Math.floor(rect.x + rect.width));
  const y1 = Math.min(shot.height, Math.floor(rect.y + rect.height));
  for (let y = y0; y < y1; y++) {
    for (let x = x0; x < x1; x++) {
      const i = (y * shot.width + x) * 4;
      if (test(shot.data[i], shot.data[i + 1], shot.data[i + 2])) found.push([x, y]);
    }
  }
  return found;
}

/** A binary mask at some resolution with its boundary pixels (foreground with a background 4-neighbour). */
export interface Mask {
  width: number;
  height: number;
  /** Non-zero = structure. */
  data: Uint8Array;
}

export function boundaryPixels(mask: Mask): [number, number][] {
  const boundary: [number, number][] = [];
  const at = (x: number, y: number) => (x < 0 || y < 0 || x >= mask.width || y >= mask.height ? 0 : mask.data[y * mask.width + x]);
  for (let y = 0; y < mask.height; y++) {
    for (let x = 0; x < mask.width; x++) {
      if (!at(x, y)) continue;
      if (!at(x - 1, y) || !at(x + 1, y) || !at(x, y - 1) || !at(x, y + 1)) boundary.push([x, y]);
    }
  }
  return boundary;
}

/** Maps a frame pixel's centre to screen pixels through the frame rectangle. */
export function frameToScreen(x: number, y: number, frameWidth: number, frameHeight: number, rect: CssRect): [number, number] {
  return [rect.x + ((x + 0.5) / frameWidth) * rect.width, rect.y + ((y + 0.5) / frameHeight) * rect.height];
}

/** Maps a model pixel's centre to frame pixels: frame = (model - offset) / scale. */
export function modelToFrame(x: number, y: number, letterbox: LetterboxView): [number, number] {
  return [(x + 0.5 - letterbox.offsetX) / letterbox.scale - 0.5, (y + 0.5 - letterbox.offsetY) / letterbox.scale - 0.5];
}

/**
 * Returns, for each point in `points`, the distance to the nearest point of `targets`, in
 * screen pixels. Brute force through a coarse grid, fine for a few thousand points.
 */
export function distancesToNearest(points: [number, number][], targets: [number, number][]): number[] {
  const cell = 16;
  const grid = new Map<string, [number, number][]>();
  for (const target of targets) {
    const key = `${Math.floor(target[0] / cell)},${Math.floor(target[1] / cell)}`;
    let bucket = grid.get(key);
    if (!bucket) grid.set(key, (bucket = []));
    bucket.push(target);
  }
  return points.map(([x, y]) => {
    let best = Number.POSITIVE_INFINITY;
    const cx = Math.floor(x / cell);
    const cy = Math.floor(y / cell);
    for (let radius = 0; radius < 64; radius++) {
      for (let gx = cx - radius; gx <= cx + radius; gx++) {
        for (let gy = cy - radius; gy <= cy + radius; gy++) {
          if (Math.max(Math.abs(gx - cx), Math.abs(gy - cy)) !== radius) continue;
          for (const [tx, ty] of grid.get(`${gx},${gy}`) ?? []) best = Math.min(best, Math.hypot(tx - x, ty - y));
        }
      }
      // Every cell not yet visited is at least radius * cell away.
      if (best <= radius * cell) break;
    }
    return best;
  });
}

/** Returns the value at quantile q (0..1) of `values`, by the nearest-rank method. */
export function quantile(values: number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}
