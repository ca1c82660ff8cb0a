// The pipeline end to end on a real ONNX Runtime session with the committed model. Runs are
// held with a RunGate where a test needs frames to wait; nothing asserts on timing.

import { afterEach, expect, it } from 'vitest';

import { createPipeline, DROP_REASONS, type DropEvent, type Pipeline, type PipelineOptions, type Result, type RunBatch } from '../../pipeline/index.js';
import { describeWithModel, MODEL_DIR, nextTurn, RunGate, seededRandom, silentLogger, syntheticFrame, until } from './fixtures.js';

let open: Pipeline[] = [];

async function start(options: Partial<PipelineOptions> = {}): Promise<{ pipeline: Pipeline; results: Result[]; drops: DropEvent[] }> {
  const pipeline = await createPipeline({ modelDir: MODEL_DIR, logger: silentLogger, maxBatch: 1, ...options });
  open.push(pipeline);
  const results: Result[] = [];
  const drops: DropEvent[] = [];
  pipeline.results$.subscribe((result) => results.push(result));
  pipeline.drops$.subscribe((drop) => drops.push(drop));
  return { pipeline, results, drops };
}

function expectBalanced(pipeline: Pipeline, streamId: string): void {
  const c = pipeline.counters(streamId);
  const dropped = DROP_REASONS.reduce((sum, reason) => sum + c.dropped[reason], 0);
  expect(c.received, `stream ${streamId}: ${JSON.stringify(c)}`).toBe(c.processed + dropped + c.inFlight);
}

afterEach(async () => {
  await Promise.all(open.map((pipeline) => pipeline.close(1000)));
  open = [];
});

// Each test runs a few model passes; the timeout is a guard for a loaded machine, not a speed check.
describeWithModel('pipeline on the real model', { timeout: 60_000 }, () => {
  it('result carries maps and stamps', async () => {
    const { pipeline, results } = await start({ maxBatch: 2 });
    const { width, height } = pipeline.manifest.input;

    await pipeline.submit(syntheticFrame('a', 0, { pixelSpacingMm: [5, 5] }), 'live');
    await until(() => results.length === 1);

    const [result] = results;
    expect(result.sequence).toBe(0);
    expect(result.modelId).toBe(pipeline.manifest.model.id);
    expect(result.labelMask.length).toBe(width * height);
    expect(result.errorProbability.length).toBe(width * height);
    expect(result.temperedForeground.length).toBe(width * height);
    expect(result.labelMask.every((label) => label < pipeline.manifest.classes.length)).toBe(true);
    expect(result.frameRisk).toBeGreaterThanOrEqual(0);
    expect(result.frameRisk).toBeLessThanOrEqual(1);
    expect(result.gray8.length).toBe(709 * 749);
    const t = result.timestamps;
    expect(t.preprocessedNs >= t.receivedNs).toBe(true);
    expect(t.inferenceStartNs >= t.preprocessedNs).toBe(true);
    expect(t.inferenceEndNs >= t.inferenceStartNs).toBe(true);
    expect(t.postprocessedNs >= t.inferenceEndNs).toBe(true);
    // 5 mm per pixel is outside any ultrasound training range, or the manifest declares none.
    if (pipeline.manifest.pixel_spacing_mm !== null) expect(result.warnings.join(' ')).toMatch(/pixel spacing/);
    expect(pipeline.counters('a')).toMatchObject({ received: 1, processed: 1, inFlight: 0 });
  });

  it('metrics report histograms per stream', async () => {
    const { pipeline, results } = await start({ maxBatch: 2 });
    for (let sequence = 0; sequence < 3; sequence++) await pipeline.submit(syntheticFrame('m', sequence), 'lossless');
    await until(() => results.length === 3);

    const metrics = pipeline.metrics();
    expect(metrics.modelId).toBe(pipeline.manifest.model.id);
    expect(metrics.accountingHolds).toBe(true);
    const [stream] = metrics.streams;
    expect(stream.streamId).toBe('m');
    expect(stream.queueDepth).toBe(0);
    for (const histogram of Object.values(stream.latencyMs)) {
      expect(histogram.count).toBe(3);
      expect(histogram.cumulativeCounts.at(-1)).toBe(3);
      expect(histogram.upperBounds.at(-1)).toBe(Infinity);
      // Cumulative: never decreasing from one bucket to the next.
      expect(histogram.cumulativeCounts.every((count, i, all) => i === 0 || count >= all[i - 1])).toBe(true);
    }
    expect(metrics.batchSize.sum).toBe(3);
    expect(metrics.batchSize.upperBounds).toEqual([1, 2, Infinity]);
  });

  it('latest-wins supersedes waiting frames', async () => {
    const gate = new RunGate();
    const { pipeline, results, drops } = await start({ wrapRun: gate.wrap });

    void pipeline.submit(syntheticFrame('a', 0), 'live');
    await until(() => gate.started === 1);
    for (let sequence = 1; sequence <= 4; sequence++) void pipeline.submit(syntheticFrame('a', sequence), 'live');
    expect(pipeline.counters('a').dropped.superseded).toBe(3);
    expect(pipeline.metrics().streams[0].queueDepth).toBe(1);

    gate.open();
    await until(() => results.length === 2);
    expect(results.map((r) => r.sequence)).toEqual([0, 4]);
    expect(drops.map((d) => [d.sequence, d.reason])).toEqual([[1, 'superseded'], [2, 'superseded'], [3, 'superseded']]);
    expect(pipeline.counters('a')).toMatchObject({ received: 5, processed: 2, inFlight: 0 });
  });

  it('live burst keeps newest in batch', async () => {
    // The session is idle, so demand is open and a synchronous burst reaches the open batch.
    const { pipeline, results, drops } = await start({ maxBatch: 4 });
    for (let sequence = 0; sequence < 3; sequence++) void pipeline.submit(syntheticFrame('b', sequence), 'live');
    await until(() => results.length === 1);
    await nextTurn();
    expect(results.map((r) => r.sequence)).toEqual([2]);
    expect(drops.map((d) => [d.sequence, d.reason])).toEqual([[0, 'superseded'], [1, 'superseded']]);
  });

  it('lossless applies backpressure, then queue_full', async () => {
    const gate = new RunGate();
    const { pipeline, results, drops } = await start({ wrapRun: gate.wrap, maxQueuePerStream: 2 });
    const takenSequences: number[] = [];
    const submit = (sequence: number) => pipeline.submit(syntheticFrame('r', sequence), 'lossless').then(() => takenSequences.push(sequence));

    void submit(0);
    await until(() => gate.started === 1);
    void submit(1);
    void submit(2);
    void submit(3);
    await nextTurn();
    // Frame 0 is in the session; 1 and 2 wait, so their promises are pending; 3 found the queue full.
    expect(takenSequences).toEqual([0, 3]);
    expect(drops.map((d) => [d.sequence, d.reason])).toEqual([[3, 'queue_full']]);
    expect(pipeline.counters('r').inFlight).toBe(3);

    gate.open();
    await until(() => results.length === 3);
    expect(takenSequences).toEqual([0, 3, 1, 2]);
    expect(results.map((r) => r.sequence)).toEqual([0, 1, 2]);
    expectBalanced(pipeline, 'r');
  });

  it('failed batch dropped as error', async () => {
    let calls = 0;
    const failSecond = (run: RunBatch): RunBatch => (input, batchSize) => {
      calls++;
      if (calls === 2) throw new Error('injected failure of session.run');
      return run(input, batchSize);
    };
    const { pipeline, results, drops } = await start({ wrapRun: failSecond });

    for (let sequence = 0; sequence < 4; sequence++) await pipeline.submit(syntheticFrame('e', sequence), 'lossless');
    await until(() => results.length + drops.length === 4);

    expect(drops).toHaveLength(1);
    expect(drops[0]).toMatchObject({ streamId: 'e', sequence: 1, reason: 'error' });
    expect(drops[0].error?.message).toMatch(/injected failure/);
    expect(results.map((r) => r.sequence)).toEqual([0, 2, 3]);
    expect(pipeline.counters('e')).toMatchObject({ received: 4, processed: 3, inFlight: 0, dropped: { error: 1 } });
  });

  it('alarm follows injected frame risk', async () => {
    const risks = [0.9, 0.9, 0.9, 0.4, 0.1, 0.1, 0.1];
    let call = 0;
    const scriptedRisk = (run: RunBatch): RunBatch => async (input, batchSize) => {
      const outputs = await run(input, batchSize);
      outputs.frameRisk[0] = risks[call++];
      return outputs;
    };
    const { pipeline, results } = await start({ wrapRun: scriptedRisk, alarm: { enter: 0.5, exit: 0.3, enterFrames: 3, exitFrames: 3 } });

    for (let sequence = 0; sequence < risks.length; sequence++) await pipeline.submit(syntheticFrame('h', sequence), 'lossless');
    await until(() => results.length === risks.length);

    expect(results.map((r) => r.alarm)).toEqual(['ok', 'ok', 'alarm', 'alarm', 'alarm', 'alarm', 'ok']);
    expect(results[2].alarmReason).toBe('frame risk 0.90 above 0.50 for 3 frames: contour withheld');
    expect(results[6].alarmReason).toBe('');
  });

  it('invalid frames counted, not processed', async () => {
    const { pipeline, drops } = await start();
    await pipeline.submit(syntheticFrame('v', 0, { rowStrideBytes: 3 }), 'live');
    pipeline.countInvalid('v');
    expect(pipeline.counters('v')).toMatchObject({ received: 2, processed: 0, inFlight: 0, dropped: { invalid: 2 } });
    expect(drops[0].error?.message).toMatch(/row stride 3 bytes/);
  });

  it('accounting holds under random submits', async () => {
    const random = seededRandom(20240601);
    let calls = 0;
    const sometimesFail = (run: RunBatch): RunBatch => (input, batchSize) => {
      calls++;
      if (calls % 7 === 3) return Promise.reject(new Error('injected failure'));
      return run(input, batchSize);
    };
    const { pipeline, results, drops } = await start({ wrapRun: sometimesFail, maxBatch: 3, maxQueuePerStream: 2 });
    const streams = ['s0', 's1', 's2'];
    const sequences = new Map(streams.map((s) => [s, 0]));
    const submitted = new Map(streams.map((s) => [s, 0]));
    const violations: string[] = [];
    const check = () => {
      for (const s of streams) {
        const c = pipeline.counters(s);
        const dropped = DROP_REASONS.reduce((sum, reason) => sum + c.dropped[reason], 0);
        if (c.received !== c.processed + dropped + c.inFlight) violations.push(`${s} ${JSON.stringify(c)}`);
      }
    };
    pipeline.results$.subscribe(check);
    pipeline.drops$.subscribe(check);

    const pending: Promise<void>[] = [];
    for (let i = 0; i < 40; i++) {
      const streamId = streams[Math.floor(random() * streams.length)];
      const sequence = sequences.get(streamId) as number;
      sequences.set(streamId, sequence + 1);
      submitted.set(streamId, (submitted.get(streamId) as number) + 1);

      const roll = random();
      if (roll < 0.05) pipeline.countInvalid(streamId, sequence);
      else if (roll < 0.1) pending.push(pipeline.submit(syntheticFrame(streamId, sequence, { width: 0 }), 'live'));
      else pending.push(pipeline.submit(syntheticFrame(streamId, sequence), random() < 0.5 ? 'live' : 'lossless'));
      check();

      const pause = random();
      if (pause < 0.3) await nextTurn();
      else if (pause < 0.4) await new Promise((resolve) => setTimeout(resolve, 40));
    }

    await Promise.all(pending);
    await until(() => streams.every((s) => pipeline.counters(s).inFlight === 0));

    expect(violations).toEqual([]);
    let processed = 0;
    let dropped = 0;
    for (const s of streams) {
      const c = pipeline.counters(s);
      expect(c.received, s).toBe(submitted.get(s));
      expect(c.inFlight, s).toBe(0);
      processed += c.processed;
      dropped += DROP_REASONS.reduce((sum, reason) => sum + c.dropped[reason], 0);
    }
    expect(results.length).toBe(processed);
    expect(drops.length).toBe(dropped);
    expect(pipeline.metrics().accountingHolds).toBe(true);
    // Per stream, results come out in sequence order.
    for (const s of streams) {
      const order = results.filter((r) => r.streamId === s).map((r) => r.sequence);
      expect(order).toEqual([...order].sort((x, y) => x - y));
    }
  });

  it('close counts leftovers as shutdown', async () => {
    const gate = new RunGate();
    const { pipeline, drops } = await start({ wrapRun: gate.wrap, maxQueuePerStream: 4 });

    void pipeline.submit(syntheticFrame('c', 0), 'lossless');
    await until(() => gate.started === 1);
    for (let sequence = 1; sequence <= 3; sequence++) void pipeline.submit(syntheticFrame('c', sequence), 'lossless');

    await pipeline.close(50);
    await pipeline.submit(syntheticFrame('c', 4), 'lossless');
    gate.open();

    // Frame 4 came after close: counted, but drops$ has already completed.
    expect(pipeline.counters('c')).toMatchObject({ received: 5, processed: 0, inFlight: 0, dropped: { shutdown: 5 } });
    expect(drops.map((d) => d.sequence).sort()).toEqual([0, 1, 2, 3]);
  });

  it('close drains accepted frames', async () => {
    const { pipeline, results } = await start({ maxBatch: 2, maxQueuePerStream: 4 });
    for (let sequence = 0; sequence < 4; sequence++) void pipeline.submit(syntheticFrame('d', sequence), 'lossless');
    await pipeline.close(10_000);
    expect(results.map((r) => r.sequence)).toEqual([0, 1, 2, 3]);
    expect(pipeline.counters('d')).toMatchObject({ processed: 4, inFlight: 0, dropped: { shutdown: 0 } });
  });

  it('removed stream drops waiting frames', async () => {
    const gate = new RunGate();
    const { pipeline, results, drops } = await start({ wrapRun: gate.wrap, maxQueuePerStream: 4 });
    void pipeline.submit(syntheticFrame('x', 0), 'lossless');
    await until(() => gate.started === 1);
    void pipeline.submit(syntheticFrame('x', 1), 'lossless');
    void pipeline.submit(syntheticFrame('x', 2), 'lossless');

    pipeline.removeStream('x');
    expect(drops.map((d) => [d.sequence, d.reason])).toEqual([[1, 'shutdown'], [2, 'shutdown']]);
    expect(pipeline.metrics().streams.map((s) => s.streamId)).not.toContain('x');
    // Frame 0 was already in the session: it still completes, against the detached counters.
    gate.open();
    await until(() => results.length === 1);
    expect(results[0].sequence).toBe(0);
    expect(gate.started).toBe(1);
    expect(pipeline.counters('x').received).toBe(0);
  });
});
