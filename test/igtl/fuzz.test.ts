// Fuzzing the parser with a seeded generator, so that a failure names a reproducible case.
// Bounded in count (10,000 mutated messages) and size (a few hundred KB each at most).

import { describe, expect, it } from 'vitest';

import {
  HEADER_SIZE,
  IgtlError,
  IgtlParser,
  encodeImageMessage,
  encodeMessage,
  encodeQueryMessage,
  encodeStatusMessage,
  encodeStringMessage,
  textMetadata,
  type IgtlParseEvent,
} from '../../stream/igtl/index.js';

/** xorshift32: small, fast and deterministic. */
function generator(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state / 0x1_0000_0000;
  };
}

function randomInt(random: () => number, below: number): number {
  return Math.floor(random() * below);
}

function corpus(): Uint8Array[] {
  const pattern = (length: number): Uint8Array => Uint8Array.from({ length }, (_, i) => (i * 31) & 0xff);
  return [
    encodeImageMessage({ scalarType: 'uint8', size: [16, 16, 1], data: pattern(256) }, { deviceName: 'Probe' }),
    encodeImageMessage({ scalarType: 'int16', endian: 'big', size: [8, 4, 1], data: pattern(64) }, { deviceName: 'Probe16' }),
    encodeImageMessage({ scalarType: 'float32', components: 3, size: [4, 4, 1], data: pattern(192) }, { deviceName: 'Colour', version: 2 }),
    encodeImageMessage(
      { scalarType: 'uint8', size: [8, 8, 1], subvolumeOffset: [2, 2, 0], subvolumeSize: [4, 4, 1], data: pattern(16) },
      { deviceName: 'Sub', version: 2, metadata: [textMetadata('k', 'v'), textMetadata('frame', '12')] },
    ),
    encodeStatusMessage({ code: 1, subcode: 5n, errorName: 'OK', message: 'fine' }, { deviceName: 'Dev' }),
    encodeStringMessage('frame_risk=0.1', { deviceName: 'Dev', version: 2, metadata: [textMetadata('a', 'b')] }),
    encodeQueryMessage('GET', 'STATUS', { deviceName: 'Keepalive' }),
    encodeQueryMessage('STT', 'IMAGE', { deviceName: 'Viewer', version: 2 }),
    encodeMessage('TRANSFORM', pattern(48), { deviceName: 'Tool' }),
  ];
}

function mutate(original: Uint8Array, random: () => number): Uint8Array {
  let bytes = Uint8Array.from(original);
  const operations = 1 + randomInt(random, 4);
  for (let op = 0; op < operations; op++) {
    switch (randomInt(random, 7)) {
      case 0: // flip a bit anywhere
        bytes[randomInt(random, bytes.length)] ^= 1 << randomInt(random, 8);
        break;
      case 1: // overwrite a byte in the header, where framing lives
        bytes[randomInt(random, Math.min(HEADER_SIZE, bytes.length))] = randomInt(random, 256);
        break;
      case 2: // overwrite a byte of the body's first 80 (extended header, image header)
        bytes[Math.min(bytes.length - 1, HEADER_SIZE + randomInt(random, 80))] = randomInt(random, 256);
        break;
      case 3: // truncate
        bytes = bytes.subarray(0, randomInt(random, bytes.length + 1));
        break;
      case 4: // BODY_SIZE off by a little
        if (bytes.length >= HEADER_SIZE) {
          const view = new DataView(bytes.buffer, bytes.byteOffset);
          view.setBigUint64(42, BigInt(Math.max(0, bytes.length - HEADER_SIZE + randomInt(random, 9) - 4)));
        }
        break;
      case 5: // insert random bytes
      case 6: {
        const at = randomInt(random, bytes.length + 1);
        const extra = Uint8Array.from({ length: 1 + randomInt(random, 8) }, () => randomInt(random, 256));
        bytes = Uint8Array.from([...bytes.subarray(0, at), ...extra, ...bytes.subarray(at)]);
        break;
      }
    }
    if (bytes.length === 0) break;
  }
  return bytes;
}

const MAX_BODY_BYTES = 64 * 1024;

/** Pushes `bytes` in random pieces; returns the events, and the largest buffered byte count seen. */
function parseRandomPieces(bytes: Uint8Array, random: () => number, maxPiece: number): { events: IgtlParseEvent[]; maxBuffered: number } {
  const parser = new IgtlParser({ maxBodyBytes: MAX_BODY_BYTES, maxImageWidth: 256, maxImageHeight: 256, maxImageDepth: 4 });
  const events: IgtlParseEvent[] = [];
  let maxBuffered = 0;
  for (let offset = 0; offset < bytes.length && parser.state !== 'FAILED'; ) {
    const piece = 1 + randomInt(random, maxPiece);
    parser.push(bytes.subarray(offset, offset + piece));
    offset += piece;
    maxBuffered = Math.max(maxBuffered, parser.bufferedBytes);
    for (let event = parser.next(); event !== undefined; event = parser.next()) events.push(event);
  }
  return { events, maxBuffered };
}

describe('parser fuzz', () => {
  it('mutated messages give coded errors', () => {
    const seeds = corpus();
    const random = generator(0x5eed);
    const codes = new Set<string>();
    let messages = 0;

    for (let round = 0; round < 10_000; round++) {
      // Two mutated messages and one intact one, so that recovery after a rejection is exercised.
      const first = mutate(seeds[randomInt(random, seeds.length)], random);
      const second = mutate(seeds[randomInt(random, seeds.length)], random);
      const intact = seeds[randomInt(random, seeds.length)];
      const stream = Uint8Array.from(Buffer.concat([first, second, intact]));

      let result;
      try {
        result = parseRandomPieces(stream, random, 97);
      } catch (error) {
        throw new Error(`round ${round}: parser threw ${error instanceof IgtlError ? error.code : String(error)}`);
      }
      expect(result.maxBuffered, `round ${round}: buffered bytes`).toBeLessThanOrEqual(HEADER_SIZE + MAX_BODY_BYTES + 97);
      for (const event of result.events) {
        if (event.kind === 'rejected' || event.kind === 'failed') {
          expect(event.error, `round ${round}`).toBeInstanceOf(IgtlError);
          expect(event.error.code, `round ${round}`).toMatch(/^ERR_IGTL_[A-Z_]+$/);
          codes.add(event.error.code);
        }
        if (event.kind === 'message') messages += 1;
      }
    }

    // The mutations reach every kind of framing error and the CRC check, and some streams
    // survive them (a framing error rightly stops a stream, so most do not).
    for (const code of ['ERR_IGTL_HEADER_VERSION', 'ERR_IGTL_HEADER_TYPE', 'ERR_IGTL_BODY_TOO_LARGE', 'ERR_IGTL_CRC_MISMATCH']) {
      expect(codes, code).toContain(code);
    }
    expect(messages).toBeGreaterThan(0);
  });

  it('body corruption keeps framing', () => {
    // Bytes changed inside bodies leave BODY_SIZE intact: each corrupted message is rejected
    // (or, rarely, still valid) and the intact message after it always arrives.
    const seeds = corpus().filter((seed) => seed.length > HEADER_SIZE);
    const random = generator(0xf00d);
    for (let round = 0; round < 2_000; round++) {
      const corrupted = Uint8Array.from(seeds[randomInt(random, seeds.length)]);
      for (let flips = 1 + randomInt(random, 3); flips > 0; flips--) {
        corrupted[HEADER_SIZE + randomInt(random, corrupted.length - HEADER_SIZE)] ^= 1 << randomInt(random, 8);
      }
      const intact = seeds[randomInt(random, seeds.length)];
      const { events } = parseRandomPieces(Uint8Array.from(Buffer.concat([corrupted, intact])), random, 61);

      expect(events, `round ${round}`).toHaveLength(2);
      expect(['message', 'rejected', 'skipped'], `round ${round}`).toContain(events[0].kind);
      expect(events[1].kind, `round ${round}`).not.toBe('failed');
      expect(events[1].kind === 'rejected', `round ${round}: intact message rejected`).toBe(false);
    }
  });

  it('mutations without CRC reach decoders', () => {
    // With CRC checking off, corrupted bodies reach the IMAGE, STATUS, STRING and metadata decoders.
    const seeds = corpus();
    const random = generator(0xc0de);
    const codes = new Set<string>();
    for (let round = 0; round < 3_000; round++) {
      const bytes = mutate(seeds[randomInt(random, seeds.length)], random);
      const parser = new IgtlParser({ maxBodyBytes: MAX_BODY_BYTES, verifyCrc: false });
      parser.push(bytes);
      for (let event = parser.next(); event !== undefined; event = parser.next()) {
        if (event.kind === 'rejected' || event.kind === 'failed') {
          expect(event.error).toBeInstanceOf(IgtlError);
          codes.add(event.error.code);
        }
      }
    }
    for (const code of ['ERR_IGTL_IMAGE_HEADER', 'ERR_IGTL_IMAGE_SIZE', 'ERR_IGTL_EXTENDED_HEADER', 'ERR_IGTL_METADATA']) {
      expect(codes, code).toContain(code);
    }
  });

  it('large image random splits', () => {
    const data = Uint8Array.from({ length: 256 * 256 * 2 }, (_, i) => (i * 7) & 0xff);
    const image = encodeImageMessage({ scalarType: 'uint16', endian: 'big', size: [256, 256, 1], data }, { deviceName: 'Large' });
    const stream = Uint8Array.from(Buffer.concat([image, image, image]));
    const random = generator(0xb16);
    for (let round = 0; round < 30; round++) {
      const parser = new IgtlParser({ maxBodyBytes: 1 << 20 });
      const images: Uint8Array[] = [];
      for (let offset = 0; offset < stream.length; ) {
        const piece = 1 + randomInt(random, 40_000);
        parser.push(stream.subarray(offset, offset + piece));
        offset += piece;
        for (let event = parser.next(); event !== undefined; event = parser.next()) {
          if (event.kind !== 'message' || event.message.kind !== 'image') throw new Error(`round ${round}: unexpected ${event.kind}`);
          images.push(event.message.image.data);
        }
      }
      expect(images, `round ${round}`).toHaveLength(3);
      for (const decoded of images) expect(Buffer.compare(decoded, data), `round ${round}`).toBe(0);
      expect(parser.bufferedBytes).toBe(0);
    }
  });
});
