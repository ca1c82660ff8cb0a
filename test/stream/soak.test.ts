// The soak command in CI: one minute of the main phase with the real model, checked for
// behaviour only (the server stays up, every frame the device sent is accounted for), never for
// timings, which depend on the machine. The 10-minute run and its verdicts are in RELIABILITY.md.

import { describe, expect, it } from 'vitest';

import { main } from '../../stream/cli.js';
import { runSoak } from '../../stream/soak.js';
import { describeWithModel, MODEL_DIR } from './helpers.js';

describe('soak command', () => {
  it('help lists options', async () => {
    const out: string[] = [];
    expect(await main(['soak', '--help'], { out: (text) => out.push(text), err: () => undefined })).toBe(0);
    expect(out.join('\n')).toMatch(/--minutes MIN\s+Length of the main phase, with both viewers, in minutes\. Default 10\./);
    expect(out.join('\n')).toMatch(/--fps RATE\s+Frames per second the device sends\. Default 30\./);
  });

  it('invalid minutes exits 2', async () => {
    const err: string[] = [];
    expect(await main(['soak', '--minutes', '0'], { out: () => undefined, err: (text) => err.push(text) })).toBe(2);
    expect(err.join('\n')).toContain('--minutes "0" is not a number above 0');
  });
});

describeWithModel('soak with the real model', () => {
  it('one minute accounts every frame', async () => {
    const lines: string[] = [];
    const report = await runSoak({ minutes: 1, blocks: 2, baselineS: 5, fps: 30, modelDir: MODEL_DIR, out: (line) => lines.push(line) });

    expect(report.serverUp).toBe(true);
    expect(report.framesSent).toBeGreaterThan(0);
    expect(report.counters.received).toBe(report.framesSent);
    expect(report.counters.inFlight).toBe(0);
    const dropped = Object.values(report.counters.dropped).reduce((sum, value) => sum + value, 0);
    expect(report.counters.processed + dropped).toBe(report.counters.received);
    expect(report.framesLostUncounted).toBe(0);
    expect(report.fast.count).toBeGreaterThan(0);
    expect(report.slow.count).toBeGreaterThan(0);

    const output = lines.join('\n');
    expect(output).toContain('main 2/2 done');
    // A 1-minute main phase has no second and last minute to compare.
    expect(output).toMatch(/\| resident memory, mean of 2nd vs last minute\s+\|[^|]+\| main phase ran 60 s; the check needs at least 180 s\s+\| not measured\s+\|/);
    expect(output).toContain('alone 3/3 done');
    expect(output).toMatch(/\| frames lost without being counted\s+\| 0\s+\| 0\s+\| pass\s+\|/);
  }, 240_000);
});
