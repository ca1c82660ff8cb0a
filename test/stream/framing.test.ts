import { describe, expect, it } from 'vitest';

import { IngestError } from '../../stream/errors.js';
import { encodeLengthPrefixed, LengthPrefixedReader, type FramingRecord } from '../../stream/framing.js';

function readAll(reader: LengthPrefixedReader): FramingRecord[] {
  const records: FramingRecord[] = [];
  for (let record = reader.nextRecord(); record !== undefined; record = reader.nextRecord()) {
    records.push(record);
  }
  return records;
}

function bytes(...values: number[]): Uint8Array {
  return Uint8Array.from(values);
}

describe('LengthPrefixedReader', () => {
  it('reads records split byte by byte', () => {
    const reader = new LengthPrefixedReader({ maxMessageBytes: 100 });
    const wire = new Uint8Array([...encodeLengthPrefixed(bytes(1, 2, 3)), ...encodeLengthPrefixed(bytes(4))]);
    const records: FramingRecord[] = [];
    for (const byte of wire) {
      reader.append(bytes(byte));
      records.push(...readAll(reader));
    }
    expect(records).toEqual([
      { kind: 'message', payload: bytes(1, 2, 3) },
      { kind: 'message', payload: bytes(4) },
    ]);
    expect(reader.bufferedBytes).toBe(0);
  });

  it('reads several records from one chunk', () => {
    const reader = new LengthPrefixedReader({ maxMessageBytes: 100 });
    reader.append(new Uint8Array([...encodeLengthPrefixed(bytes(9, 9)), ...encodeLengthPrefixed(bytes()), ...encodeLengthPrefixed(bytes(7))]));
    const records = readAll(reader);
    expect(records.map((record) => record.kind === 'message' && [...record.payload])).toEqual([[9, 9], [], [7]]);
  });

  it('skips oversize message and continues', () => {
    const reader = new LengthPrefixedReader({ maxMessageBytes: 4 });
    const oversize = encodeLengthPrefixed(new Uint8Array(6).fill(5));
    reader.append(oversize.subarray(0, 7));
    expect(readAll(reader)).toEqual([{ kind: 'oversize', byteLength: 6 }]);
    reader.append(new Uint8Array([...oversize.subarray(7), ...encodeLengthPrefixed(bytes(1, 2))]));
    expect(readAll(reader)).toEqual([{ kind: 'message', payload: bytes(1, 2) }]);
  });

  it('breaks on length beyond discard limit', () => {
    const reader = new LengthPrefixedReader({ maxMessageBytes: 4, maxDiscardBytes: 8 });
    reader.append(bytes(0, 0, 0, 9, 1, 2));
    expect(() => reader.nextRecord()).toThrow(IngestError);
    try {
      reader.nextRecord();
      expect.unreachable('a broken reader keeps throwing');
    } catch (error) {
      expect((error as IngestError).code).toBe('ERR_FRAMING');
      expect((error as IngestError).fatal).toBe(true);
    }
    reader.append(encodeLengthPrefixed(bytes(1)));
    expect(() => reader.nextRecord()).toThrow(/length prefix 9/);
  });

  it('waits for a partial payload', () => {
    const reader = new LengthPrefixedReader({ maxMessageBytes: 100 });
    const wire = encodeLengthPrefixed(bytes(1, 2, 3, 4, 5));
    reader.append(wire.subarray(0, 6));
    expect(reader.nextRecord()).toBeUndefined();
    reader.append(wire.subarray(6));
    expect(reader.nextRecord()).toEqual({ kind: 'message', payload: bytes(1, 2, 3, 4, 5) });
  });

  it('prefixes big-endian length', () => {
    expect([...encodeLengthPrefixed(new Uint8Array(258)).subarray(0, 4)]).toEqual([0, 0, 1, 2]);
  });
});
