// Unit tests of the viewer's pure parts: wire codec, reconnect backoff, clock-offset estimate,
// latest-wins slot, staleness threshold, colour map, status line and stream-list parsing.
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import { describe, expect, test } from 'vitest';
import { reconnectDelayMs } from '../../client/src/backoff.js';
import { ClockOffsetEstimator } from '../../client/src/clockOffset.js';
import { buildViridisTable } from '../../client/src/colorMap.js';
import { LatestSlot } from '../../client/src/latestSlot.js';
import { staleAfterMs } from '../../client/src/staleness.js';
import { formatStatusLine } from '../../client/src/statusLine.js';
import { parseStreamList } from '../../client/src/streamList.js';
import { createViewerCodec, WireError } from '../../client/src/wire.js';

const root = protobuf.loadSync(fileURLToPath(new URL('../../proto/segwithu.proto', import.meta.url)));
const ViewerMessage = root.lookupType('segwithu.v1.ViewerMessage');
const ViewerRequest = root.lookupType('segwithu.v1.ViewerRequest');
const codec = createViewerCodec(root.toJSON());

function encode(body: Record<string, unknown>, protocolVersion = 1): Uint8Array {
  return ViewerMessage.encode(ViewerMessage.fromObject({ protocolVersion, ...body })).finish();
}

const letterbox = { modelWidth: 4, modelHeight: 2, scale: 0.5, offsetX: 0, offsetY: 0.5, contentWidth: 4, contentHeight: 1 };

function updateBody(mapBytes = 8): Record<string, unknown> {
  return {
    update: {
      frame: { width: 8, height: 2, gray8: new Uint8Array(16).fill(7) },
      skippedSinceLast: 3,
      result: {
        streamId: 's1',
        sequence: 41,
        captureTimestampNs: 1_700_000_000_123_000_000,
        timestamps: { sentWallNs: 1_700_000_000_150_000_000 },
        modelId: 'm',
        letterbox,
        labelMask: new Uint8Array(mapBytes).fill(1),
        errorProbability: new Uint8Array(mapBytes).fill(128),
        frameRisk: 0.42,
        alarm: 2,
        alarmReason: 'risk high',
        counters: { received: 50, processed: 45, dropped: [{ reason: 'superseded', count: 4 }, { reason: 'invalid', count: 1 }] },
      },
    },
  };
}

describe('wire codec', () => {
  test('decodes update fields', () => {
    const event = codec.decode(encode(updateBody()));
    expect(event.kind).toBe('update');
    if (event.kind !== 'update') return;
    const { frame, result, skippedSinceLast } = event.update;
    expect(frame.width).toBe(8);
    expect(frame.gray8.length).toBe(16);
    expect(skippedSinceLast).toBe(3);
    expect(result?.sequence).toBe(41);
    expect(result?.captureWallMs).toBeCloseTo(1_700_000_000_123, 3);
    expect(result?.sentWallMs).toBeCloseTo(1_700_000_000_150, 3);
    expect(result?.letterbox).toEqual(letterbox);
    expect(result?.frameRisk).toBe(0.42);
    expect(result?.alarm).toBe(true);
    expect(result?.alarmReason).toBe('risk high');
    expect(result?.counters).toEqual({ received: 50, processed: 45, dropped: 5, droppedByReason: { superseded: 4, invalid: 1 } });
  });

  test('rejects map size mismatch', () => {
    expect(() => codec.decode(encode(updateBody(7)))).toThrowError(/expected 8 B/);
  });

  test('rejects other protocol version', () => {
    const error = (() => {
      try {
        codec.decode(encode({ pong: { clientWallNs: 1, serverWallNs: 2 } }, 2));
      } catch (caught) {
        return caught;
      }
      return null;
    })();
    expect(error).toBeInstanceOf(WireError);
    expect((error as WireError).code).toBe('ERR_PROTOCOL_VERSION');
  });

  test('rejects bytes that are not protobuf', () => {
    expect(() => codec.decode(new Uint8Array([0xff, 0xff, 0xff, 0xff]))).toThrowError(WireError);
  });

  test('decodes subscribed thresholds', () => {
    const event = codec.decode(encode({
      subscribed: { stream: { streamId: 'a', streamName: 'A', nominalRateHz: 25 }, alarm: { enter: 0.7, exit: 0.4, enterFrames: 3, exitFrames: 6 }, modelId: 'm' },
    }));
    expect(event).toMatchObject({ kind: 'subscribed', stream: { streamId: 'a', nominalRateHz: 25 }, alarm: { enter: 0.7, exit: 0.4, enterFrames: 3, exitFrames: 6 } });
  });

  test('ping and subscribe encode', () => {
    const ping = ViewerRequest.toObject(ViewerRequest.decode(codec.encodePing(1_700_000_000_000.5)), { longs: Number }) as {
      protocolVersion: number;
      ping: { clientWallNs: number };
    };
    expect(ping.protocolVersion).toBe(1);
    expect(Math.abs(ping.ping.clientWallNs - 1_700_000_000_000_500_000)).toBeLessThan(1000);
    const subscribe = ViewerRequest.decode(codec.encodeSubscribe('b')) as unknown as { body: string; subscribe: { streamId: string } };
    expect(subscribe.body).toBe('subscribe');
    expect(subscribe.subscribe.streamId).toBe('b');
  });

  test('ack and window encode', () => {
    const subscribe = ViewerRequest.toObject(ViewerRequest.decode(codec.encodeSubscribe('b', 2)), { longs: Number }) as { subscribe: { maxUnackedUpdates: number } };
    expect(subscribe.subscribe.maxUnackedUpdates).toBe(2);
    const ack = ViewerRequest.toObject(ViewerRequest.decode(codec.encodeAck(41)), { longs: Number }) as { protocolVersion: number; ack: { updateId: number } };
    expect(ack.protocolVersion).toBe(1);
    expect(ack.ack.updateId).toBe(41);
  });

  test('update id decodes', () => {
    const event = codec.decode(encode({ update: { frame: { width: 1, height: 1, gray8: new Uint8Array(1) }, updateId: 9 } }));
    expect(event).toMatchObject({ kind: 'update', update: { updateId: 9, skippedSinceLast: 0 } });
  });
});

describe('reconnect backoff', () => {
  test('grows until the cap', () => {
    const delays = [0, 1, 2, 3, 10, 40].map((attempt) => reconnectDelayMs(attempt, 0, { initialMs: 250, factor: 2, maxMs: 8000 }));
    expect(delays).toEqual([250, 500, 1000, 2000, 8000, 8000]);
  });

  test('jitter stays within bounds', () => {
    expect(reconnectDelayMs(3, 0.999999, { jitter: 0.5 })).toBeGreaterThanOrEqual(1000);
    expect(reconnectDelayMs(3, 0.5, { jitter: 0.5 })).toBe(1500);
    expect(reconnectDelayMs(50, 0.25, { maxMs: 4000, jitter: 0.5 })).toBe(3500);
  });
});

describe('clock offset estimator', () => {
  test('uses shortest round trip', () => {
    const clock = new ClockOffsetEstimator(4);
    expect(clock.estimate()).toBeNull();
    clock.addSample(1000, 6100, 1200); // round trip 200 ms, offset 5000
    clock.addSample(2000, 7010, 2020); // round trip 20 ms, offset 5000
    clock.addSample(3000, 8400, 3300); // round trip 300 ms, offset 5250
    expect(clock.estimate()).toEqual({ offsetMs: 5000, roundTripMs: 20, samples: 3 });
  });

  test('forgets samples beyond window', () => {
    const clock = new ClockOffsetEstimator(2);
    clock.addSample(0, 10, 2); // best, then pushed out
    clock.addSample(100, 150, 200);
    clock.addSample(300, 340, 400);
    expect(clock.estimate()?.samples).toBe(2);
    expect(clock.estimate()?.roundTripMs).toBe(100);
  });

  test('ignores negative round trip', () => {
    const clock = new ClockOffsetEstimator();
    clock.addSample(100, 0, 50);
    expect(clock.estimate()).toBeNull();
  });
});

describe('latest slot', () => {
  test('keeps newest and counts replaced', () => {
    const slot = new LatestSlot<number>();
    expect(slot.take()).toBeUndefined();
    slot.put(1);
    slot.put(2);
    slot.put(3);
    expect(slot.take()).toBe(3);
    expect(slot.take()).toBeUndefined();
    slot.put(4);
    expect(slot.take()).toBe(4);
    expect(slot.replaced).toBe(2);
  });
});

describe('staleness threshold', () => {
  test('four intervals, at least 500 ms', () => {
    expect(staleAfterMs(30)).toBe(500);
    expect(staleAfterMs(5)).toBe(800);
    expect(staleAfterMs(1)).toBe(4000);
    expect(staleAfterMs(0)).toBe(2000);
  });
});

describe('viridis table', () => {
  test('ends at published colours', () => {
    const table = buildViridisTable();
    expect([...table.subarray(0, 4)]).toEqual([0x44, 0x01, 0x54, 255]);
    expect([...table.subarray(255 * 4, 256 * 4)]).toEqual([0xfd, 0xe7, 0x25, 255]);
  });

  test('lightness increases monotonically', () => {
    const table = buildViridisTable();
    let previous = -1;
    for (let i = 0; i < 256; i += 15) {
      const luma = 0.299 * table[i * 4] + 0.587 * table[i * 4 + 1] + 0.114 * table[i * 4 + 2];
      expect(luma).toBeGreaterThan(previous);
      previous = luma;
    }
  });
});

describe('status line', () => {
  test('lists drops, skips and offset', () => {
    const line = formatStatusLine({
      paintedFps: 29.96,
      captureToPaintMs: 41.4,
      clock: { offsetMs: -2.25, roundTripMs: 1.2, samples: 3 },
      counters: { received: 100, processed: 95, dropped: 5, droppedByReason: { superseded: 5, invalid: 0 } },
      skippedByServer: 2,
      replacedInBrowser: 1,
      sequence: 99,
      modelId: 'carotid-1',
    });
    expect(line).toContain('30.0 fps');
    expect(line).toContain('latency capture→paint 41 ms');
    expect(line).toContain('clock offset −2.3 ms ±0.6');
    expect(line).toContain('dropped 5 (superseded 5) of 100');
    expect(line).toContain('skipped 2 by server, 1 in browser');
  });

  test('names unsynchronised device clock', () => {
    const figures = {
      paintedFps: 30, clock: { offsetMs: 0, roundTripMs: 1, samples: 3 }, counters: null, skippedByServer: 0, replacedInBrowser: 0, sequence: 1, modelId: '',
    };
    const ahead = formatStatusLine({ ...figures, captureToPaintMs: -3_600_000 });
    expect(ahead).toContain('not shown, the device clock differs from the server\'s by −3600 s');
    expect(ahead).not.toContain('ms ·');
    const behind = formatStatusLine({ ...figures, captureToPaintMs: 120_000 });
    expect(behind).toContain('differs from the server\'s by +120 s');
    const fine = formatStatusLine({ ...figures, captureToPaintMs: 59_000 });
    expect(fine).toContain('latency capture→paint 59000 ms');
  });

  test('says latency waits for clock', () => {
    const line = formatStatusLine({
      paintedFps: 0, captureToPaintMs: null, clock: null, counters: null, skippedByServer: 0, replacedInBrowser: 0, sequence: -1, modelId: '',
    });
    expect(line).toContain('waiting for clock offset');
  });
});

describe('stream list parsing', () => {
  test('accepts array and wrapped forms', () => {
    expect(parseStreamList([{ streamId: 'a', streamName: 'A', nominalRateHz: 30 }])).toMatchObject([{ streamId: 'a', streamName: 'A', nominalRateHz: 30 }]);
    expect(parseStreamList({ streams: [{ stream_id: 'b', stream_name: 'B' }] })).toMatchObject([{ streamId: 'b', streamName: 'B' }]);
    expect(parseStreamList({ streams: [{ id: 'c' }, { name: 'no id' }, 5] })).toMatchObject([{ streamId: 'c', streamName: 'c' }]);
    expect(parseStreamList('nonsense')).toEqual([]);
  });
});
