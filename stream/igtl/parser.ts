// Incremental OpenIGTLink parser: push bytes as they arrive, in pieces of any size, and pull
// events. It has no I/O of its own, so a socket, a file and a test drive it the same way.
//
// States:
//   READ_HEADER  waiting for the 58 header bytes; the header is checked (version, type name,
//                BODY_SIZE against maxBodyBytes) and any failure is a framing error
//   READ_BODY    waiting for BODY_SIZE bytes of a type this product reads; then CRC, then decode
//   SKIP_BODY    discarding the body of another type without buffering it
//   FAILED       after a framing error; nothing more is parsed
//
// An invalid body (CRC mismatch, bad IMAGE header, …) is a 'rejected' event and parsing goes
// on with the next header, because BODY_SIZE still says where that header starts.

import { Crc64 } from './crc64.js';
import { IgtlError } from './errors.js';
import { HEADER_SIZE, decodeHeader, type IgtlHeader } from './header.js';
import { decodeBody, isReadType, type IgtlMessage } from './message.js';
import type { ImageLimits } from './image.js';

export type IgtlParserState = 'READ_HEADER' | 'READ_BODY' | 'SKIP_BODY' | 'FAILED';

export type IgtlParseEvent =
  | { kind: 'message'; message: IgtlMessage }
  /** A type this product does not read; its body was discarded unchecked. */
  | { kind: 'skipped'; header: IgtlHeader }
  /** A read type whose body is invalid; framing is intact and parsing continues. */
  | { kind: 'rejected'; header: IgtlHeader; error: IgtlError }
  /** Framing is broken; the parser is in FAILED and the connection should end. */
  | { kind: 'failed'; error: IgtlError };

export interface IgtlParserOptions {
  /**
   * Largest BODY_SIZE accepted, in bytes. A larger one is a framing error, because the body
   * would have to be buffered (or skipped) on the sender's word alone. Default 64 MiB: a
   * 4096 × 4096 float32 image is exactly 64 MiB plus its 72-byte image header, so that case
   * needs a higher limit.
   */
  maxBodyBytes?: number;
  /** Largest IMAGE size along i (columns). Default 4096. */
  maxImageWidth?: number;
  /** Largest IMAGE size along j (rows). Default 4096. */
  maxImageHeight?: number;
  /** Largest IMAGE size along k (slices). Default 512. */
  maxImageDepth?: number;
  /** Largest IMAGE width × height × depth. Default 4096 × 4096. */
  maxImagePixels?: number;
  /**
   * Check the header CRC-64 against the body. A CRC field of 0 counts as "not computed" and is
   * not checked, since some senders leave it 0. Default true.
   */
  verifyCrc?: boolean;
}

export const DEFAULT_MAX_BODY_BYTES = 64 * 1024 * 1024;

/** Bytes that arrived but were not parsed yet: a list of chunks, read from the front. */
class ByteQueue {
  #chunks: Uint8Array[] = [];
  /** Read position inside the first chunk. */
  #head = 0;
  #length = 0;

  get length(): number {
    return this.#length;
  }

  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    this.#chunks.push(chunk);
    this.#length += chunk.length;
  }

  /** Removes n ≤ length bytes; a view when they lie in one chunk, a copy otherwise. */
  take(n: number): Uint8Array {
    const first = this.#chunks[0];
    if (n === 0) return new Uint8Array(0);
    if (first.length - this.#head >= n) {
      const view = first.subarray(this.#head, this.#head + n);
      this.#advance(n);
      return view;
    }
    const out = new Uint8Array(n);
    let filled = 0;
    while (filled < n) {
      const chunk = this.#chunks[0];
      const count = Math.min(n - filled, chunk.length - this.#head);
      out.set(chunk.subarray(this.#head, this.#head + count), filled);
      filled += count;
      this.#advance(count);
    }
    return out;
  }

  /** Discards up to n bytes and returns how many were discarded. */
  skip(n: number): number {
    const count = Math.min(n, this.#length);
    let left = count;
    while (left > 0) {
      const step = Math.min(left, this.#chunks[0].length - this.#head);
      this.#advance(step);
      left -= step;
    }
    return count;
  }

  clear(): void {
    this.#chunks = [];
    this.#head = 0;
    this.#length = 0;
  }

  #advance(n: number): void {
    this.#head += n;
    this.#length -= n;
    if (this.#head === this.#chunks[0].length) {
      this.#chunks.shift();
      this.#head = 0;
    }
  }
}

export class IgtlParser {
  readonly maxBodyBytes: number;
  readonly limits: ImageLimits;
  readonly verifyCrc: boolean;

  #state: IgtlParserState = 'READ_HEADER';
  #queue = new ByteQueue();
  #header: IgtlHeader | undefined;
  #skipLeft = 0;
  #failure: IgtlError | undefined;

  constructor({
    maxBodyBytes = DEFAULT_MAX_BODY_BYTES,
    maxImageWidth = 4096,
    maxImageHeight = 4096,
    maxImageDepth = 512,
    maxImagePixels = 4096 * 4096,
    verifyCrc = true,
  }: IgtlParserOptions = {}) {
    const limits = { maxBodyBytes, maxImageWidth, maxImageHeight, maxImageDepth, maxImagePixels };
    for (const [name, value] of Object.entries(limits)) {
      if (!Number.isSafeInteger(value) || value < 1) {
        throw new IgtlError('ERR_IGTL_OPTIONS', `parser option ${name} = ${value} is not a positive integer`);
      }
    }
    this.maxBodyBytes = maxBodyBytes;
    this.limits = { maxImageWidth, maxImageHeight, maxImageDepth, maxImagePixels };
    this.verifyCrc = verifyCrc;
  }

  get state(): IgtlParserState {
    return this.#state;
  }

  /** Bytes pushed but not yet parsed; at most 58 + maxBodyBytes + the last chunk while the caller drains next(). */
  get bufferedBytes(): number {
    return this.#queue.length;
  }

  /** The framing error that put the parser in FAILED, if any. */
  get failure(): IgtlError | undefined {
    return this.#failure;
  }

  push(chunk: Uint8Array): void {
    if (this.#state === 'FAILED') {
      throw new IgtlError('ERR_IGTL_PARSER_FAILED', `push() after a framing error (${this.#failure?.code}); end the connection instead`);
    }
    this.#queue.push(chunk);
  }

  /** Parses as far as the buffered bytes allow and returns the next event, or undefined when more bytes are needed. */
  next(): IgtlParseEvent | undefined {
    for (;;) {
      switch (this.#state) {
        case 'READ_HEADER': {
          if (this.#queue.length < HEADER_SIZE) return undefined;
          const failed = this.#readHeader();
          if (failed !== undefined) return failed;
          break;
        }
        case 'SKIP_BODY': {
          this.#skipLeft -= this.#queue.skip(this.#skipLeft);
          if (this.#skipLeft > 0) return undefined;
          this.#state = 'READ_HEADER';
          return { kind: 'skipped', header: this.#header! };
        }
        case 'READ_BODY': {
          const header = this.#header!;
          if (this.#queue.length < header.bodySize) return undefined;
          const body = this.#queue.take(header.bodySize);
          this.#state = 'READ_HEADER';
          return this.#decode(header, body);
        }
        case 'FAILED':
          return undefined;
      }
    }
  }

  /** Reads and checks one header; returns the 'failed' event when framing is broken. */
  #readHeader(): IgtlParseEvent | undefined {
    const bytes = this.#queue.take(HEADER_SIZE);
    let header: IgtlHeader;
    try {
      header = decodeHeader(bytes, this.maxBodyBytes);
    } catch (error) {
      if (!(error instanceof IgtlError)) throw error;
      this.#state = 'FAILED';
      this.#failure = error;
      this.#queue.clear();
      return { kind: 'failed', error };
    }

    this.#header = header;
    if (isReadType(header.type)) {
      this.#state = 'READ_BODY';
    } else {
      this.#state = 'SKIP_BODY';
      this.#skipLeft = header.bodySize;
    }
    return undefined;
  }

  #decode(header: IgtlHeader, body: Uint8Array): IgtlParseEvent {
    if (this.verifyCrc && header.crc !== 0n) {
      const actual = new Crc64().update(body).digest();
      if (actual !== header.crc) {
        const error = new IgtlError(
          'ERR_IGTL_CRC_MISMATCH',
          `${header.type} from "${header.deviceName}": header CRC-64 0x${hex64(header.crc)} does not match the body's 0x${hex64(actual)}`,
        );
        return { kind: 'rejected', header, error };
      }
    }

    try {
      return { kind: 'message', message: decodeBody(header, body, this.limits) };
    } catch (error) {
      if (!(error instanceof IgtlError)) throw error;
      return { kind: 'rejected', header, error };
    }
  }
}

function hex64(value: bigint): string {
  return value.toString(16).padStart(16, '0');
}
