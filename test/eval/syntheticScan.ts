// Synthetic B-mode-like frames for tests: textured tissue with a dark round lumen and its mask.
// Nothing here comes from a dataset.

import { createRandom } from '../../pipeline/eval/random.js';

export interface SyntheticScan {
  pixels: Uint8Array;
  mask: Uint8Array;
  width: number;
  height: number;
}

export interface SyntheticScanOptions {
  width?: number;
  height?: number;
  /** Lumen centre and radius, as shares of width and height. Defaults: 0.5, 0.45, 0.15. */
  centreX?: number;
  centreY?: number;
  radius?: number;
  seed?: number;
}

export function makeSyntheticScan(options: SyntheticScanOptions = {}): SyntheticScan {
  const { width = 96, height = 80, centreX = 0.5, centreY = 0.45, radius = 0.15, seed = 1 } = options;
  const random = createRandom(seed);
  const pixels = new Uint8Array(width * height);
  const mask = new Uint8Array(width * height);
  const cx = centreX * width;
  const cy = centreY * height;
  const r = radius * Math.min(width, height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const distance = Math.hypot(x + 0.5 - cx, y + 0.5 - cy);
      const i = y * width + x;
      const tissue = 70 + 50 * (y / height) + 25 * random.normal();
      if (distance < r) {
        mask[i] = 255;
        pixels[i] = Math.max(0, Math.min(255, Math.round(15 + 5 * random.normal())));
      } else if (distance < r + 3) {
        pixels[i] = 210;
      } else {
        pixels[i] = Math.max(0, Math.min(255, Math.round(tissue)));
      }
    }
  }
  return { pixels, mask, width, height };
}
