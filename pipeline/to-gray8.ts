// toGray8: every pixel format to 8-bit grey at frame resolution (width × height, no stride).
//
// GRAY8 is copied row by row (or viewed, when rows are tightly packed). GRAY16 is little-endian
// and maps linearly through the frame's window [low, high] to 0..255, clamped. RGB8 and RGBA8
// use ITU-R BT.601 luma Y = 0.299 R + 0.587 G + 0.114 B, rounded; alpha is ignored.

import type { OperatorFunction } from 'rxjs';

import type { Frame } from './types.js';
import type { GrayJob, Job } from './job.js';
import { BYTES_PER_PIXEL } from './frame-check.js';
import { mapOrDrop } from './map-or-drop.js';

// BT.601 luma weights in 16-bit fixed point; they add up to exactly 65536, so white stays 255.
const LUMA_R = 19595;
const LUMA_G = 38470;
const LUMA_B = 7471;
const FIXED_HALF = 32768;

/** Converts a checked frame (see checkFrame) to width × height 8-bit grey, honouring rowStrideBytes. */
export function frameToGray8(frame: Frame): Uint8Array {
  const { width, height, rowStrideBytes, pixels } = frame;
  const bytesPerPixel = BYTES_PER_PIXEL[frame.pixelFormat];

  if (frame.pixelFormat === 'GRAY8' && rowStrideBytes === width) {
    return pixels.subarray(0, width * height);
  }

  const gray = new Uint8Array(width * height);
  switch (frame.pixelFormat) {
    case 'GRAY8':
      for (let y = 0; y < height; y++) {
        gray.set(pixels.subarray(y * rowStrideBytes, y * rowStrideBytes + width), y * width);
      }
      break;

    case 'GRAY16': {
      const [low, high] = frame.gray16Window ?? [0, 65535];
      const gain = 255 / (high - low);
      for (let y = 0; y < height; y++) {
        let source = y * rowStrideBytes;
        const rowStart = y * width;
        for (let x = 0; x < width; x++, source += 2) {
          const value = pixels[source] | (pixels[source + 1] << 8);
          const scaled = Math.round((value - low) * gain);
          gray[rowStart + x] = Math.min(255, Math.max(0, scaled));
        }
      }
      break;
    }

    case 'RGB8':
    case 'RGBA8':
      for (let y = 0; y < height; y++) {
        let source = y * rowStrideBytes;
        const rowStart = y * width;
        for (let x = 0; x < width; x++, source += bytesPerPixel) {
          gray[rowStart + x] = (LUMA_R * pixels[source] + LUMA_G * pixels[source + 1] + LUMA_B * pixels[source + 2] + FIXED_HALF) >>> 16;
        }
      }
      break;
  }
  return gray;
}

/**
 * Adds `gray8` (the frame as 8-bit grey) to each job. Emits one job per input job, in order;
 * a job whose conversion throws goes to onError instead. Completes and errors with its source.
 * Frames must have passed checkFrame.
 */
export function toGray8(onError: (job: Job, error: Error) => void): OperatorFunction<Job, GrayJob> {
  return mapOrDrop((job: Job): GrayJob => ({ ...job, gray8: frameToGray8(job.frame) }), onError);
}
