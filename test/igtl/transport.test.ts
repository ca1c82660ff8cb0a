// The listener and the client over real TCP sockets on 127.0.0.1, with a recording sink in
// place of the pipeline.

import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';

import {
  HEADER_SIZE,
  IgtlClient,
  IgtlError,
  IgtlListener,
  IgtlParser,
  backoffDelayMs,
  encodeImageMessage,
  encodeQueryMessage,
  nsToTimestamp,
  startIgtlListener,
  type IgtlListenerOptions,
  type IgtlMessage,
} from '../../stream/igtl/index.js';
import { Peer as BasePeer, ROTATED_GEOMETRY, RecordingSink, syntheticResult, waitFor } from './helpers.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function probeImage(deviceName = 'Probe', seed = 0, width = 16, height = 12): Uint8Array {
  const data = Uint8Array.from({ length: width * height }, (_, i) => (i + seed) & 0xff);
  return encodeImageMessage(
    {
      scalarType: 'uint8',
      size: [width, height, 1],
      coordinateSystem: ROTATED_GEOMETRY.coordinateSystem,
      axesMm: ROTATED_GEOMETRY.axesMm,
      centerMm: ROTATED_GEOMETRY.centerMm,
      data,
    },
    { deviceName, timestamp: nsToTimestamp(1_700_000_000_000_000_000n + BigInt(seed)) },
  );
}

/** A raw TCP peer, destroyed after each test. */
class Peer extends BasePeer {
  constructor(port: number) {
    super(port);
    cleanups.push(() => this.socket.destroy());
  }
}

async function listen(sink: RecordingSink, options: Partial<IgtlListenerOptions> = {}): Promise<IgtlListener> {
  const listener = await startIgtlListener({ sink, results$: sink.results$, port: 0, ...options });
  cleanups.push(() => listener.close());
  return listener;
}

describe('IgtlListener', () => {
  it('submits images as live frames', async () => {
    const sink = new RecordingSink();
    const listener = await listen(sink);
    const device = new Peer(listener.port);
    device.socket.write(Buffer.concat([probeImage('Probe', 0), probeImage('Probe', 1), probeImage('Other', 2)]));
    await waitFor(() => sink.frames.length === 3, 'three frames');

    expect(sink.frames.map((frame) => [frame.streamId, frame.sequence])).toEqual([
      ['igtl/127.0.0.1/Probe', 0],
      ['igtl/127.0.0.1/Probe', 1],
      ['igtl/127.0.0.1/Other', 0],
    ]);
    expect(sink.modes).toEqual(['live', 'live', 'live']);
    const frame = sink.frames[1];
    expect(frame.pixelFormat).toBe('GRAY8');
    expect([frame.width, frame.height]).toEqual([16, 12]);
    expect(frame.pixels[0]).toBe(1);
    expect(frame.geometry).toEqual(ROTATED_GEOMETRY);
    expect(frame.captureTimestampNs).toBe(1_700_000_000_000_000_001n);
    expect(listener.metrics.framesSubmitted).toBe(3);
  });

  it('invalid body counted, connection survives', async () => {
    const sink = new RecordingSink();
    const listener = await listen(sink);
    const device = new Peer(listener.port);
    const broken = probeImage('Probe', 0);
    broken[HEADER_SIZE + 90] ^= 0xff;
    const volume = encodeImageMessage({ scalarType: 'uint8', size: [2, 2, 2], data: new Uint8Array(8) }, { deviceName: 'Probe' });
    device.socket.write(Buffer.concat([broken, volume, probeImage('Probe', 1)]));
    await waitFor(() => sink.frames.length === 1, 'the valid frame');

    expect(sink.invalid.get('igtl/127.0.0.1/Probe')).toBe(2);
    expect(sink.frames[0].sequence).toBe(0);
    expect(listener.metrics.rejected('ERR_IGTL_CRC_MISMATCH')).toBe(1);
    expect(listener.metrics.rejected('ERR_IGTL_IMAGE_UNSUPPORTED')).toBe(1);
    expect(device.closed).toBe(false);
    expect(listener.metrics.toPrometheus()).toContain('segwithu_igtl_rejected_total{code="ERR_IGTL_CRC_MISMATCH"} 1');
  });

  it('broken framing ends one connection', async () => {
    const sink = new RecordingSink();
    const listener = await listen(sink);
    const bad = new Peer(listener.port);
    const good = new Peer(listener.port);
    await Promise.all([bad.connected(), good.connected()]);

    const garbage = probeImage();
    garbage[1] = 9; // header version 9
    bad.socket.write(garbage);
    await waitFor(() => bad.closed, 'the bad connection to close');

    const [status] = bad.ofType('STATUS');
    if (status?.kind !== 'status') throw new Error('expected a STATUS message before the close');
    expect(status.status.code).toBe(17);
    expect(status.status.message).toMatch(/^ERR_IGTL_HEADER_VERSION: /);
    expect(listener.metrics.connectionsFailed).toBe(1);

    good.socket.write(probeImage('Good'));
    await waitFor(() => sink.frames.length === 1, 'a frame on the good connection');
    expect(good.closed).toBe(false);
    expect(sink.frames[0].streamId).toBe('igtl/127.0.0.1/Good');
  });

  it('device names per connection bounded', async () => {
    const sink = new RecordingSink();
    const listener = await listen(sink);
    const device = new Peer(listener.port);
    const names = Array.from({ length: 18 }, (_, i) => `Device${i}`);
    device.socket.write(Buffer.concat(names.map((name, i) => probeImage(name, i))));
    await waitFor(() => listener.metrics.messagesReceived === 18, 'eighteen messages');

    expect(sink.frames).toHaveLength(16);
    expect(listener.metrics.rejected('ERR_IGTL_STREAM_REFUSED')).toBe(2);
    expect(sink.invalidTotal(), 'a refused stream has no id to count under').toBe(0);
    expect(device.closed).toBe(false);
  });

  it('answers GET_STATUS with OK', async () => {
    const listener = await listen(new RecordingSink());
    const peer = new Peer(listener.port);
    peer.socket.write(encodeQueryMessage('GET', 'STATUS', { deviceName: 'Keepalive' }));
    await waitFor(() => peer.ofType('STATUS').length === 1, 'a STATUS reply');
    const [reply] = peer.ofType('STATUS');
    expect(reply.header.deviceName).toBe('Keepalive');
    if (reply.kind !== 'status') throw new Error('expected a STATUS reply');
    expect(reply.status.code).toBe(1);
  });

  it('routes results to viewer and device', async () => {
    const sink = new RecordingSink();
    sink.respond = true;
    const listener = await listen(sink);
    const viewer = new Peer(listener.port);
    await viewer.connected();
    await waitFor(() => listener.connections.size === 1, 'the viewer connection');
    const device = new Peer(listener.port);
    device.socket.write(probeImage('Probe', 0));

    await waitFor(() => viewer.messages.length === 3 && device.messages.length === 3, 'three outputs on each connection');
    expect(viewer.messages.map((message) => message.header.deviceName)).toEqual(['Probe_label', 'Probe_errprob', 'Probe_risk']);
    const label = viewer.messages[0];
    if (label.kind !== 'image') throw new Error('expected IMAGE');
    expect(label.image.size).toEqual([16, 12, 1]);
    expect(label.image.axesMm).toEqual(ROTATED_GEOMETRY.axesMm);
    expect(label.image.centerMm).toEqual(ROTATED_GEOMETRY.centerMm);
    expect(label.image.coordinateSystem).toBe('LPS');
    expect(listener.metrics.resultsSent).toBe(2);
  });

  it('STP_IMAGE and STT_IMAGE gate results', async () => {
    const sink = new RecordingSink();
    const listener = await listen(sink);
    const viewer = new Peer(listener.port);
    viewer.socket.write(encodeQueryMessage('STP', 'IMAGE', { deviceName: 'Viewer' }));
    await waitFor(() => [...listener.connections].some((connection) => connection.paused), 'the viewer to pause');

    const frame = { streamId: 'ws/probe', sequence: 0, captureTimestampNs: 0n, receivedNs: 0n, width: 8, height: 8 };
    sink.results$.next(syntheticResult(frame));
    viewer.socket.write(encodeQueryMessage('STT', 'IMAGE', { deviceName: 'Viewer' }));
    await waitFor(() => [...listener.connections].every((connection) => !connection.paused), 'the viewer to resume');
    sink.results$.next(syntheticResult({ ...frame, sequence: 1 }));

    await waitFor(() => viewer.messages.length === 3, 'one result');
    const risk = viewer.ofType('STRING')[0];
    if (risk.kind !== 'string') throw new Error('expected a STRING risk message');
    expect(risk.string.text).toContain('sequence=1');
    expect(risk.header.deviceName).toBe('probe_risk');
  });

  it('slow viewer gets latest result', async () => {
    const sink = new RecordingSink();
    const listener = await listen(sink, { maxSendBufferBytes: 64 * 1024 });
    const viewer = new Peer(listener.port);
    await viewer.connected();
    await waitFor(() => listener.connections.size === 1, 'the viewer connection');
    viewer.socket.pause();

    const frame = { streamId: 'ws/probe', sequence: 0, captureTimestampNs: 0n, receivedNs: 0n, width: 256, height: 256 };
    for (let sequence = 0; sequence < 200; sequence++) sink.results$.next(syntheticResult({ ...frame, sequence }));
    const { resultsSent, resultsSuperseded } = listener.metrics;
    expect(resultsSent + resultsSuperseded, 'every result sent, superseded or waiting').toBeGreaterThanOrEqual(199);
    expect(resultsSuperseded, 'most results superseded while the viewer did not read').toBeGreaterThan(100);

    viewer.socket.resume();
    await waitFor(() => viewer.ofType('STRING').some((m) => m.kind === 'string' && m.string.text.includes('sequence=199')), 'the newest result');
    expect(listener.metrics.resultsSent + listener.metrics.resultsSuperseded).toBe(200);
  });

  it('allow-list refuses other peers', async () => {
    const sink = new RecordingSink();
    const listener = await listen(sink, { allow: ['10.0.0.0/8', '192.168.1.20'] });
    const peer = new Peer(listener.port);
    await waitFor(() => peer.closed, 'the refused connection to close');
    expect(listener.metrics.connectionsRefused).toBe(1);
    expect(listener.metrics.rejected('ERR_IGTL_PEER_NOT_ALLOWED')).toBe(1);
    expect(listener.connections.size).toBe(0);

    expect(() => new IgtlListener({ sink, allow: ['localhost'] })).toThrowError(IgtlError);
    expect(() => new IgtlListener({ sink, allow: ['10.0.0.0/33'] })).toThrowError(IgtlError);
  });

  it('maxConnections refuses extra peers', async () => {
    const listener = await listen(new RecordingSink(), { maxConnections: 1 });
    const first = new Peer(listener.port);
    await first.connected();
    await waitFor(() => listener.connections.size === 1, 'the first connection');
    const second = new Peer(listener.port);
    await waitFor(() => second.closed, 'the second connection to close');
    expect(first.closed).toBe(false);
    expect(listener.metrics.connectionsRefused).toBe(1);
  });
});

/** Starts a device-side OpenIGTLink server that records what the client sends and runs `onConnection` per connection. */
async function deviceServer(onConnection: (socket: Socket, index: number) => void, port = 0): Promise<{ server: Server; port: number; received: IgtlMessage[] }> {
  const received: IgtlMessage[] = [];
  const open = new Set<Socket>();
  let index = 0;
  const server = createServer((socket) => {
    open.add(socket);
    socket.on('close', () => open.delete(socket));
    const parser = new IgtlParser();
    socket.on('data', (chunk: Buffer) => {
      parser.push(chunk);
      for (let event = parser.next(); event !== undefined; event = parser.next()) {
        if (event.kind === 'message') received.push(event.message);
      }
    });
    socket.on('error', () => undefined);
    onConnection(socket, index++);
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  cleanups.push(() => {
    for (const socket of open) socket.destroy();
    return new Promise((resolve) => server.close(resolve));
  });
  const address = server.address();
  return { server, port: typeof address === 'object' && address !== null ? address.port : 0, received };
}

describe('IgtlClient', () => {
  it('backoff grows to the maximum', () => {
    const middle = () => 0.5;
    expect([0, 1, 2, 3, 4, 5, 6, 7].map((attempt) => backoffDelayMs(attempt, {}, middle))).toEqual([250, 500, 1000, 2000, 4000, 8000, 10000, 10000]);
    expect(backoffDelayMs(2, {}, () => 0)).toBe(800);
    expect(backoffDelayMs(2, {}, () => 0.999999)).toBe(1200);
    expect(backoffDelayMs(3, { initialBackoffMs: 10, backoffFactor: 3, maxBackoffMs: 100, backoffJitter: 0 })).toBe(100);
  });

  it('reconnects after dropped connections', async () => {
    const sockets: Socket[] = [];
    const device = await deviceServer((socket, index) => {
      sockets.push(socket);
      if (index < 2) socket.destroy();
      else socket.write(Buffer.concat([probeImage('Probe', 0), probeImage('Probe', 1)]));
    });
    const sink = new RecordingSink();
    const client = new IgtlClient({ host: '127.0.0.1', port: device.port, sink, initialBackoffMs: 5, keepAliveMs: 0 });
    cleanups.push(() => client.close());
    client.start();

    await waitFor(() => sink.frames.length === 2, 'two frames after reconnecting');
    expect(client.attempts).toBe(3);
    expect(sink.frames.map((frame) => [frame.streamId, frame.sequence])).toEqual([
      [`igtl/127.0.0.1:${device.port}/Probe`, 0],
      [`igtl/127.0.0.1:${device.port}/Probe`, 1],
    ]);
    await waitFor(() => device.received.some((message) => message.header.type === 'STT_IMAGE'), 'STT_IMAGE');

    await client.close();
    await waitFor(() => device.received.some((message) => message.header.type === 'STP_IMAGE'), 'STP_IMAGE on close');
    expect(client.connected).toBe(false);
  });

  it('connects once the server appears', async () => {
    const probe = await deviceServer(() => undefined);
    const port = probe.port;
    await new Promise((resolve) => probe.server.close(resolve));

    const sink = new RecordingSink();
    const client = new IgtlClient({ host: '127.0.0.1', port, sink, initialBackoffMs: 5, maxBackoffMs: 20, keepAliveMs: 0 });
    cleanups.push(() => client.close());
    client.start();
    await waitFor(() => client.attempts >= 3, 'three refused attempts');

    await deviceServer((socket) => socket.write(probeImage('Late')), port);
    await waitFor(() => sink.frames.length === 1, 'a frame from the late server');
    expect(sink.frames[0].streamId).toBe(`igtl/127.0.0.1:${port}/Late`);
  });

  it('sends GET_STATUS keep-alives', async () => {
    const device = await deviceServer(() => undefined);
    const client = new IgtlClient({ host: '127.0.0.1', port: device.port, sink: new RecordingSink(), keepAliveMs: 10, requestStart: false });
    cleanups.push(() => client.close());
    client.start();
    await waitFor(() => device.received.filter((message) => message.header.type === 'GET_STATUS').length >= 2, 'two keep-alives');
    expect(device.received.some((message) => message.header.type === 'STT_IMAGE')).toBe(false);
  });

  it('rejects an invalid port', () => {
    expect(() => new IgtlClient({ host: '127.0.0.1', port: 70000, sink: new RecordingSink() })).toThrowError(IgtlError);
  });
});
