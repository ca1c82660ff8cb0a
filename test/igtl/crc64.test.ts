import { describe, expect, it } from 'vitest';

import { Crc64, crc64 } from '../../stream/igtl/index.js';
import { crc64Bitwise } from './helpers.js';

function pseudoRandomBytes(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let state = seed >>> 0;
  for (let i = 0; i < length; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    out[i] = state >>> 24;
  }
  return out;
}

describe('crc64', () => {
  it('catalogue check value for 123456789', () => {
    // CRC-64/ECMA-182 in the RevEng CRC catalogue: check = 0x6c40df5f0b497347.
    expect(crc64(Buffer.from('123456789', 'ascii'))).toBe(0x6c40df5f0b497347n);
  });

  it('empty input is zero', () => {
    expect(crc64(new Uint8Array(0))).toBe(0n);
  });

  it('reference library text value', () => {
    // Printed by crc64() of libOpenIGTLink 1.11 (test/igtl/reference/igtl_golden.cxx, CRC_TEXT).
    const text = 'OpenIGTLink CRC-64 over a longer ASCII text, 0123456789 abcdefghijklmnopqrstuvwxyz';
    expect(crc64(Buffer.from(text, 'ascii'))).toBe(0xd0a34c5df348f9ffn);
  });

  it('table matches bitwise definition', () => {
    for (const length of [1, 2, 7, 8, 9, 63, 64, 65, 1000]) {
      const data = pseudoRandomBytes(length, length * 31 + 7);
      expect(crc64(data), `length ${length}`).toBe(crc64Bitwise(data));
    }
  });

  it('incremental update equals one shot', () => {
    const data = pseudoRandomBytes(4096, 99);
    const running = new Crc64();
    for (let offset = 0; offset < data.length; offset += 333) running.update(data.subarray(offset, offset + 333));
    expect(running.digest()).toBe(crc64(data));
    expect(crc64(data.subarray(0, 100), data.subarray(100))).toBe(crc64(data));
  });

  it('single bit flip changes value', () => {
    const data = pseudoRandomBytes(512, 5);
    const original = crc64(data);
    for (const position of [0, 100, 511]) {
      const flipped = Uint8Array.from(data);
      flipped[position] ^= 0x10;
      expect(crc64(flipped), `bit flip at byte ${position}`).not.toBe(original);
    }
  });
});
