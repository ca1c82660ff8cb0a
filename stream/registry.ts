// Registry of the server's streams: one per connected device or in-process source, plus ended
// streams kept for streamRetentionMs so that their counters stay visible and a device that
// reconnects under the same name resumes the same stream id.

import { Subject } from 'rxjs';

import type { Pipeline } from '../pipeline/index.js';
import { IngestError } from './errors.js';

export type StreamSource = 'websocket' | 'tcp' | 'openigtlink' | 'replay' | 'synthetic';

export interface StreamDescription {
  name: string;
  source: StreamSource;
  nominalRateHz: number;
  width: number;
  height: number;
  lossless: boolean;
}

export interface StreamEntry extends StreamDescription {
  readonly id: string;
  state: 'active' | 'ended';
  /** Sequence number of the last frame accepted from the device; -1 before the first. */
  lastSequence: number;
  /** Number of viewer sockets subscribed to this stream. */
  viewers: number;
  startedAtMs: number;
  endedAtMs: number | undefined;
}

/** Maximum stream id length, in characters; longer names are cut. */
const MAX_STREAM_ID_LENGTH = 64;

/** Derives a stream id from a device's stream name: lower case, a-z 0-9 and '-', never empty. */
export function streamIdFromName(name: string): string {
  const slug = name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, MAX_STREAM_ID_LENGTH);
  return slug.length > 0 ? slug : 'stream';
}

export interface RegistryOptions {
  pipeline: Pipeline;
  maxStreams: number;
  /** How long an ended stream stays listed, in ms. */
  retentionMs: number;
  /** Called after an ended stream is forgotten, so other per-stream state can go too. */
  onForget?: (streamId: string) => void;
}

export class StreamRegistry {
  /** Emits after a stream opens, ends or is forgotten. */
  readonly changes$ = new Subject<void>();

  readonly #pipeline: Pipeline;
  readonly #maxStreams: number;
  readonly #retentionMs: number;
  readonly #onForget: ((streamId: string) => void) | undefined;
  readonly #streams = new Map<string, StreamEntry>();
  readonly #forgetTimers = new Map<string, NodeJS.Timeout>();

  constructor({ pipeline, maxStreams, retentionMs, onForget }: RegistryOptions) {
    this.#pipeline = pipeline;
    this.#maxStreams = maxStreams;
    this.#retentionMs = retentionMs;
    this.#onForget = onForget;
  }

  /**
   * Opens a stream for a device or source. A name whose stream ended recently resumes that
   * stream id; a name in use by an active stream gets a numbered id (name-2, name-3, ...).
   * Throws ERR_TOO_MANY_STREAMS when maxStreams streams are active.
   */
  open(description: StreamDescription): StreamEntry {
    const active = this.active().length;
    if (active >= this.#maxStreams) {
      throw new IngestError(
        'ERR_TOO_MANY_STREAMS',
        `the server already serves ${active} streams (maxStreams ${this.#maxStreams}); stop another stream or start the server with a higher --max-streams`,
      );
    }

    const baseId = streamIdFromName(description.name);
    let id = baseId;
    for (let suffix = 2; this.#streams.get(id)?.state === 'active'; suffix += 1) {
      id = `${baseId}-${suffix}`;
    }

    const previous = this.#streams.get(id);
    this.#cancelForget(id);
    this.#evictEndedBeyondLimit(id);

    const entry: StreamEntry = {
      ...description,
      id,
      state: 'active',
      lastSequence: previous?.lastSequence ?? -1,
      viewers: previous?.viewers ?? 0,
      startedAtMs: Date.now(),
      endedAtMs: undefined,
    };
    this.#streams.set(id, entry);
    this.changes$.next();
    return entry;
  }

  /** Marks a stream ended; it is forgotten (pipeline counters included) after the retention time. */
  end(id: string): void {
    const entry = this.#streams.get(id);
    if (entry === undefined || entry.state === 'ended') {
      return;
    }
    entry.state = 'ended';
    entry.endedAtMs = Date.now();

    const timer = setTimeout(() => this.#forget(id), this.#retentionMs);
    timer.unref();
    this.#forgetTimers.set(id, timer);
    this.changes$.next();
  }

  get(id: string): StreamEntry | undefined {
    return this.#streams.get(id);
  }

  /** Streams in the order they opened, ended ones included. */
  list(): StreamEntry[] {
    return [...this.#streams.values()];
  }

  active(): StreamEntry[] {
    return this.list().filter((entry) => entry.state === 'active');
  }

  /** Cancels the retention timers; the pipeline is closed separately. */
  close(): void {
    for (const timer of this.#forgetTimers.values()) {
      clearTimeout(timer);
    }
    this.#forgetTimers.clear();
    this.changes$.complete();
  }

  #forget(id: string): void {
    this.#forgetTimers.delete(id);
    const entry = this.#streams.get(id);
    if (entry === undefined || entry.state === 'active') {
      return;
    }
    this.#streams.delete(id);
    this.#pipeline.removeStream(id);
    this.#onForget?.(id);
    this.changes$.next();
  }

  #cancelForget(id: string): void {
    const timer = this.#forgetTimers.get(id);
    if (timer !== undefined) {
      clearTimeout(timer);
      this.#forgetTimers.delete(id);
    }
  }

  /** Keeps at most maxStreams ended streams, forgetting the oldest first, so reconnect churn cannot grow the map. */
  #evictEndedBeyondLimit(keepId: string): void {
    const ended = this.list().filter((entry) => entry.state === 'ended' && entry.id !== keepId);
    for (const entry of ended.slice(0, Math.max(0, ended.length - this.#maxStreams + 1))) {
      this.#cancelForget(entry.id);
      this.#forget(entry.id);
    }
  }
}
