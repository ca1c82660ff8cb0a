// Splits a TCP byte stream into messages, each sent as a 4-byte big-endian length followed by
// that many bytes of protobuf. Push-based: append() whatever arrived, then call nextRecord()
// until it returns undefined; it does not care where the bytes come from.
//
// Limits: a message above maxMessageBytes is skipped unread (its bytes are discarded as they
// arrive) and reported as an 'oversize' record, so the connection survives it. A length above
// maxDiscardBytes is taken as broken framing (a sender out of step, or not speaking this
// protocol): nextRecord() throws ERR_FRAMING and keeps throwing, and the caller ends the connection.

import { IngestError } from './errors.js';

/** Bytes of the length prefix. */
export const LENGTH_PREFIX_BYTES = 4;

export type FramingRecord =
  | { kind: 'message'; payload: Uint8Array }
  /** A message above maxMessageBytes, skipped unread. */
  | { kind: 'oversize'; byteLength: number };

export interface LengthPrefixedReaderOptions {
  /** Largest message returned, in bytes. */
  maxMessageBytes: number;
  /** Largest length prefix still read as a message and discarded, in bytes. Default 2 × maxMessageBytes. */
  maxDiscardBytes?: number;
}

const enum State {
  /** Waiting for the 4 bytes of the next length prefix. */
  GET_LENGTH,
  /** Waiting for all bytes of a message within the limit. */
  GET_PAYLOAD,
  /** Dropping the bytes of an oversize message as they arrive. */
  DISCARD_PAYLOAD,
  /** The framing is broken; no further record can be trusted. */
  BROKEN,
}

export class LengthPrefixedReader {
  readonly #maxMessageBytes: number;
  readonly #maxDiscardBytes: number;
  #state = State.GET_LENGTH;
  /** Unread chunks, oldest first; #chunkOffset bytes of the first are already consumed. */
  #chunks: Uint8Array[] = [];
  #chunkOffset = 0;
  #bufferedBytes = 0;
  /** Length of the message being read or discarded. */
  #payloadLength = 0;
  #discardRemaining = 0;
  #brokenError: IngestError | undefined;

  constructor({ maxMessageBytes, maxDiscardBytes = 2 * maxMessageBytes }: LengthPrefixedReaderOptions) {
    this.#maxMessageBytes = maxMessageBytes;
    this.#maxDiscardBytes = Math.max(maxDiscardBytes, maxMessageBytes);
  }

  /** Bytes received and not yet returned or discarded. */
  get bufferedBytes(): number {
    return this.#bufferedBytes;
  }

  append(chunk: Uint8Array): void {
    if (this.#state === State.BROKEN || chunk.length === 0) {
      return;
    }
    this.#chunks.push(chunk);
    this.#bufferedBytes += chunk.length;
  }

  /** Returns the next complete record, or undefined until more bytes arrive. Throws ERR_FRAMING once broken. */
  nextRecord(): FramingRecord | undefined {
    for (;;) {
      switch (this.#state) {
        case State.BROKEN:
          throw this.#brokenError!;

        case State.GET_LENGTH: {
          if (this.#bufferedBytes < LENGTH_PREFIX_BYTES) {
            return undefined;
          }
          const prefix = this.#consume(LENGTH_PREFIX_BYTES);
          const length = new DataView(prefix.buffer, prefix.byteOffset, LENGTH_PREFIX_BYTES).getUint32(0, false);

          if (length > this.#maxDiscardBytes) {
            this.#state = State.BROKEN;
            this.#chunks = [];
            this.#bufferedBytes = 0;
            this.#brokenError = new IngestError(
              'ERR_FRAMING',
              `length prefix ${length} is above ${this.#maxDiscardBytes} bytes, so the byte stream is out of step; send each message as a 4-byte big-endian length followed by that many bytes`,
            );
            throw this.#brokenError;
          }
          if (length > this.#maxMessageBytes) {
            this.#state = State.DISCARD_PAYLOAD;
            this.#discardRemaining = length;
            return { kind: 'oversize', byteLength: length };
          }
          this.#state = State.GET_PAYLOAD;
          this.#payloadLength = length;
          continue;
        }

        case State.GET_PAYLOAD: {
          if (this.#bufferedBytes < this.#payloadLength) {
            return undefined;
          }
          const payload = this.#consume(this.#payloadLength);
          this.#state = State.GET_LENGTH;
          return { kind: 'message', payload };
        }

        case State.DISCARD_PAYLOAD: {
          const dropped = Math.min(this.#discardRemaining, this.#bufferedBytes);
          this.#skip(dropped);
          this.#discardRemaining -= dropped;
          if (this.#discardRemaining > 0) {
            return undefined;
          }
          this.#state = State.GET_LENGTH;
          continue;
        }
      }
    }
  }

  /** Removes n buffered bytes and returns them; copies only when they span chunks. */
  #consume(n: number): Uint8Array {
    this.#bufferedBytes -= n;
    const first = this.#chunks[0];
    if (first !== undefined && first.length - this.#chunkOffset >= n) {
      const view = first.subarray(this.#chunkOffset, this.#chunkOffset + n);
      this.#advance(n);
      return view;
    }

    const out = new Uint8Array(n);
    let written = 0;
    while (written < n) {
      const chunk = this.#chunks[0];
      const take = Math.min(n - written, chunk.length - this.#chunkOffset);
      out.set(chunk.subarray(this.#chunkOffset, this.#chunkOffset + take), written);
      written += take;
      this.#advance(take);
    }
    return out;
  }

  #skip(n: number): void {
    this.#bufferedBytes -= n;
    let left = n;
    while (left > 0) {
      const take = Math.min(left, this.#chunks[0].length - this.#chunkOffset);
      this.#advance(take);
      left -= take;
    }
  }

  /** Moves the read position n bytes within the first chunk, dropping it once read. */
  #advance(n: number): void {
    this.#chunkOffset += n;
    if (this.#chunkOffset === this.#chunks[0].length) {
      this.#chunks.shift();
      this.#chunkOffset = 0;
    }
  }
}

/** Prefixes a message with its 4-byte big-endian length, for senders and tests. */
export function encodeLengthPrefixed(message: Uint8Array): Uint8Array {
  const out = new Uint8Array(LENGTH_PREFIX_BYTES + message.length);
  new DataView(out.buffer).setUint32(0, message.length, false);
  out.set(message, LENGTH_PREFIX_BYTES);
  return out;
}
