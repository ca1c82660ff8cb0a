// IMAGE → pipeline Frame.
//
// Pixel rules (the pipeline turns every Frame into 8-bit grey itself):
//   uint8,  1 component        → GRAY8, the data as sent
//   uint8,  3 or 4 components  → RGB8 or RGBA8, so the pipeline's ITU-R 601 luma applies
//                                exactly as it does for other transports
//   uint16, 1 component        → GRAY16 (little endian, full-range window)
//   uint16, more components    → GRAY16 of the luma (3 or 4 components) or the first component
//   any other scalar type      → GRAY8 normalised linearly from the frame's min..max to 0..255,
//                                after luma or first component as above; a flat frame becomes 0
// Luma is 0.299 R + 0.587 G + 0.114 B over the first three components; 2 or 5+ components
// use the first one.
//
// Geometry: the IMAGE axis vectors, centre and coordinate system go on Frame.geometry as
// sent, and pixelSpacingMm holds the lengths of the i and j axes. Only 2D images (one slice)
// become frames.
//
// Pixel spacing follows the rule of the protobuf Frame message: 0 means unknown, so an image
// with a zero-length i or j axis gets no pixelSpacingMm (and no training-range warning about a
// spacing of 0 mm). decodeImage already rejects NaN and infinite axis values with
// ERR_IGTL_IMAGE_HEADER, and a vector length cannot be negative.

import type { Frame, FrameGeometry } from '../../pipeline/types.js';
import { IgtlError } from './errors.js';
import { SCALAR_BYTES, type IgtlImage, type ScalarType } from './image.js';

const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export interface FrameStamp {
  streamId: string;
  sequence: number;
  /** Device clock, ns since the Unix epoch. */
  captureTimestampNs: bigint;
  /** Server monotonic clock when decoding finished. */
  receivedNs: bigint;
}

/** Converts a whole IMAGE (subvolume = image; see SubvolumeCanvas) into a Frame. Throws ERR_IGTL_IMAGE_UNSUPPORTED for volumes. */
export function imageToFrame(image: IgtlImage, stamp: FrameStamp): Frame {
  const [width, height, depth] = image.size;
  if (depth !== 1) {
    throw new IgtlError(
      'ERR_IGTL_IMAGE_UNSUPPORTED',
      `IMAGE of ${width}×${height}×${depth} is a volume; the pipeline takes 2D frames, so send one slice per IMAGE`,
    );
  }
  if (!sameSize(image.subvolumeSize, image.size)) {
    throw new IgtlError('ERR_IGTL_IMAGE_UNSUPPORTED', 'imageToFrame needs a whole image; pass subvolumes through SubvolumeCanvas first');
  }

  const geometry: FrameGeometry = {
    coordinateSystem: image.coordinateSystem,
    axesMm: [[...image.axesMm[0]], [...image.axesMm[1]], [...image.axesMm[2]]],
    centerMm: [...image.centerMm],
  };
  const spacingMm: [number, number] = [Math.hypot(...image.axesMm[0]), Math.hypot(...image.axesMm[1])];
  const spacingKnown = spacingMm.every((length) => Number.isFinite(length) && length > 0);
  const frame = {
    ...stamp,
    width,
    height,
    ...(spacingKnown ? { pixelSpacingMm: spacingMm } : {}),
    geometry,
  };

  const { scalarType, components } = image;
  if (scalarType === 'uint8' && (components === 1 || components === 3 || components === 4)) {
    const pixelFormat = components === 1 ? 'GRAY8' : components === 3 ? 'RGB8' : 'RGBA8';
    return { ...frame, pixelFormat, rowStrideBytes: width * components, pixels: image.data };
  }

  if (scalarType === 'uint16' && components === 1 && image.endian === 'little') {
    return { ...frame, pixelFormat: 'GRAY16', rowStrideBytes: width * 2, pixels: image.data, gray16Window: [0, 65535] };
  }

  const values = singleComponent(toHostArray(image.data, scalarType, image.endian), components, width * height);
  if (scalarType === 'uint16') {
    const gray16 = new Uint16Array(width * height);
    for (let i = 0; i < gray16.length; i++) gray16[i] = Math.round(values[i]);
    return { ...frame, pixelFormat: 'GRAY16', rowStrideBytes: width * 2, pixels: littleEndianBytes(gray16), gray16Window: [0, 65535] };
  }

  return { ...frame, pixelFormat: 'GRAY8', rowStrideBytes: width, pixels: normaliseToGray8(values) };
}

type HostArray = Int8Array | Uint8Array | Int16Array | Uint16Array | Int32Array | Uint32Array | Float32Array | Float64Array;

/** Copies pixel data into a typed array in host byte order, swapping bytes when the data's order differs. */
export function toHostArray(data: Uint8Array, scalarType: ScalarType, endian: 'big' | 'little'): HostArray {
  const bytes = SCALAR_BYTES[scalarType];
  const copy = new Uint8Array(data.length);
  if (bytes === 1 || (endian === 'little') === HOST_LITTLE_ENDIAN) {
    copy.set(data);
  } else {
    for (let i = 0; i < data.length; i += bytes) {
      for (let b = 0; b < bytes; b++) copy[i + b] = data[i + bytes - 1 - b];
    }
  }
  const buffer = copy.buffer;
  switch (scalarType) {
    case 'int8':
      return new Int8Array(buffer);
    case 'uint8':
      return copy;
    case 'int16':
      return new Int16Array(buffer);
    case 'uint16':
      return new Uint16Array(buffer);
    case 'int32':
      return new Int32Array(buffer);
    case 'uint32':
      return new Uint32Array(buffer);
    case 'float32':
      return new Float32Array(buffer);
    case 'float64':
      return new Float64Array(buffer);
  }
}

/** Reduces interleaved components to one value per pixel: luma for 3 or 4, the first component otherwise. */
function singleComponent(values: HostArray, components: number, pixels: number): Float64Array {
  const out = new Float64Array(pixels);
  if (components === 3 || components === 4) {
    for (let p = 0, i = 0; p < pixels; p++, i += components) {
      out[p] = 0.299 * values[i] + 0.587 * values[i + 1] + 0.114 * values[i + 2];
    }
  } else {
    for (let p = 0, i = 0; p < pixels; p++, i += components) out[p] = values[i];
  }
  return out;
}

/** Maps min..max linearly onto 0..255; NaN becomes 0, and so does every pixel of a flat frame. */
// NOTE: the range is per frame, so a gain change on the device is undone here; a device that
// sends non-uint8/uint16 data and needs a fixed window should convert before sending.
function normaliseToGray8(values: Float64Array): Uint8Array {
  let min = Infinity;
  let max = -Infinity;
  for (const v of values) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const out = new Uint8Array(values.length);
  const range = max - min;
  if (!(range > 0) || !Number.isFinite(range)) return out;
  const scale = 255 / range;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    out[i] = Number.isNaN(v) ? 0 : Math.round((v - min) * scale);
  }
  return out;
}

function littleEndianBytes(values: Uint16Array): Uint8Array {
  const bytes = new Uint8Array(values.length * 2);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < values.length; i++) view.setUint16(2 * i, values[i], true);
  return bytes;
}

function sameSize(a: readonly number[], b: readonly number[]): boolean {
  return a[0] === b[0] && a[1] === b[1] && a[2] === b[2];
}

/**
 * The latest whole image per device name, so that subvolume messages (partial image
 * transfer) update a region of it. A subvolume that does not match the stored image's size,
 * type, components and byte order starts from a zero image. Each update copies the stored
 * image, because frames handed to the pipeline earlier still reference the old pixels.
 */
export class SubvolumeCanvas {
  readonly maxDevices: number;
  #images = new Map<string, IgtlImage>();

  /** maxDevices bounds memory: the least recently updated device is forgotten beyond it. */
  constructor(maxDevices = 8) {
    this.maxDevices = maxDevices;
  }

  /** Returns the whole image after applying `image`, which may be a whole image or a subvolume. */
  apply(deviceName: string, image: IgtlImage): IgtlImage {
    const whole = sameSize(image.subvolumeSize, image.size) ? image : this.#paste(this.#images.get(deviceName), image);
    this.#images.delete(deviceName);
    this.#images.set(deviceName, whole);
    if (this.#images.size > this.maxDevices) {
      const oldest = this.#images.keys().next().value as string;
      this.#images.delete(oldest);
    }
    return whole;
  }

  #paste(previous: IgtlImage | undefined, sub: IgtlImage): IgtlImage {
    const pixelBytes = sub.components * SCALAR_BYTES[sub.scalarType];
    const [width, height, depth] = sub.size;
    const compatible =
      previous !== undefined &&
      sameSize(previous.size, sub.size) &&
      previous.scalarType === sub.scalarType &&
      previous.components === sub.components &&
      previous.endian === sub.endian;
    const data = new Uint8Array(width * height * depth * pixelBytes);
    if (compatible) data.set(previous.data);

    const [offsetI, offsetJ, offsetK] = sub.subvolumeOffset;
    const [sizeI, sizeJ, sizeK] = sub.subvolumeSize;
    const rowBytes = sizeI * pixelBytes;
    for (let k = 0; k < sizeK; k++) {
      for (let j = 0; j < sizeJ; j++) {
        const from = (k * sizeJ + j) * rowBytes;
        const to = (((offsetK + k) * height + offsetJ + j) * width + offsetI) * pixelBytes;
        data.set(sub.data.subarray(from, from + rowBytes), to);
      }
    }
    return { ...sub, subvolumeOffset: [0, 0, 0], subvolumeSize: [...sub.size], data };
  }
}
