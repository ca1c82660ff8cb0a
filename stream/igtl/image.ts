// IMAGE content: a 72-byte image header followed by the pixel data of a box-shaped subvolume.
// The image header is big endian; the pixel data uses the byte order its E field names.
//
//   offset  size  field
//        0     2  V         uint16 image header version, 1
//        2     1  T         uint8 components per pixel (1 scalar, more for vectors, interleaved)
//        3     1  S         uint8 scalar type: 2 int8, 3 uint8, 4 int16, 5 uint16, 6 int32,
//                           7 uint32, 10 float32, 11 float64
//        4     1  E         uint8 pixel byte order: 1 big endian, 2 little endian
//        5     1  O         uint8 coordinate system: 1 RAS, 2 LPS
//        6     6  RI RJ RK  uint16 × 3 image size in pixels along i (columns), j (rows), k (slices)
//       12    36  TX..NZ    float32 × 9: the i, j and k axis vectors; each length is the spacing in mm
//       48    12  PX PY PZ  float32 × 3: position of the image centre in mm
//       60     6  DI DJ DK  uint16 × 3 first pixel of the subvolume
//       66     6  DRI..DRK  uint16 × 3 subvolume size in pixels
//       72     …  pixel data, i fastest, then j, then k
//
// The OpenIGTLink library's ImageMessage::SetOrigin writes PX PY PZ, and readers such as
// 3D Slicer take it as the centre of the voxel grid, i.e. the point at index (size - 1) / 2.

import { IgtlError } from './errors.js';

export const IMAGE_HEADER_SIZE = 72;

export type ScalarType = 'int8' | 'uint8' | 'int16' | 'uint16' | 'int32' | 'uint32' | 'float32' | 'float64';
export type Vec3 = [number, number, number];
export type CoordinateSystem = 'RAS' | 'LPS';

const SCALAR_CODES: Record<ScalarType, number> = {
  int8: 2,
  uint8: 3,
  int16: 4,
  uint16: 5,
  int32: 6,
  uint32: 7,
  float32: 10,
  float64: 11,
};

const SCALAR_BY_CODE = new Map<number, ScalarType>(Object.entries(SCALAR_CODES).map(([name, code]) => [code, name as ScalarType]));

export const SCALAR_BYTES: Record<ScalarType, number> = {
  int8: 1,
  uint8: 1,
  int16: 2,
  uint16: 2,
  int32: 4,
  uint32: 4,
  float32: 4,
  float64: 8,
};

export interface IgtlImage {
  /** Components per pixel; 1 for a scalar image. */
  components: number;
  scalarType: ScalarType;
  /** Byte order of the pixel data (the image header itself is always big endian). */
  endian: 'big' | 'little';
  coordinateSystem: CoordinateSystem;
  /** Full image size in pixels: [i (columns), j (rows), k (slices)]. */
  size: Vec3;
  /** The i, j and k axis vectors in mm; each vector's length is the pixel spacing on that axis. */
  axesMm: [Vec3, Vec3, Vec3];
  /** Position of the image centre in mm. */
  centerMm: Vec3;
  /** First pixel of the subvolume the data covers. */
  subvolumeOffset: Vec3;
  /** Size of the subvolume the data covers; equal to `size` for a whole image. */
  subvolumeSize: Vec3;
  /** Pixel data of the subvolume, i fastest, components interleaved, in `endian` byte order. */
  data: Uint8Array;
}

export interface ImageLimits {
  maxImageWidth: number;
  maxImageHeight: number;
  maxImageDepth: number;
  /** Largest width × height × depth. */
  maxImagePixels: number;
}

export function decodeImage(content: Uint8Array, limits: ImageLimits): IgtlImage {
  if (content.length < IMAGE_HEADER_SIZE) {
    throw new IgtlError('ERR_IGTL_IMAGE_HEADER', `IMAGE content of ${content.length} bytes is shorter than the 72-byte image header`);
  }
  const view = new DataView(content.buffer, content.byteOffset, content.length);

  const version = view.getUint16(0);
  const components = view.getUint8(2);
  const scalarCode = view.getUint8(3);
  const endianCode = view.getUint8(4);
  const coordinateCode = view.getUint8(5);
  const scalarType = SCALAR_BY_CODE.get(scalarCode);
  if (version !== 1 && version !== 2) throw imageHeaderError(`image header version ${version} (expected 1 or 2)`);
  if (components === 0) throw imageHeaderError('0 components per pixel (expected 1 or more)');
  if (scalarType === undefined) throw imageHeaderError(`scalar type ${scalarCode} (expected 2-7, 10 or 11)`);
  if (endianCode !== 1 && endianCode !== 2) throw imageHeaderError(`pixel byte order ${endianCode} (expected 1 big or 2 little)`);
  if (coordinateCode !== 1 && coordinateCode !== 2) throw imageHeaderError(`coordinate system ${coordinateCode} (expected 1 RAS or 2 LPS)`);

  const size = readUint16x3(view, 6);
  const floats: number[] = [];
  for (let i = 0; i < 12; i++) floats.push(view.getFloat32(12 + 4 * i));
  if (!floats.every(Number.isFinite)) throw imageHeaderError(`orientation or position: it contains a non-finite value (${floats.join(', ')})`);
  const subvolumeOffset = readUint16x3(view, 60);
  const subvolumeSize = readUint16x3(view, 66);

  checkImageSize(size, subvolumeOffset, subvolumeSize, limits);

  const expectedBytes = subvolumeSize[0] * subvolumeSize[1] * subvolumeSize[2] * components * SCALAR_BYTES[scalarType];
  const dataBytes = content.length - IMAGE_HEADER_SIZE;
  if (dataBytes !== expectedBytes) {
    throw new IgtlError(
      'ERR_IGTL_IMAGE_SIZE',
      `IMAGE pixel data is ${dataBytes} bytes but a ${subvolumeSize.join('×')} subvolume of ${components} × ${scalarType} needs ${expectedBytes}`,
    );
  }

  return {
    components,
    scalarType,
    endian: endianCode === 1 ? 'big' : 'little',
    coordinateSystem: coordinateCode === 1 ? 'RAS' : 'LPS',
    size,
    axesMm: [
      [floats[0], floats[1], floats[2]],
      [floats[3], floats[4], floats[5]],
      [floats[6], floats[7], floats[8]],
    ],
    centerMm: [floats[9], floats[10], floats[11]],
    subvolumeOffset,
    subvolumeSize,
    data: content.subarray(IMAGE_HEADER_SIZE),
  };
}

function checkImageSize(size: Vec3, offset: Vec3, subSize: Vec3, limits: ImageLimits): void {
  if (size.some((n) => n === 0) || subSize.some((n) => n === 0)) {
    throw new IgtlError('ERR_IGTL_IMAGE_SIZE', `IMAGE size ${size.join('×')} or subvolume size ${subSize.join('×')} has a zero axis`);
  }
  if (size[0] > limits.maxImageWidth || size[1] > limits.maxImageHeight || size[2] > limits.maxImageDepth) {
    throw new IgtlError(
      'ERR_IGTL_IMAGE_TOO_LARGE',
      `IMAGE size ${size.join('×')} is above the limit ${limits.maxImageWidth}×${limits.maxImageHeight}×${limits.maxImageDepth} (maxImageWidth × maxImageHeight × maxImageDepth)`,
    );
  }
  if (size[0] * size[1] * size[2] > limits.maxImagePixels) {
    throw new IgtlError('ERR_IGTL_IMAGE_TOO_LARGE', `IMAGE of ${size.join('×')} pixels is above maxImagePixels (${limits.maxImagePixels})`);
  }
  for (let axis = 0; axis < 3; axis++) {
    if (offset[axis] + subSize[axis] > size[axis]) {
      throw new IgtlError(
        'ERR_IGTL_IMAGE_SIZE',
        `IMAGE subvolume at ${offset.join(',')} of size ${subSize.join('×')} lies outside the ${size.join('×')} image`,
      );
    }
  }
}

function imageHeaderError(what: string): IgtlError {
  return new IgtlError('ERR_IGTL_IMAGE_HEADER', `IMAGE header has an invalid ${what}`);
}

function readUint16x3(view: DataView, offset: number): Vec3 {
  return [view.getUint16(offset), view.getUint16(offset + 2), view.getUint16(offset + 4)];
}

/** Fields of an IMAGE to encode; the subvolume defaults to the whole image. */
export interface ImageToEncode {
  components?: number;
  scalarType: ScalarType;
  endian?: 'big' | 'little';
  coordinateSystem?: CoordinateSystem;
  size: Vec3;
  axesMm?: [Vec3, Vec3, Vec3];
  centerMm?: Vec3;
  subvolumeOffset?: Vec3;
  subvolumeSize?: Vec3;
  /** Pixel data in `endian` byte order, already laid out i fastest. */
  data: Uint8Array;
}

const IDENTITY_AXES: [Vec3, Vec3, Vec3] = [
  [1, 0, 0],
  [0, 1, 0],
  [0, 0, 1],
];

export function encodeImage(image: ImageToEncode): Uint8Array {
  const components = image.components ?? 1;
  const subvolumeOffset = image.subvolumeOffset ?? [0, 0, 0];
  const subvolumeSize = image.subvolumeSize ?? image.size;
  const axes = image.axesMm ?? IDENTITY_AXES;
  const center = image.centerMm ?? [0, 0, 0];

  const ranges: [string, number, number][] = [
    ['components', components, 255],
    ...[0, 1, 2].map((axis): [string, number, number] => [`size[${axis}]`, image.size[axis], 0xffff]),
    ...[0, 1, 2].map((axis): [string, number, number] => [`subvolumeOffset[${axis}]`, subvolumeOffset[axis], 0xffff]),
    ...[0, 1, 2].map((axis): [string, number, number] => [`subvolumeSize[${axis}]`, subvolumeSize[axis], 0xffff]),
  ];
  for (const [name, value, max] of ranges) {
    if (!Number.isInteger(value) || value < 0 || value > max) {
      throw new IgtlError('ERR_IGTL_ENCODE', `IMAGE ${name} = ${value} is not an integer in [0, ${max}]`);
    }
  }
  const expectedBytes = subvolumeSize[0] * subvolumeSize[1] * subvolumeSize[2] * components * SCALAR_BYTES[image.scalarType];
  if (image.data.length !== expectedBytes) {
    throw new IgtlError('ERR_IGTL_ENCODE', `IMAGE data is ${image.data.length} bytes; the subvolume needs ${expectedBytes}`);
  }

  const content = new Uint8Array(IMAGE_HEADER_SIZE + image.data.length);
  const view = new DataView(content.buffer);
  view.setUint16(0, 1);
  view.setUint8(2, components);
  view.setUint8(3, SCALAR_CODES[image.scalarType]);
  view.setUint8(4, (image.endian ?? 'little') === 'big' ? 1 : 2);
  view.setUint8(5, (image.coordinateSystem ?? 'RAS') === 'RAS' ? 1 : 2);
  for (let axis = 0; axis < 3; axis++) {
    view.setUint16(6 + 2 * axis, image.size[axis]);
    view.setUint16(60 + 2 * axis, subvolumeOffset[axis]);
    view.setUint16(66 + 2 * axis, subvolumeSize[axis]);
  }
  const floats = [...axes[0], ...axes[1], ...axes[2], ...center];
  for (let i = 0; i < 12; i++) view.setFloat32(12 + 4 * i, floats[i]);
  content.set(image.data, IMAGE_HEADER_SIZE);
  return content;
}
