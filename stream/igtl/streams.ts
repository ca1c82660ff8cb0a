// Stream ids and sequence numbers of OpenIGTLink sources, shared by all connections of a
// listener or a client so that a device that reconnects keeps its stream and its sequence.
//
// A stream id is "<prefix>/<device name>", where the prefix names the peer: "igtl/<address>"
// for devices that connect to the listener, "igtl/<host>:<port>" for a device server the
// client connects to. OpenIGTLink has no sequence numbers, so each accepted IMAGE gets the
// next one of its stream, from 0.

import type { Result } from '../../pipeline/types.js';
import { encodeResult, type ResultEncodingOptions, type ResultMessages } from './from-result.js';

interface StreamEntry {
  deviceName: string;
  nextSequence: number;
}

export class IgtlStreams {
  readonly maxStreams: number;
  #streams = new Map<string, StreamEntry>();

  /** maxStreams bounds memory: beyond it the least recently used stream's entry is forgotten (its sequence restarts at 0). */
  constructor(maxStreams = 256) {
    this.maxStreams = maxStreams;
  }

  idFor(prefix: string, deviceName: string): string {
    return `${prefix}/${deviceName === '' ? 'unnamed' : deviceName}`;
  }

  /** Returns the stream id and the next sequence number for a frame from `deviceName`. */
  nextFrame(prefix: string, deviceName: string): { streamId: string; sequence: number } {
    const streamId = this.idFor(prefix, deviceName);
    const entry = this.#streams.get(streamId) ?? { deviceName, nextSequence: 0 };
    this.#streams.delete(streamId);
    this.#streams.set(streamId, entry);
    if (this.#streams.size > this.maxStreams) this.#streams.delete(this.#streams.keys().next().value as string);

    const sequence = entry.nextSequence;
    entry.nextSequence += 1;
    return { streamId, sequence };
  }

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
  #streams: IgtlStreams | undefined;
  #cache = new WeakMap<Result, ResultMessages>();

  constructor(options: ResultEncodingOptions = {}, streams?: IgtlStreams) {
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
