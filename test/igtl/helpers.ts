// Shared helpers for the OpenIGTLink tests: hex, a recording FrameSink, synthetic results,
// and polling without timing assertions.

import { connect, type Socket } from 'node:net';

import { Subject } from 'rxjs';

import type { Frame, FrameGeometry, Result } from '../../pipeline/types.js';
import { IgtlParser, type FrameSink, type IgtlMessage, type SubmitMode } from '../../stream/igtl/index.js';

export function fromHex(hex: string): Uint8Array {
  return Uint8Array.from(Buffer.from(hex.replace(/\s+/g, ''), 'hex'));
}

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

/** Records submitted frames and invalid counts; when `respond` is set, emits a synthetic result for each frame. */
export class RecordingSink implements FrameSink {
  readonly frames: Frame[] = [];
  readonly modes: SubmitMode[] = [];
  readonly invalid = new Map<string, number>();
  readonly results$ = new Subject<Result>();
  respond = false;

  submit(frame: Frame, mode: SubmitMode): Promise<void> {
    this.frames.push(frame);
    this.modes.push(mode);
    if (this.respond) this.results$.next(syntheticResult(frame));
    return Promise.resolve();
  }

  countInvalid(streamId: string): void {
    this.invalid.set(streamId, (this.invalid.get(streamId) ?? 0) + 1);
  }

  invalidTotal(): number {
    let total = 0;
    for (const count of this.invalid.values()) total += count;
    return total;
  }
}

/**
 * Builds a result for `frame` at a 32 × 32 model resolution whose letterbox fits the frame's longer
 * side: label 1 on model pixels with x + y even, error probability x / 31.
 */
export function syntheticResult(frame: Pick<Frame, 'streamId' | 'sequence' | 'captureTimestampNs' | 'receivedNs' | 'width' | 'height' | 'geometry'>): Result {
  const modelSize = 32;
  const scale = modelSize / Math.max(frame.width, frame.height);
  const contentWidth = Math.round(frame.width * scale);
  const contentHeight = Math.round(frame.height * scale);
  const offsetX = Math.floor((modelSize - contentWidth) / 2);
  const offsetY = Math.floor((modelSize - contentHeight) / 2);

  const labelMask = new Uint8Array(modelSize * modelSize);
  const errorProbability = new Float32Array(modelSize * modelSize);
  for (let y = 0; y < modelSize; y++) {
    for (let x = 0; x < modelSize; x++) {
      labelMask[y * modelSize + x] = (x + y) % 2 === 0 ? 1 : 0;
      errorProbability[y * modelSize + x] = x / (modelSize - 1);
    }
  }

  const now = frame.receivedNs;
  return {
    streamId: frame.streamId,
    sequence: frame.sequence,
    captureTimestampNs: frame.captureTimestampNs,
    timestamps: { receivedNs: now, preprocessedNs: now, inferenceStartNs: now, inferenceEndNs: now, postprocessedNs: now },
    modelId: 'synthetic',
    letterbox: { modelWidth: modelSize, modelHeight: modelSize, scale, offsetX, offsetY, contentWidth, contentHeight },
    labelMask,
    errorProbability,
    temperedForeground: new Float32Array(modelSize * modelSize),
    frameRisk: 0.25,
    alarm: 'ok',
    alarmReason: '',
    warnings: [],
    gray8: new Uint8Array(frame.width * frame.height),
    frameWidth: frame.width,
    frameHeight: frame.height,
    geometry: frame.geometry,
  };
}

export const ROTATED_GEOMETRY: FrameGeometry = {
  coordinateSystem: 'LPS',
  axesMm: [
    [0.25, 0.5, 0],
    [-0.5, 0.25, 0],
    [0, 0, 2],
  ],
  centerMm: [12.5, -7.25, 3],
};

/**
 * Bit-by-bit CRC-64/ECMA-182 straight from the definition (polynomial 0x42F0E1EBA9EA3693,
 * MSB first, init 0, no final XOR), with BigInt: slow, but shares nothing with the
 * table-driven code under test.
 */
export function crc64Bitwise(data: Uint8Array): bigint {
  const poly = 0x42f0e1eba9ea3693n;
  const mask = (1n << 64n) - 1n;
  let crc = 0n;
  for (const byte of data) {
    crc ^= BigInt(byte) << 56n;
    for (let bit = 0; bit < 8; bit++) {
      crc = crc & (1n << 63n) ? ((crc << 1n) ^ poly) & mask : (crc << 1n) & mask;
    }
  }
  return crc;
}

/** Polls `condition` every 5 ms until it is true or `timeoutMs` passes; throws naming `what` on timeout. */
export async function waitFor(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** A raw TCP peer that parses what it receives. */
export class Peer {
  readonly socket: Socket;
  readonly messages: IgtlMessage[] = [];
  closed = false;
  #parser = new IgtlParser();

  constructor(port: number) {
    this.socket = connect({ host: '127.0.0.1', port });
    this.socket.on('data', (chunk: Buffer) => {
      this.#parser.push(chunk);
      for (let event = this.#parser.next(); event !== undefined; event = this.#parser.next()) {
        if (event.kind === 'message') this.messages.push(event.message);
      }
    });
    this.socket.on('close', () => {
      this.closed = true;
    });
    this.socket.on('error', () => undefined);
  }

  async connected(): Promise<void> {
    if (!this.socket.connecting) return;
    await new Promise((resolve) => this.socket.once('connect', resolve));
  }

  ofType(type: string): IgtlMessage[] {
    return this.messages.filter((message) => message.header.type === type);
  }
}
