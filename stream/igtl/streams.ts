// Stream ids and sequence numbers of OpenIGTLink sources.
//
// OpenIGTLink has no streams or sequence numbers: a connection carries IMAGEs named by device.
// An IgtlStreamDirectory maps (peer, device name) to a stream id, numbers the frames, and
// learns when the connection that fed a stream closes. IgtlStreams is the standalone
// directory; the server plugs in one backed by its stream registry (see server-plugin.ts).

import type { Result } from '../../pipeline/types.js';
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

/**
 * Encodes each result once for every connection that sends it. Output device names start
 * with the input device name for OpenIGTLink streams, and with the stream id's last path
 * segment for streams from other transports.
 */
export class ResultEncoder {
  readonly options: ResultEncodingOptions;
  #streams: IgtlStreamDirectory | undefined;
  #cache = new WeakMap<Result, ResultMessages>();

  constructor(options: ResultEncodingOptions = {}, streams?: IgtlStreamDirectory) {
    this.options = options;
    this.#streams = streams;
  }

  encode(result: Result): ResultMessages {
    const cached = this.#cache.get(result);
    if (cached !== undefined) return cached;

    const base = this.#streams?.deviceName(result.streamId) ?? result.streamId.split('/').pop() ?? result.streamId;
    const messages = encodeResult(result, base, this.options);
    this.#cache.set(result, messages);
    return messages;
  }
}
