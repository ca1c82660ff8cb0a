import { afterEach, describe, expect, it } from 'vitest';

import { OptionError } from '../../stream/errors.js';
import { startServer, type RunningServer } from '../../stream/server.js';
import { listFolderFrames, readPngGray8 } from '../../stream/sources/folder.js';
import { FramePacer } from '../../stream/sources/playback.js';
import { SyntheticProbe } from '../../stream/sources/synthetic.js';
import { FakePipeline } from './fake-pipeline.js';
import { writeFixtureFolder } from './fixture-folder.js';
import { silentLogger, TestViewer, waitUntil } from './helpers.js';

const servers: RunningServer[] = [];

afterEach(async () => {
  for (const server of servers.splice(0)) {
    await server.close();
  }
});

describe('listFolderFrames', () => {
  it('orders by natural name without manifest', async () => {
    const dir = writeFixtureFolder([{ name: 'frame_10.png', grey: 1 }, { name: 'frame_2.png', grey: 2 }, { name: 'frame_1.png', grey: 3 }]);
    const frames = await listFolderFrames(dir);
    expect(frames.map((frame) => frame.name)).toEqual(['frame_1.png', 'frame_2.png', 'frame_10.png']);
    expect(frames[0].maskPath).toBeUndefined();
  });

  it('orders by clip and manifest order', async () => {
    const dir = writeFixtureFolder([
      { name: 'a.png', grey: 1, clipId: 'clipB', orderInClip: 1 },
      { name: 'b.png', grey: 2, clipId: 'clipA', orderInClip: 1 },
      { name: 'c.png', grey: 3, clipId: 'clipB', orderInClip: 0 },
      { name: 'd.png', grey: 4, clipId: 'clipA', orderInClip: 0 },
    ], { manifest: true, masks: true });
    const frames = await listFolderFrames(dir);
    expect(frames.map((frame) => frame.name)).toEqual(['d.png', 'b.png', 'c.png', 'a.png']);
    expect(frames.every((frame) => frame.maskPath !== undefined)).toBe(true);

    const clipB = await listFolderFrames(dir, { clips: ['clipB'] });
    expect(clipB.map((frame) => frame.name)).toEqual(['c.png', 'a.png']);
  });

  it('rejects unknown clip naming known ones', async () => {
    const dir = writeFixtureFolder([{ name: 'a.png', grey: 1, clipId: 'clipA', orderInClip: 0 }], { manifest: true });
    await expect(listFolderFrames(dir, { clips: ['nope'] })).rejects.toThrow(OptionError);
    await expect(listFolderFrames(dir, { clips: ['nope'] })).rejects.toThrow(/clip nope is not in .*known clips: clipA/);
  });

  it('rejects clip filter without manifest', async () => {
    const dir = writeFixtureFolder([{ name: 'a.png', grey: 1 }]);
    await expect(listFolderFrames(dir, { clips: ['x'] })).rejects.toThrow(/--clip needs .*manifest\.csv/);
  });

  it('decodes grey PNG exactly', async () => {
    const dir = writeFixtureFolder([{ name: 'a.png', grey: 77 }], { width: 5, height: 3 });
    const [frame] = await listFolderFrames(dir);
    const image = await readPngGray8(frame.imagePath);
    expect(image.width).toBe(5);
    expect(image.height).toBe(3);
    expect([...image.pixels]).toEqual(new Array(15).fill(77));
  });
});

describe('replay source', () => {
  it('lossless replay gives every result', async () => {
    const dir = writeFixtureFolder([{ name: 'f0.png', grey: 10 }, { name: 'f1.png', grey: 20 }, { name: 'f2.png', grey: 30 }, { name: 'f3.png', grey: 40 }]);
    const pipeline = new FakePipeline({ maxQueuePerStream: 1 });
    const seen: number[] = [];
    pipeline.results$.subscribe((result) => seen.push(result.gray8[0]));
    const server = await startServer({ port: 0, logger: silentLogger, pipeline, clientDir: '/nonexistent', source: { kind: 'replay', dir, fps: 'max', lossless: true, name: 'fixture' } });
    servers.push(server);

    await waitUntil(() => pipeline.counters('fixture').processed === 4, 10_000, 'four replayed results');
    expect(seen).toEqual([10, 20, 30, 40]);
    expect(pipeline.counters('fixture').dropped.queue_full).toBe(0);
    await waitUntil(async () => (await (await fetch(`${server.url}/api/streams`)).json()).streams[0].state === 'ended', 5000, 'the replay to end');
  });
});

describe('synthetic source', () => {
  it('renders dark lumen inside mask', () => {
    const probe = new SyntheticProbe({ width: 160, height: 120 });
    const { pixels, mask } = probe.render(0);
    let insideSum = 0;
    let insideCount = 0;
    let outsideSum = 0;
    for (let i = 0; i < pixels.length; i += 1) {
      if (mask[i] > 0) {
        insideSum += pixels[i];
        insideCount += 1;
      } else {
        outsideSum += pixels[i];
      }
    }
    expect(insideCount).toBeGreaterThan(0);
    expect(insideCount).toBeLessThan(pixels.length / 4);
    // The lumen (most of the vessel) is darker than the tissue around it.
    expect(insideSum / insideCount).toBeLessThan(outsideSum / (pixels.length - insideCount));
  });

  it('vessel moves between frames', () => {
    const probe = new SyntheticProbe({ width: 160, height: 120 });
    const first = probe.render(0).mask;
    const later = probe.render(2).mask;
    expect(first).not.toEqual(later);
  });

  it('streams live frames to viewer', async () => {
    const server = await startServer({ port: 0, logger: silentLogger, pipeline: new FakePipeline(), clientDir: '/nonexistent', source: { kind: 'synthetic', fps: 20, width: 64, height: 48 } });
    servers.push(server);
    const viewer = await TestViewer.connect(server.url);
    viewer.subscribe('synthetic');
    await viewer.waitFor(() => viewer.updates().length >= 3, 10_000, 'three synthetic updates');
    expect(viewer.updates()[0].frame?.width).toBe(64);
    viewer.close();
  });
});

describe('FramePacer', () => {
  it('spaces frames by period', () => {
    const pacer = new FramePacer(10);
    expect(pacer.delayMs(1000)).toBe(0);
    expect(pacer.delayMs(1000)).toBe(100);
    expect(pacer.delayMs(1150)).toBe(50);
  });

  it('restarts schedule when behind', () => {
    const pacer = new FramePacer(10);
    pacer.delayMs(0);
    // The sender stalls for 20 periods: the next frame goes now, the one after a period later.
    expect(pacer.delayMs(2000)).toBe(0);
    expect(pacer.delayMs(2000)).toBe(100);
  });

  it('max rate never waits', () => {
    const pacer = new FramePacer('max');
    expect([pacer.delayMs(5), pacer.delayMs(5), pacer.delayMs(5)]).toEqual([0, 0, 0]);
  });
});
