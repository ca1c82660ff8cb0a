import { describe, expect, it } from 'vitest';

import { IgtlError, SubvolumeCanvas, imageToFrame, type IgtlImage, type ScalarType, type Vec3 } from '../../stream/igtl/index.js';

const STAMP = { streamId: 'igtl/127.0.0.1/Probe', sequence: 4, captureTimestampNs: 1_700_000_000_000_000_000n, receivedNs: 99n };

const WRITERS: Record<ScalarType, [number, (view: DataView, offset: number, value: number, little: boolean) => void]> = {
  int8: [1, (v, o, x) => v.setInt8(o, x)],
  uint8: [1, (v, o, x) => v.setUint8(o, x)],
  int16: [2, (v, o, x, le) => v.setInt16(o, x, le)],
  uint16: [2, (v, o, x, le) => v.setUint16(o, x, le)],
  int32: [4, (v, o, x, le) => v.setInt32(o, x, le)],
  uint32: [4, (v, o, x, le) => v.setUint32(o, x, le)],
  float32: [4, (v, o, x, le) => v.setFloat32(o, x, le)],
  float64: [8, (v, o, x, le) => v.setFloat64(o, x, le)],
};

/** Builds an image whose data contains `values` (interleaved components) in the given type and byte order. */
function makeImage(scalarType: ScalarType, endian: 'big' | 'little', size: Vec3, components: number, values: number[]): IgtlImage {
  const [bytes, write] = WRITERS[scalarType];
  const data = new Uint8Array(values.length * bytes);
  const view = new DataView(data.buffer);
  values.forEach((value, i) => write(view, i * bytes, value, endian === 'little'));
  return {
    components,
    scalarType,
    endian,
    coordinateSystem: 'LPS',
    size,
    axesMm: [
      [0, 0.3, 0],
      [0.4, 0, 0],
      [0, 0, 1.5],
    ],
    centerMm: [1, 2, 3],
    subvolumeOffset: [0, 0, 0],
    subvolumeSize: [...size],
    data,
  };
}

function littleUint16(bytes: Uint8Array): number[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  return Array.from({ length: bytes.length / 2 }, (_, i) => view.getUint16(2 * i, true));
}

describe('imageToFrame', () => {
  it('uint8 scalar becomes GRAY8', () => {
    const image = makeImage('uint8', 'big', [3, 2, 1], 1, [0, 1, 2, 3, 4, 255]);
    const frame = imageToFrame(image, STAMP);
    expect(frame.pixelFormat).toBe('GRAY8');
    expect([frame.width, frame.height, frame.rowStrideBytes]).toEqual([3, 2, 3]);
    expect([...frame.pixels]).toEqual([0, 1, 2, 3, 4, 255]);
    expect(frame.streamId).toBe(STAMP.streamId);
    expect(frame.sequence).toBe(4);
    expect(frame.captureTimestampNs).toBe(STAMP.captureTimestampNs);
  });

  it('geometry kept with spacing', () => {
    const frame = imageToFrame(makeImage('uint8', 'little', [2, 2, 1], 1, [1, 2, 3, 4]), STAMP);
    expect(frame.geometry).toEqual({
      coordinateSystem: 'LPS',
      axesMm: [
        [0, 0.3, 0],
        [0.4, 0, 0],
        [0, 0, 1.5],
      ],
      centerMm: [1, 2, 3],
    });
    expect(frame.pixelSpacingMm).toEqual([0.3, 0.4]);
  });

  it('zero-length axis leaves spacing unknown', () => {
    // A zero-length i or j axis is the IMAGE form of pixel spacing 0, which means unknown.
    for (const zeroAxis of [0, 1]) {
      const image = makeImage('uint8', 'little', [2, 2, 1], 1, [1, 2, 3, 4]);
      image.axesMm[zeroAxis] = [0, 0, 0];
      const frame = imageToFrame(image, STAMP);
      expect(frame.pixelSpacingMm, `axis ${zeroAxis}`).toBeUndefined();
      expect(frame.geometry?.axesMm[zeroAxis], `axis ${zeroAxis}`).toEqual([0, 0, 0]);
    }
  });

  it('uint8 colour stays RGB', () => {
    const rgb = imageToFrame(makeImage('uint8', 'little', [2, 1, 1], 3, [10, 20, 30, 40, 50, 60]), STAMP);
    expect(rgb.pixelFormat).toBe('RGB8');
    expect(rgb.rowStrideBytes).toBe(6);
    const rgba = imageToFrame(makeImage('uint8', 'little', [1, 1, 1], 4, [1, 2, 3, 4]), STAMP);
    expect(rgba.pixelFormat).toBe('RGBA8');
  });

  it('uint16 either byte order', () => {
    const values = [0, 1, 258, 65535];
    for (const endian of ['big', 'little'] as const) {
      const frame = imageToFrame(makeImage('uint16', endian, [2, 2, 1], 1, values), STAMP);
      expect(frame.pixelFormat, endian).toBe('GRAY16');
      expect(frame.rowStrideBytes).toBe(4);
      expect(littleUint16(frame.pixels), endian).toEqual(values);
      expect(frame.gray16Window).toEqual([0, 65535]);
    }
  });

  it('uint16 colour becomes luma', () => {
    const frame = imageToFrame(makeImage('uint16', 'big', [1, 1, 1], 3, [1000, 2000, 3000]), STAMP);
    expect(frame.pixelFormat).toBe('GRAY16');
    expect(littleUint16(frame.pixels)).toEqual([Math.round(0.299 * 1000 + 0.587 * 2000 + 0.114 * 3000)]);
  });

  it('other types normalised min max', () => {
    const values = [-50, 0, 50, 100];
    const expected = values.map((v) => Math.round(((v + 50) * 255) / 150));
    for (const scalarType of ['int8', 'int16', 'int32', 'float32', 'float64'] as const) {
      for (const endian of ['big', 'little'] as const) {
        const frame = imageToFrame(makeImage(scalarType, endian, [2, 2, 1], 1, values), STAMP);
        expect(frame.pixelFormat, `${scalarType} ${endian}`).toBe('GRAY8');
        expect([...frame.pixels], `${scalarType} ${endian}`).toEqual(expected);
      }
    }
    const unsigned = imageToFrame(makeImage('uint32', 'big', [3, 1, 1], 1, [100, 4_000_000_000, 2_000_000_050]), STAMP);
    expect([...unsigned.pixels]).toEqual([0, 255, 127]);
  });

  it('flat and NaN frames', () => {
    expect([...imageToFrame(makeImage('float32', 'little', [2, 1, 1], 1, [7, 7]), STAMP).pixels]).toEqual([0, 0]);
    expect([...imageToFrame(makeImage('float64', 'big', [3, 1, 1], 1, [NaN, 0, 10]), STAMP).pixels]).toEqual([0, 0, 255]);
  });

  it('components luma or first', () => {
    // Three components: luma of (R, G, B). Two or five: first component.
    const three = imageToFrame(makeImage('float32', 'little', [2, 1, 1], 3, [0, 0, 0, 100, 200, 50]), STAMP);
    expect([...three.pixels]).toEqual([0, 255]);
    const luma = [0.299 * 10 + 0.587 * 0 + 0.114 * 0, 0.299 * 0 + 0.587 * 10 + 0.114 * 0, 0.299 * 0 + 0.587 * 0 + 0.114 * 10];
    const mixed = imageToFrame(makeImage('int16', 'big', [3, 1, 1], 3, [10, 0, 0, 0, 10, 0, 0, 0, 10]), STAMP);
    const min = Math.min(...luma);
    const max = Math.max(...luma);
    expect([...mixed.pixels]).toEqual(luma.map((v) => Math.round(((v - min) * 255) / (max - min))));

    const two = imageToFrame(makeImage('int16', 'little', [2, 1, 1], 2, [5, 999, 10, -999]), STAMP);
    expect([...two.pixels]).toEqual([0, 255]);
    const five = imageToFrame(makeImage('uint8', 'little', [2, 1, 1], 5, [9, 1, 1, 1, 1, 3, 7, 7, 7, 7]), STAMP);
    expect(five.pixelFormat).toBe('GRAY8');
    expect([...five.pixels]).toEqual([255, 0]);
  });

  it('volume rejected with code', () => {
    let error: unknown;
    try {
      imageToFrame(makeImage('uint8', 'little', [2, 2, 2], 1, [1, 2, 3, 4, 5, 6, 7, 8]), STAMP);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(IgtlError);
    expect((error as IgtlError).code).toBe('ERR_IGTL_IMAGE_UNSUPPORTED');
  });
});

describe('SubvolumeCanvas', () => {
  function subvolume(base: IgtlImage, offset: Vec3, size: Vec3, values: number[]): IgtlImage {
    return { ...base, subvolumeOffset: offset, subvolumeSize: size, data: Uint8Array.from(values) };
  }

  it('pastes into the last image', () => {
    const canvas = new SubvolumeCanvas();
    const whole = makeImage('uint8', 'little', [3, 2, 1], 1, [1, 2, 3, 4, 5, 6]);
    expect(canvas.apply('Probe', whole)).toBe(whole);

    const updated = canvas.apply('Probe', subvolume(whole, [1, 1, 0], [2, 1, 1], [50, 60]));
    expect([...updated.data]).toEqual([1, 2, 3, 4, 50, 60]);
    expect(updated.subvolumeSize).toEqual([3, 2, 1]);
    expect([...whole.data], 'earlier frame unchanged').toEqual([1, 2, 3, 4, 5, 6]);

    const again = canvas.apply('Probe', subvolume(whole, [0, 0, 0], [1, 2, 1], [70, 80]));
    expect([...again.data]).toEqual([70, 2, 3, 80, 50, 60]);
  });

  it('starts from zeros when incompatible', () => {
    const canvas = new SubvolumeCanvas();
    const whole = makeImage('uint8', 'little', [3, 2, 1], 1, [1, 2, 3, 4, 5, 6]);
    canvas.apply('Probe', whole);
    const other = makeImage('uint8', 'little', [2, 2, 1], 1, [0, 0, 0, 0]);
    expect([...canvas.apply('Probe', subvolume(other, [1, 0, 0], [1, 1, 1], [9])).data]).toEqual([0, 9, 0, 0]);
    expect([...canvas.apply('Other', subvolume(whole, [2, 1, 0], [1, 1, 1], [7])).data]).toEqual([0, 0, 0, 0, 0, 7]);
  });

  it('forgets beyond maxDevices', () => {
    const canvas = new SubvolumeCanvas(2);
    const whole = makeImage('uint8', 'little', [2, 1, 1], 1, [5, 6]);
    canvas.apply('A', whole);
    canvas.apply('B', whole);
    canvas.apply('C', whole);
    expect([...canvas.apply('A', subvolume(whole, [0, 0, 0], [1, 1, 1], [1])).data], 'A was evicted').toEqual([1, 0]);
    expect([...canvas.apply('C', subvolume(whole, [0, 0, 0], [1, 1, 1], [1])).data], 'C was kept').toEqual([1, 6]);
  });
});
