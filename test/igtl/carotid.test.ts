// Real carotid frames through the real pipeline: the same frames sent as OpenIGTLink IMAGE
// messages and as WebSocket frames must give the same results, and the OpenIGTLink outputs
// must match those results pixel for pixel at frame resolution.
//
// Each frame waits for its result before the next is sent, so that latest-wins never drops one
// and every inference runs at batch size 1 on both paths.

import { readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';

import type { Result } from '../../pipeline/types.js';
import { DeviceConnection } from '../../stream/device-client.js';
import { encodeImageMessage, encodeResult, HEADER_SIZE, IMAGE_HEADER_SIZE, nsToTimestamp } from '../../stream/igtl/index.js';
import { startServer, type RunningServer } from '../../stream/server.js';
import { listFolderFrames, readPngGray8, type Gray8Image } from '../../stream/sources/folder.js';
import { proto } from '../../stream/wire.js';
import { CAROTID_DIR, describeWithModelAndData, MODEL_DIR, silentLogger } from '../stream/helpers.js';
import { Peer, ROTATED_GEOMETRY, waitFor } from './helpers.js';

/** Frames compared, spread evenly over the test clips. */
const FRAME_COUNT = 8;

function testClips(): string[] | undefined {
  const splitPath = path.join(MODEL_DIR, 'split.json');
  return existsSync(splitPath) ? (JSON.parse(readFileSync(splitPath, 'utf8')) as { test: string[] }).test : undefined;
}

describeWithModelAndData('carotid frames over OpenIGTLink', () => {
  let server: RunningServer;
  const results = new Map<string, Result>();

  beforeAll(async () => {
    server = await startServer({ host: '127.0.0.1', port: 0, igtlPort: 0, modelDir: MODEL_DIR, logger: silentLogger, clientDir: '/nonexistent' });
    server.pipeline.results$.subscribe((result) => results.set(`${result.streamId}#${result.sequence}`, result));
  }, 120_000);

  afterAll(async () => {
    await server?.close();
  });

  it('same results as WebSocket', async () => {
    const all = await listFolderFrames(CAROTID_DIR, { clips: testClips() });
    const step = Math.max(1, Math.floor(all.length / FRAME_COUNT));
    const images: Gray8Image[] = [];
    for (let i = 0; i < FRAME_COUNT && i * step < all.length; i++) images.push(await readPngGray8(all[i * step].imagePath));
    const { width, height } = images[0];

    // WebSocket: one lossless stream, each frame awaited.
    const device = await DeviceConnection.connect(`${server.url.replace(/^http/, 'ws')}/ingest`);
    device.send({ hello: { streamName: 'carotid-ws', nominalRateHz: 30, width, height, pixelFormat: proto.PixelFormat.GRAY8, lossless: true } });
    const hello = await device.waitForReply((reply) => reply.body === 'helloAck');
    const wsStream = hello.helloAck!.streamId!;
    for (const [sequence, image] of images.entries()) {
      device.send({ frame: { sequence, captureTimestampNs: sequence * 33_000_000, pixelFormat: proto.PixelFormat.GRAY8, width, height, pixels: image.pixels } });
      await waitFor(() => results.has(`${wsStream}#${sequence}`), `WebSocket result ${sequence}`, 60_000);
    }
    await device.close();

    // OpenIGTLink: a Slicer-like peer receives the outputs, a device sends uint8 IMAGEs.
    const slicer = new Peer(server.igtlPort!);
    await slicer.connected();
    const igtl = new Peer(server.igtlPort!);
    for (const [sequence, image] of images.entries()) {
      igtl.socket.write(
        encodeImageMessage(
          { scalarType: 'uint8', size: [width, height, 1], coordinateSystem: 'LPS', axesMm: ROTATED_GEOMETRY.axesMm, centerMm: ROTATED_GEOMETRY.centerMm, data: image.pixels },
          { deviceName: 'CarotidProbe', timestamp: nsToTimestamp(BigInt(sequence * 33_000_000)) },
        ),
      );
      await waitFor(() => results.has(`carotidprobe#${sequence}`), `OpenIGTLink result ${sequence}`, 60_000);
    }
    await waitFor(() => slicer.messages.length >= 3 * images.length, 'every output at the Slicer peer', 30_000);
    igtl.socket.destroy();
    slicer.socket.destroy();

    for (let sequence = 0; sequence < images.length; sequence++) {
      const overWebSocket = results.get(`${wsStream}#${sequence}`)!;
      const overIgtl = results.get(`carotidprobe#${sequence}`)!;
      expect(Buffer.compare(Buffer.from(overIgtl.labelMask), Buffer.from(overWebSocket.labelMask)), `label mask ${sequence}`).toBe(0);
      expect(maxAbsDifference(overIgtl.errorProbability, overWebSocket.errorProbability), `error probability ${sequence}`).toBeLessThanOrEqual(1e-6);
      expect(overIgtl.frameRisk, `frame risk ${sequence}`).toBeCloseTo(overWebSocket.frameRisk, 6);
      expect(overIgtl.alarm, `alarm ${sequence}`).toBe(overWebSocket.alarm);
      expect(overIgtl.letterbox).toEqual(overWebSocket.letterbox);

      // The outputs Slicer received are this result at frame resolution, with the input geometry.
      const expected = encodeResult({ ...overIgtl, geometry: ROTATED_GEOMETRY }, 'CarotidProbe');
      const [label, errorProbability, risk] = slicer.messages.slice(3 * sequence, 3 * sequence + 3);
      if (label.kind !== 'image' || errorProbability.kind !== 'image' || risk.kind !== 'string') throw new Error(`outputs of frame ${sequence} out of order`);
      expect(Buffer.compare(Buffer.from(label.image.data), Buffer.from(expected.label.subarray(HEADER_SIZE + IMAGE_HEADER_SIZE))), `label IMAGE ${sequence}`).toBe(0);
      expect(Buffer.compare(Buffer.from(errorProbability.image.data), Buffer.from(expected.errorProbability.subarray(HEADER_SIZE + IMAGE_HEADER_SIZE))), `error IMAGE ${sequence}`).toBe(0);
      expect(label.image.axesMm).toEqual(ROTATED_GEOMETRY.axesMm);
      expect(label.image.centerMm).toEqual(ROTATED_GEOMETRY.centerMm);
      expect(risk.string.text).toContain(`sequence=${sequence}`);
    }
  }, 300_000);
});

function maxAbsDifference(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}
