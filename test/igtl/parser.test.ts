import { describe, expect, it } from 'vitest';

import {
  HEADER_SIZE,
  IgtlError,
  IgtlParser,
  encodeImageMessage,
  encodeMessage,
  encodeQueryMessage,
  encodeStatusMessage,
  type IgtlParseEvent,
} from '../../stream/igtl/index.js';

function image16(deviceName = 'Probe', seed = 0): Uint8Array {
  const data = Uint8Array.from({ length: 16 * 16 }, (_, i) => (i + seed) & 0xff);
  return encodeImageMessage({ scalarType: 'uint8', size: [16, 16, 1], data }, { deviceName });
}

function drain(parser: IgtlParser): IgtlParseEvent[] {
  const events: IgtlParseEvent[] = [];
  for (let event = parser.next(); event !== undefined; event = parser.next()) events.push(event);
  return events;
}

function describeEvent(event: IgtlParseEvent): string {
  switch (event.kind) {
    case 'message':
      return `message ${event.message.header.type} ${event.message.header.deviceName}`;
    case 'skipped':
      return `skipped ${event.header.type}`;
    case 'rejected':
      return `rejected ${event.header.type} ${event.error.code}`;
    case 'failed':
      return `failed ${event.error.code}`;
  }
}

function parseInPieces(bytes: Uint8Array, cuts: number[], options = {}): string[] {
  const parser = new IgtlParser(options);
  const events: string[] = [];
  let start = 0;
  for (const cut of [...cuts, bytes.length]) {
    parser.push(bytes.subarray(start, cut));
    events.push(...drain(parser).map(describeEvent));
    start = cut;
  }
  return events;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  return Uint8Array.from(Buffer.concat(parts));
}

describe('IgtlParser', () => {
  it('header-only message every split', () => {
    const bytes = concat(encodeQueryMessage('GET', 'STATUS', { deviceName: 'Keepalive' }), encodeQueryMessage('STP', 'IMAGE', { deviceName: 'Viewer' }));
    for (let cut = 0; cut <= bytes.length; cut++) {
      expect(parseInPieces(bytes, [cut]), `cut at ${cut}`).toEqual(['message GET_STATUS Keepalive', 'message STP_IMAGE Viewer']);
    }
  });

  it('16x16 image every split', () => {
    const bytes = image16();
    for (let cut = 0; cut <= bytes.length; cut++) {
      const events = parseInPieces(bytes, [cut]);
      expect(events, `cut at ${cut}`).toEqual(['message IMAGE Probe']);
    }
    expect(parseInPieces(bytes, Array.from({ length: bytes.length }, (_, i) => i))).toEqual(['message IMAGE Probe']);
  });

  it('decoded pixels survive splitting', () => {
    const parser = new IgtlParser();
    const bytes = image16('Probe', 3);
    for (let i = 0; i < bytes.length; i += 7) parser.push(bytes.subarray(i, i + 7));
    const [event] = drain(parser);
    if (event?.kind !== 'message' || event.message.kind !== 'image') throw new Error('expected one IMAGE message');
    expect([...event.message.image.data.subarray(0, 4)]).toEqual([3, 4, 5, 6]);
  });

  it('unknown type skipped by size', () => {
    const transform = encodeMessage('TRANSFORM', new Uint8Array(48).fill(0xaa), { deviceName: 'Tool' });
    const bytes = concat(transform, image16());
    for (const cut of [10, HEADER_SIZE, HEADER_SIZE + 1, transform.length - 1, transform.length + 3]) {
      expect(parseInPieces(bytes, [cut]), `cut at ${cut}`).toEqual(['skipped TRANSFORM', 'message IMAGE Probe']);
    }
  });

  it('skipped body is not buffered', () => {
    const parser = new IgtlParser({ maxBodyBytes: 1 << 20 });
    const big = encodeMessage('VIDEO', new Uint8Array(500_000), { deviceName: 'Cam' });
    for (let i = 0; i < big.length; i += 65_536) {
      parser.push(big.subarray(i, i + 65_536));
      drain(parser);
      expect(parser.bufferedBytes).toBe(0);
    }
  });

  it('CRC mismatch rejected and continues', () => {
    const broken = image16('Bad');
    broken[HEADER_SIZE + 100] ^= 0xff;
    const events = parseInPieces(concat(broken, image16('Good')), []);
    expect(events).toEqual(['rejected IMAGE ERR_IGTL_CRC_MISMATCH', 'message IMAGE Good']);
  });

  it('zero CRC means not computed', () => {
    const bytes = image16();
    bytes.fill(0, 50, 58);
    expect(parseInPieces(bytes, [])).toEqual(['message IMAGE Probe']);
    bytes[HEADER_SIZE + 80] ^= 1;
    expect(parseInPieces(bytes, []), 'body changed, CRC still absent').toEqual(['message IMAGE Probe']);
  });

  it('verifyCrc false skips the check', () => {
    const broken = image16();
    broken[HEADER_SIZE + 100] ^= 0xff;
    expect(parseInPieces(broken, [], { verifyCrc: false })).toEqual(['message IMAGE Probe']);
  });

  it('invalid image body rejected', () => {
    const status = encodeStatusMessage({ code: 1, subcode: 0n, errorName: 'OK', message: '' }, { deviceName: 'Dev' });
    const shortImage = encodeMessage('IMAGE', new Uint8Array(10), { deviceName: 'Short' });
    const tooLarge = encodeImageMessage({ scalarType: 'uint8', size: [40, 2, 1], data: new Uint8Array(80) }, { deviceName: 'Wide' });
    const events = parseInPieces(concat(shortImage, tooLarge, status), [], { maxImageWidth: 32 });
    expect(events).toEqual(['rejected IMAGE ERR_IGTL_IMAGE_HEADER', 'rejected IMAGE ERR_IGTL_IMAGE_TOO_LARGE', 'message STATUS Dev']);
  });

  it('bad version fails for good', () => {
    const bad = image16();
    bad[1] = 3;
    const parser = new IgtlParser();
    parser.push(concat(image16('First'), bad, image16('Never')));
    expect(drain(parser).map(describeEvent)).toEqual(['message IMAGE First', 'failed ERR_IGTL_HEADER_VERSION']);
    expect(parser.state).toBe('FAILED');
    expect(parser.failure?.fatal).toBe(true);
    expect(parser.bufferedBytes).toBe(0);
    expect(() => parser.push(new Uint8Array(1))).toThrowError(expect.objectContaining({ code: 'ERR_IGTL_PARSER_FAILED' }) as Error);
  });

  it('oversized body fails before buffering', () => {
    const parser = new IgtlParser({ maxBodyBytes: 100 });
    const bytes = image16();
    parser.push(bytes.subarray(0, HEADER_SIZE + 10));
    expect(drain(parser).map(describeEvent)).toEqual(['failed ERR_IGTL_BODY_TOO_LARGE']);
  });

  it('state names follow progress', () => {
    const parser = new IgtlParser();
    const bytes = image16();
    expect(parser.state).toBe('READ_HEADER');
    parser.push(bytes.subarray(0, HEADER_SIZE + 5));
    expect(parser.next()).toBeUndefined();
    expect(parser.state).toBe('READ_BODY');
    parser.push(bytes.subarray(HEADER_SIZE + 5));
    expect(parser.next()?.kind).toBe('message');
    expect(parser.state).toBe('READ_HEADER');

    parser.push(encodeMessage('POSITION', new Uint8Array(28), { deviceName: 'Tool' }).subarray(0, HEADER_SIZE + 1));
    expect(parser.next()).toBeUndefined();
    expect(parser.state).toBe('SKIP_BODY');
  });

  it('invalid options rejected', () => {
    for (const options of [{ maxBodyBytes: 0 }, { maxImageWidth: -1 }, { maxImageDepth: 1.5 }]) {
      let error: unknown;
      try {
        new IgtlParser(options);
      } catch (caught) {
        error = caught;
      }
      expect(error, JSON.stringify(options)).toBeInstanceOf(IgtlError);
      expect((error as IgtlError).code).toBe('ERR_IGTL_OPTIONS');
    }
  });
});
