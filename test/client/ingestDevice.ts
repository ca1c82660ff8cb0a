// A minimal device for end-to-end tests: connects to the server's WS /ingest, sends a
// DeviceHello, waits for the HelloAck, then sends GRAY8 frames (IngestMessage protobuf).
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import WebSocket from 'ws';
import type { GrayImage } from './dataset.js';

const root = protobuf.loadSync(fileURLToPath(new URL('../../proto/segwithu.proto', import.meta.url)));
const IngestMessage = root.lookupType('segwithu.v1.IngestMessage');
const IngestReply = root.lookupType('segwithu.v1.IngestReply');
/** PixelFormat GRAY8 in proto/segwithu.proto. */
const GRAY8 = 1;

export interface IngestDevice {
  streamId: string;
  /** Sends one frame with the next sequence number and the current wall clock as capture time; returns the sequence. */
  sendFrame(image: GrayImage, groundTruthMask?: Uint8Array): number;
  /** ErrorReports received so far, as "CODE: message". */
  errors: string[];
  close(): Promise<void>;
}

export async function connectIngestDevice(serverUrl: string, streamName: string, nominalRateHz: number, size: { width: number; height: number }): Promise<IngestDevice> {
  const socket = new WebSocket(`${serverUrl.replace(/^http/, 'ws')}/ingest`);
  const errors: string[] = [];
  let sequence = 0;

  const helloAck = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no HelloAck from ${serverUrl}/ingest within 10 s; is the server's ingest WebSocket up?`)), 10_000);
    socket.on('message', (data: Buffer) => {
      const reply = IngestReply.decode(data) as unknown as { body: string; helloAck?: { streamId: string }; error?: { code: string; message: string } };
      if (reply.body === 'helloAck') {
        clearTimeout(timer);
        resolve(reply.helloAck!.streamId);
      } else if (reply.body === 'error') {
        errors.push(`${reply.error!.code}: ${reply.error!.message}`);
      }
    });
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });

  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  socket.send(IngestMessage.encode(IngestMessage.fromObject({
    protocolVersion: 1,
    hello: { streamName, nominalRateHz, width: size.width, height: size.height, pixelFormat: GRAY8, deviceModel: 'viewer end-to-end test' },
  })).finish());
  const streamId = await helloAck;

  return {
    streamId,
    errors,
    sendFrame(image, groundTruthMask) {
      const frame = {
        sequence,
        captureTimestampNs: Math.round(Date.now() * 1e6),
        pixelFormat: GRAY8,
        width: image.width,
        height: image.height,
        pixels: image.pixels,
        ...(groundTruthMask ? { groundTruthMask } : {}),
      };
      socket.send(IngestMessage.encode(IngestMessage.fromObject({ protocolVersion: 1, frame })).finish());
      sequence += 1;
      return sequence - 1;
    },
    async close() {
      if (socket.readyState === WebSocket.CLOSED) return;
      const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
      socket.close(1000, 'test device done');
      await closed;
    },
  };
}
