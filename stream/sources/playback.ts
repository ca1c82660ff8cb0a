// Playing recorded frames at a rate: the pacer that a replay source and the device client share,
// and the loader that decodes a folder's frames (and masks) ahead of time or as they play.

import type { FolderFrame, Gray8Image } from './folder.js';
import { readPngGray8 } from './folder.js';

/** Frames per second, or 'max' to send as fast as the receiver takes them. */
export type FrameRate = number | 'max';

/**
 * Schedules frame i at start + i / fps. A sender that falls more than one frame period behind
 * (a slow disk, a paused process) restarts the schedule from now instead of sending a burst to
 * catch up, as a real device would.
 */
export class FramePacer {
  readonly #periodMs: number;
  #startMs: number | undefined;
  #index = 0;

  constructor(fps: FrameRate) {
    this.#periodMs = fps === 'max' ? 0 : 1000 / fps;
  }

  /** Resolves when the next frame is due; rejects with the signal's reason when aborted. */
  async next(signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    const waitMs = this.delayMs(performance.now());
    if (waitMs > 0) {
      await sleep(waitMs, signal);
    }
  }

  /** Books the next frame at time nowMs (ms, monotonic) and returns how long to wait before sending it. */
  delayMs(nowMs: number): number {
    if (this.#startMs === undefined) {
      this.#startMs = nowMs;
    }

    let dueMs = this.#startMs + this.#index * this.#periodMs;
    if (nowMs - dueMs > this.#periodMs) {
      this.#startMs = nowMs;
      this.#index = 0;
      dueMs = nowMs;
    }
    this.#index += 1;
    return Math.max(0, dueMs - nowMs);
  }
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export interface DecodedFrame extends Gray8Image {
  frame: FolderFrame;
  /** Ground truth, width × height bytes, when the folder has a mask for this frame. */
  mask: Uint8Array | undefined;
}

export async function decodeFolderFrame(frame: FolderFrame): Promise<DecodedFrame> {
  const image = await readPngGray8(frame.imagePath);
  let mask: Uint8Array | undefined;
  if (frame.maskPath !== undefined) {
    const maskImage = await readPngGray8(frame.maskPath);
    // A mask of another size is passed on unchanged. A device then sends it and the server
    // rejects it with ERR_MASK_SIZE, which is what a test folder of bad masks is for.
    mask = maskImage.pixels;
  }
  return { ...image, frame, mask };
}

/**
 * Yields a folder's frames decoded, in play order, once or looped. With preload, every frame is
 * decoded before the first is yielded, so decoding does not compete with sending at frame rate.
 * That costs about width × height × 2 bytes of memory per frame. Without it, each frame is
 * decoded when needed.
 */
export async function* decodedFrames(
  frames: readonly FolderFrame[],
  { loop = false, preload = false }: { loop?: boolean; preload?: boolean } = {},
): AsyncGenerator<DecodedFrame> {
  const cache = preload ? await Promise.all(frames.map(decodeFolderFrame)) : undefined;
  do {
    for (let i = 0; i < frames.length; i += 1) {
      yield cache?.[i] ?? (await decodeFolderFrame(frames[i]));
    }
  } while (loop);
}
