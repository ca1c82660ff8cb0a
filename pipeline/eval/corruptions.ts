// Corruptions of 8-bit grey ultrasound frames that happen in real scanning, each at three
// severities, computed on the fly and seeded so that an evaluation is repeatable.
//
// Geometry: row 0 is the probe face (the top of a B-mode image) and depth grows downwards.
// Only depth_zoom moves anatomy, so only it transforms the ground-truth mask; every other
// family changes how the anatomy looks, and the structure stays where the mask marks it.
// Sizes are fractions of the frame's width or height, so a severity means the same on a
// 709 × 749 frame as on a 256 × 256 one.

import { createRandom, type Random } from './random.js';

export type CorruptionId =
  | 'lift_off'
  | 'gain_contrast'
  | 'depth_zoom'
  | 'speckle'
  | 'motion_blur'
  | 'acoustic_shadow'
  | 'occlusion';

export type Severity = 1 | 2 | 3;

export const CORRUPTION_IDS: readonly CorruptionId[] = [
  'lift_off',
  'gain_contrast',
  'depth_zoom',
  'speckle',
  'motion_blur',
  'acoustic_shadow',
  'occlusion',
];

export const SEVERITIES: readonly Severity[] = [1, 2, 3];

/**
 * Families that the uncertainty head's training augmentation leaves out, so that results on
 * them show how the head handles a shift it never saw. Reports mark these as unseen.
 */
export const HELD_OUT_CORRUPTIONS: readonly CorruptionId[] = ['motion_blur', 'depth_zoom'];

/** Families the head-training augmentation uses. */
export const TRAINING_CORRUPTIONS: readonly CorruptionId[] = CORRUPTION_IDS.filter(
  (id) => !HELD_OUT_CORRUPTIONS.includes(id),
);

/** An 8-bit grey image, row-major, tightly packed, with an optional mask of the same size. */
export interface GrayImage {
  pixels: Uint8Array;
  width: number;
  height: number;
  /** Ground truth, non-zero = structure; transformed together with the pixels where geometry changes. */
  mask?: Uint8Array;
}

/**
 * Returns a corrupted copy of `image` (the input is not modified). The same image, family,
 * severity and seed always give the same output. The returned mask is a copy, transformed
 * only by depth_zoom; it is absent when the input had none.
 */
export function applyCorruption(image: GrayImage, id: CorruptionId, severity: Severity, seed: number): GrayImage {
  validateImage(image);
  if (!SEVERITIES.includes(severity)) {
    throw new RangeError(`applyCorruption: severity must be 1, 2 or 3, got ${severity}.`);
  }
  const corrupt = CORRUPTIONS[id];
  if (!corrupt) {
    throw new RangeError(`applyCorruption: unknown corruption "${id}"; expected one of ${CORRUPTION_IDS.join(', ')}.`);
  }
  const random = createRandom(seed);
  return corrupt(image, severity - 1, random);
}

function validateImage({ pixels, width, height, mask }: GrayImage): void {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`applyCorruption: invalid size ${width} × ${height}; width and height must be positive integers.`);
  }
  if (pixels.length !== width * height) {
    throw new RangeError(`applyCorruption: ${pixels.length} pixels for a ${width} × ${height} image; expected ${width * height}.`);
  }
  if (mask && mask.length !== width * height) {
    throw new RangeError(`applyCorruption: mask has ${mask.length} values for a ${width} × ${height} image; expected ${width * height}.`);
  }
}

// `level` is the severity minus one, an index into each family's parameter table.
type Corruption = (image: GrayImage, level: number, random: Random) => GrayImage;

const CORRUPTIONS: Record<CorruptionId, Corruption> = {
  lift_off: liftOff,
  gain_contrast: gainContrast,
  depth_zoom: depthZoom,
  speckle,
  motion_blur: motionBlur,
  acoustic_shadow: acousticShadow,
  occlusion,
};

// ---------------------------------------------------------------------------------------------
// Families

/**
 * Probe lift-off or partial contact: one side of the image (left or right, drawn) loses
 * coupling and goes black, with a soft edge where contact resumes.
 */
function liftOff(image: GrayImage, level: number, random: Random): GrayImage {
  const { width, height } = image;
  const lostWidth = [0.2, 0.35, 0.5][level] * width;
  const edgeWidth = 0.06 * width;
  const fromLeft = random.next() < 0.5;

  const columnGain = new Float64Array(width);
  for (let x = 0; x < width; x++) {
    const distanceFromSide = fromLeft ? x + 0.5 : width - x - 0.5;
    columnGain[x] = smoothstep((distanceFromSide - lostWidth) / edgeWidth);
  }

  const output = new Uint8ClampedArray(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) output[y * width + x] = image.pixels[y * width + x] * columnGain[x];
  }
  return withPixels(image, output);
}

/**
 * Gain and contrast change: contrast about the image mean, then an overall gain, darker or
 * brighter (drawn). Bright output saturates at 255, as on a scanner.
 */
function gainContrast(image: GrayImage, level: number, random: Random): GrayImage {
  const darker = random.next() < 0.5;
  const gain = darker ? [0.7, 0.5, 0.3][level] : [1.35, 1.7, 2.2][level];
  const contrast = [0.8, 0.6, 0.45][level];
  const meanValue = meanOf(image.pixels);

  const output = new Uint8ClampedArray(image.pixels.length);
  for (let i = 0; i < output.length; i++) {
    output[i] = gain * (meanValue + contrast * (image.pixels[i] - meanValue));
  }
  return withPixels(image, output);
}

/**
 * Depth or zoom change: the image is scaled about the top centre (the probe face), larger for
 * a shallower depth setting and smaller for a deeper one (drawn), then cropped or padded with
 * black to the original size. Pixels are resampled bilinearly and the mask by nearest neighbour,
 * both through the same mapping.
 */
function depthZoom(image: GrayImage, level: number, random: Random): GrayImage {
  const { width, height } = image;
  const zoomIn = random.next() < 0.5;
  const factor = [1.15, 1.3, 1.5][level];
  const scale = zoomIn ? factor : 1 / factor;
  const centreX = width / 2;

  const output = new Uint8ClampedArray(width * height);
  const mask = image.mask ? new Uint8Array(width * height) : undefined;
  for (let y = 0; y < height; y++) {
    const sourceY = (y + 0.5) / scale - 0.5;
    for (let x = 0; x < width; x++) {
      const sourceX = centreX + (x + 0.5 - centreX) / scale - 0.5;
      const i = y * width + x;
      output[i] = sampleBilinear(image, sourceX, sourceY, 0);
      if (mask && image.mask) {
        const nearestX = Math.round(sourceX);
        const nearestY = Math.round(sourceY);
        const inside = nearestX >= 0 && nearestX < width && nearestY >= 0 && nearestY < height;
        mask[i] = inside ? image.mask[nearestY * width + nearestX] : 0;
      }
    }
  }
  return { pixels: new Uint8Array(output.buffer), width, height, mask };
}

/**
 * Speckle noise, multiplicative: each pixel is multiplied by 1 + σ·n, where n is a standard
 * normal field smoothed over 3 × 3 pixels (so grains span a few pixels, as speckle does) and
 * rescaled to unit variance. Black stays black.
 */
function speckle(image: GrayImage, level: number, random: Random): GrayImage {
  const { width, height } = image;
  const sigma = [0.15, 0.3, 0.5][level];

  const white = new Float64Array(width * height);
  for (let i = 0; i < white.length; i++) white[i] = random.normal();
  // A 3 × 3 mean of independent unit normals has standard deviation 1/3.
  const grains = boxFilter3(white, width, height);

  const output = new Uint8ClampedArray(width * height);
  for (let i = 0; i < output.length; i++) {
    output[i] = image.pixels[i] * (1 + sigma * 3 * grains[i]);
  }
  return withPixels(image, output);
}

/**
 * Motion blur: the mean of the image along a line segment (a directional box kernel). The
 * segment's length is a share of the width and its angle is drawn. Samples beyond the border
 * repeat the edge pixel.
 */
function motionBlur(image: GrayImage, level: number, random: Random): GrayImage {
  const { width, height } = image;
  const length = Math.max(2, [0.015, 0.03, 0.05][level] * width);
  const angle = random.uniform(0, Math.PI);
  const samples = Math.ceil(length) + 1;
  const stepX = (Math.cos(angle) * length) / (samples - 1);
  const stepY = (Math.sin(angle) * length) / (samples - 1);

  // Every pixel shares the sample offsets, hence the bilinear weights: accumulate one shifted
  // copy of the image per sample instead of interpolating per pixel and sample.
  const { pixels } = image;
  const total = new Float32Array(width * height);
  for (let s = 0; s < samples; s++) {
    const t = s - (samples - 1) / 2;
    const offsetX = Math.floor(t * stepX);
    const offsetY = Math.floor(t * stepY);
    const fx = t * stepX - offsetX;
    const fy = t * stepY - offsetY;
    for (let y = 0; y < height; y++) {
      const row0 = clampIndex(y + offsetY, height) * width;
      const row1 = clampIndex(y + offsetY + 1, height) * width;
      for (let x = 0; x < width; x++) {
        const x0 = clampIndex(x + offsetX, width);
        const x1 = clampIndex(x + offsetX + 1, width);
        const top = pixels[row0 + x0] * (1 - fx) + pixels[row0 + x1] * fx;
        const bottom = pixels[row1 + x0] * (1 - fx) + pixels[row1 + x1] * fx;
        total[y * width + x] += top * (1 - fy) + bottom * fy;
      }
    }
  }

  const output = new Uint8ClampedArray(width * height);
  for (let i = 0; i < output.length; i++) output[i] = total[i] / samples;
  return withPixels(image, output);
}

/**
 * Acoustic shadow: a dark vertical band below a strong reflector, as behind calcified plaque
 * or bone. With a non-empty mask, the reflector sits just above the structure at a drawn
 * column of it, so the shadow falls on the structure. Without one, the reflector's position is
 * drawn in the upper half. The band has a raised-cosine profile across and fades in over 3% of
 * the height.
 */
function acousticShadow(image: GrayImage, level: number, random: Random): GrayImage {
  const { width, height } = image;
  const halfWidth = [0.05, 0.09, 0.14][level] * width;
  const attenuation = [0.5, 0.75, 0.95][level];
  const onsetLength = 0.03 * height;

  const box = image.mask ? boundingBox(image.mask, width, height) : undefined;
  let sourceX: number;
  let sourceY: number;
  if (box) {
    sourceX = random.uniform(box.left, box.right + 1);
    sourceY = Math.max(0, box.top - random.uniform(0.02, 0.1) * height);
  } else {
    sourceX = random.uniform(0.2, 0.8) * width;
    sourceY = random.uniform(0.1, 0.5) * height;
  }

  const output = new Uint8ClampedArray(width * height);
  for (let y = 0; y < height; y++) {
    const onset = smoothstep((y + 0.5 - sourceY) / onsetLength);
    for (let x = 0; x < width; x++) {
      const distance = Math.abs(x + 0.5 - sourceX);
      const across = distance < halfWidth ? 0.5 * (1 + Math.cos((Math.PI * distance) / halfWidth)) : 0;
      const i = y * width + x;
      output[i] = image.pixels[i] * (1 - attenuation * across * onset);
    }
  }
  return withPixels(image, output);
}

/**
 * Occlusion: a band of one grey level (drawn in 0..255) across the whole image, horizontal or
 * vertical (drawn), as a thickness share of the height or width. With a non-empty mask the
 * band's centre is drawn inside the structure's bounding box, so the band covers part of it.
 */
function occlusion(image: GrayImage, level: number, random: Random): GrayImage {
  const { width, height } = image;
  const thicknessShare = [0.1, 0.2, 0.33][level];
  const horizontal = random.next() < 0.5;
  const fill = random.nextInt(256);
  const box = image.mask ? boundingBox(image.mask, width, height) : undefined;

  const extent = horizontal ? height : width;
  const thickness = Math.max(1, Math.round(thicknessShare * extent));
  let centre: number;
  if (box) centre = horizontal ? random.uniform(box.top, box.bottom + 1) : random.uniform(box.left, box.right + 1);
  else centre = random.uniform(0, extent);
  const first = Math.min(Math.max(0, Math.round(centre - thickness / 2)), extent - thickness);

  const output = Uint8Array.from(image.pixels);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const along = horizontal ? y : x;
      if (along >= first && along < first + thickness) output[y * width + x] = fill;
    }
  }
  return { pixels: output, width, height, mask: image.mask ? Uint8Array.from(image.mask) : undefined };
}

// ---------------------------------------------------------------------------------------------
// Helpers

function withPixels(image: GrayImage, pixels: Uint8ClampedArray): GrayImage {
  return {
    pixels: new Uint8Array(pixels.buffer, pixels.byteOffset, pixels.length),
    width: image.width,
    height: image.height,
    mask: image.mask ? Uint8Array.from(image.mask) : undefined,
  };
}

/** 0 below 0, 1 above 1, and a smooth cubic ramp between. */
function smoothstep(t: number): number {
  if (t <= 0) return 0;
  if (t >= 1) return 1;
  return t * t * (3 - 2 * t);
}

function meanOf(pixels: Uint8Array): number {
  let total = 0;
  for (let i = 0; i < pixels.length; i++) total += pixels[i];
  return total / pixels.length;
}

function clampIndex(index: number, size: number): number {
  if (index < 0) return 0;
  if (index >= size) return size - 1;
  return index;
}

/**
 * Bilinear sample at pixel-centre coordinates, where pixel (0, 0) is centred at (0, 0).
 * Returns `outside` beyond the image's outer pixel edges and repeats the edge pixel within them.
 */
function sampleBilinear(image: GrayImage, x: number, y: number, outside: number): number {
  const { width, height, pixels } = image;
  if (x < -0.5 || y < -0.5 || x > width - 0.5 || y > height - 0.5) return outside;
  const cx = Math.min(Math.max(x, 0), width - 1);
  const cy = Math.min(Math.max(y, 0), height - 1);
  const x0 = Math.floor(cx);
  const y0 = Math.floor(cy);
  const x1 = Math.min(x0 + 1, width - 1);
  const y1 = Math.min(y0 + 1, height - 1);
  const fx = cx - x0;
  const fy = cy - y0;
  const top = pixels[y0 * width + x0] * (1 - fx) + pixels[y0 * width + x1] * fx;
  const bottom = pixels[y1 * width + x0] * (1 - fx) + pixels[y1 * width + x1] * fx;
  return top * (1 - fy) + bottom * fy;
}

/** 3 × 3 mean with the border repeated. */
function boxFilter3(values: Float64Array, width: number, height: number): Float64Array {
  const rows = new Float64Array(values.length);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const left = values[y * width + Math.max(x - 1, 0)];
      const right = values[y * width + Math.min(x + 1, width - 1)];
      rows[y * width + x] = (left + values[y * width + x] + right) / 3;
    }
  }
  const result = new Float64Array(values.length);
  for (let y = 0; y < height; y++) {
    const above = Math.max(y - 1, 0) * width;
    const below = Math.min(y + 1, height - 1) * width;
    for (let x = 0; x < width; x++) {
      result[y * width + x] = (rows[above + x] + rows[y * width + x] + rows[below + x]) / 3;
    }
  }
  return result;
}

interface Box {
  left: number;
  right: number;
  top: number;
  bottom: number;
}

/** Inclusive bounding box of the non-zero mask pixels, or undefined when the mask is empty. */
function boundingBox(mask: Uint8Array, width: number, height: number): Box | undefined {
  let left = width;
  let right = -1;
  let top = height;
  let bottom = -1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (mask[y * width + x] === 0) continue;
      if (x < left) left = x;
      if (x > right) right = x;
      if (y < top) top = y;
      if (y > bottom) bottom = y;
    }
  }
  return right < 0 ? undefined : { left, right, top, bottom };
}
