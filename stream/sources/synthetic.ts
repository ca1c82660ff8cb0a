// A synthetic B-mode probe, so that the server runs with no device and no data: a transverse
// view of a vessel in soft tissue. What it imitates, and how:
// - speckle: Rayleigh-distributed amplitude (the envelope of many random scatterers), smoothed
//   laterally because B-mode speckle is elongated along the beam's lateral resolution cell;
// - tissue layers: echogenicity that varies smoothly with depth, brighter near the skin;
// - the vessel: a dark round lumen (blood scatters little) inside a bright wall, whose centre
//   drifts slowly (probe motion) and whose radius pulses at a heart rate of 72 beats per minute;
// - depth attenuation: amplitude falls as exp(-ATTENUATION * depth / height), partly undone by
//   time-gain compensation, as on a scanner;
// - log compression of DYNAMIC_RANGE_DB to 8-bit grey.
// The ground-truth mask (lumen and wall) comes with every frame.

import type { ServerContext } from '../context.js';
import type { SyntheticSourceOptions } from '../options.js';
import { FramePacer } from './playback.js';
import { gray8Frame, type RunningSource } from './source.js';

/** Round-trip attenuation over the full image depth, in nepers (1.6 Np is about 14 dB). */
const ATTENUATION_NP = 1.6;
/** Share of the attenuation that time-gain compensation gives back. */
const TGC_COMPENSATION = 0.3;
const HEART_RATE_HZ = 1.2;
/** Speckle field size relative to the frame, so the drifting view never runs off its edge. */
const FIELD_MARGIN = 1.25;
/** Amplitude steps per unit in the log-compression lookup table, and the table's size. */
const LUT_STEPS_PER_UNIT = 256;
const LUT_SIZE = 16 * LUT_STEPS_PER_UNIT;

/** Deterministic xorshift32 generator in [0, 1), so a seed reproduces the same frames. */
function createRandom(seed: number): () => number {
  let state = seed >>> 0 || 0x9e3779b9;
  return () => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state / 0x1_0000_0000;
  };
}

/** Displayed dynamic range, in dB, and the amplitude shown as white. */
const DYNAMIC_RANGE_DB = 30;
const WHITE_AMPLITUDE = 6;

/** Log compression of amplitude to 8-bit grey: WHITE_AMPLITUDE is 255, DYNAMIC_RANGE_DB below it is 0. */
function logCompress(amplitude: number): number {
  const decibels = 20 * Math.log10(Math.max(amplitude, 1e-3) / WHITE_AMPLITUDE);
  const grey = Math.round(255 * (1 + decibels / DYNAMIC_RANGE_DB));
  return Math.min(255, Math.max(0, grey));
}

function makeLogCompressionTable(): Uint8Array {
  const table = new Uint8Array(LUT_SIZE);
  for (let i = 0; i < LUT_SIZE; i += 1) {
    table[i] = logCompress((i + 0.5) / LUT_STEPS_PER_UNIT);
  }
  return table;
}

export interface SyntheticFrame {
  pixels: Uint8Array;
  /** 255 inside the vessel (lumen and wall), 0 elsewhere. */
  mask: Uint8Array;
}

export class SyntheticProbe {
  readonly width: number;
  readonly height: number;
  readonly #fieldWidth: number;
  readonly #fieldHeight: number;
  /** Rayleigh speckle amplitude of the imaged tissue, mean about 1, laterally smoothed. */
  readonly #speckle: Float32Array;
  /** A second, independent field that drifts faster: frame-to-frame decorrelation of scatterers. */
  readonly #flicker: Float32Array;
  /** Tissue echogenicity per depth row, times attenuation and compensation. */
  readonly #rowGain: Float32Array;
  readonly #logTable = makeLogCompressionTable();
  readonly #random: () => number;

  constructor({ width = 640, height = 480, seed = 1 }: { width?: number; height?: number; seed?: number } = {}) {
    this.width = width;
    this.height = height;
    this.#fieldWidth = Math.ceil(width * FIELD_MARGIN);
    this.#fieldHeight = Math.ceil(height * FIELD_MARGIN);
    this.#random = createRandom(seed);
    this.#speckle = this.#makeSpeckle();
    this.#flicker = this.#makeSpeckle();
    this.#rowGain = this.#makeRowGain();
  }

  /** Renders the view at time tS (seconds since the probe started). */
  render(tS: number): SyntheticFrame {
    const { width, height } = this;
    const pixels = new Uint8Array(width * height);
    const mask = new Uint8Array(width * height);

    // Probe drift: the view slides slowly over the tissue field; the flicker field slides faster.
    const spareX = this.#fieldWidth - width;
    const spareY = this.#fieldHeight - height;
    const driftX = Math.round(spareX * (0.5 + 0.45 * Math.sin((2 * Math.PI * tS) / 9)));
    const driftY = Math.round(spareY * (0.5 + 0.3 * Math.sin((2 * Math.PI * tS) / 13)));
    const flickerX = Math.floor(this.#random() * spareX);
    const flickerY = Math.floor(this.#random() * spareY);

    const minSide = Math.min(width, height);
    const centreX = width * (0.5 + 0.06 * Math.sin((2 * Math.PI * tS) / 7));
    const centreY = height * (0.45 + 0.03 * Math.sin((2 * Math.PI * tS) / 5));
    const pulse = Math.max(0, Math.sin(2 * Math.PI * HEART_RATE_HZ * tS)) ** 2;
    const lumenRadius = 0.1 * minSide * (1 + 0.06 * pulse);
    const outerRadius = lumenRadius + 0.025 * minSide;
    const lumenSquared = lumenRadius * lumenRadius;
    const outerSquared = outerRadius * outerRadius;

    for (let y = 0; y < height; y += 1) {
      const speckleRow = (y + driftY) * this.#fieldWidth + driftX;
      const flickerRow = (y + flickerY) * this.#fieldWidth + flickerX;
      const dy = y - centreY;
      // Posterior acoustic enhancement: blood attenuates less than tissue, so the column below
      // the lumen is brighter.
      const belowVessel = dy > outerRadius;
      const rowGain = this.#rowGain[y] * LUT_STEPS_PER_UNIT;

      for (let x = 0; x < width; x += 1) {
        const dx = x - centreX;
        const radiusSquared = dx * dx + dy * dy;
        let echogenicity = 1;
        if (radiusSquared < lumenSquared) {
          echogenicity = 0.06;
        } else if (radiusSquared < outerSquared) {
          echogenicity = 2.4;
        } else if (belowVessel && Math.abs(dx) < lumenRadius) {
          const across = dx / lumenRadius;
          echogenicity = 1 + 0.4 * (1 - across * across);
        }
        if (radiusSquared < outerSquared) {
          mask[y * width + x] = 255;
        }

        // 15% of the speckle changes from frame to frame.
        const speckle = 0.85 * this.#speckle[speckleRow + x] + 0.15 * this.#flicker[flickerRow + x];
        const index = (echogenicity * speckle * rowGain) | 0;
        pixels[y * width + x] = this.#logTable[index < LUT_SIZE ? index : LUT_SIZE - 1];
      }
    }
    return { pixels, mask };
  }

  #rayleigh(): number {
    // Rayleigh with sigma = 0.8 has mean 0.8 * sqrt(pi / 2), about 1.0.
    return 0.8 * Math.sqrt(-2 * Math.log(1 - this.#random()));
  }

  #makeSpeckle(): Float32Array {
    const raw = new Float32Array(this.#fieldWidth * this.#fieldHeight);
    for (let i = 0; i < raw.length; i += 1) {
      raw[i] = this.#rayleigh();
    }
    // Lateral smoothing over 3 pixels (weights 1 2 1) elongates speckle across the beam.
    const weights = [1, 2, 1];
    const smoothed = new Float32Array(raw.length);
    for (let y = 0; y < this.#fieldHeight; y += 1) {
      const row = y * this.#fieldWidth;
      for (let x = 0; x < this.#fieldWidth; x += 1) {
        let sum = 0;
        let weightSum = 0;
        for (let k = -1; k <= 1; k += 1) {
          const xx = x + k;
          if (xx >= 0 && xx < this.#fieldWidth) {
            sum += weights[k + 1] * raw[row + xx];
            weightSum += weights[k + 1];
          }
        }
        smoothed[row + x] = sum / weightSum;
      }
    }
    return smoothed;
  }

  #makeRowGain(): Float32Array {
    const gain = new Float32Array(this.height);
    for (let y = 0; y < this.height; y += 1) {
      const depth = y / this.height;
      // Skin and subcutaneous fat near the top, then muscle layers with slow banding.
      const layers = 0.85 + 0.5 * Math.exp(-depth / 0.05) + 0.15 * Math.sin(2 * Math.PI * depth * 3.3) + 0.08 * Math.sin(2 * Math.PI * depth * 7.1);
      const attenuation = Math.exp(-ATTENUATION_NP * (1 - TGC_COMPENSATION) * depth);
      gain[y] = layers * attenuation;
    }
    return gain;
  }
}

/** Starts the synthetic probe as a live stream paced at options.fps. */
export function startSyntheticSource(context: ServerContext, options: SyntheticSourceOptions): RunningSource {
  const fps = options.fps ?? 30;
  const probe = new SyntheticProbe({ width: options.width, height: options.height });
  const stream = context.registry.open({
    name: options.name ?? 'synthetic',
    source: 'synthetic',
    nominalRateHz: fps,
    width: probe.width,
    height: probe.height,
    lossless: false,
  });
  const abort = new AbortController();
  const pacer = new FramePacer(fps);
  context.logger.info({ streamId: stream.id, fps, width: probe.width, height: probe.height }, 'synthetic source started');

  const run = async (): Promise<void> => {
    const startMs = performance.now();
    for (let sequence = 0; !abort.signal.aborted; sequence += 1) {
      try {
        await pacer.next(abort.signal);
      } catch {
        break;
      }
      const { pixels, mask } = probe.render((performance.now() - startMs) / 1000);
      stream.lastSequence = sequence;
      context.telemetry.stream(stream.id).arrivals.mark();
      void context.pipeline.submit(gray8Frame(stream, sequence, probe.width, probe.height, pixels, mask), 'live');
    }
  };

  const done = run().finally(() => {
    context.registry.end(stream.id);
    context.logger.info({ streamId: stream.id, lastSequence: stream.lastSequence }, 'synthetic source stopped');
  });

  return {
    streamId: stream.id,
    done,
    stop: async () => {
      abort.abort(new Error('source stopped'));
      await done;
    },
  };
}
