// Shared pieces of the stream tests: where the model and the datasets are, a viewer client,
// /metrics parsing, and synthetic frames. Nothing here comes from a dataset.

import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { pino } from 'pino';
import { describe } from 'vitest';
import { WebSocket } from 'ws';

import type { segwithu } from '../../proto/generated/segwithu.js';
import type { SendSummary } from '../../stream/device-client.js';
import { encodeViewerRequest, messageBytes, proto } from '../../stream/wire.js';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const silentLogger = pino({ level: 'silent' });

/** The committed model; SEGWITHU_MODEL_DIR points the tests at another folder with the same contract. */
export const MODEL_DIR = path.resolve(process.env.SEGWITHU_MODEL_DIR ?? path.join(REPO_ROOT, 'models/carotid'));
export const MODEL_AVAILABLE = existsSync(path.join(MODEL_DIR, 'manifest.json'));

/** Datasets: SEGWITHU_DATA_DIR, default ../shared/data relative to the repository root. */
export const DATA_DIR = path.resolve(REPO_ROOT, process.env.SEGWITHU_DATA_DIR ?? '../shared/data');
export const CAROTID_DIR = path.join(DATA_DIR, 'ccaui-carotid');
export const LIVER_DIR = path.join(DATA_DIR, 'imfusion-liver-sweep');
export const DATA_AVAILABLE = existsSync(path.join(CAROTID_DIR, 'manifest.csv')) && existsSync(path.join(LIVER_DIR, 'frames'));

function announceMissing(what: string, message: string): void {
  if (process.env.CI === 'true') {
    throw new Error(`${message} Under CI=true a missing ${what} fails the run.`);
  }
  console.warn(message);
}

/** describe() when the model is there; otherwise skipped with a message, or failed under CI=true. */
export function describeWithModel(name: string, body: () => void): void {
  if (!MODEL_AVAILABLE) {
    announceMissing('model', `${name}: skipped, no model manifest at ${MODEL_DIR}/manifest.json. Commit the exported model to models/carotid, or set SEGWITHU_MODEL_DIR to a folder with manifest.json and its ONNX files.`);
  }
  (MODEL_AVAILABLE ? describe : describe.skip)(name, body);
}

/** describe() when the model and the datasets are there; otherwise skipped with a message, or failed under CI=true. */
export function describeWithModelAndData(name: string, body: () => void): void {
  if (!DATA_AVAILABLE) {
    announceMissing('dataset', `${name}: skipped, datasets not found under ${DATA_DIR}. Put ccaui-carotid/ and imfusion-liver-sweep/ there, or set SEGWITHU_DATA_DIR to the folder that contains them.`);
  }
  if (!MODEL_AVAILABLE) {
    announceMissing('model', `${name}: skipped, no model manifest at ${MODEL_DIR}/manifest.json. Commit the exported model to models/carotid, or set SEGWITHU_MODEL_DIR.`);
  }
  (DATA_AVAILABLE && MODEL_AVAILABLE ? describe : describe.skip)(name, body);
}

/** Reads one sample from Prometheus text: the metric with exactly these labels (in any order). */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const expected = Object.entries(labels).map(([key, value]) => `${key}="${value}"`).sort();
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (match === null || match[1] !== name) {
      continue;
    }
    const present = match[2] === undefined || match[2] === '' ? [] : match[2].split(/,(?=[a-zA-Z_]+=")/).sort();
    if (present.length === expected.length && present.every((label, i) => label === expected[i])) {
      return Number(match[3]);
    }
  }
  return undefined;
}

export async function fetchMetrics(baseUrl: string): Promise<string> {
  const response = await fetch(`${baseUrl}/metrics`);
  return response.text();
}

type ViewerMessage = segwithu.v1.ViewerMessage;

/** A viewer over WS /view that keeps every message it receives. */
export class TestViewer {
  readonly messages: ViewerMessage[] = [];
  readonly socket: WebSocket;
  readonly closed: Promise<{ code: number; reason: string }>;

  private constructor(socket: WebSocket) {
    this.socket = socket;
    // Listening from the start: the server's first message can arrive in the same tick as 'open'.
    socket.on('message', (data) => this.messages.push(proto.ViewerMessage.decode(messageBytes(data as Buffer))));
    this.closed = new Promise((resolve) => socket.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  }

  static async connect(baseUrl: string): Promise<TestViewer> {
    const viewer = new TestViewer(new WebSocket(`${baseUrl.replace(/^http/, 'ws')}/view`));
    await new Promise<void>((resolve, reject) => {
      viewer.socket.once('open', resolve);
      viewer.socket.once('error', reject);
    });
    return viewer;
  }

  subscribe(streamId: string, maxUnackedUpdates = 0): void {
    this.socket.send(encodeViewerRequest({ subscribe: { streamId, maxUnackedUpdates } }));
  }

  ack(updateId: number): void {
    this.socket.send(encodeViewerRequest({ ack: { updateId } }));
  }

  updates(): segwithu.v1.IViewerUpdate[] {
    return this.messages.filter((message) => message.body === 'update').map((message) => message.update!);
  }

  async waitFor(condition: () => boolean, timeoutMs = 10_000, description = 'the expected viewer messages'): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!condition()) {
      if (Date.now() > deadline) {
        throw new Error(`timed out after ${timeoutMs} ms waiting for ${description} (${this.messages.length} messages received)`);
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  close(): void {
    this.socket.close();
  }
}

/** Polls `condition` every 10 ms until it holds; throws after timeoutMs naming `description`. */
export async function waitUntil(condition: () => boolean | Promise<boolean>, timeoutMs: number, description: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${description}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Builds a GRAY8 Frame message of `width` × `height` with a gradient and a dark disc. */
export function syntheticFrameMessage(sequence: number, width = 64, height = 48): segwithu.v1.IFrame {
  const pixels = new Uint8Array(width * height);
  for (let y = 0; y < height; y += 1) {
    for (let x = 0; x < width; x += 1) {
      const inside = (x - width / 2) ** 2 + (y - height / 2) ** 2 < (Math.min(width, height) / 5) ** 2;
      pixels[y * width + x] = inside ? 12 : 60 + ((x * 7 + y * 3) % 120);
    }
  }
  return { sequence, captureTimestampNs: sequence * 33_000_000, pixelFormat: proto.PixelFormat.GRAY8, width, height, pixels };
}

/**
 * Runs `segwithu-live send` in its own process, as a device on another machine would stream, and
 * returns its JSON summary. `args` are the send options after --json. Rejects with the
 * command's stderr when it exits with a non-zero code.
 */
export async function sendFolderInChildProcess(args: string[]): Promise<SendSummary> {
  const child = spawn(process.execPath, [path.join(REPO_ROOT, 'bin/segwithu-live.js'), 'send', '--json', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exitCode = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', resolve);
  });
  if (exitCode !== 0) {
    throw new Error(`segwithu-live send exited with ${exitCode}: ${stderr.trim()}`);
  }
  return JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as SendSummary;
}
