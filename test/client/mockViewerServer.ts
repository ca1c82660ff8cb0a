// A stand-in for the server's viewer side, for tests that need exact control over what the
// page receives. It serves a built viewer folder at `/`, lists its streams at GET
// /api/streams, and speaks protobuf ViewerMessage / ViewerRequest on WS /view, on 127.0.0.1
// only. Tests push updates with sendUpdate(), and the mock sends no update on its own.
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import { WebSocketServer, type WebSocket } from 'ws';
import type { AlarmThresholdsView, LetterboxView, StreamInfoView } from '../../client/src/wire.js';

const PROTO_PATH = fileURLToPath(new URL('../../proto/segwithu.proto', import.meta.url));
const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json',
};

export interface MockUpdate {
  streamId: string;
  sequence: number;
  frame: { width: number; height: number; gray8: Uint8Array };
  letterbox: LetterboxView;
  labelMask: Uint8Array;
  errorProbability: Uint8Array;
  frameRisk: number;
  alarm?: boolean;
  alarmReason?: string;
  /** Device capture time on the mock server's clock (see clockSkewMs), ms since the Unix epoch. Default: now. */
  captureWallMs?: number;
  skippedSinceLast?: number;
  /** update_id the page should acknowledge; 0 or absent sends none. */
  updateId?: number;
  dropped?: Record<string, number>;
  modelId?: string;
}

export interface MockViewerServerOptions {
  /** Built viewer folder served at `/`. */
  clientDir: string;
  streams: StreamInfoView[];
  alarm?: AlarmThresholdsView;
  /** 0 picks a free port. */
  port?: number;
  /** Added to the server's wall clock in Pong and capture stamps, to emulate a skewed server clock, ms. Default 0. */
  clockSkewMs?: number;
  /**
   * Bytes a viewer socket may have queued before updates for it are skipped (and reported in
   * the next update's skipped_since_last), as the real server does. Default: no limit, so
   * tests receive every update they send.
   */
  maxBufferedBytes?: number;
}

export interface MockViewerServer {
  url: string;
  port: number;
  /** Stream ids from Subscribe requests, in arrival order (empty string: first live stream). */
  subscriptions: string[];
  /** max_unacked_updates of each Subscribe request, in arrival order. */
  subscriptionWindows: number[];
  /** update_id of each Ack request, in arrival order. */
  acks: number[];
  /** Sends an update to every viewer subscribed to its stream; returns how many received it. */
  sendUpdate(update: MockUpdate): number;
  /** Number of viewers currently subscribed to `streamId`. */
  viewerCount(streamId: string): number;
  close(): Promise<void>;
}

const root = protobuf.loadSync(PROTO_PATH);
const ViewerMessage = root.lookupType('segwithu.v1.ViewerMessage');
const ViewerRequest = root.lookupType('segwithu.v1.ViewerRequest');

function encodeMessage(body: Record<string, unknown>): Uint8Array {
  return ViewerMessage.encode(ViewerMessage.fromObject({ protocolVersion: 1, ...body })).finish();
}

function msToNs(ms: number): number {
  return Math.round(ms * 1e6);
}

export async function startMockViewerServer(options: MockViewerServerOptions): Promise<MockViewerServer> {
  const {
    clientDir, streams, alarm = { enter: 0.7, exit: 0.5, enterFrames: 3, exitFrames: 5 }, port = 0, clockSkewMs = 0,
    maxBufferedBytes = Number.POSITIVE_INFINITY,
  } = options;
  const subscriptions: string[] = [];
  const subscriptionWindows: number[] = [];
  const acks: number[] = [];
  const subscribedTo = new Map<WebSocket, string>();
  const skippedFor = new Map<WebSocket, number>();
  const serverWallMs = () => Date.now() + clockSkewMs;

  const http: Server = createServer((request, response) => {
    void (async () => {
      const path = new URL(request.url ?? '/', 'http://127.0.0.1').pathname;
      if (path === '/api/streams') {
        response.writeHead(200, { 'content-type': 'application/json' });
        response.end(JSON.stringify(streams));
        return;
      }
      const file = normalize(join(clientDir, path === '/' ? 'index.html' : path));
      if (!file.startsWith(clientDir)) {
        response.writeHead(404).end();
        return;
      }
      try {
        const body = await readFile(file);
        response.writeHead(200, { 'content-type': CONTENT_TYPES[extname(file)] ?? 'application/octet-stream' });
        response.end(body);
      } catch {
        response.writeHead(404).end(`not found: ${path}`);
      }
    })();
  });
  const sockets = new WebSocketServer({ server: http, path: '/view' });

  sockets.on('connection', (socket) => {
    socket.send(encodeMessage({ streams: { streams } }));
    socket.on('message', (data: Buffer) => {
      const request = ViewerRequest.decode(data) as unknown as {
        body: string;
        subscribe?: { streamId: string; maxUnackedUpdates: number };
        ping?: { clientWallNs: protobuf.Long | number };
        ack?: { updateId: protobuf.Long | number };
      };
      if (request.body === 'ack') {
        acks.push(Number(request.ack!.updateId));
      } else if (request.body === 'subscribe') {
        const wanted = request.subscribe!.streamId;
        subscriptions.push(wanted);
        subscriptionWindows.push(request.subscribe!.maxUnackedUpdates);
        const stream = streams.find((candidate) => candidate.streamId === wanted) ?? streams[0];
        subscribedTo.set(socket, stream.streamId);
        socket.send(encodeMessage({ subscribed: { stream, alarm, modelId: 'mock' } }));
      } else if (request.body === 'ping') {
        socket.send(encodeMessage({ pong: { clientWallNs: request.ping!.clientWallNs, serverWallNs: msToNs(serverWallMs()) } }));
      }
    });
    socket.on('close', () => subscribedTo.delete(socket));
  });

  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(port, '127.0.0.1', () => resolve());
  });
  const address = http.address();
  if (typeof address !== 'object' || address === null) throw new Error('mock viewer server has no address after listen()');

  return {
    url: `http://127.0.0.1:${address.port}`,
    port: address.port,
    subscriptions,
    subscriptionWindows,
    acks,
    sendUpdate(update) {
      const encode = (skippedSinceLast: number) => encodeMessage({
        update: {
          frame: update.frame,
          skippedSinceLast,
          updateId: update.updateId ?? 0,
          result: {
            streamId: update.streamId,
            sequence: update.sequence,
            captureTimestampNs: msToNs(update.captureWallMs ?? serverWallMs()),
            timestamps: { sentWallNs: msToNs(serverWallMs()) },
            modelId: update.modelId ?? 'mock',
            letterbox: update.letterbox,
            labelMask: update.labelMask,
            errorProbability: update.errorProbability,
            frameRisk: update.frameRisk,
            alarm: update.alarm ? 2 : 1,
            alarmReason: update.alarmReason ?? '',
            counters: {
              received: update.sequence + 1,
              processed: update.sequence + 1,
              dropped: Object.entries(update.dropped ?? {}).map(([reason, count]) => ({ reason, count })),
            },
          },
        },
      });
      let sent = 0;
      for (const [socket, streamId] of subscribedTo) {
        if (streamId !== update.streamId || socket.readyState !== socket.OPEN) continue;
        const skipped = skippedFor.get(socket) ?? 0;
        if (socket.bufferedAmount > maxBufferedBytes) {
          skippedFor.set(socket, skipped + 1);
          continue;
        }
        socket.send(encode((update.skippedSinceLast ?? 0) + skipped));
        skippedFor.set(socket, 0);
        sent += 1;
      }
      return sent;
    },
    viewerCount(streamId) {
      return [...subscribedTo.values()].filter((id) => id === streamId).length;
    },
    async close() {
      for (const socket of sockets.clients) socket.terminate();
      await new Promise<void>((resolve) => sockets.close(() => resolve()));
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}
