// A headless viewer for end-to-end tests: subscribes on WS /view with the page's own codec
// and keeps the recent results by sequence, so a test can compare what the page shows with
// what the server sent for the same frame.
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import WebSocket from 'ws';
import { createViewerCodec, type AlarmThresholdsView, type ResultView } from '../../client/src/wire.js';

const codec = createViewerCodec(protobuf.loadSync(fileURLToPath(new URL('../../proto/segwithu.proto', import.meta.url))).toJSON());

/** Results kept; older ones are forgotten first. */
const KEPT_RESULTS = 600;

export interface ViewerClient {
  results: Map<number, ResultView>;
  alarm: AlarmThresholdsView | null;
  close(): Promise<void>;
}

export async function connectViewerClient(serverUrl: string, streamId: string): Promise<ViewerClient> {
  const socket = new WebSocket(`${serverUrl.replace(/^http/, 'ws')}/view`);
  const client: ViewerClient = {
    results: new Map(),
    alarm: null,
    async close() {
      if (socket.readyState === WebSocket.CLOSED) return;
      const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
      socket.close(1000, 'test viewer done');
      await closed;
    },
  };
  const subscribed = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no Subscribed for stream "${streamId}" from ${serverUrl}/view within 10 s`)), 10_000);
    socket.on('message', (data: Buffer) => {
      const event = codec.decode(new Uint8Array(data));
      if (event.kind === 'subscribed') {
        client.alarm = event.alarm;
        clearTimeout(timer);
        resolve();
      } else if (event.kind === 'update' && event.update.result) {
        client.results.set(event.update.result.sequence, event.update.result);
        if (client.results.size > KEPT_RESULTS) client.results.delete(client.results.keys().next().value!);
      } else if (event.kind === 'error') {
        reject(new Error(`server rejected the test viewer: ${event.code}: ${event.message}`));
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  socket.send(codec.encodeSubscribe(streamId));
  await subscribed;
  return client;
}
