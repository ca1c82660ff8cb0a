// Fan-out of results to viewers. Each viewer subscribes to one stream; every result of that
// stream is encoded once and sent to each of its viewers.
//
// Backpressure policy: skip when behind. A result is not sent to a viewer whose socket already
// has more than viewerMaxBufferedBytes queued, nor to a viewer that subscribed with an
// acknowledgement window (max_unacked_updates) and has that many updates unacknowledged. The
// skip is counted, and the next update the viewer receives carries how many it missed. Nothing
// waits for a viewer, so a slow viewer never slows the pipeline, the device or the other
// viewers. The window also stops the server encoding and writing updates for a viewer that has
// stopped painting, which the byte budget alone does not: kernel socket buffers take megabytes
// before bufferedAmount grows.

import type { Logger } from 'pino';
import type { Subscription } from 'rxjs';

import type { AlarmOptions, Pipeline, Result } from '../pipeline/index.js';
import type { segwithu } from '../proto/generated/segwithu.js';
import { ViewerError } from './errors.js';
import type { RateLimitedLog } from './log.js';
import type { StreamEntry, StreamRegistry } from './registry.js';
import type { Telemetry } from './telemetry.js';
import { encodeViewerUpdate, wrapViewerUpdate } from './viewer-update.js';
import { bigIntToUint64, encodeViewerMessage, PROTOCOL_VERSION, proto, uint64ToBigInt, wallClockNs } from './wire.js';

/** The part of a ws WebSocket the hub uses. */
export interface ViewerSocket {
  readonly bufferedAmount: number;
  readonly readyState: number;
  send(data: Uint8Array): void;
  close(code?: number, reason?: string): void;
}

/** ws readyState of an open socket. */
const OPEN = 1;

/** Largest acknowledgement window a viewer may ask for, in updates. */
export const MAX_UNACKED_UPDATES_LIMIT = 64;

/**
 * Rejected requests a viewer may send within REJECTION_WINDOW_MS before it is disconnected. Each
 * rejection costs an error object, a log call and a reply, so a viewer flooding bad requests
 * would otherwise hold the event loop that serves every other viewer.
 */
const MAX_REJECTIONS = 50;
const REJECTION_WINDOW_MS = 10_000;
/** WebSocket close code for a policy violation. */
const CLOSE_POLICY_VIOLATION = 1008;

export interface Viewer {
  readonly id: number;
  readonly socket: ViewerSocket;
  readonly remoteAddress: string;
  /** Stream subscribed to; undefined before Subscribe, or while waiting for the first stream. */
  streamId: string | undefined;
  /** Subscribed with an empty stream id and no stream existed yet: bound to the first that opens. */
  waitingForStream: boolean;
  skippedSinceLast: number;
  /** Acknowledgement window from the last Subscribe, in updates; 0 when the viewer sends no acks. */
  maxUnackedUpdates: number;
  /** update_id of the last update sent to this viewer; ids count from 1 per connection. */
  lastSentUpdateId: number;
  /** Highest update_id the viewer acknowledged. */
  lastAckedUpdateId: number;
  /** Requests rejected since rejectionWindowStartMs (performance.now()). */
  rejections: number;
  rejectionWindowStartMs: number;
}

export interface ViewerHubOptions {
  pipeline: Pipeline;
  registry: StreamRegistry;
  telemetry: Telemetry;
  logger: Logger;
  errorLog: RateLimitedLog;
  maxViewersPerStream: number;
  maxBufferedBytes: number;
  /** Alarm thresholds the pipeline runs with, sent to viewers in Subscribed. */
  alarm: AlarmOptions;
}

export function streamInfo(entry: StreamEntry): segwithu.v1.IStreamInfo {
  return {
    streamId: entry.id,
    streamName: entry.name,
    nominalRateHz: entry.nominalRateHz,
    width: entry.width,
    height: entry.height,
    viewers: entry.viewers,
    source: entry.source,
  };
}

export class ViewerHub {
  readonly #options: ViewerHubOptions;
  readonly #viewers = new Set<Viewer>();
  readonly #subscriptions: Subscription[] = [];
  #nextId = 1;

  constructor(options: ViewerHubOptions) {
    this.#options = options;
  }

  /** Starts forwarding results and stream list changes. */
  start(): void {
    this.#subscriptions.push(
      this.#options.pipeline.results$.subscribe({
        next: (result) => this.#fanOut(result),
        error: (error: unknown) => this.#options.logger.error({ err: error }, 'pipeline results ended with an error; viewers get no more results'),
      }),
      this.#options.registry.changes$.subscribe(() => this.#onStreamsChanged()),
    );
  }

  get size(): number {
    return this.#viewers.size;
  }

  add(socket: ViewerSocket, remoteAddress: string): Viewer {
    const viewer: Viewer = {
      id: this.#nextId++,
      socket,
      remoteAddress,
      streamId: undefined,
      waitingForStream: false,
      skippedSinceLast: 0,
      maxUnackedUpdates: 0,
      lastSentUpdateId: 0,
      lastAckedUpdateId: 0,
      rejections: 0,
      rejectionWindowStartMs: performance.now(),
    };
    this.#viewers.add(viewer);
    this.#options.logger.info({ viewerId: viewer.id, remoteAddress }, 'viewer connected');
    this.#send(viewer, encodeViewerMessage({ streams: this.#streamList() }));
    return viewer;
  }

  remove(viewer: Viewer, reason: string): void {
    if (!this.#viewers.delete(viewer)) {
      return;
    }
    this.#unbind(viewer);
    this.#options.logger.info({ viewerId: viewer.id, streamId: viewer.streamId, remoteAddress: viewer.remoteAddress, reason }, 'viewer disconnected');
  }

  /** Handles one ViewerRequest; a bad request gets an ErrorReport back and the viewer stays connected. */
  handleRequest(viewer: Viewer, bytes: Uint8Array): void {
    // A viewer disconnected for too many rejected requests can still have messages in flight.
    if (!this.#viewers.has(viewer)) {
      return;
    }
    let request: segwithu.v1.ViewerRequest;
    try {
      request = proto.ViewerRequest.decode(bytes);
    } catch (error) {
      this.#reject(viewer, new ViewerError('ERR_DECODE', `request of ${bytes.length} bytes is not a valid segwithu.v1.ViewerRequest (${(error as Error).message})`));
      return;
    }
    if (request.protocolVersion !== PROTOCOL_VERSION) {
      this.#reject(viewer, new ViewerError('ERR_PROTOCOL_VERSION', `protocol_version ${request.protocolVersion} is not supported; this server speaks version ${PROTOCOL_VERSION}`));
      return;
    }

    switch (request.body) {
      case 'subscribe': {
        const window = request.subscribe?.maxUnackedUpdates ?? 0;
        if (window > MAX_UNACKED_UPDATES_LIMIT) {
          this.#reject(viewer, new ViewerError('ERR_INVALID_REQUEST', `max_unacked_updates ${window} is above the limit of ${MAX_UNACKED_UPDATES_LIMIT}; ask for 1 to ${MAX_UNACKED_UPDATES_LIMIT} updates, or 0 for no acknowledgements`));
          return;
        }
        this.#subscribe(viewer, request.subscribe?.streamId ?? '', window);
        return;
      }
      case 'ack':
        this.#acknowledge(viewer, uint64ToBigInt(request.ack?.updateId ?? 0));
        return;
      case 'ping':
        this.#send(viewer, encodeViewerMessage({
          pong: { clientWallNs: request.ping?.clientWallNs ?? 0, serverWallNs: bigIntToUint64(wallClockNs()) },
        }));
        return;
      default:
        this.#reject(viewer, new ViewerError('ERR_DECODE', 'ViewerRequest has no body; send subscribe, ping or ack'));
    }
  }

  /** Closes every viewer socket with `code` (1001 at shutdown) and stops forwarding. */
  closeAll(code: number, reason: string): void {
    for (const subscription of this.#subscriptions) {
      subscription.unsubscribe();
    }
    this.#subscriptions.length = 0;
    for (const viewer of [...this.#viewers]) {
      viewer.socket.close(code, reason);
      this.remove(viewer, reason);
    }
  }

  #acknowledge(viewer: Viewer, updateId: bigint): void {
    if (updateId === 0n) {
      return;
    }
    if (viewer.maxUnackedUpdates === 0) {
      this.#reject(viewer, new ViewerError('ERR_INVALID_REQUEST', `ack for update_id ${updateId}, but this subscription has no acknowledgement window (max_unacked_updates 0), so its updates carry no update_id; subscribe with max_unacked_updates 1 to ${MAX_UNACKED_UPDATES_LIMIT} to use acks`));
      return;
    }
    if (updateId > BigInt(viewer.lastSentUpdateId)) {
      this.#reject(viewer, new ViewerError('ERR_INVALID_REQUEST', `ack for update_id ${updateId}, but the last update sent to this viewer was ${viewer.lastSentUpdateId}; acknowledge only update ids received`));
      return;
    }
    // Acks are cumulative, so an older or repeated one changes nothing.
    viewer.lastAckedUpdateId = Math.max(viewer.lastAckedUpdateId, Number(updateId));
  }

  /** Subscribes the viewer with acknowledgement window `window`; a rejected request leaves its subscription as it was. */
  #subscribe(viewer: Viewer, requestedId: string, window: number): void {
    const { registry, maxViewersPerStream } = this.#options;
    const entry = requestedId === '' ? registry.active()[0] : registry.get(requestedId);

    if (entry === undefined && requestedId !== '') {
      const known = registry.list().map((stream) => stream.id).join(', ') || 'none';
      this.#reject(viewer, new ViewerError('ERR_UNKNOWN_STREAM', `stream "${requestedId}" is not known (streams: ${known}); subscribe to one of them, or to "" for the first live stream`));
      return;
    }
    const sameStream = entry !== undefined && entry.id === viewer.streamId;
    if (entry !== undefined && !sameStream && entry.viewers >= maxViewersPerStream) {
      this.#rejectFullStream(viewer, entry);
      return;
    }

    // Updates still in flight from before are forgiven, so a viewer that discards them is not
    // held back. Results held back on the same stream are still reported on the next update.
    const skippedSinceLast = sameStream ? viewer.skippedSinceLast : 0;
    viewer.maxUnackedUpdates = window;
    viewer.lastAckedUpdateId = viewer.lastSentUpdateId;
    this.#unbind(viewer);
    if (entry === undefined) {
      viewer.waitingForStream = true;
      this.#options.logger.info({ viewerId: viewer.id }, 'viewer waits for the first stream');
      return;
    }
    this.#bind(viewer, entry);
    viewer.skippedSinceLast = skippedSinceLast;
  }

  #rejectFullStream(viewer: Viewer, entry: StreamEntry): void {
    const current = viewer.streamId === undefined ? '' : ` The viewer stays subscribed to "${viewer.streamId}".`;
    this.#reject(viewer, new ViewerError('ERR_TOO_MANY_VIEWERS', `stream "${entry.id}" already has ${entry.viewers} viewers (maxViewersPerStream ${this.#options.maxViewersPerStream}); close another viewer or raise --max-viewers-per-stream.${current}`));
  }

  #bind(viewer: Viewer, entry: StreamEntry): void {
    if (entry.viewers >= this.#options.maxViewersPerStream) {
      this.#rejectFullStream(viewer, entry);
      return;
    }
    viewer.streamId = entry.id;
    viewer.waitingForStream = false;
    viewer.skippedSinceLast = 0;
    entry.viewers += 1;

    const { alarm, pipeline } = this.#options;
    this.#send(viewer, encodeViewerMessage({
      subscribed: {
        stream: streamInfo(entry),
        alarm: { enter: alarm.enter, exit: alarm.exit, enterFrames: alarm.enterFrames, exitFrames: alarm.exitFrames },
        modelId: `${pipeline.manifest.model.id}@${pipeline.manifest.model.version}`,
      },
    }));
    this.#options.logger.info({ viewerId: viewer.id, streamId: entry.id }, 'viewer subscribed');
  }

  #unbind(viewer: Viewer): void {
    viewer.waitingForStream = false;
    if (viewer.streamId === undefined) {
      return;
    }
    const entry = this.#options.registry.get(viewer.streamId);
    if (entry !== undefined) {
      entry.viewers = Math.max(0, entry.viewers - 1);
    }
    viewer.streamId = undefined;
  }

  #fanOut(result: Result): void {
    const audience = [...this.#viewers].filter((viewer) => viewer.streamId === result.streamId);
    if (audience.length === 0) {
      return;
    }

    const stats = this.#options.telemetry.stream(result.streamId);
    const sentNs = process.hrtime.bigint();
    let update: Uint8Array;
    try {
      update = encodeViewerUpdate(result, this.#options.pipeline.counters(result.streamId), sentNs, wallClockNs());
    } catch (error) {
      this.#options.errorLog.error(`encode:${result.streamId}`, { streamId: result.streamId, sequence: result.sequence, err: error }, 'viewer update could not be encoded; result not sent');
      return;
    }

    let sent = 0;
    for (const viewer of audience) {
      const windowFull = viewer.maxUnackedUpdates > 0 && viewer.lastSentUpdateId - viewer.lastAckedUpdateId >= viewer.maxUnackedUpdates;
      if (viewer.socket.readyState !== OPEN || windowFull || viewer.socket.bufferedAmount > this.#options.maxBufferedBytes) {
        viewer.skippedSinceLast += 1;
        stats.viewerUpdatesSkipped += 1;
        if (windowFull) {
          stats.viewerUpdatesAwaitingAck += 1;
        }
        continue;
      }
      viewer.lastSentUpdateId += 1;
      const updateId = viewer.maxUnackedUpdates > 0 ? viewer.lastSentUpdateId : 0;
      viewer.socket.send(wrapViewerUpdate(update, viewer.skippedSinceLast, updateId));
      viewer.skippedSinceLast = 0;
      stats.viewerUpdatesSent += 1;
      sent += 1;
    }

    if (sent > 0) {
      stats.sendLatencyMs.observe(Number(sentNs - result.timestamps.receivedNs) / 1e6);
    }
  }

  #onStreamsChanged(): void {
    const list = encodeViewerMessage({ streams: this.#streamList() });
    const firstActive = this.#options.registry.active()[0];
    for (const viewer of this.#viewers) {
      if (viewer.waitingForStream && firstActive !== undefined) {
        this.#bind(viewer, firstActive);
      }
      this.#send(viewer, list);
    }
  }

  #streamList(): segwithu.v1.IStreamList {
    return { streams: this.#options.registry.list().map(streamInfo) };
  }

  #reject(viewer: Viewer, error: ViewerError): void {
    this.#options.telemetry.countViewerRejection(error.code);
    const nowMs = performance.now();
    if (nowMs - viewer.rejectionWindowStartMs > REJECTION_WINDOW_MS) {
      viewer.rejections = 0;
      viewer.rejectionWindowStartMs = nowMs;
    }
    viewer.rejections += 1;
    if (viewer.rejections > MAX_REJECTIONS) {
      this.#disconnectForRejections(viewer);
      return;
    }
    this.#options.errorLog.warn(
      `viewer:${viewer.id}:${error.code}`,
      { viewerId: viewer.id, streamId: viewer.streamId, code: error.code, remoteAddress: viewer.remoteAddress, err: error.message },
      'viewer request rejected',
    );
    this.#send(viewer, encodeViewerMessage({ error: { code: error.code, message: error.message, fatal: false } }));
  }

  #disconnectForRejections(viewer: Viewer): void {
    this.#options.telemetry.countViewerRejection('ERR_TOO_MANY_INVALID_REQUESTS');
    const message = `more than ${MAX_REJECTIONS} requests rejected within ${REJECTION_WINDOW_MS / 1000} s; fix the requests the earlier error reports name, then reconnect`;
    this.#options.logger.warn({ viewerId: viewer.id, streamId: viewer.streamId, remoteAddress: viewer.remoteAddress }, `viewer disconnected: ${message}`);
    this.#send(viewer, encodeViewerMessage({ error: { code: 'ERR_TOO_MANY_INVALID_REQUESTS', message, fatal: true } }));
    viewer.socket.close(CLOSE_POLICY_VIOLATION, 'ERR_TOO_MANY_INVALID_REQUESTS');
    this.remove(viewer, 'too many invalid requests');
  }

  /**
   * Sends a control message unless the socket is closed or already has more than the send
   * budget queued, because a viewer that sends requests but does not read the replies must not
   * grow the server's memory.
   */
  #send(viewer: Viewer, bytes: Uint8Array): void {
    if (viewer.socket.readyState !== OPEN) {
      return;
    }
    if (viewer.socket.bufferedAmount > this.#options.maxBufferedBytes) {
      this.#options.errorLog.warn(`viewer:${viewer.id}:control-skipped`, { viewerId: viewer.id, bufferedBytes: viewer.socket.bufferedAmount }, 'control message not sent: the viewer is not reading its socket');
      return;
    }
    viewer.socket.send(bytes);
  }
}
