// Stream ids and sequence numbers of OpenIGTLink sources.
//
// OpenIGTLink has no streams or sequence numbers: a connection carries IMAGEs named by device.
// An IgtlStreamDirectory maps (peer, device name) to a stream id, numbers the frames, and
// learns when the connection that fed a stream closes. IgtlStreams is the standalone
// directory; the server plugs in one backed by its stream registry (see server-plugin.ts).

import type { Frame, FrameGeometry, Result } from '../../pipeline/types.js';
import { encodeResult, type ResultEncodingOptions, type ResultMessages } from './from-result.js';

export interface IgtlStreamDirectory {
  /**
   * Returns the stream id for frames from `deviceName` on a connection to or from `peer`,
   * opening the stream on first use. Throws when no stream may be opened (too many streams,
   * server closing); the IMAGE is then rejected with ERR_IGTL_STREAM_REFUSED.
   */
  open(peer: string, deviceName: string, size: { width: number; height: number }): string;
  /** Returns the sequence number of the next frame of an open stream; called once per accepted frame. */
  nextSequence(streamId: string): number;
  /** Called once the connection that opened the stream has closed. */
  end(streamId: string): void;
  /** The device name behind a stream id, for naming outputs; undefined for other transports' streams. */
  deviceName(streamId: string): string | undefined;
}

interface StreamEntry {
  deviceName: string;
  nextSequence: number;
}

/**
 * Standalone directory. A stream id is "<peer>/<device name>", where the peer is
 * "igtl/<address>" for devices that connect to the listener and "igtl/<host>:<port>" for a
 * device server the client connects to, so a device that reconnects keeps its stream and its
 * sequence. Each accepted IMAGE gets the next sequence number of its stream, from 0.
 */
export class IgtlStreams implements IgtlStreamDirectory {
  readonly maxStreams: number;
  #streams = new Map<string, StreamEntry>();

  /** maxStreams bounds memory: beyond it the least recently opened stream is forgotten (its sequence restarts at 0). */
  constructor(maxStreams = 256) {
    this.maxStreams = maxStreams;
  }

  open(peer: string, deviceName: string): string {
    const streamId = `${peer}/${deviceName === '' ? 'unnamed' : deviceName}`;
    const entry = this.#streams.get(streamId) ?? { deviceName, nextSequence: 0 };
    this.#streams.delete(streamId);
    this.#streams.set(streamId, entry);
    if (this.#streams.size > this.maxStreams) this.#streams.delete(this.#streams.keys().next().value as string);
    return streamId;
  }

  nextSequence(streamId: string): number {
    const entry = this.#streams.get(streamId);
    if (entry === undefined) return 0;
    entry.nextSequence += 1;
    return entry.nextSequence - 1;
  }

  /** Keeps the entry, so that a device that reconnects continues its sequence. */
  end(): void {}

  deviceName(streamId: string): string | undefined {
    return this.#streams.get(streamId)?.deviceName;
  }
}

/** Frames per stream whose geometry is remembered until their result arrives. */
const GEOMETRY_MEMORY_FRAMES = 32;

/**
 * Encodes each result once for every connection that sends it. Output device names start
 * with the input device name for OpenIGTLink streams, and with the stream id's last path
 * segment for streams from other transports.
 *
 * Geometry comes from Result.geometry when the pipeline copied it there. Otherwise it comes
 * from the frame with the same stream and sequence, which rememberFrame() stored at submit,
 * and failing that from the stream's latest frame. Share one encoder between a listener and
 * a client so that outputs of the client's streams find their geometry.
 */
export class ResultEncoder {
  readonly options: ResultEncodingOptions;
  readonly maxStreams: number;
  #streams: IgtlStreamDirectory | undefined;
  #cache = new WeakMap<Result, ResultMessages>();
  /** Per stream, the geometry of its recent frames by sequence number, oldest first. */
  #geometry = new Map<string, Map<number, FrameGeometry>>();

  constructor(options: ResultEncodingOptions = {}, streams?: IgtlStreamDirectory, maxStreams = 256) {
    this.options = options;
    this.#streams = streams;
    this.maxStreams = maxStreams;
  }

  /** Remembers a submitted frame's geometry for its result. */
  rememberFrame(frame: Pick<Frame, 'streamId' | 'sequence' | 'geometry'>): void {
    if (frame.geometry === undefined) return;
    let bySequence = this.#geometry.get(frame.streamId);
    if (bySequence === undefined) {
      bySequence = new Map();
      this.#geometry.set(frame.streamId, bySequence);
      if (this.#geometry.size > this.maxStreams) this.#geometry.delete(this.#geometry.keys().next().value as string);
    }
    bySequence.set(frame.sequence, frame.geometry);
    if (bySequence.size > GEOMETRY_MEMORY_FRAMES) bySequence.delete(bySequence.keys().next().value as number);
  }

  encode(result: Result): ResultMessages {
    const cached = this.#cache.get(result);
    if (cached !== undefined) return cached;

    const base = this.#streams?.deviceName(result.streamId) ?? result.streamId.split('/').pop() ?? result.streamId;
    const geometry = result.geometry ?? this.#rememberedGeometry(result.streamId, result.sequence);
    const messages = encodeResult(geometry === undefined ? result : { ...result, geometry }, base, this.options);
    this.#cache.set(result, messages);
    return messages;
  }

  #rememberedGeometry(streamId: string, sequence: number): FrameGeometry | undefined {
    const bySequence = this.#geometry.get(streamId);
    if (bySequence === undefined) return undefined;
    const exact = bySequence.get(sequence);
    if (exact !== undefined) return exact;
    let latest: FrameGeometry | undefined;
    for (const geometry of bySequence.values()) latest = geometry;
    return latest;
  }
}
