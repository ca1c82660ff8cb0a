// OpenIGTLink wired into the server (igtlPort, igtlConnect), with the server tests' fake
// pipeline: streams in the registry, results to a Slicer-like peer, counters in /metrics.

import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';

import { OptionError } from '../../stream/errors.js';
import { encodeImageMessage, HEADER_SIZE, nsToTimestamp } from '../../stream/igtl/index.js';
import { parseHostPort } from '../../stream/igtl/server-plugin.js';
import { startServer, type RunningServer } from '../../stream/server.js';
import type { ServerOptions } from '../../stream/options.js';
import { FakePipeline } from '../stream/fake-pipeline.js';
import { fetchMetrics, metricValue, silentLogger } from '../stream/helpers.js';
import { Peer, ROTATED_GEOMETRY, waitFor } from './helpers.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function start(options: ServerOptions, pipeline = new FakePipeline()): Promise<RunningServer> {
  const server = await startServer({ host: '127.0.0.1', port: 0, logger: silentLogger, pipeline, clientDir: '/nonexistent', ...options });
  cleanups.push(() => server.close());
  return server;
}

function peer(port: number): Peer {
  const created = new Peer(port);
  cleanups.push(() => created.socket.destroy());
  return created;
}

function probeImage(deviceName: string, seed: number): Uint8Array {
  const data = Uint8Array.from({ length: 40 * 30 }, (_, i) => (i * 3 + seed) & 0xff);
  return encodeImageMessage(
    { scalarType: 'uint8', size: [40, 30, 1], coordinateSystem: 'LPS', axesMm: ROTATED_GEOMETRY.axesMm, centerMm: ROTATED_GEOMETRY.centerMm, data },
    { deviceName, timestamp: nsToTimestamp(1_700_000_000_000_000_000n + BigInt(seed)) },
  );
}

interface StreamsReply {
  streams: { streamId: string; source: string; state: string; lastSequence: number }[];
}

async function listStreams(server: RunningServer): Promise<StreamsReply['streams']> {
  const response = await fetch(`${server.url}/api/streams`);
  return ((await response.json()) as StreamsReply).streams;
}

describe('server with OpenIGTLink', () => {
  it('listener stream reaches Slicer peer', async () => {
    const server = await start({ igtlPort: 0 });
    expect(server.igtlPort).toBeGreaterThan(0);
    const slicer = peer(server.igtlPort!);
    await slicer.connected();
    const device = peer(server.igtlPort!);
    await device.connected();

    device.socket.write(probeImage('Probe', 0));
    await waitFor(() => slicer.messages.length >= 3, 'the first result at the Slicer peer');

    const [label, errorProbability, risk] = slicer.messages;
    expect([label.header.deviceName, errorProbability.header.deviceName, risk.header.deviceName]).toEqual(['Probe_label', 'Probe_errprob', 'Probe_risk']);
    if (label.kind !== 'image') throw new Error('expected IMAGE');
    // The fake pipeline, like the real one today, does not copy Frame.geometry onto the Result:
    // the outputs take it from the submitted frame.
    expect(label.image.size).toEqual([40, 30, 1]);
    expect(label.image.axesMm).toEqual(ROTATED_GEOMETRY.axesMm);
    expect(label.image.centerMm).toEqual(ROTATED_GEOMETRY.centerMm);
    expect(label.image.coordinateSystem).toBe('LPS');
    if (risk.kind !== 'string') throw new Error('expected a STRING risk message');
    expect(risk.string.text).toMatch(/^frame_risk=\d\.\d{3} alarm=ok sequence=0 model=/);

    const streams = await listStreams(server);
    expect(streams).toContainEqual(expect.objectContaining({ streamId: 'probe', source: 'openigtlink', state: 'active', lastSequence: 0 }));
    expect(server.pipeline.counters('probe').processed).toBe(1);

    device.socket.destroy();
    await waitFor(() => server.pipeline.counters('probe').inFlight === 0, 'the pipeline to settle');
    const ended = await listStreams(server);
    expect(ended.find((stream) => stream.streamId === 'probe')?.state).toBe('ended');
  });

  it('rejections counted in metrics', async () => {
    const server = await start({ igtlPort: 0 });
    const device = peer(server.igtlPort!);
    const broken = probeImage('Probe', 1);
    broken[HEADER_SIZE + 200] ^= 0xff;
    device.socket.write(Buffer.concat([broken, probeImage('Probe', 2)]));
    await waitFor(() => server.pipeline.counters('probe').processed === 1, 'the valid frame to be processed');

    expect(server.pipeline.counters('probe').dropped.invalid).toBe(1);
    const metrics = await fetchMetrics(server.url);
    expect(metricValue(metrics, 'segwithu_igtl_rejected_total', { code: 'ERR_IGTL_CRC_MISMATCH' })).toBe(1);
    expect(metricValue(metrics, 'segwithu_igtl_frames_submitted_total')).toBe(1);
    expect(metricValue(metrics, 'segwithu_igtl_connections_active')).toBe(1);
    expect(metricValue(metrics, 'segwithu_frames_dropped_total', { stream: 'probe', reason: 'invalid' })).toBe(1);
  });

  it('client ingests from device server', async () => {
    const sockets = new Set<Socket>();
    const device: Server = createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => undefined);
      socket.write(Buffer.concat([probeImage('Remote', 0)]));
    });
    await new Promise<void>((resolve) => device.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => device.close(resolve));
    });
    const port = (device.address() as { port: number }).port;

    const server = await start({ igtlConnect: `127.0.0.1:${port}` });
    expect(server.igtlPort).toBeUndefined();
    await waitFor(() => server.pipeline.counters('remote').processed === 1, 'a frame from the device server');
    expect(await listStreams(server)).toContainEqual(expect.objectContaining({ streamId: 'remote', source: 'openigtlink' }));
  });

  it('shutdown ends OpenIGTLink connections', async () => {
    const server = await start({ igtlPort: 0 });
    const slicer = peer(server.igtlPort!);
    await slicer.connected();
    await server.close();
    await waitFor(() => slicer.closed, 'the Slicer peer to be disconnected');
  });

  it('invalid options rejected', async () => {
    await expect(start({ igtlConnect: 'no-port' })).rejects.toThrowError(OptionError);
    await expect(start({ igtlPort: 70000 })).rejects.toThrowError(OptionError);
    await expect(start({ igtlConnect: '127.0.0.1:99999' })).rejects.toThrowError(OptionError);
    await expect(start({ igtlPort: 0, igtlAllow: ['localhost'] })).rejects.toThrowError(OptionError);
    expect(parseHostPort('[::1]:18944')).toEqual({ host: '::1', port: 18944 });
    expect(parseHostPort('127.0.0.1:18944')).toEqual({ host: '127.0.0.1', port: 18944 });
    expect(() => parseHostPort('127.0.0.1:0')).toThrowError(/host:port/);
  });
});
