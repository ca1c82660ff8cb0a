import { afterEach, describe, expect, it } from 'vitest';

import { main, sendOptionsFromArgs, serveOptionsFromArgs } from '../../stream/cli.js';
import { startServer, type RunningServer } from '../../stream/server.js';
import { FakePipeline } from './fake-pipeline.js';
import { writeFixtureFolder } from './fixture-folder.js';
import { silentLogger, waitUntil } from './helpers.js';

const servers: RunningServer[] = [];

afterEach(async () => {
  for (const server of servers.splice(0)) {
    await server.close();
  }
});

function capture(): { out: string[]; err: string[]; output: { out: (text: string) => void; err: (text: string) => void } } {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, output: { out: (text) => out.push(text), err: (text) => err.push(text) } };
}

describe('segwithu-live options', () => {
  it('help lists units and defaults', async () => {
    const { out, output } = capture();
    expect(await main(['serve', '--help'], output)).toBe(0);
    const help = out.join('\n');
    expect(help).toMatch(/--port N\s+HTTP and WebSocket port \(0 = any free port\)\. Default 8080\. Env SEGWITHU_PORT\./);
    expect(help).toMatch(/--max-batch-wait-ms MS\s+Maximum wait for a batch to fill, in ms\. Default 0\./);
    expect(help).toMatch(/--max-message-bytes BYTES\s+Largest ingest message, in bytes\. Default 33554432\./);
  });

  it('replay help describes replay', async () => {
    const { out, output } = capture();
    expect(await main(['replay', '--help'], output)).toBe(0);
    const help = out.join('\n');
    expect(help).toMatch(/^Usage: segwithu-live replay FILE\.mcap/);
    expect(help).toContain('--rate original');
    expect(help).not.toContain('Usage: segwithu-live serve');
  });

  it('invalid flag value names fix', async () => {
    const { err, output } = capture();
    expect(await main(['serve', '--port', 'abc'], output)).toBe(2);
    expect(err.join('\n')).toContain('--port "abc" is not an integer from 0 to 65535; pass a port number, or 0 for any free port');
  });

  it('invalid env value names variable', () => {
    expect(() => serveOptionsFromArgs([], { SEGWITHU_MAX_BATCH: 'lots' })).toThrow(/SEGWITHU_MAX_BATCH "lots" is not an integer/);
  });

  it('flag wins over env', () => {
    const options = serveOptionsFromArgs(['--max-batch', '2'], { SEGWITHU_MAX_BATCH: '8', SEGWITHU_THREADS: '3' });
    expect(options.maxBatch).toBe(2);
    expect(options.intraOpThreads).toBe(3);
  });

  it('parses replay source flags', () => {
    const options = serveOptionsFromArgs(['--source', 'replay:/data/frames', '--fps', 'max', '--loop', '--lossless', '--clip', 'a,b', '--tcp-port', '0'], {});
    expect(options.source).toEqual({ kind: 'replay', dir: '/data/frames', fps: 'max', loop: true, lossless: true, clips: ['a', 'b'] });
    expect(options.tcpPort).toBeUndefined();
  });

  it('rejects unknown source and alarm', () => {
    expect(() => serveOptionsFromArgs(['--source', 'camera'], {})).toThrow(/--source "camera" is not a source; pass synthetic, none, or replay:DIR/);
    expect(() => serveOptionsFromArgs(['--alarm', '0.3,0.5,3,3'], {})).toThrow(/exit <= enter/);
    expect(serveOptionsFromArgs(['--alarm', '0.6,0.4,2,4'], {}).alarm).toEqual({ enter: 0.6, exit: 0.4, enterFrames: 2, exitFrames: 4 });
  });

  it('send requires url and folder', () => {
    expect(() => sendOptionsFromArgs(['--folder', '/x'], {})).toThrow(/--url is missing/);
    expect(() => sendOptionsFromArgs(['--url', 'http://127.0.0.1:1', '--folder', '/x'], {})).toThrow(/not an ingest endpoint/);
  });

  it('unknown command exits 2', async () => {
    const { err, output } = capture();
    expect(await main(['frobnicate'], output)).toBe(2);
    expect(err.join('\n')).toContain('unknown command "frobnicate"');
  });
});

describe('segwithu-live send', () => {
  it('prints summary over TCP', async () => {
    const dir = writeFixtureFolder([{ name: 'f0.png', grey: 10 }, { name: 'f1.png', grey: 20 }, { name: 'f2.png', grey: 30 }], { masks: true });
    const pipeline = new FakePipeline();
    const server = await startServer({ port: 0, tcpPort: 0, logger: silentLogger, pipeline, clientDir: '/nonexistent' });
    servers.push(server);

    const { out, output } = capture();
    const code = await main(['send', '--url', `tcp://127.0.0.1:${server.tcpPort}`, '--folder', dir, '--fps', 'max', '--lossless', '--name', 'cli device'], output);
    expect(code).toBe(0);
    const summary = out.join('\n');
    expect(summary).toMatch(/stream\s+cli-device/);
    expect(summary).toMatch(/sent\s+3 frames/);
    expect(summary).toMatch(/acked\s+3/);
    expect(summary).toMatch(/errors\s+none/);
    await waitUntil(() => pipeline.counters('cli-device').processed === 3, 5000, 'three processed frames');
  });

  it('reports error codes in JSON', async () => {
    // Masks of another size than their frames: every frame is rejected with ERR_MASK_SIZE.
    const dir = writeFixtureFolder([{ name: 'f0.png', grey: 10 }, { name: 'f1.png', grey: 20 }], { masks: true, width: 40, height: 30 });
    const { writeFileSync } = await import('node:fs');
    const { PNG } = await import('pngjs');
    const small = new PNG({ width: 4, height: 4 });
    writeFileSync(`${dir}/masks/f0.png`, PNG.sync.write(small));
    writeFileSync(`${dir}/masks/f1.png`, PNG.sync.write(small));

    const server = await startServer({ port: 0, logger: silentLogger, pipeline: new FakePipeline(), clientDir: '/nonexistent' });
    servers.push(server);
    const { out, output } = capture();
    const code = await main(['send', '--url', `${server.url.replace('http', 'ws')}/ingest`, '--folder', dir, '--fps', 'max', '--json'], output);
    expect(code).toBe(1);
    const summary = JSON.parse(out.join('\n'));
    expect(summary.sent).toBe(2);
    expect(summary.errors).toEqual({ ERR_MASK_SIZE: 2 });
  });
});
