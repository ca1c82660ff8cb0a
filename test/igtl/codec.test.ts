// Golden bytes for the OpenIGTLink codec. Version 1 messages come from the reference library
// (libOpenIGTLink 1.11 Pack(), printed by test/igtl/reference/igtl_golden.cxx; interop.test.ts
// regenerates them when the library is installed). Version 2 bytes are assembled here field
// by field from the protocol's header, extended header and metadata layout.

import { describe, expect, it } from 'vitest';

import {
  HEADER_SIZE,
  IgtlError,
  decodeBody,
  decodeHeader,
  decodeImage,
  decodeStatus,
  decodeString,
  encodeHeader,
  encodeImageMessage,
  encodeMessage,
  encodeQueryMessage,
  encodeStatusMessage,
  encodeStringMessage,
  metadataText,
  nsToTimestamp,
  splitBody,
  textMetadata,
  timestampToNs,
  type IgtlMessage,
  type ScalarType,
} from '../../stream/igtl/index.js';
import { crc64Bitwise, fromHex, toHex } from './helpers.js';
import { REFERENCE_PACKS } from './reference-packs.js';

const LIMITS = { maxImageWidth: 4096, maxImageHeight: 4096, maxImageDepth: 512, maxImagePixels: 4096 * 4096 };

function decodeWhole(bytes: Uint8Array): IgtlMessage {
  const header = decodeHeader(bytes.subarray(0, HEADER_SIZE), 1 << 20);
  const body = bytes.subarray(HEADER_SIZE);
  expect(body.length, 'BODY_SIZE').toBe(header.bodySize);
  expect(crc64Bitwise(body), 'CRC field').toBe(header.crc);
  return decodeBody(header, body, LIMITS);
}

function codeOf(action: () => unknown): string | undefined {
  try {
    action();
  } catch (error) {
    if (error instanceof IgtlError) return `${error.code}${error.fatal ? ' fatal' : ''}`;
    throw error;
  }
  return undefined;
}

describe('header', () => {
  it('version 1 fields at documented offsets', () => {
    const bytes = fromHex(
      '0001' + // VERSION
        '4745545f535441545553' + '0000' + // TYPE "GET_STATUS", zero padded to 12
        '4b656570616c697665' + '00'.repeat(11) + // DEVICE_NAME "Keepalive", zero padded to 20
        '0000000000000000' + // TIMESTAMP
        '0000000000000000' + // BODY_SIZE
        '0000000000000000', // CRC
    );
    expect(toHex(bytes)).toBe(REFERENCE_PACKS.GET_STATUS);

    const header = decodeHeader(bytes, 1024);
    expect(header).toEqual({ version: 1, type: 'GET_STATUS', deviceName: 'Keepalive', timestamp: 0n, bodySize: 0, crc: 0n });
    expect(toHex(encodeHeader(header))).toBe(REFERENCE_PACKS.GET_STATUS);
    expect(toHex(encodeQueryMessage('GET', 'STATUS', { deviceName: 'Keepalive' }))).toBe(REFERENCE_PACKS.GET_STATUS);
  });

  it('timestamp fixed point conversion', () => {
    // 0x6553f100 = 1700000000 s; fraction 0x80000000 = 0.5 s.
    expect(timestampToNs(0x6553f10080000000n)).toBe(1_700_000_000_500_000_000n);
    expect(nsToTimestamp(1_700_000_000_500_000_000n)).toBe(0x6553f10080000000n);
    expect(timestampToNs(0x0000000100000001n)).toBe(1_000_000_000n); // 2^-32 s rounds to 0 ns
    expect(nsToTimestamp(1_999_999_999_999n)).toBe(0x000007cffffffffcn); // 0.999999999 s × 2^32 = 4294967291.7
    expect(codeOf(() => nsToTimestamp(-1n))).toBe('ERR_IGTL_ENCODE');
  });

  it('rejects bad version fatally', () => {
    const bytes = fromHex(REFERENCE_PACKS.GET_STATUS);
    for (const version of [0, 3, 0x0100]) {
      bytes[0] = version >> 8;
      bytes[1] = version & 0xff;
      expect(codeOf(() => decodeHeader(bytes, 1024)), `version ${version}`).toBe('ERR_IGTL_HEADER_VERSION fatal');
    }
  });

  it('rejects bad type fatally', () => {
    const empty = fromHex(REFERENCE_PACKS.GET_STATUS);
    empty.fill(0, 2, 14);
    expect(codeOf(() => decodeHeader(empty, 1024))).toBe('ERR_IGTL_HEADER_TYPE fatal');

    const control = fromHex(REFERENCE_PACKS.GET_STATUS);
    control[4] = 0x07;
    expect(codeOf(() => decodeHeader(control, 1024))).toBe('ERR_IGTL_HEADER_TYPE fatal');
  });

  it('rejects oversized body fatally', () => {
    const bytes = fromHex(REFERENCE_PACKS.IMAGE_U8).subarray(0, HEADER_SIZE);
    expect(decodeHeader(bytes, 0x54).bodySize).toBe(0x54);
    expect(codeOf(() => decodeHeader(bytes, 0x53))).toBe('ERR_IGTL_BODY_TOO_LARGE fatal');

    const huge = Uint8Array.from(bytes);
    huge.fill(0xff, 42, 50); // BODY_SIZE = 2^64 - 1
    expect(codeOf(() => decodeHeader(huge, Number.MAX_SAFE_INTEGER))).toBe('ERR_IGTL_BODY_TOO_LARGE fatal');
  });

  it('rejects long names on encode', () => {
    const header = { version: 1 as const, type: 'IMAGE', deviceName: 'x'.repeat(21), timestamp: 0n, bodySize: 0, crc: 0n };
    expect(codeOf(() => encodeHeader(header))).toBe('ERR_IGTL_ENCODE');
    expect(codeOf(() => encodeMessage('THIRTEEN_CHAR', new Uint8Array(0), { deviceName: 'd' }))).toBe('ERR_IGTL_ENCODE');
  });
});

describe('status and string', () => {
  it('STATUS reference bytes', () => {
    const bytes = fromHex(REFERENCE_PACKS.STATUS);
    const message = decodeWhole(bytes);
    expect(message.kind).toBe('status');
    if (message.kind !== 'status') return;
    expect(message.header.deviceName).toBe('Tracker');
    expect(message.header.timestamp).toBe(0x6553f10080000000n);
    expect(message.status).toEqual({ code: 1, subcode: 0x200n, errorName: 'OK', message: 'all good' });

    const encoded = encodeStatusMessage(message.status, { deviceName: 'Tracker', timestamp: 0x6553f10080000000n });
    expect(toHex(encoded)).toBe(REFERENCE_PACKS.STATUS);
  });

  it('STATUS body layout', () => {
    // CODE 2 | SUBCODE -1 | ERROR_NAME "Error" | message "x" and its terminating zero.
    const content = fromHex('0002' + 'ffffffffffffffff' + '4572726f72' + '00'.repeat(15) + '7800');
    expect(decodeStatus(content)).toEqual({ code: 2, subcode: -1n, errorName: 'Error', message: 'x' });
    expect(codeOf(() => decodeStatus(content.subarray(0, 29)))).toBe('ERR_IGTL_STATUS_BODY');
  });

  it('STRING reference bytes', () => {
    const message = decodeWhole(fromHex(REFERENCE_PACKS.STRING));
    expect(message.kind).toBe('string');
    if (message.kind !== 'string') return;
    expect(message.header.deviceName).toBe('Risk');
    expect(message.string).toEqual({ encoding: 3, text: 'frame_risk=0.500' });

    const encoded = encodeStringMessage('frame_risk=0.500', { deviceName: 'Risk', timestamp: 0x6553f10140000000n });
    expect(toHex(encoded)).toBe(REFERENCE_PACKS.STRING);
  });

  it('STRING length mismatch rejected', () => {
    expect(codeOf(() => decodeString(fromHex('0003000568656c6c')))).toBe('ERR_IGTL_STRING_BODY');
    expect(codeOf(() => decodeString(fromHex('000300')))).toBe('ERR_IGTL_STRING_BODY');
    expect(decodeString(fromHex('006a0002c3a9'))).toEqual({ encoding: 106, text: 'é' });
  });
});

describe('image', () => {
  it('IMAGE reference bytes', () => {
    const message = decodeWhole(fromHex(REFERENCE_PACKS.IMAGE_U8));
    expect(message.kind).toBe('image');
    if (message.kind !== 'image') return;
    const { image } = message;
    expect(image.scalarType).toBe('uint8');
    expect(image.components).toBe(1);
    expect(image.endian).toBe('little');
    expect(image.coordinateSystem).toBe('LPS');
    expect(image.size).toEqual([4, 3, 1]);
    expect(image.axesMm).toEqual([
      [0, 0.5, 0],
      [-0.25, 0, 0],
      [0, 0, 2],
    ]);
    expect(image.centerMm).toEqual([10, -20.5, 30.25]);
    expect(image.subvolumeOffset).toEqual([0, 0, 0]);
    expect(image.subvolumeSize).toEqual([4, 3, 1]);
    expect([...image.data]).toEqual([0, 1, 2, 3, 10, 11, 12, 13, 20, 21, 22, 23]);

    const encoded = encodeImageMessage(image, { deviceName: 'Probe', timestamp: message.header.timestamp });
    expect(toHex(encoded)).toBe(REFERENCE_PACKS.IMAGE_U8);
  });

  it('IMAGE subvolume reference bytes', () => {
    const message = decodeWhole(fromHex(REFERENCE_PACKS.IMAGE_I16_SUB));
    if (message.kind !== 'image') throw new Error(`expected an image, got ${message.kind}`);
    const { image } = message;
    expect(image.scalarType).toBe('int16');
    expect(image.endian).toBe('big');
    expect(image.size).toEqual([3, 2, 1]);
    expect(image.subvolumeOffset).toEqual([1, 1, 0]);
    expect(image.subvolumeSize).toEqual([2, 1, 1]);
    const view = new DataView(image.data.buffer, image.data.byteOffset, image.data.length);
    expect([view.getInt16(0), view.getInt16(2)]).toEqual([-300, 1234]);
  });

  it('IMAGE header field errors', () => {
    const content = fromHex(REFERENCE_PACKS.IMAGE_U8).subarray(HEADER_SIZE);
    const cases: [string, number, number, string][] = [
      ['image header version', 1, 9, 'ERR_IGTL_IMAGE_HEADER'],
      ['components', 2, 0, 'ERR_IGTL_IMAGE_HEADER'],
      ['scalar type', 3, 8, 'ERR_IGTL_IMAGE_HEADER'],
      ['endian', 4, 3, 'ERR_IGTL_IMAGE_HEADER'],
      ['coordinate system', 5, 0, 'ERR_IGTL_IMAGE_HEADER'],
      ['size i', 7, 0, 'ERR_IGTL_IMAGE_SIZE'],
      ['subvolume offset i', 61, 1, 'ERR_IGTL_IMAGE_SIZE'],
      ['subvolume size j', 69, 2, 'ERR_IGTL_IMAGE_SIZE'],
      ['float as NaN', 12, 0x7f, 'ERR_IGTL_IMAGE_HEADER'],
    ];
    for (const [what, offset, value, code] of cases) {
      const broken = Uint8Array.from(content);
      broken[offset] = value;
      if (what === 'float as NaN') broken.set([0x7f, 0xc0, 0, 0], 12);
      expect(codeOf(() => decodeImage(broken, LIMITS)), what).toBe(code);
    }
    expect(codeOf(() => decodeImage(content.subarray(0, 71), LIMITS))).toBe('ERR_IGTL_IMAGE_HEADER');
    expect(codeOf(() => decodeImage(content.subarray(0, content.length - 1), LIMITS))).toBe('ERR_IGTL_IMAGE_SIZE');
    expect(codeOf(() => decodeImage(content, { ...LIMITS, maxImageWidth: 3 }))).toBe('ERR_IGTL_IMAGE_TOO_LARGE');
    expect(codeOf(() => decodeImage(content, { ...LIMITS, maxImageHeight: 2 }))).toBe('ERR_IGTL_IMAGE_TOO_LARGE');
    expect(codeOf(() => decodeImage(content, { ...LIMITS, maxImagePixels: 11 }))).toBe('ERR_IGTL_IMAGE_TOO_LARGE');
    expect(codeOf(() => decodeImage(content, { ...LIMITS, maxImagePixels: 12 }))).toBeUndefined();
  });

  it('IMAGE round trip every type', () => {
    const types: [ScalarType, number][] = [
      ['int8', 1],
      ['uint8', 1],
      ['int16', 2],
      ['uint16', 2],
      ['int32', 4],
      ['uint32', 4],
      ['float32', 4],
      ['float64', 8],
    ];
    for (const [scalarType, bytes] of types) {
      for (const endian of ['big', 'little'] as const) {
        const data = Uint8Array.from({ length: 5 * 3 * 2 * 3 * bytes }, (_, i) => (i * 37) & 0xff);
        const encoded = encodeImageMessage(
          { scalarType, endian, components: 3, size: [5, 3, 2], axesMm: [[1, 0, 0], [0, 2, 0], [0, 0, 3]], centerMm: [1, 2, 3], data },
          { deviceName: 'RoundTrip' },
        );
        const message = decodeWhole(encoded);
        if (message.kind !== 'image') throw new Error(`expected an image, got ${message.kind}`);
        expect(message.image.scalarType, `${scalarType} ${endian}`).toBe(scalarType);
        expect(message.image.endian).toBe(endian);
        expect(message.image.components).toBe(3);
        expect(message.image.size).toEqual([5, 3, 2]);
        expect(toHex(message.image.data)).toBe(toHex(data));
      }
    }
  });
});

describe('version 2 body', () => {
  // STRING "hi" with one metadata entry risk = "0.5" (US-ASCII) and MSG_ID 7.
  const body = fromHex(
    '000c' + // EXT_HEADER_SIZE 12
      '000a' + // METADATA_HEADER_SIZE 2 + 8 × 1
      '00000007' + // METADATA_SIZE: "risk" + "0.5"
      '00000007' + // MSG_ID
      '0003' + '0002' + '6869' + // content: ENCODING 3, LENGTH 2, "hi"
      '0001' + // INDEX_COUNT
      '0004' + '0003' + '00000003' + // KEY_SIZE 4, VALUE_ENCODING 3, VALUE_SIZE 3
      '7269736b' + '302e35', // "risk" "0.5"
  );
  const header =
    '0002' + // VERSION 2
    '535452494e47' + '00'.repeat(6) + // TYPE "STRING"
    '446576' + '00'.repeat(17) + // DEVICE_NAME "Dev"
    '0000000000000000' + // TIMESTAMP
    '0000000000000023'; // BODY_SIZE 35

  it('golden bytes with metadata', () => {
    const expected = header + crc64Bitwise(body).toString(16).padStart(16, '0') + toHex(body);
    const encoded = encodeStringMessage('hi', { deviceName: 'Dev', version: 2, messageId: 7, metadata: [textMetadata('risk', '0.5')] });
    expect(toHex(encoded)).toBe(expected);

    const message = decodeWhole(fromHex(expected));
    expect(message.kind).toBe('string');
    if (message.kind !== 'string') return;
    expect(message.header.version).toBe(2);
    expect(message.messageId).toBe(7);
    expect(message.string.text).toBe('hi');
    expect(message.metadata).toHaveLength(1);
    expect(message.metadata[0].key).toBe('risk');
    expect(message.metadata[0].encoding).toBe(3);
    expect(metadataText(message.metadata[0])).toBe('0.5');
  });

  it('empty metadata keeps index count', () => {
    // The OpenIGTLink 3 library writes METADATA_HEADER_SIZE 2 and INDEX_COUNT 0 when there is no metadata.
    const encoded = encodeQueryMessage('STT', 'IMAGE', { deviceName: 'Dev', version: 2 });
    expect(toHex(encoded.subarray(HEADER_SIZE))).toBe('000c' + '0002' + '00000000' + '00000000' + '0000');
    const message = decodeWhole(encoded);
    expect(message.kind).toBe('query');
    if (message.kind !== 'query') return;
    expect(message.prefix).toBe('STT');
    expect(message.queryType).toBe('IMAGE');
    expect(message.content.length).toBe(0);
  });

  it('IMAGE content with metadata', () => {
    const data = Uint8Array.from({ length: 16 * 16 }, (_, i) => i & 0xff);
    const encoded = encodeImageMessage(
      { scalarType: 'uint8', size: [16, 16, 1], data },
      { deviceName: 'Probe', version: 2, metadata: [textMetadata('frame_risk', '0.125'), textMetadata('note', 'naïve')] },
    );
    const message = decodeWhole(encoded);
    if (message.kind !== 'image') throw new Error(`expected an image, got ${message.kind}`);
    expect(toHex(message.image.data)).toBe(toHex(data));
    expect(message.metadata.map((entry) => [entry.key, entry.encoding, metadataText(entry)])).toEqual([
      ['frame_risk', 3, '0.125'],
      ['note', 106, 'naïve'],
    ]);
  });

  it('extended header errors', () => {
    const cases: [string, Uint8Array, string][] = [
      ['body shorter than 12', body.subarray(0, 11), 'ERR_IGTL_EXTENDED_HEADER'],
      ['EXT_HEADER_SIZE below 12', patch(body, 0, [0x00, 0x0b]), 'ERR_IGTL_EXTENDED_HEADER'],
      ['metadata past the body', patch(body, 4, [0x00, 0x00, 0x00, 0x30]), 'ERR_IGTL_EXTENDED_HEADER'],
      ['INDEX_COUNT disagrees', patch(body, 18, [0x00, 0x02]), 'ERR_IGTL_METADATA'],
      ['value runs past metadata', patch(body, 26, [0x00, 0x00, 0x00, 0x04]), 'ERR_IGTL_METADATA'],
      ['entries shorter than METADATA_SIZE', patch(body, 26, [0x00, 0x00, 0x00, 0x02]), 'ERR_IGTL_METADATA'],
    ];
    for (const [what, broken, code] of cases) {
      expect(codeOf(() => splitBody(2, broken)), what).toBe(code);
    }
    expect(splitBody(2, new Uint8Array(0)).content.length).toBe(0);
    expect(splitBody(1, body).content).toBe(body);
  });
});

function patch(bytes: Uint8Array, offset: number, values: number[]): Uint8Array {
  const copy = Uint8Array.from(bytes);
  copy.set(values, offset);
  return copy;
}
