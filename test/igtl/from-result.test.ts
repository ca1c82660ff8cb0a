import { describe, expect, it } from 'vitest';

import {
  HEADER_SIZE,
  IgtlParser,
  encodeResult,
  metadataText,
  modelMapToFrame,
  outputDeviceNames,
  riskText,
  IgtlStreams,
  ResultEncoder,
  type IgtlMessage,
} from '../../stream/igtl/index.js';
import { ROTATED_GEOMETRY, syntheticResult } from './helpers.js';

function parseAll(...messages: Uint8Array[]): IgtlMessage[] {
  const parser = new IgtlParser();
  const out: IgtlMessage[] = [];
  for (const message of messages) parser.push(message);
  for (let event = parser.next(); event !== undefined; event = parser.next()) {
    if (event.kind !== 'message') throw new Error(`unexpected ${event.kind} event`);
    out.push(event.message);
  }
  return out;
}

const FRAME = { streamId: 'igtl/127.0.0.1/Probe', sequence: 42, captureTimestampNs: 1_700_000_000_250_000_000n, receivedNs: 5n, width: 16, height: 12 };

describe('modelMapToFrame', () => {
  it('letterbox maps pixel centres', () => {
    // 4 × 2 frame in an 8 × 8 model: scale 2, content 8 × 4 starting at row 2.
    const map = Uint8Array.from({ length: 64 }, (_, i) => i);
    const letterbox = { modelWidth: 8, modelHeight: 8, scale: 2, offsetX: 0, offsetY: 2, contentWidth: 8, contentHeight: 4 };
    const out = modelMapToFrame(map, letterbox, 4, 2);
    // Frame (x, y) samples model (2x + 1, 2y + 1 + 2).
    expect([...out]).toEqual([25, 27, 29, 31, 41, 43, 45, 47]);
  });

  it('never samples the padding', () => {
    const map = new Uint8Array(16).fill(9);
    for (let y = 1; y < 3; y++) for (let x = 0; x < 4; x++) map[y * 4 + x] = 1;
    const letterbox = { modelWidth: 4, modelHeight: 4, scale: 0.5, offsetX: 0, offsetY: 1, contentWidth: 4, contentHeight: 2 };
    expect([...modelMapToFrame(map, letterbox, 8, 4)].every((v) => v === 1)).toBe(true);
  });
});

describe('encodeResult', () => {
  it('outputs keep frame geometry', () => {
    const result = syntheticResult({ ...FRAME, geometry: ROTATED_GEOMETRY });
    const encoded = encodeResult(result, 'Probe');
    const [label, errorProbability, risk] = parseAll(encoded.label, encoded.errorProbability, encoded.risk);

    for (const message of [label, errorProbability]) {
      if (message.kind !== 'image') throw new Error(`expected IMAGE, got ${message.kind}`);
      expect(message.image.size).toEqual([16, 12, 1]);
      expect(message.image.scalarType).toBe('uint8');
      expect(message.image.coordinateSystem).toBe('LPS');
      expect(message.image.axesMm).toEqual(ROTATED_GEOMETRY.axesMm);
      expect(message.image.centerMm).toEqual(ROTATED_GEOMETRY.centerMm);
      expect(message.header.timestamp).toBe(0x6553f10040000000n);
    }
    expect(label.header.deviceName).toBe('Probe_label');
    expect(errorProbability.header.deviceName).toBe('Probe_errprob');
    expect(risk.header.deviceName).toBe('Probe_risk');
    if (risk.kind !== 'string') throw new Error('expected a STRING risk message');
    expect(risk.string.text).toBe('frame_risk=0.250 alarm=ok sequence=42 model=synthetic');
    expect(encoded.totalBytes).toBe(encoded.label.length + encoded.errorProbability.length + encoded.risk.length);
  });

  it('pixels resampled to frame', () => {
    const result = syntheticResult(FRAME);
    const [label, errorProbability] = parseAll(encodeResult(result, 'Probe').label, encodeResult(result, 'Probe').errorProbability);
    if (label.kind !== 'image' || errorProbability.kind !== 'image') throw new Error('expected two IMAGE messages');

    const { scale, offsetX, offsetY } = result.letterbox;
    for (const [x, y] of [[0, 0], [15, 0], [7, 5], [15, 11]]) {
      const modelX = Math.floor((x + 0.5) * scale + offsetX);
      const modelY = Math.floor((y + 0.5) * scale + offsetY);
      expect(label.image.data[y * 16 + x], `label at ${x},${y}`).toBe((modelX + modelY) % 2 === 0 ? 1 : 0);
      expect(errorProbability.image.data[y * 16 + x], `error probability at ${x},${y}`).toBe(Math.round((modelX / 31) * 255));
    }
  });

  it('missing geometry uses pixel grid', () => {
    const [label] = parseAll(encodeResult(syntheticResult(FRAME), 'Probe').label);
    if (label.kind !== 'image') throw new Error('expected IMAGE');
    expect(label.image.axesMm).toEqual([
      [1, 0, 0],
      [0, 1, 0],
      [0, 0, 1],
    ]);
    expect(label.image.centerMm).toEqual([7.5, 5.5, 0]);
    expect(label.image.coordinateSystem).toBe('RAS');
  });

  it('version 2 carries metadata', () => {
    const encoded = encodeResult(syntheticResult(FRAME), 'Probe', { version: 2 });
    const [label] = parseAll(encoded.label);
    expect(label.header.version).toBe(2);
    expect(Object.fromEntries(label.metadata.map((entry) => [entry.key, metadataText(entry)]))).toEqual({
      frame_risk: '0.250000',
      alarm: 'ok',
      sequence: '42',
      model: 'synthetic',
    });
    expect(encoded.label.length).toBeGreaterThan(HEADER_SIZE + 72 + 16 * 12);
  });

  it('risk text names the alarm', () => {
    const result = { ...syntheticResult(FRAME), frameRisk: 0.91234, alarm: 'alarm' as const, alarmReason: 'vessel not found' };
    expect(riskText(result)).toBe('frame_risk=0.912 alarm=alarm sequence=42 model=synthetic reason=vessel not found');
  });

  it('device names fit twenty bytes', () => {
    expect(outputDeviceNames('Probe')).toEqual({ label: 'Probe_label', errorProbability: 'Probe_errprob', risk: 'Probe_risk' });
    const long = outputDeviceNames('VeryLongUltrasoundDeviceName');
    expect(long.errorProbability).toBe('VeryLongUltr_errprob');
    expect(Buffer.byteLength(long.errorProbability)).toBe(20);
    expect(outputDeviceNames('Sondé').label).toBe('Sond__label');
    expect(outputDeviceNames('').risk).toBe('segwithu_risk');
  });
});

describe('ResultEncoder', () => {
  it('geometry from remembered frame', () => {
    const streams = new IgtlStreams();
    const streamId = streams.open('igtl/127.0.0.1', 'Probe');
    const encoder = new ResultEncoder({}, streams);
    const other = { ...ROTATED_GEOMETRY, centerMm: [0, 0, 0] as [number, number, number] };
    encoder.rememberFrame({ streamId, sequence: 1, geometry: other });
    encoder.rememberFrame({ streamId, sequence: 2, geometry: ROTATED_GEOMETRY });

    // The pipeline did not copy the geometry onto the result: the frame's is used.
    const result = syntheticResult({ ...FRAME, streamId, sequence: 1 });
    const [label] = parseAll(encoder.encode(result).label);
    if (label.kind !== 'image') throw new Error('expected IMAGE');
    expect(label.header.deviceName).toBe('Probe_label');
    expect(label.image.centerMm).toEqual([0, 0, 0]);

    // An unknown sequence falls back to the stream's latest frame.
    const [later] = parseAll(encoder.encode(syntheticResult({ ...FRAME, streamId, sequence: 9 })).label);
    if (later.kind !== 'image') throw new Error('expected IMAGE');
    expect(later.image.centerMm).toEqual(ROTATED_GEOMETRY.centerMm);

    // Each result is encoded once, however many connections send it.
    expect(encoder.encode(result)).toBe(encoder.encode(result));
  });

  it('result geometry takes precedence', () => {
    const encoder = new ResultEncoder();
    encoder.rememberFrame({ streamId: FRAME.streamId, sequence: FRAME.sequence, geometry: { ...ROTATED_GEOMETRY, coordinateSystem: 'RAS' } });
    const [label] = parseAll(encoder.encode(syntheticResult({ ...FRAME, geometry: ROTATED_GEOMETRY })).label);
    if (label.kind !== 'image') throw new Error('expected IMAGE');
    expect(label.image.coordinateSystem).toBe('LPS');
    expect(label.header.deviceName).toBe('Probe_label');
  });
});
