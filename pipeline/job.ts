// Jobs, the values passed between the stages: the frame plus what each stage added. `ticket` is
// the accounting handle, which stages pass on untouched; they report drops through callbacks.

import type { Frame, Letterbox, Result } from './types.js';
import type { Ticket } from './accounting.js';

export type SubmitMode = 'live' | 'lossless';

/** A frame accepted by submit(), waiting in its stream's slot. */
export interface Job {
  readonly frame: Frame;
  readonly mode: SubmitMode;
  readonly ticket: Ticket;
}

/** After toGray8. */
export interface GrayJob extends Job {
  readonly gray8: Uint8Array;
}

/** After letterboxInput: ready for the model. */
export interface PreparedJob extends GrayJob {
  /** Normalised model input, height × width float32. */
  readonly input: Float32Array;
  readonly letterbox: Letterbox;
  readonly preprocessedNs: bigint;
}

/** This frame's share of a batch's outputs (views into the batch buffers). */
export interface FrameOutputs {
  /** C × H × W logits. */
  readonly logits: Float32Array;
  /** H × W calibration map. */
  readonly calibration: Float32Array;
  /** H × W error probability. */
  readonly errorProbability: Float32Array;
  readonly frameRisk: number;
  /** This frame's share of each extra graph output, by output name; absent when none were requested. */
  readonly extra?: Readonly<Record<string, Float32Array>>;
}

/** After infer. */
export interface InferredJob extends PreparedJob {
  readonly outputs: FrameOutputs;
  readonly inferenceStartNs: bigint;
  readonly inferenceEndNs: bigint;
}

/** After postprocess: the Result, still tied to its ticket. */
export interface ResultJob {
  readonly ticket: Ticket;
  readonly frame: Frame;
  readonly result: Result;
}

/** Reports one frame leaving the pipeline through an error. */
export type FrameErrorHandler = (job: Job, error: Error) => void;
