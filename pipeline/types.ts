// Types shared by the pipeline stages and the transports in stream/.
// A transport decodes and validates what a device sent into a Frame; the pipeline turns
// each Frame into a Result or into a counted drop. Nothing here depends on a transport.

export type PixelFormat = 'GRAY8' | 'GRAY16' | 'RGB8' | 'RGBA8';

/** Reasons a frame leaves the pipeline without a result; `received = processed + dropped`. */
export type DropReason = 'superseded' | 'invalid' | 'queue_full' | 'error' | 'shutdown';

export const DROP_REASONS: readonly DropReason[] = ['superseded', 'invalid', 'queue_full', 'error', 'shutdown'];

/** A decoded, validated frame as it enters the pipeline. */
export interface Frame {
  streamId: string;
  sequence: number;
  /** Device clock, Unix epoch, nanoseconds. */
  captureTimestampNs: bigint;
  /** Server monotonic clock (process.hrtime.bigint) when the transport finished decoding it. */
  receivedNs: bigint;
  pixelFormat: PixelFormat;
  width: number;
  height: number;
  /** Bytes per row; at least width × bytes per pixel. */
  rowStrideBytes: number;
  pixels: Uint8Array;
  /** Linear window for GRAY16 → 8-bit grey; [0, 65535] when the device declared none. */
  gray16Window?: [number, number];
  /** Millimetres per pixel, when the device declared it. */
  pixelSpacingMm?: [number, number];
  /** Optional ground truth (width × height bytes, non-zero = structure), carried for evaluation. */
  groundTruthMask?: Uint8Array;
  /** Where the pixels lie in patient space, when the transport carried it (OpenIGTLink IMAGE). */
  geometry?: FrameGeometry;
}

/**
 * Position of a frame's pixel grid in patient space, as an OpenIGTLink IMAGE carries it, so
 * that outputs at frame resolution can be sent back with the same geometry.
 */
export interface FrameGeometry {
  coordinateSystem: 'RAS' | 'LPS';
  /** Column (i), row (j) and slice (k) axis vectors in mm; each vector's length is the pixel spacing on that axis. */
  axesMm: [[number, number, number], [number, number, number], [number, number, number]];
  /** Position of the image centre in mm: the point at pixel index ((width - 1) / 2, (height - 1) / 2). */
  centerMm: [number, number, number];
}

/** Placement of the frame in the model input: model = frame × scale + offset. */
export interface Letterbox {
  modelWidth: number;
  modelHeight: number;
  /** Model pixels per frame pixel. */
  scale: number;
  offsetX: number;
  offsetY: number;
  contentWidth: number;
  contentHeight: number;
}

export type AlarmState = 'ok' | 'alarm';

/** Monotonic server clock (ns) at each stage the frame passed. */
export interface StageTimestamps {
  receivedNs: bigint;
  preprocessedNs: bigint;
  inferenceStartNs: bigint;
  inferenceEndNs: bigint;
  postprocessedNs: bigint;
}

/** The pipeline's output for one frame. Maps are at model resolution, row-major. */
export interface Result {
  streamId: string;
  sequence: number;
  captureTimestampNs: bigint;
  timestamps: StageTimestamps;
  modelId: string;
  letterbox: Letterbox;
  /** Class index per model pixel. */
  labelMask: Uint8Array;
  /** The graph's error_probability output, P(pixel wrong), as a float map. */
  errorProbability: Float32Array;
  /** Tempered foreground probability per model pixel: softmax(logits / temperature)[1]. */
  temperedForeground: Float32Array;
  /** The graph's frame_risk output: calibrated P(segmentation unacceptable). */
  frameRisk: number;
  alarm: AlarmState;
  /** Reason the alarm is on, in words a clinician can read. Empty when ok. */
  alarmReason: string;
  warnings: string[];
  /** The frame converted to 8-bit grey at frame resolution, for display and evaluation. */
  gray8: Uint8Array;
  frameWidth: number;
  frameHeight: number;
  groundTruthMask?: Uint8Array;
  /** The frame's geometry, copied from Frame.geometry when the frame had one. */
  geometry?: FrameGeometry;
  /**
   * This frame's share of the graph outputs named in PipelineOptions.extraOutputs, by output
   * name ([C, H, W] or [1, H, W] at model resolution); absent when none were requested.
   */
  extraOutputs?: Record<string, Float32Array>;
}
