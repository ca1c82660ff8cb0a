import Long from 'long';
import { describe, expect, it } from 'vitest';

import type { segwithu } from '../../proto/generated/segwithu.js';
import { IngestError, type IngestErrorCode } from '../../stream/errors.js';
import { frameFromMessage, gray16WindowFromHello, type HelloContext } from '../../stream/validate.js';
import { proto } from '../../stream/wire.js';

const hello: HelloContext = { streamId: 'probe', pixelFormat: undefined, gray16Window: undefined };
const limits = { maxFramePixels: 100 * 100 };

function gray8(width: number, height: number, extra: Partial<segwithu.v1.IFrame> = {}): segwithu.v1.IFrame {
  return { sequence: 7, pixelFormat: proto.PixelFormat.GRAY8, width, height, pixels: new Uint8Array(width * height), ...extra };
}

function codeOf(run: () => unknown): IngestErrorCode | undefined {
  try {
    run();
  } catch (error) {
    if (error instanceof IngestError) {
      return error.code;
    }
    throw error;
  }
  return undefined;
}

describe('frameFromMessage', () => {
  it('accepts a packed GRAY8 frame', () => {
    const frame = frameFromMessage(gray8(10, 4, { pixelSpacingXMm: 0.1, pixelSpacingYMm: 0.2 }), hello, limits, 5n);
    expect(frame.streamId).toBe('probe');
    expect(frame.sequence).toBe(7);
    expect(frame.rowStrideBytes).toBe(10);
    expect(frame.receivedNs).toBe(5n);
    expect(frame.pixelSpacingMm).toEqual([0.1, 0.2]);
    expect(frame.groundTruthMask).toBeUndefined();
  });

  it('rejects sequences beyond exact numbers', () => {
    const largest = Long.fromString('18446744073709551615', true);
    const justAbove = Long.fromNumber(Number.MAX_SAFE_INTEGER, true).add(1);
    expect(codeOf(() => frameFromMessage(gray8(10, 4, { sequence: largest }), hello, limits, 0n))).toBe('ERR_SEQUENCE_RANGE');
    expect(codeOf(() => frameFromMessage(gray8(10, 4, { sequence: justAbove }), hello, limits, 0n))).toBe('ERR_SEQUENCE_RANGE');
    const safe = Long.fromNumber(Number.MAX_SAFE_INTEGER, true);
    expect(frameFromMessage(gray8(10, 4, { sequence: safe }), hello, limits, 0n).sequence).toBe(Number.MAX_SAFE_INTEGER);
  });

  it('rejects each bad size with its code', () => {
    const cases: [string, segwithu.v1.IFrame, IngestErrorCode][] = [
      ['too few pixel bytes', gray8(10, 4, { pixels: new Uint8Array(39) }), 'ERR_FRAME_SIZE_MISMATCH'],
      ['too many pixel bytes', gray8(10, 4, { pixels: new Uint8Array(41) }), 'ERR_FRAME_SIZE_MISMATCH'],
      ['zero width', gray8(0, 4), 'ERR_FRAME_SIZE_MISMATCH'],
      ['stride below row', gray8(10, 4, { rowStrideBytes: 9 }), 'ERR_FRAME_SIZE_MISMATCH'],
      ['above max pixels', gray8(101, 100), 'ERR_FRAME_TOO_LARGE'],
      ['unknown pixel format', gray8(10, 4, { pixelFormat: 42 as segwithu.v1.PixelFormat }), 'ERR_PIXEL_FORMAT'],
      ['no pixel format anywhere', gray8(10, 4, { pixelFormat: 0 }), 'ERR_PIXEL_FORMAT'],
      ['mask of wrong size', gray8(10, 4, { groundTruthMask: new Uint8Array(39) }), 'ERR_MASK_SIZE'],
    ];
    for (const [name, message, code] of cases) {
      expect(codeOf(() => frameFromMessage(message, hello, limits, 0n)), name).toBe(code);
    }
  });

  it('accepts stride padding without last pad', () => {
    const padded = gray8(10, 4, { rowStrideBytes: 12, pixels: new Uint8Array(12 * 3 + 10) });
    expect(frameFromMessage(padded, hello, limits, 0n).rowStrideBytes).toBe(12);
    const full = gray8(10, 4, { rowStrideBytes: 12, pixels: new Uint8Array(12 * 4) });
    expect(frameFromMessage(full, hello, limits, 0n).pixels.length).toBe(48);
  });

  it('uses hello format when frame omits it', () => {
    const rgbHello: HelloContext = { ...hello, pixelFormat: 'RGB8' };
    const frame = frameFromMessage(gray8(10, 4, { pixelFormat: 0, pixels: new Uint8Array(120) }), rgbHello, limits, 0n);
    expect(frame.pixelFormat).toBe('RGB8');
  });

  it('carries GRAY16 window and mask', () => {
    const context: HelloContext = { ...hello, gray16Window: [100, 4000] };
    const message = gray8(10, 4, { pixelFormat: proto.PixelFormat.GRAY16, pixels: new Uint8Array(80), groundTruthMask: new Uint8Array(40) });
    const frame = frameFromMessage(message, context, limits, 0n);
    expect(frame.gray16Window).toEqual([100, 4000]);
    expect(frame.groundTruthMask?.length).toBe(40);
  });

  it('rejects bad pixel spacing', () => {
    const cases: [string, Partial<segwithu.v1.IFrame>, string][] = [
      ['NaN x', { pixelSpacingXMm: NaN, pixelSpacingYMm: 0.2 }, 'pixel_spacing_x_mm NaN'],
      ['negative x', { pixelSpacingXMm: -0.1, pixelSpacingYMm: 0.2 }, 'pixel_spacing_x_mm -0.1'],
      ['infinite x', { pixelSpacingXMm: Infinity, pixelSpacingYMm: 0.2 }, 'pixel_spacing_x_mm Infinity'],
      ['NaN y', { pixelSpacingXMm: 0.1, pixelSpacingYMm: NaN }, 'pixel_spacing_y_mm NaN'],
      ['negative infinite y', { pixelSpacingXMm: 0.1, pixelSpacingYMm: -Infinity }, 'pixel_spacing_y_mm -Infinity'],
      ['negative y, x unknown', { pixelSpacingXMm: 0, pixelSpacingYMm: -2 }, 'pixel_spacing_y_mm -2'],
    ];
    for (const [name, spacing, named] of cases) {
      const run = () => frameFromMessage(gray8(10, 4, spacing), hello, limits, 0n);
      expect(codeOf(run), name).toBe('ERR_PIXEL_SPACING');
      expect(run, name).toThrow(`frame 7: ${named} is not a positive finite number`);
    }
  });

  it('accepts pixel spacing 0 as unknown', () => {
    expect(frameFromMessage(gray8(10, 4, { pixelSpacingXMm: 0, pixelSpacingYMm: 0 }), hello, limits, 0n).pixelSpacingMm).toBeUndefined();
    expect(frameFromMessage(gray8(10, 4, { pixelSpacingXMm: 0.1, pixelSpacingYMm: 0 }), hello, limits, 0n).pixelSpacingMm).toBeUndefined();
    expect(frameFromMessage(gray8(10, 4), hello, limits, 0n).pixelSpacingMm).toBeUndefined();
  });

  it('names the value and the fix', () => {
    expect(() => frameFromMessage(gray8(10, 4, { pixels: new Uint8Array(39) }), hello, limits, 0n)).toThrow(
      /frame 7: 39 pixel bytes disagree with 10 × 4 GRAY8 .* needs 40; check width, height/,
    );
  });
});

describe('gray16WindowFromHello', () => {
  it('reads full range as undefined', () => {
    expect(gray16WindowFromHello({})).toBeUndefined();
  });

  it('rejects an inverted window', () => {
    expect(codeOf(() => gray16WindowFromHello({ gray16WindowLow: 500, gray16WindowHigh: 100 }))).toBe('ERR_PIXEL_FORMAT');
  });
});
