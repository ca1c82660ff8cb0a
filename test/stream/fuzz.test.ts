// Fuzz of the ingest transports: 5,000 messages over WS /ingest and 5,000 over TCP. Each is a
// valid frame or a mutation of one: bit flips, truncation, random bytes, extreme and
// disagreeing sizes, unknown pixel formats and protocol versions, bad masks, oversize messages
// and broken framing. Messages go one at a time, and each must end in exactly one outcome:
//   - accepted: a FrameAck (the stream is lossless, so every accepted frame is acknowledged),
//     preceded by a non-fatal ERR_SEQUENCE_ORDER report when its sequence number is not above
//     the last accepted frame's (bit flips change sequence numbers);
//   - rejected: an ErrorReport whose code is one of the server's ingest codes, and for a
//     targeted mutation, the code that mutation must produce;
//   - closed: only after a goodbye, a fatal ErrorReport, a WebSocket message beyond ws's
//     maxPayload (close 1009) or a TCP record cut short by the device's own disconnect.
// Afterwards the server must still answer, every frame it saw must be counted, and resident
// memory must not have grown without bound. The pipeline is the fake one: the fuzz is about
// the transports and validation, which run before the pipeline.

import { mkdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { DeviceConnection } from '../../stream/device-client.js';
import { INGEST_ERROR_CODES, type IngestErrorCode } from '../../stream/errors.js';
import { encodeLengthPrefixed } from '../../stream/framing.js';
import { startServer, type RunningServer } from '../../stream/server.js';
import { encodeIngestMessage, proto } from '../../stream/wire.js';
import type { segwithu } from '../../proto/generated/segwithu.js';
import { FakePipeline } from './fake-pipeline.js';
import { fetchMetrics, metricValue, REPO_ROOT, silentLogger, syntheticFrameMessage, waitUntil } from './helpers.js';

const MESSAGES_PER_TRANSPORT = 5000;
const MAX_MESSAGE_BYTES = 16 * 1024;
const MAX_FRAME_PIXELS = 128 * 128;
/** Generous bound on resident memory growth over the whole fuzz: leaks would grow far past it. */
const MAX_RSS_GROWTH_BYTES = 256 * 1024 * 1024;

/** xorshift32: the same seed gives the same 10,000 messages on every run. */
class Random {
  #state: number;

  constructor(seed: number) {
    this.#state = seed >>> 0 || 1;
  }

  next(): number {
    this.#state ^= this.#state << 13;
    this.#state >>>= 0;
    this.#state ^= this.#state >>> 17;
    this.#state ^= this.#state << 5;
    this.#state >>>= 0;
    return this.#state / 0x1_0000_0000;
  }

  int(below: number): number {
    return Math.floor(this.next() * below);
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }

  bytes(length: number): Uint8Array {
    const out = new Uint8Array(length);
    for (let i = 0; i < length; i += 1) {
      out[i] = this.int(256);
    }
    return out;
  }
}

const BYTES_PER_PIXEL: Record<number, number> = { 1: 1, 2: 2, 3: 3, 4: 4 };

/** What the server must do with a message. */
type Expected =
  | { outcome: 'accepted' }
  | { outcome: 'rejected'; code: IngestErrorCode }
  /** Any outcome, so long as a rejection carries one of the server's codes. */
  | { outcome: 'any' }
  | { outcome: 'closed' };

interface FuzzCase {
  kind: string;
  /** The message; over TCP it is sent length-prefixed unless `raw` is set. */
  bytes: Uint8Array;
  /** TCP only: bytes written as they are, without a length prefix. */
  raw?: boolean;
  /** TCP only: the device disconnects after writing, before any reply. */
  disconnectAfter?: boolean;
  expected: Expected;
}

/** Builds a valid frame: any pixel format, 1-40 × 1-30 pixels, packed or padded rows, sometimes a mask. */
function validFrame(random: Random, sequence: number): segwithu.v1.IFrame {
  const format = 1 + random.int(4);
  const width = 1 + random.int(40);
  const height = 1 + random.int(30);
  const rowBytes = width * BYTES_PER_PIXEL[format];
  const stride = random.next() < 0.5 ? 0 : rowBytes + random.int(8);
  const pixels = random.bytes((stride === 0 ? rowBytes : stride) * height);
  const frame: segwithu.v1.IFrame = { sequence, captureTimestampNs: sequence * 33_000_000, pixelFormat: format, width, height, rowStrideBytes: stride, pixels };
  if (random.next() < 0.3) {
    frame.groundTruthMask = random.bytes(width * height);
  }
  return frame;
}

function flipBits(random: Random, bytes: Uint8Array): Uint8Array {
  const out = bytes.slice();
  for (let flips = 1 + random.int(8); flips > 0 && out.length > 0; flips -= 1) {
    out[random.int(out.length)] ^= 1 << random.int(8);
  }
  return out;
}

/** Builds message number `index` of one transport; some kinds only exist on TCP. */
function makeCase(random: Random, index: number, transport: 'websocket' | 'tcp'): FuzzCase {
  const frame = validFrame(random, index);
  const encoded = encodeIngestMessage({ frame });
  const roll = random.next();

  if (roll < 0.1) {
    return { kind: 'valid frame', bytes: encoded, expected: { outcome: 'accepted' } };
  }
  if (roll < 0.3) {
    return { kind: 'bit flips', bytes: flipBits(random, encoded), expected: { outcome: 'any' } };
  }
  if (roll < 0.45) {
    return { kind: 'truncated', bytes: encoded.slice(0, random.int(encoded.length)), expected: { outcome: 'any' } };
  }
  if (roll < 0.53) {
    return { kind: 'random bytes', bytes: random.bytes(random.int(300)), expected: { outcome: 'any' } };
  }
  if (roll < 0.61) {
    // One side extreme: zero is empty, the others are far above maxFramePixels.
    const extreme = random.pick([0, 65_535, 2 ** 31, 2 ** 32 - 1]);
    const sized = random.next() < 0.5 ? { ...frame, width: extreme } : { ...frame, height: extreme };
    return { kind: 'extreme size', bytes: encodeIngestMessage({ frame: sized }), expected: { outcome: 'rejected', code: extreme === 0 ? 'ERR_FRAME_SIZE_MISMATCH' : 'ERR_FRAME_TOO_LARGE' } };
  }
  if (roll < 0.69) {
    const rowBytes = frame.width! * BYTES_PER_PIXEL[frame.pixelFormat as number];
    const choice = random.int(3);
    let changed: segwithu.v1.IFrame;
    if (choice === 0) {
      changed = { ...frame, pixels: random.bytes(frame.pixels!.length + 1 + random.int(64)) };
    } else if (choice === 1) {
      // Shorter than the last row allows, whatever the stride padding.
      const stride = frame.rowStrideBytes || rowBytes;
      changed = { ...frame, pixels: frame.pixels!.slice(0, Math.max(0, stride * (frame.height! - 1) + rowBytes - 1 - random.int(4))) };
    } else {
      changed = { ...frame, rowStrideBytes: Math.max(1, rowBytes - 1 - random.int(rowBytes)) };
      if (rowBytes <= 1) {
        changed = { ...frame, pixels: new Uint8Array(0) };
      }
    }
    return { kind: 'disagreeing sizes', bytes: encodeIngestMessage({ frame: changed }), expected: { outcome: 'rejected', code: 'ERR_FRAME_SIZE_MISMATCH' } };
  }
  if (roll < 0.77) {
    const format = random.pick([5, 6, 99, 2 ** 31 - 1, -1]);
    return { kind: 'unknown pixel format', bytes: encodeIngestMessage({ frame: { ...frame, pixelFormat: format } }), expected: { outcome: 'rejected', code: 'ERR_PIXEL_FORMAT' } };
  }
  if (roll < 0.85) {
    const version = random.pick([0, 2, 3, 255, 2 ** 32 - 1]);
    return { kind: 'unknown protocol version', bytes: encodeIngestMessage({ protocolVersion: version, frame }), expected: { outcome: 'rejected', code: 'ERR_PROTOCOL_VERSION' } };
  }
  if (roll < 0.89) {
    const pixels = frame.width! * frame.height!;
    const mask = random.bytes(random.next() < 0.5 ? pixels + 1 + random.int(16) : Math.max(1, pixels - 1 - random.int(pixels)));
    if (mask.length === pixels) {
      return { kind: 'valid frame', bytes: encoded, expected: { outcome: 'accepted' } };
    }
    return { kind: 'mask size', bytes: encodeIngestMessage({ frame: { ...frame, groundTruthMask: mask } }), expected: { outcome: 'rejected', code: 'ERR_MASK_SIZE' } };
  }
  if (roll < 0.92) {
    return { kind: 'hello repeated', bytes: encodeIngestMessage({ hello: { streamName: 'again', pixelFormat: random.int(8) } }), expected: { outcome: 'rejected', code: 'ERR_HELLO_REPEATED' } };
  }
  if (roll < 0.95) {
    return { kind: 'no body', bytes: encodeIngestMessage({}), expected: { outcome: 'rejected', code: 'ERR_DECODE' } };
  }
  if (roll < 0.97) {
    // Above maxMessageBytes but within what the transports still read and discard.
    const big = { ...frame, pixels: random.bytes(MAX_MESSAGE_BYTES + 1 + random.int(MAX_MESSAGE_BYTES / 2)) };
    return { kind: 'oversize', bytes: encodeIngestMessage({ frame: big }), expected: { outcome: 'rejected', code: 'ERR_MESSAGE_TOO_LARGE' } };
  }
  if (roll < 0.975) {
    return { kind: 'goodbye', bytes: encodeIngestMessage({ goodbye: { reason: 'fuzz' } }), expected: { outcome: 'closed' } };
  }
  if (roll < 0.98) {
    if (transport === 'websocket') {
      // Beyond ws's maxPayload (twice maxMessageBytes): ws itself closes with 1009.
      return { kind: 'far oversize', bytes: random.bytes(2 * MAX_MESSAGE_BYTES + 1 + random.int(1024)), expected: { outcome: 'closed' } };
    }
    const prefix = new Uint8Array(4);
    new DataView(prefix.buffer).setUint32(0, 2 * MAX_MESSAGE_BYTES + 1 + random.int(2 ** 30), false);
    return { kind: 'broken framing', bytes: prefix, raw: true, expected: { outcome: 'rejected', code: 'ERR_FRAMING' } };
  }
  if (roll < 0.985 && transport === 'tcp') {
    // The length prefix promises more than the device sends before it disconnects.
    const cut = encodeLengthPrefixed(encoded).slice(0, 4 + random.int(encoded.length));
    return { kind: 'record cut by disconnect', bytes: cut, raw: true, disconnectAfter: true, expected: { outcome: 'closed' } };
  }
  return { kind: 'valid frame', bytes: encoded, expected: { outcome: 'accepted' } };
}

/** Local decode of what was sent: whether the server saw a frame, and a goodbye it must honour. */
function sentBody(bytes: Uint8Array): { frame: boolean; goodbye: boolean } {
  try {
    const message = proto.IngestMessage.decode(bytes);
    return { frame: message.body === 'frame', goodbye: message.body === 'goodbye' && message.protocolVersion === 1 };
  } catch {
    return { frame: false, goodbye: false };
  }
}

/** Codes with which a frame of an open stream counts as received and dropped 'invalid'. */
const FRAME_REJECTIONS: ReadonlySet<string> = new Set(['ERR_PROTOCOL_VERSION', 'ERR_FRAME_SIZE_MISMATCH', 'ERR_FRAME_TOO_LARGE', 'ERR_PIXEL_FORMAT', 'ERR_MASK_SIZE', 'ERR_PIXEL_SPACING', 'ERR_SEQUENCE_RANGE']);

/** Outcome of a frame that was accepted and acknowledged after an ERR_SEQUENCE_ORDER report. */
const ACK_AFTER_SEQUENCE_ORDER = 'ack after ERR_SEQUENCE_ORDER';

function isAck(outcome: string): boolean {
  return outcome === 'ack' || outcome === ACK_AFTER_SEQUENCE_ORDER;
}

interface Tally {
  sent: number;
  outcomes: Record<string, number>;
  byKind: Record<string, Record<string, number>>;
  /** Frames the server must have counted as received: acks plus frame rejections. */
  framesExpectedReceived: number;
  mismatches: string[];
}

function count(map: Record<string, number>, key: string): void {
  map[key] = (map[key] ?? 0) + 1;
}

class FuzzDevice {
  readonly #url: string;
  readonly #name: string;
  #connection: DeviceConnection | undefined;

  constructor(url: string, name: string) {
    this.#url = url;
    this.#name = name;
  }

  /** Returns the open connection, with its stream's hello accepted, and reconnects after a close. */
  async connection(): Promise<DeviceConnection> {
    if (this.#connection !== undefined && !this.#connection.isClosed) {
      return this.#connection;
    }
    const connection = await DeviceConnection.connect(this.#url);
    connection.send({ hello: { streamName: this.#name, width: 8, height: 8, pixelFormat: proto.PixelFormat.GRAY8, lossless: true } });
    await connection.waitForReply((reply) => reply.body === 'helloAck');
    this.#connection = connection;
    return connection;
  }

  async close(): Promise<void> {
    await this.#connection?.close();
  }
}

/** Sends one case and waits for its one outcome; returns 'ack' (or ACK_AFTER_SEQUENCE_ORDER), an error code, or 'closed N'. */
async function sendCase(device: FuzzDevice, fuzzCase: FuzzCase, tcpPort: number | undefined): Promise<string> {
  if (fuzzCase.disconnectAfter === true) {
    // A raw socket of its own, so the device's stream connection is not the one cut.
    const socket = net.connect({ host: '127.0.0.1', port: tcpPort! });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    socket.write(encodeLengthPrefixed(encodeIngestMessage({ hello: { streamName: 'cut', width: 8, height: 8, pixelFormat: proto.PixelFormat.GRAY8 } })));
    socket.end(fuzzCase.bytes);
    // Reads (and ignores) the HelloAck, so the socket reaches the server's end and closes.
    socket.resume();
    await new Promise<void>((resolve) => socket.once('close', () => resolve()));
    return 'closed by device';
  }

  const connection = await device.connection();
  const acksBefore = connection.ackCount;
  const repliesBefore = connection.replies.length;
  if (fuzzCase.raw === true) {
    connection.sendUnframed(fuzzCase.bytes);
  } else {
    connection.sendRaw(fuzzCase.bytes);
  }

  await connection.waitUntil(() => connection.ackCount > acksBefore || connection.replies.length > repliesBefore || connection.isClosed, 10_000, `the outcome of a ${fuzzCase.kind} message`).catch((error: Error) => {
    if (!connection.isClosed) {
      throw error;
    }
  });
  const reply = connection.replies[repliesBefore];
  if (reply?.body === 'error' && reply.error?.code === 'ERR_SEQUENCE_ORDER' && reply.error.fatal !== true) {
    // A frame numbered at or below the last accepted one (a bit flip changed one of the two
    // sequence numbers) is still processed: the report comes first, then its FrameAck.
    await connection.waitUntil(() => connection.ackCount > acksBefore, 10_000, 'the FrameAck after ERR_SEQUENCE_ORDER');
    return ACK_AFTER_SEQUENCE_ORDER;
  }
  if (connection.ackCount > acksBefore) {
    return 'ack';
  }
  if (reply?.body === 'error' && reply.error?.fatal === true) {
    // The server closes after a fatal report; the next message goes on a new connection.
    await connection.waitUntil(() => false, 10_000, 'the close after a fatal ErrorReport').catch(() => undefined);
    if (!connection.isClosed) {
      return `${reply.error.code} without the close it announces`;
    }
  }
  if (reply !== undefined) {
    return reply.body === 'error' ? reply.error?.code ?? '' : reply.body ?? '';
  }
  const closed = await connection.closed;
  return `closed ${closed.code ?? 'tcp'}`;
}

/** Checks one outcome against the case; returns a description of the mismatch, or undefined. */
function checkOutcome(fuzzCase: FuzzCase, outcome: string): string | undefined {
  const body = sentBody(fuzzCase.bytes);
  const isCode = (INGEST_ERROR_CODES as readonly string[]).includes(outcome);
  const expected = fuzzCase.expected;

  if (outcome.startsWith('closed')) {
    const allowed = fuzzCase.disconnectAfter === true || fuzzCase.kind === 'far oversize' ? true : body.goodbye;
    if (fuzzCase.kind === 'far oversize' && outcome !== 'closed 1009') {
      return `${fuzzCase.kind}: ${outcome}, expected close 1009`;
    }
    return allowed ? undefined : `${fuzzCase.kind}: connection ${outcome} without a coded reply`;
  }
  if (!isAck(outcome) && !isCode) {
    return `${fuzzCase.kind}: reply "${outcome}" is neither a FrameAck nor an ingest error code`;
  }
  if (expected.outcome === 'accepted' && !isAck(outcome)) {
    return `${fuzzCase.kind}: rejected with ${outcome}, expected accepted`;
  }
  if (expected.outcome === 'rejected' && outcome !== expected.code) {
    return `${fuzzCase.kind}: got ${outcome}, expected ${expected.code}`;
  }
  if (expected.outcome === 'closed' && !body.goodbye) {
    return `${fuzzCase.kind}: got ${outcome}, expected the connection to close`;
  }
  return undefined;
}

async function fuzzTransport(server: RunningServer, transport: 'websocket' | 'tcp', seed: number, tally: Tally): Promise<void> {
  const url = transport === 'websocket' ? `${server.url.replace(/^http/, 'ws')}/ingest` : `tcp://127.0.0.1:${server.tcpPort}`;
  const device = new FuzzDevice(url, `fuzz-${transport}`);
  const random = new Random(seed);

  for (let index = 0; index < MESSAGES_PER_TRANSPORT; index += 1) {
    const fuzzCase = makeCase(random, index, transport);
    const outcome = await sendCase(device, fuzzCase, server.tcpPort);
    tally.sent += 1;
    count(tally.outcomes, outcome);
    count((tally.byKind[`${transport} ${fuzzCase.kind}`] ??= {}), outcome);

    const mismatch = checkOutcome(fuzzCase, outcome);
    if (mismatch !== undefined) {
      tally.mismatches.push(`${transport} #${index} ${mismatch}`);
    }
    const body = sentBody(fuzzCase.bytes);
    if (isAck(outcome) || outcome === 'ERR_MESSAGE_TOO_LARGE' || (body.frame && FRAME_REJECTIONS.has(outcome))) {
      tally.framesExpectedReceived += 1;
    }
  }
  await device.close();
}

describe('ingest fuzz', () => {
  let server: RunningServer;
  const tally: Tally = { sent: 0, outcomes: {}, byKind: {}, framesExpectedReceived: 0, mismatches: [] };
  let rssBeforeBytes = 0;
  let rssAfterBytes = 0;

  beforeAll(async () => {
    server = await startServer({
      host: '127.0.0.1',
      port: 0,
      tcpPort: 0,
      logger: silentLogger,
      pipeline: new FakePipeline({ runMs: 0 }),
      clientDir: '/nonexistent',
      maxMessageBytes: MAX_MESSAGE_BYTES,
      maxFramePixels: MAX_FRAME_PIXELS,
    });
    rssBeforeBytes = process.memoryUsage().rss;
    await fuzzTransport(server, 'websocket', 20_261_204, tally);
    await fuzzTransport(server, 'tcp', 4_120_626, tally);
    rssAfterBytes = process.memoryUsage().rss;

    const artifacts = path.join(REPO_ROOT, 'test-artifacts');
    mkdirSync(artifacts, { recursive: true });
    writeFileSync(path.join(artifacts, 'fuzz-ingest.json'), `${JSON.stringify({ ...tally, rssBeforeBytes, rssAfterBytes }, null, 2)}\n`);
  }, 300_000);

  afterAll(async () => {
    await server?.close();
  });

  it('every message has its outcome', () => {
    expect(tally.sent).toBe(2 * MESSAGES_PER_TRANSPORT);
    expect(tally.mismatches).toEqual([]);
    expect(tally.outcomes.ack).toBeGreaterThan(0);
    for (const code of ['ERR_DECODE', 'ERR_PROTOCOL_VERSION', 'ERR_FRAME_SIZE_MISMATCH', 'ERR_FRAME_TOO_LARGE', 'ERR_PIXEL_FORMAT', 'ERR_MASK_SIZE', 'ERR_MESSAGE_TOO_LARGE', 'ERR_FRAMING', 'ERR_HELLO_REPEATED']) {
      expect(tally.outcomes[code], `${code} seen`).toBeGreaterThan(0);
    }
  });

  it('server still serves a device', async () => {
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    const connection = await DeviceConnection.connect(`tcp://127.0.0.1:${server.tcpPort}`);
    connection.send({ hello: { streamName: 'after fuzz', width: 64, height: 48, pixelFormat: proto.PixelFormat.GRAY8, lossless: true } });
    for (let sequence = 0; sequence < 3; sequence += 1) {
      connection.send({ frame: syntheticFrameMessage(sequence) });
    }
    await connection.waitForAcks(3);
    expect(connection.errorCounts).toEqual({});
    await connection.close();
  });

  it('every frame is counted', async () => {
    await waitUntil(() => server.pipeline.metrics().streams.every((stream) => stream.counters.inFlight === 0), 10_000, 'no frame in flight');
    const streams = server.pipeline.metrics().streams.filter((stream) => stream.streamId.startsWith('fuzz-'));
    const received = streams.reduce((sum, stream) => sum + stream.counters.received, 0);
    expect(received).toBe(tally.framesExpectedReceived);
    expect(metricValue(await fetchMetrics(server.url), 'segwithu_accounting_ok')).toBe(1);
  });

  it('resident memory stays bounded', () => {
    expect(rssAfterBytes - rssBeforeBytes).toBeLessThan(MAX_RSS_GROWTH_BYTES);
  });
});
