import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { McapIndexedReader, type McapTypes } from '@mcap/core';
import protobuf from 'protobufjs';
import 'protobufjs/ext/descriptor.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { DECOMPRESS_HANDLERS, zstdReady } from '../../stream/mcap/compression.js';
import { openRecordingFile, type OpenRecordingFile } from '../../stream/mcap/file.js';
import { readRecordedFrames } from '../../stream/mcap/frames.js';
import { openRecording } from '../../stream/mcap/reader.js';
import { McapRecorder } from '../../stream/mcap/recorder.js';
import { TOPICS } from '../../stream/mcap/schemas.js';
import { FRAME_HEIGHT, FRAME_INTERVAL_NS, FRAME_WIDTH, MODEL_SIZE, START_NS, makeFrame, makeResult } from './fixtures.js';

let directory: string;

beforeEach(async () => {
  directory = await mkdtemp(path.join(os.tmpdir(), 'segwithu-mcap-'));
});

afterEach(async () => {
  await rm(directory, { recursive: true, force: true });
});

async function openIndexed(filePath: string): Promise<McapIndexedReader> {
  await zstdReady();
  const bytes = new Uint8Array(await readFile(filePath));
  return McapIndexedReader.Initialize({
    readable: {
      size: async () => BigInt(bytes.length),
      read: async (offset, size) => bytes.subarray(Number(offset), Number(offset + size)),
    },
    decompressHandlers: DECOMPRESS_HANDLERS,
  });
}

/** Decodes a message the way Foxglove does: a root built from the schema's FileDescriptorSet. */
function decodeWithSchema(schema: McapTypes.Schema, data: Uint8Array): Record<string, unknown> {
  const root = protobuf.Root.fromDescriptor(schema.data, { keepCase: true });
  const type = root.lookupType(schema.name);
  return type.toObject(type.decode(data), { longs: String, defaults: true }) as Record<string, unknown>;
}

async function recordFrames(recorder: McapRecorder, count: number, withResults = true): Promise<void> {
  for (let sequence = 0; sequence < count; sequence++) {
    const frame = makeFrame(sequence);
    await recorder.append(frame, withResults ? makeResult(frame) : undefined);
  }
}

describe('McapRecorder', () => {
  it('round trip through the indexed reader', async () => {
    const recorder = new McapRecorder({ directory, streamName: 'probe-a', chunkSizeBytes: 16 * 1024 });
    await recordFrames(recorder, 5);
    const status = await recorder.close();
    expect(status.state).toBe('closed');
    expect(status.framesWritten).toBe(5);
    expect(status.files).toHaveLength(1);

    const reader = await openIndexed(status.files[0]);
    expect(reader.chunkIndexes.length).toBeGreaterThan(1);
    for (const chunk of reader.chunkIndexes) expect(chunk.compression).toBe('zstd');
    expect(reader.statistics?.messageCount).toBe(5n * 6n);

    const topics = [...reader.channelsById.values()].map((channel) => channel.topic).sort();
    expect(topics).toEqual(Object.values(TOPICS).sort());
    for (const channel of reader.channelsById.values()) {
      expect(channel.messageEncoding).toBe('protobuf');
      expect(reader.schemasById.get(channel.schemaId)?.encoding).toBe('protobuf');
    }

    const decoded = new Map<string, Array<Record<string, unknown>>>();
    for await (const message of reader.readMessages()) {
      const channel = reader.channelsById.get(message.channelId)!;
      const schema = reader.schemasById.get(channel.schemaId)!;
      const list = decoded.get(channel.topic) ?? [];
      list.push(decodeWithSchema(schema, message.data));
      decoded.set(channel.topic, list);
      expect(message.logTime).toBe(START_NS + BigInt(message.sequence) * FRAME_INTERVAL_NS);
    }

    const image = decoded.get(TOPICS.frameImage)![3];
    expect(image.encoding).toBe('mono8');
    expect(image.width).toBe(FRAME_WIDTH);
    expect(image.height).toBe(FRAME_HEIGHT);
    expect(image.step).toBe(FRAME_WIDTH);
    expect(image.frame_id).toBe('frame');
    expect(new Uint8Array(image.data as Uint8Array)).toEqual(makeFrame(3).gray8);
    const stamp = image.timestamp as { seconds: string; nanos: number };
    expect(BigInt(stamp.seconds) * 1_000_000_000n + BigInt(stamp.nanos)).toBe(START_NS + 3n * FRAME_INTERVAL_NS);

    const frame = decoded.get(TOPICS.frame)![3];
    expect(frame.sequence).toBe('3');
    expect(frame.capture_timestamp_ns).toBe(String(START_NS + 3n * FRAME_INTERVAL_NS));
    expect(frame.width).toBe(FRAME_WIDTH);
    expect(frame.pixel_spacing_y_mm).toBeCloseTo(0.12, 12);

    const result = decoded.get(TOPICS.result)![3];
    expect(result.stream_id).toBe('probe-a');
    expect(result.frame_risk).toBeCloseTo(0.3, 12);
    expect(result.alarm).toBe(2);
    expect(result.model_id).toBe('test-model@1');
    expect((result.letterbox as Record<string, unknown>).model_width).toBe(MODEL_SIZE);
    const errorProbability = result.error_probability as Uint8Array;
    expect(errorProbability[0]).toBe(0);
    expect(errorProbability[MODEL_SIZE * MODEL_SIZE - 1]).toBe(255);

    const labelImage = decoded.get(TOPICS.labelMask)![3];
    expect(labelImage.width).toBe(MODEL_SIZE);
    expect(labelImage.frame_id).toBe('model_input');
    expect(new Set(labelImage.data as Uint8Array)).toEqual(new Set([0, 255]));

    const truth = decoded.get(TOPICS.groundTruth)![3];
    expect((truth.data as Uint8Array).filter((value) => value === 255).length).toBe(10 * 12);
  });

  it('frames read back unchanged', async () => {
    const recorder = new McapRecorder({ directory, streamName: 'probe-a' });
    await recordFrames(recorder, 4);
    const [filePath] = (await recorder.close()).files;

    const recording = await openRecording(filePath);
    expect(recording.complete).toBe(true);
    expect(recording.streamName).toBe('probe-a');
    const frames = [];
    for await (const frame of readRecordedFrames(recording)) frames.push(frame);
    await recording.close();

    expect(frames.map((frame) => frame.sequence)).toEqual([0, 1, 2, 3]);
    for (const frame of frames) {
      const original = makeFrame(frame.sequence);
      expect(frame.captureTimestampNs).toBe(original.captureTimestampNs);
      expect(frame.gray8).toEqual(original.gray8);
      expect(frame.groundTruthMask).toEqual(original.groundTruthMask!.map((value) => (value ? 255 : 0)));
      expect(frame.pixelSpacingMm![0]).toBeCloseTo(0.1, 12);
      expect(frame.pixelSpacingMm![1]).toBeCloseTo(0.12, 12);
    }
  });

  it('repeated sequences without capture time', async () => {
    // A device that sends sequences 0 to 4 twice, all with capture timestamp 0 (unknown). The
    // recorder clock returns one fixed time, so every frame gets the same log time unless the
    // recorder makes the log times unique.
    const recorder = new McapRecorder({ directory, streamName: 'probe-a', now: () => new Date('2026-01-01T00:00:00Z') });
    for (let index = 0; index < 10; index++) {
      const frame = { ...makeFrame(index), sequence: index % 5, captureTimestampNs: 0n };
      await recorder.append(frame, makeResult(frame));
    }
    const [filePath] = (await recorder.close()).files;

    const recording = await openRecording(filePath);
    const frames = [];
    for await (const frame of readRecordedFrames(recording)) frames.push(frame);

    expect(frames.map((frame) => frame.sequence)).toEqual([0, 1, 2, 3, 4, 0, 1, 2, 3, 4]);
    for (const [index, frame] of frames.entries()) {
      expect(frame.captureTimestampNs).toBe(0n);
      expect(frame.gray8).toEqual(makeFrame(index).gray8);
    }

    // Each /result has the log time of its own frame.
    const frameLogTimes: bigint[] = [];
    const resultLogTimes: bigint[] = [];
    for await (const message of recording.messages({ topics: [TOPICS.frame, TOPICS.result] })) {
      (message.topic === TOPICS.frame ? frameLogTimes : resultLogTimes).push(message.logTimeNs);
    }
    await recording.close();
    expect(new Set(frameLogTimes).size).toBe(10);
    expect(resultLogTimes).toEqual(frameLogTimes);
  });

  it('clock set back keeps recording order', async () => {
    const back = 10_000_000_000n;
    const recorder = new McapRecorder({ directory, streamName: 'probe-a' });
    const captureTimes: bigint[] = [];
    for (let sequence = 0; sequence < 6; sequence++) {
      const frame = makeFrame(sequence);
      if (sequence >= 3) frame.captureTimestampNs -= back;
      captureTimes.push(frame.captureTimestampNs);
      await recorder.append(frame, makeResult(frame));
    }
    const [filePath] = (await recorder.close()).files;

    const recording = await openRecording(filePath);
    const frames = [];
    for await (const frame of readRecordedFrames(recording)) frames.push(frame);
    await recording.close();

    expect(frames.map((frame) => frame.sequence)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(frames.map((frame) => frame.captureTimestampNs)).toEqual(captureTimes);
  });

  it('log time is the capture time', async () => {
    const recorder = new McapRecorder({ directory, streamName: 'probe-a' });
    await recordFrames(recorder, 4);
    const [filePath] = (await recorder.close()).files;

    const recording = await openRecording(filePath);
    const logTimes: bigint[] = [];
    for await (const message of recording.messages({ topics: [TOPICS.frame] })) logTimes.push(message.logTimeNs);
    await recording.close();
    expect(logTimes).toEqual([0n, 1n, 2n, 3n].map((i) => START_NS + i * FRAME_INTERVAL_NS));
  });

  it('rolls over at the size limit', async () => {
    const recorder = new McapRecorder({ directory, streamName: 'probe-a', chunkSizeBytes: 8 * 1024, maxFileBytes: 20 * 1024 });
    await recordFrames(recorder, 12);
    const status = await recorder.close();
    expect(status.files.length).toBeGreaterThan(1);

    const sequences: number[] = [];
    for (const filePath of status.files) {
      const recording = await openRecording(filePath);
      expect(recording.complete).toBe(true);
      for await (const frame of readRecordedFrames(recording)) sequences.push(frame.sequence);
      await recording.close();
    }
    expect(sequences).toEqual([...Array(12).keys()]);
  });

  it('rolls over at the duration limit', async () => {
    // 30 frames per second and 100 ms per file: four frames (0, 33, 67, 100 ms) per file.
    const recorder = new McapRecorder({ directory, streamName: 'probe-a', maxFileDurationMs: 100 });
    await recordFrames(recorder, 10, false);
    const status = await recorder.close();
    expect(status.files).toHaveLength(3);
    const counts = [];
    for (const filePath of status.files) {
      const reader = await openIndexed(filePath);
      counts.push(Number(reader.statistics!.channelMessageCounts.get([...reader.channelsById.values()].find((c) => c.topic === TOPICS.frame)!.id)));
    }
    expect(counts).toEqual([4, 4, 2]);
  });

  it('full disk stops the recording', async () => {
    // Fails like a disk with 40 KiB free.
    let written = 0;
    const fullDisk: OpenRecordingFile = async (filePath) => {
      const file = await openRecordingFile(filePath);
      return {
        write: async (data) => {
          if (written + data.length > 40 * 1024) {
            throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
          }
          written += data.length;
          await file.write(data);
        },
        close: () => file.close(),
      };
    };
    const recorder = new McapRecorder({ directory, streamName: 'probe-a', chunkSizeBytes: 8 * 1024, openFile: fullDisk });

    // A live producer: write() must neither throw nor wait, before or after the disk fills.
    const accepted: boolean[] = [];
    for (let sequence = 0; sequence < 40; sequence++) {
      const frame = makeFrame(sequence);
      expect(() => accepted.push(recorder.write(frame, makeResult(frame)))).not.toThrow();
      await new Promise((resolve) => setImmediate(resolve));
    }
    // The writer finds the full disk asynchronously; once it has, a live write is refused at once.
    for (let waited = 0; recorder.status.state !== 'stopped' && waited < 10_000; waited += 20) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const frameAfterStop = makeFrame(40);
    expect(() => accepted.push(recorder.write(frameAfterStop, makeResult(frameAfterStop)))).not.toThrow();
    const status = await recorder.close();
    expect(status.state).toBe('stopped');
    expect(status.stopReason).toBe('disk_full');
    expect(status.error).toMatch(/ENOSPC/);
    expect(accepted.at(-1)).toBe(false);
    expect(status.framesWritten + status.framesDropped).toBe(41);

    // The file ends at the last complete chunk and is read back up to there.
    const recording = await openRecording(status.files[0]);
    expect(recording.complete).toBe(false);
    const sequences = [];
    for await (const frame of readRecordedFrames(recording)) sequences.push(frame.sequence);
    expect(sequences.length).toBeGreaterThan(0);
    expect(sequences).toEqual([...Array(sequences.length).keys()]);
  });

  it('write drops when the queue is full', async () => {
    const recorder = new McapRecorder({ directory, streamName: 'probe-a', maxQueuedFrames: 2 });
    const accepted = Array.from({ length: 10 }, (_, sequence) => recorder.write(makeFrame(sequence)));
    expect(accepted.slice(0, 2)).toEqual([true, true]);
    expect(accepted.filter((value) => !value).length).toBeGreaterThan(0);
    const status = await recorder.close();
    expect(status.framesWritten + status.framesDropped).toBe(10);
    expect(status.framesDropped).toBe(accepted.filter((value) => !value).length);
  });

  it('invalid frame is dropped', async () => {
    const recorder = new McapRecorder({ directory, streamName: 'probe-a' });
    const frame = { ...makeFrame(0), gray8: new Uint8Array(10) };
    expect(recorder.write(frame)).toBe(false);
    expect(await recorder.append(frame)).toBe(false);
    const status = await recorder.close();
    expect(status.framesDropped).toBe(2);
    expect(status.files).toHaveLength(0);
  });

  it('unencodable result drops one frame', async () => {
    const recorder = new McapRecorder({ directory, streamName: 'probe-a' });
    const broken = { ...makeResult(makeFrame(0)), letterbox: undefined } as unknown as ReturnType<typeof makeResult>;
    expect(recorder.write(makeFrame(0), broken)).toBe(true);
    expect(recorder.write(makeFrame(1))).toBe(true);
    const status = await recorder.close();
    expect(status.state).toBe('closed');
    expect(status.framesDropped).toBe(1);
    expect(status.framesWritten).toBe(1);
  });

  it('malformed frame does not throw', async () => {
    const recorder = new McapRecorder({ directory, streamName: 'probe-a' });
    const malformed = { sequence: 0, captureTimestampNs: 0n, width: 4, height: 4 } as unknown as ReturnType<typeof makeFrame>;
    expect(recorder.write(malformed)).toBe(false);
    expect((await recorder.close()).framesDropped).toBe(1);
  });

  it('writes after close are dropped', async () => {
    const recorder = new McapRecorder({ directory, streamName: 'probe-a' });
    await recorder.close();
    expect(recorder.write(makeFrame(0))).toBe(false);
    expect(recorder.status.framesDropped).toBe(1);
    expect((await recorder.close()).state).toBe('closed');
  });

  it('records only the stream name', async () => {
    const recorder = new McapRecorder({ directory, streamName: 'probe a/1' });
    const frame = makeFrame(0);
    await recorder.append(frame, makeResult(frame, 'conn-203.0.113.9-54321'));
    const [filePath] = (await recorder.close()).files;
    expect(path.basename(filePath)).toMatch(/^probe_a_1_\d{8}T\d{6}Z_000\.mcap$/);

    const reader = await openIndexed(filePath);
    const texts: string[] = [reader.header.library, reader.header.profile];
    for (const channel of reader.channelsById.values()) texts.push(...channel.metadata.values());
    for await (const metadata of reader.readMetadata()) texts.push(...metadata.metadata.values());
    for await (const message of reader.readMessages()) {
      const channel = reader.channelsById.get(message.channelId)!;
      const decoded = decodeWithSchema(reader.schemasById.get(channel.schemaId)!, message.data);
      for (const value of Object.values(decoded)) if (typeof value === 'string') texts.push(value);
    }
    expect(texts).toContain('probe a/1');
    expect(texts.join('\n')).not.toContain('203.0.113.9');
  });
});
