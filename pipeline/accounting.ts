// The per-stream ledger behind the invariant received = processed + sum(dropped) + inFlight.
//
// Every submitted frame gets a Ticket, and a ticket is settled exactly once: as processed or as
// dropped with a reason. A second settlement is ignored, so a frame that is dropped at the
// shutdown deadline and later comes out of the session is counted once. inFlight is its own
// counter (incremented on admission, decremented on settlement), so the invariant is a real
// check on every path.

import type { DropReason, Result } from './types.js';
import { DROP_REASONS } from './types.js';
import type { DropEvent, LatencyStage, StreamCounters } from './index.js';
import { LATENCY_STAGES } from './index.js';
import { Histogram, LATENCY_BUCKETS_MS, RateMeter } from './metrics.js';

export interface Ticket {
  readonly stream: StreamRecord;
  readonly sequence: number;
  /** Monotonic clock when the frame left its stream's waiting slot. */
  takenNs: bigint | undefined;
  settled: boolean;
  /** Resolves the promise submit() returned. */
  readonly release: () => void;
}

const zeroDrops = (): Record<DropReason, number> => Object.fromEntries(DROP_REASONS.map((reason) => [reason, 0])) as Record<DropReason, number>;
const nsToMs = (ns: bigint): number => Number(ns) / 1e6;

export class StreamRecord {
  readonly streamId: string;
  received = 0;
  processed = 0;
  readonly dropped = zeroDrops();
  inFlight = 0;
  /** Admitted frames not yet taken from the waiting slot. */
  waiting = 0;
  readonly latencyMs: Record<LatencyStage, Histogram>;
  readonly rate = new RateMeter();
  /** Tickets admitted and not yet settled. */
  readonly open = new Set<Ticket>();

  constructor(streamId: string) {
    this.streamId = streamId;
    this.latencyMs = Object.fromEntries(LATENCY_STAGES.map((stage) => [stage, new Histogram(LATENCY_BUCKETS_MS)])) as Record<LatencyStage, Histogram>;
  }

  counters(): StreamCounters {
    return { received: this.received, processed: this.processed, dropped: { ...this.dropped }, inFlight: this.inFlight };
  }

  balanced(): boolean {
    const dropped = DROP_REASONS.reduce((sum, reason) => sum + this.dropped[reason], 0);
    return this.received === this.processed + dropped + this.inFlight && this.inFlight === this.open.size;
  }
}

export class Ledger {
  readonly #streams = new Map<string, StreamRecord>();
  /** Removed streams that still had frames in flight; kept until those settle. */
  readonly #detached = new Set<StreamRecord>();
  readonly #onDrop: (event: DropEvent) => void;

  constructor(onDrop: (event: DropEvent) => void) {
    this.#onDrop = onDrop;
  }

  streams(): IterableIterator<StreamRecord> {
    return this.#streams.values();
  }

  /** Returns the stream's record, or undefined for a stream never seen (or removed). */
  peek(streamId: string): StreamRecord | undefined {
    return this.#streams.get(streamId);
  }

  stream(streamId: string): StreamRecord {
    let record = this.#streams.get(streamId);
    if (record === undefined) {
      record = new StreamRecord(streamId);
      this.#streams.set(streamId, record);
    }
    return record;
  }

  /** Forgets a stream; its open tickets keep pointing at the detached record. */
  remove(streamId: string): StreamRecord | undefined {
    const record = this.#streams.get(streamId);
    this.#streams.delete(streamId);
    if (record !== undefined && record.open.size > 0) this.#detached.add(record);
    return record;
  }

  /** Counts a frame that enters the pipeline and returns its ticket. */
  admit(streamId: string, sequence: number, release: () => void): Ticket {
    const stream = this.stream(streamId);
    const ticket: Ticket = { stream, sequence, takenNs: undefined, settled: false, release };
    stream.received++;
    stream.inFlight++;
    stream.waiting++;
    stream.open.add(ticket);
    return ticket;
  }

  /** Counts a frame that is dropped before it enters (invalid, or submitted after close). */
  reject(streamId: string, sequence: number, reason: DropReason, error?: Error): void {
    const stream = this.stream(streamId);
    stream.received++;
    stream.dropped[reason]++;
    this.#onDrop({ streamId, sequence, reason, ...(error === undefined ? {} : { error }) });
  }

  /** Marks a ticket taken from its waiting slot; false when it was settled before. */
  take(ticket: Ticket): boolean {
    if (ticket.settled) return false;
    ticket.takenNs = process.hrtime.bigint();
    ticket.stream.waiting--;
    ticket.release();
    return true;
  }

  /** Settles a ticket as processed and records its stage latencies; false when it was settled before. */
  process(ticket: Ticket, result: Result): boolean {
    if (!this.#settle(ticket)) return false;
    const stream = ticket.stream;
    stream.processed++;
    stream.rate.mark();

    const t = result.timestamps;
    const takenNs = ticket.takenNs ?? t.receivedNs;
    const latency = stream.latencyMs;
    latency.queue.observe(nsToMs(takenNs - t.receivedNs));
    latency.preprocess.observe(nsToMs(t.preprocessedNs - takenNs));
    latency.batch.observe(nsToMs(t.inferenceStartNs - t.preprocessedNs));
    latency.inference.observe(nsToMs(t.inferenceEndNs - t.inferenceStartNs));
    latency.postprocess.observe(nsToMs(t.postprocessedNs - t.inferenceEndNs));
    latency.total.observe(nsToMs(t.postprocessedNs - t.receivedNs));
    return true;
  }

  /** Settles a ticket as dropped and reports it on drops$; false when it was settled before. */
  drop(ticket: Ticket, reason: DropReason, error?: Error): boolean {
    if (!this.#settle(ticket)) return false;
    ticket.stream.dropped[reason]++;
    this.#onDrop({ streamId: ticket.stream.streamId, sequence: ticket.sequence, reason, ...(error === undefined ? {} : { error }) });
    return true;
  }

  /** Drops every open ticket of every stream (at the close deadline); returns how many. */
  dropAllOpen(reason: DropReason): number {
    let count = 0;
    for (const stream of [...this.#streams.values(), ...this.#detached]) {
      for (const ticket of [...stream.open]) if (this.drop(ticket, reason)) count++;
    }
    return count;
  }

  /** Drops the stream's tickets that still wait in their slot; returns how many. */
  dropWaiting(stream: StreamRecord, reason: DropReason): number {
    let count = 0;
    for (const ticket of [...stream.open]) {
      if (ticket.takenNs === undefined && this.drop(ticket, reason)) count++;
    }
    return count;
  }

  #settle(ticket: Ticket): boolean {
    if (ticket.settled) return false;
    ticket.settled = true;
    const stream = ticket.stream;
    stream.inFlight--;
    stream.open.delete(ticket);
    if (stream.open.size === 0) this.#detached.delete(stream);
    if (ticket.takenNs === undefined) {
      stream.waiting--;
      ticket.release();
    }
    return true;
  }
}
