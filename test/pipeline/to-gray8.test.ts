import { describe, expect, it } from 'vitest';

import { frameToGray8 } from '../../pipeline/to-gray8.js';
import { checkFrame } from '../../pipeline/frame-check.js';
import type { Frame, PixelFormat } from '../../pipeline/types.js';

function frame(pixelFormat: PixelFormat, width: number, height: number, rowStrideBytes: number, bytes: number[], extra: Partial<Frame> = {}): Frame {
  return {
    streamId: 's',
    sequence: 0,
    captureTimestampNs: 0n,
    receivedNs: 0n,
    pixelFormat,
    width,
    height,
    rowStrideBytes,
    pixels: Uint8Array.from(bytes),
    ...extra,
  };
}

describe('frameToGray8', () => {
  it('GRAY8 packed rows unchanged', () => {
    expect([...frameToGray8(frame('GRAY8', 2, 2, 2, [1, 2, 3, 4]))]).toEqual([1, 2, 3, 4]);
  });

  it('GRAY8 skips row stride padding', () => {
    // Two rows of two pixels, each row followed by two padding bytes (99).
    expect([...frameToGray8(frame('GRAY8', 2, 2, 4, [1, 2, 99, 99, 3, 4, 99, 99]))]).toEqual([1, 2, 3, 4]);
  });

  it('GRAY16 full range little-endian', () => {
    // 0 -> 0; 257 (0x0101) -> 1; 32896 (0x8080) -> 128; 65535 -> 255.
    const out = frameToGray8(frame('GRAY16', 4, 1, 8, [0x00, 0x00, 0x01, 0x01, 0x80, 0x80, 0xff, 0xff]));
    expect([...out]).toEqual([0, 1, 128, 255]);
  });

  it('GRAY16 window clamps and scales', () => {
    // Window [1000, 2000]: 500 -> 0 (clamped), 1000 -> 0, 1500 -> 127.5 -> 128, 2000 -> 255, 3000 -> 255.
    const values = [500, 1000, 1500, 2000, 3000];
    const bytes = values.flatMap((v) => [v & 0xff, v >> 8]);
    const out = frameToGray8(frame('GRAY16', 5, 1, 10, bytes, { gray16Window: [1000, 2000] }));
    expect([...out]).toEqual([0, 0, 128, 255, 255]);
  });

  it('GRAY16 honours row stride', () => {
    const out = frameToGray8(frame('GRAY16', 1, 2, 4, [0xff, 0xff, 7, 7, 0x00, 0x00, 7, 7]));
    expect([...out]).toEqual([255, 0]);
  });

  it('RGB8 uses BT.601 luma', () => {
    // Pure red 0.299 × 255 = 76.2 -> 76; green 0.587 × 255 = 149.7 -> 150; blue 0.114 × 255 = 29.1 -> 29;
    // (10, 20, 30): 2.99 + 11.74 + 3.42 = 18.15 -> 18; white stays 255.
    const out = frameToGray8(frame('RGB8', 5, 1, 15, [255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30, 255, 255, 255]));
    expect([...out]).toEqual([76, 150, 29, 18, 255]);
  });

  it('RGBA8 ignores alpha, honours stride', () => {
    // One pixel per row, stride 6 (4 pixel bytes + 2 padding); alpha differs but must not matter.
    const out = frameToGray8(frame('RGBA8', 1, 2, 6, [255, 0, 0, 0, 9, 9, 10, 20, 30, 255, 9, 9]));
    expect([...out]).toEqual([76, 18]);
  });
});

describe('checkFrame', () => {
  it('rejects stride below row size', () => {
    const error = checkFrame(frame('RGB8', 2, 1, 5, [1, 2, 3, 4, 5, 6]));
    expect(error?.code).toBe('ERR_FRAME_INVALID');
    expect(error?.message).toMatch(/row stride 5 bytes/);
  });

  it('rejects short pixel buffer', () => {
    const error = checkFrame(frame('GRAY8', 2, 2, 2, [1, 2, 3]));
    expect(error?.message).toMatch(/pixels hold 3 bytes .* needs 4/);
  });

  it('accepts last row without stride padding', () => {
    expect(checkFrame(frame('GRAY8', 2, 2, 4, [1, 2, 0, 0, 3, 4]))).toBeUndefined();
  });
});
