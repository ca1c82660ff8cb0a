// Letterbox and normalise: scale an 8-bit grey frame to fit the model input keeping its
// aspect ratio, centre it, pad with the manifest's raw pad value, then normalise every model
// pixel to (p / 255 - mean) / std.
//
// The geometry and the resampling reproduce the training code (models/segwithu/data.py):
// content size = round(frame size × scale) with Python's round-half-to-even, offsets = floor of
// half the margin, and bilinear resampling with half-pixel centres and no antialiasing, as
// torch.nn.functional.interpolate(mode='bilinear', align_corners=False) does it when given an
// output size (per-axis ratio frame size / content size).

import type { OperatorFunction } from 'rxjs';

import type { Letterbox } from './types.js';
import type { GrayJob, PreparedJob } from './job.js';
import type { ModelInputSpec } from './manifest.js';
import { mapOrDrop } from './map-or-drop.js';

/** Rounds half to even, like Python's round(), so content sizes match the training code. */
function roundHalfEven(value: number): number {
  const floor = Math.floor(value);
  const fraction = value - floor;
  if (fraction > 0.5) return floor + 1;
  if (fraction < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

/** Computes where a frameWidth × frameHeight frame sits inside a modelWidth × modelHeight input. */
export function computeLetterbox(frameWidth: number, frameHeight: number, modelWidth: number, modelHeight: number): Letterbox {
  const scale = Math.min(modelWidth / frameWidth, modelHeight / frameHeight);
  const contentWidth = Math.max(1, Math.min(modelWidth, roundHalfEven(frameWidth * scale)));
  const contentHeight = Math.max(1, Math.min(modelHeight, roundHalfEven(frameHeight * scale)));
  return {
    modelWidth,
    modelHeight,
    scale,
    offsetX: Math.floor((modelWidth - contentWidth) / 2),
    offsetY: Math.floor((modelHeight - contentHeight) / 2),
    contentWidth,
    contentHeight,
  };
}

/** Source index pairs and weights of one axis of a half-pixel-centre bilinear resize. */
interface AxisSamples {
  index0: Int32Array;
  index1: Int32Array;
  weight1: Float64Array;
}

function axisSamples(inputSize: number, outputSize: number): AxisSamples {
  const ratio = inputSize / outputSize;
  const index0 = new Int32Array(outputSize);
  const index1 = new Int32Array(outputSize);
  const weight1 = new Float64Array(outputSize);
  for (let i = 0; i < outputSize; i++) {
    const source = Math.max(0, (i + 0.5) * ratio - 0.5);
    const lower = Math.min(Math.floor(source), inputSize - 1);
    index0[i] = lower;
    index1[i] = lower < inputSize - 1 ? lower + 1 : lower;
    weight1[i] = source - lower;
  }
  return { index0, index1, weight1 };
}

/**
 * Resizes `gray8` (frameWidth × frameHeight) bilinearly into the letterbox, pads with the raw pad
 * value and normalises to (p / 255 - mean) / std. Returns the model-resolution tensor
 * (input.height × input.width, row-major; written into `out` when given) and the mapping.
 */
export function letterboxNormalise(
  gray8: Uint8Array,
  frameWidth: number,
  frameHeight: number,
  input: ModelInputSpec,
  out: Float32Array = new Float32Array(input.width * input.height),
): { tensor: Float32Array; letterbox: Letterbox } {
  const letterbox = computeLetterbox(frameWidth, frameHeight, input.width, input.height);
  const { offsetX, offsetY, contentWidth, contentHeight } = letterbox;

  // normalised = raw × gain + bias, with raw in grey levels 0..255.
  const gain = 1 / (255 * input.std);
  const bias = -input.mean / input.std;
  out.fill(input.letterbox_pad_value * gain + bias);

  const columns = axisSamples(frameWidth, contentWidth);
  const rows = axisSamples(frameHeight, contentHeight);

  for (let y = 0; y < contentHeight; y++) {
    const top = rows.index0[y] * frameWidth;
    const bottom = rows.index1[y] * frameWidth;
    const wy1 = rows.weight1[y];
    const wy0 = 1 - wy1;
    let target = (offsetY + y) * input.width + offsetX;

    for (let x = 0; x < contentWidth; x++, target++) {
      const x0 = columns.index0[x];
      const x1 = columns.index1[x];
      const wx1 = columns.weight1[x];
      const wx0 = 1 - wx1;
      const value = wy0 * (wx0 * gray8[top + x0] + wx1 * gray8[top + x1]) + wy1 * (wx0 * gray8[bottom + x0] + wx1 * gray8[bottom + x1]);
      out[target] = value * gain + bias;
    }
  }

  return { tensor: out, letterbox };
}

/**
 * Adds the normalised model input, its letterbox mapping and the preprocessed timestamp to each
 * job. Emits one job per input job, in order; a job whose preprocessing throws goes to onError
 * instead. Completes and errors with its source.
 */
export function letterboxInput(input: ModelInputSpec, onError: (job: GrayJob, error: Error) => void): OperatorFunction<GrayJob, PreparedJob> {
  return mapOrDrop((job: GrayJob): PreparedJob => {
    const { tensor, letterbox } = letterboxNormalise(job.gray8, job.frame.width, job.frame.height, input);
    return { ...job, input: tensor, letterbox, preprocessedNs: process.hrtime.bigint() };
  }, onError);
}
