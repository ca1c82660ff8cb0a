// Records one stream's frames and results to MCAP files: chunked, indexed, zstd-compressed,
// readable by Foxglove as is (see schemas.ts for the channels).
//
// The recorder is transport-agnostic: callers hand it frames and results. write() and append()
// catch every error, so a caller never sees one, and write() never makes a caller wait. write() is for live streams: it queues and returns at once,
// dropping (and counting) a frame when the queue is full or the recording has stopped.
// append() is for offline conversion: it waits for room in the queue instead of dropping.
// A write error (a full disk, ENOSPC) stops the recording; the live stream goes on without it.
//
// Durability: McapWriter keeps the open chunk in memory and writes it when it passes
// chunkSizeBytes. close() finalises the file (summary, indexes, footer), so a server should
// call it on SIGTERM. After SIGKILL or a power loss, the file ends at the last complete chunk
// and openRecording() (reader.ts) recovers every message before that point.
//
// Encoding and zstd compression run on the caller's event loop. One run on 2 cores under a
// load average of 14 took about 30 ms per 709 × 749 frame with 256 × 256 maps (half encoding,
// half compression), so the unloaded cost is lower but not measured. Live streams are therefore
// recorded through RecordingThread (recording-thread.ts), which runs this class on a worker
// thread; offline conversion uses it directly.

import { mkdir } from 'node:fs/promises';
import path from 'node:path';

import { McapWriter, type IWritable } from '@mcap/core';
import type { Logger } from 'pino';

import type { Result } from '../../pipeline/index.js';
import { zstdChunkCompressor, zstdReady } from './compression.js';
import { checkRecordedFrame, encodeFrameMessages, encodeResultMessages, type EncodedMessage, type RecordedFrame } from './encode.js';
import { openRecordingFile, type OpenRecordingFile, type RecordingFile } from './file.js';
import { TOPICS, recordingSchemas, type Topic } from './schemas.js';

export type { RecordedFrame } from './encode.js';
export { recordedFrameFromResult } from './encode.js';

export interface McapRecorderOptions {
  /** Folder the recording files go to; created when missing. */
  directory: string;
  /**
   * Name of the stream: it appears in file names, channel metadata and Result.stream_id, and
   * nothing else about the source or the patient is written.
   */
  streamName: string;
  /** Uncompressed bytes per chunk; at most this much is lost on SIGKILL. Default 1 MiB. */
  chunkSizeBytes?: number;
  /** Chunk compression. Default 'zstd'. */
  compression?: 'zstd' | 'none';
  /** zstd level: 1 is fastest; 3 finds the repeats between maps better. Default 1. */
  zstdLevel?: number;
  /** A new file starts after the frame that brings the current one to this many bytes. Default 1 GiB. */
  maxFileBytes?: number;
  /** Log time one file spans at most (see #nextLogTime); a frame beyond it starts a new file. Default 10 minutes. */
  maxFileDurationMs?: number;
  /** Frames waiting to be written; write() drops beyond it. Default 32. */
  maxQueuedFrames?: number;
  /** Opens an output file; tests pass one that fails. Default: create the file, never overwrite. */
  openFile?: OpenRecordingFile;
  /** Clock for file names and for the log time of frames with capture time 0. Default: the system clock. */
  now?: () => Date;
  /** Names the file of each part (0, 1, ...). Default: <stream>_<UTC start time>_<part>.mcap. */
  fileName?: (part: number) => string;
  /** Further metadata records written at the start of every file, by record name. */
  metadata?: Record<string, Record<string, string>>;
  logger?: Logger;
}

export type RecorderState = 'recording' | 'stopped' | 'closed';

/** Cause of a recording stopping before close(). */
export type RecorderStopReason = 'disk_full' | 'write_error';

export interface RecorderStatus {
  state: RecorderState;
  stopReason?: RecorderStopReason;
  /** The error that stopped the recording, as a message. */
  error?: string;
  /** Files started so far, oldest first. */
  files: string[];
  framesWritten: number;
  /** Frames not written: queue full, invalid, or after the recording stopped. */
  framesDropped: number;
}

interface QueuedFrame {
  frame: RecordedFrame;
  result?: Result;
}

/** The open part of a recording. */
interface OpenPart {
  filePath: string;
  file: RecordingFile;
  writable: CountingWritable;
  writer: McapWriter;
  channelIds: Map<Topic, number>;
  firstLogTimeNs?: bigint;
}

export class McapRecorder {
  readonly #directory: string;
  readonly #streamName: string;
  readonly #chunkSizeBytes: number;
  readonly #compression: 'zstd' | 'none';
  readonly #zstdLevel: number;
  readonly #maxFileBytes: number;
  readonly #maxFileDurationNs: bigint;
  readonly #maxQueuedFrames: number;
  readonly #openFile: OpenRecordingFile;
  readonly #now: () => Date;
  readonly #startedAt: Date;
  readonly #fileName: (part: number) => string;
  readonly #metadata: Record<string, Record<string, string>>;
  readonly #logger?: Logger;

  #state: RecorderState = 'recording';
  #stopReason?: RecorderStopReason;
  #error?: string;
  readonly #files: string[] = [];
  #framesWritten = 0;
  #framesDropped = 0;
  /** Log time of the last frame written, in ns. */
  #previousLogTimeNs?: bigint;

  readonly #queue: QueuedFrame[] = [];
  #part?: OpenPart;
  /** True while the writing loop runs; set and cleared synchronously so that no frame is stranded. */
  #writing = false;
  /** The latest writing loop; resolves when it has emptied the queue. */
  #drain?: Promise<void>;
  /** append() calls waiting for room in the queue. */
  #roomWaiters: Array<() => void> = [];
  #closing?: Promise<RecorderStatus>;

  constructor({
    directory,
    streamName,
    chunkSizeBytes = 1024 * 1024,
    compression = 'zstd',
    zstdLevel = 1,
    maxFileBytes = 1024 ** 3,
    maxFileDurationMs = 10 * 60 * 1000,
    maxQueuedFrames = 32,
    openFile = openRecordingFile,
    now = () => new Date(),
    fileName,
    metadata = {},
    logger,
  }: McapRecorderOptions) {
    if (!streamName) throw new RangeError('McapRecorder: streamName is missing; pass the name of the stream to record.');
    this.#directory = directory;
    this.#streamName = streamName;
    this.#chunkSizeBytes = chunkSizeBytes;
    this.#compression = compression;
    this.#zstdLevel = zstdLevel;
    this.#maxFileBytes = maxFileBytes;
    this.#maxFileDurationNs = BigInt(Math.round(maxFileDurationMs)) * 1_000_000n;
    this.#maxQueuedFrames = maxQueuedFrames;
    this.#openFile = openFile;
    this.#now = now;
    this.#startedAt = now();
    this.#fileName = fileName ?? ((part) => this.#defaultFileName(part));
    this.#metadata = metadata;
    this.#logger = logger?.child({ recorder: 'mcap', streamName });
  }

  get status(): RecorderStatus {
    return {
      state: this.#state,
      stopReason: this.#stopReason,
      error: this.#error,
      files: [...this.#files],
      framesWritten: this.#framesWritten,
      framesDropped: this.#framesDropped,
    };
  }

  /**
   * Queues a frame and its result (omit the result for a frame that has none) and returns at
   * once: true when queued, false when dropped. Never throws. The caller must not modify the
   * arrays afterwards, because they are written later.
   */
  write(frame: RecordedFrame, result?: Result): boolean {
    if (!this.#accepts(frame)) return false;
    if (this.#queue.length >= this.#maxQueuedFrames) {
      this.#framesDropped++;
      return false;
    }
    this.#enqueue({ frame, result });
    return true;
  }

  /**
   * Queues a frame, waiting for room in the queue instead of dropping, for conversions that
   * must keep every frame. Resolves false when the frame was invalid or the recording stopped.
   */
  async append(frame: RecordedFrame, result?: Result): Promise<boolean> {
    while (this.#queue.length >= this.#maxQueuedFrames && this.#state === 'recording') {
      await new Promise<void>((resolve) => this.#roomWaiters.push(resolve));
    }
    if (!this.#accepts(frame)) return false;
    this.#enqueue({ frame, result });
    return true;
  }

  /** Writes what is queued, finalises the open file and stops. Safe to call more than once. */
  close(): Promise<RecorderStatus> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<RecorderStatus> {
    await this.#drain;
    if (this.#state === 'recording') {
      try {
        await this.#finishPart();
      } catch (error) {
        this.#stop(error);
      }
    }
    if (this.#state !== 'stopped') this.#state = 'closed';
    this.#wakeRoomWaiters();
    this.#logger?.info({ files: this.#files, framesWritten: this.#framesWritten, framesDropped: this.#framesDropped }, 'recording closed');
    return this.status;
  }

  #accepts(frame: RecordedFrame): boolean {
    if (this.#state !== 'recording' || this.#closing) {
      this.#framesDropped++;
      return false;
    }
    let problem: string | undefined;
    try {
      problem = checkRecordedFrame(frame);
    } catch (error) {
      problem = `malformed frame: ${error instanceof Error ? error.message : String(error)}`;
    }
    if (problem) {
      this.#framesDropped++;
      this.#logger?.warn({ sequence: frame.sequence, problem }, 'frame not recorded');
      return false;
    }
    return true;
  }

  #enqueue(item: QueuedFrame): void {
    this.#queue.push(item);
    if (!this.#writing) {
      this.#writing = true;
      this.#drain = this.#writeQueued();
    }
  }

  /** Writes queued frames until the queue is empty or the recording stops. */
  async #writeQueued(): Promise<void> {
    // The flag is cleared in this function's own finally, synchronously once the queue is seen
    // empty, so a frame queued right after is picked up by a new loop.
    try {
      while (this.#queue.length > 0 && this.#state === 'recording') {
        const { frame, result } = this.#queue.shift()!;
        this.#wakeRoomWaiters();

        // A frame that cannot be encoded is dropped alone; a failed write stops the recording.
        let messages: EncodedMessage[];
        try {
          messages = encodeFrameMessages(frame);
          if (result) messages.push(...encodeResultMessages(result, this.#streamName));
        } catch (error) {
          this.#framesDropped++;
          this.#logger?.warn({ err: error, sequence: frame.sequence }, 'frame not recorded: encoding failed');
          continue;
        }

        try {
          await this.#writeFrame(frame, messages);
          this.#framesWritten++;
        } catch (error) {
          this.#framesDropped++;
          this.#stop(error);
        }
      }
      // Frames left after a stop are dropped.
      this.#framesDropped += this.#queue.length;
      this.#queue.length = 0;
      this.#wakeRoomWaiters();
    } finally {
      this.#writing = false;
    }
  }

  async #writeFrame(frame: RecordedFrame, messages: EncodedMessage[]): Promise<void> {
    const logTime = this.#nextLogTime(frame);
    // A frame at or beyond maxFileDurationMs after the file's first frame starts the next file.
    const first = this.#part?.firstLogTimeNs;
    if (first !== undefined && logTime - first >= this.#maxFileDurationNs) await this.#finishPart();
    const part = this.#part ?? (await this.#startPart());
    part.firstLogTimeNs ??= logTime;

    for (const { topic, data } of messages) {
      await part.writer.addMessage({
        channelId: part.channelIds.get(topic)!,
        // MCAP sequence numbers are 32-bit; they wrap after 2^32 frames.
        sequence: frame.sequence >>> 0,
        logTime,
        publishTime: logTime,
        data,
      });
    }

    if (part.writable.position() >= BigInt(this.#maxFileBytes)) await this.#finishPart();
  }

  /**
   * Returns the log time of a frame's messages: its capture time, or the recorder's clock when
   * the capture time is 0 (unknown), raised to 1 ns after the previous frame's log time when not
   * later. Log times are therefore unique and increasing within the stream, across files. The
   * reader groups a frame's messages by log time, so this keeps frames with repeated sequence
   * numbers or capture times apart, and an indexed read returns frames in recording order.
   */
  #nextLogTime(frame: RecordedFrame): bigint {
    const candidate = frame.captureTimestampNs > 0n ? frame.captureTimestampNs : BigInt(this.#now().getTime()) * 1_000_000n;
    const previous = this.#previousLogTimeNs;
    const logTime = previous !== undefined && candidate <= previous ? previous + 1n : candidate;
    this.#previousLogTimeNs = logTime;
    return logTime;
  }

  async #startPart(): Promise<OpenPart> {
    if (this.#compression === 'zstd') await zstdReady();
    await mkdir(this.#directory, { recursive: true });

    const filePath = path.join(this.#directory, this.#fileName(this.#files.length));
    const file = await this.#openFile(filePath);
    this.#files.push(filePath);
    const writable = new CountingWritable(file);
    const writer = new McapWriter({
      writable,
      chunkSize: this.#chunkSizeBytes,
      compressChunk: this.#compression === 'zstd' ? zstdChunkCompressor(this.#zstdLevel) : undefined,
    });

    await writer.start({ profile: '', library: 'segwithu-live recorder (@mcap/core)' });
    await writer.addMetadata({
      name: 'segwithu.recording',
      metadata: new Map([
        ['stream_name', this.#streamName],
        ['part', String(this.#files.length - 1)],
        ['format_version', '1'],
      ]),
    });
    for (const [name, values] of Object.entries(this.#metadata)) {
      await writer.addMetadata({ name, metadata: new Map(Object.entries(values)) });
    }
    const channelIds = await registerChannels(writer, this.#streamName);

    this.#part = { filePath, file, writable, writer, channelIds };
    this.#logger?.info({ file: filePath, part: this.#files.length - 1 }, 'recording file started');
    return this.#part;
  }

  async #finishPart(): Promise<void> {
    const part = this.#part;
    if (!part) return;
    this.#part = undefined;
    await part.writer.end();
    await part.file.close();
    this.#logger?.info({ file: part.filePath, bytes: Number(part.writable.position()) }, 'recording file finalised');
  }

  /** Stops after an error: no more frames are written, and the open file is closed as it is. */
  #stop(error: unknown): void {
    if (this.#state !== 'recording') return;
    const code = (error as NodeJS.ErrnoException | undefined)?.code;
    this.#state = 'stopped';
    this.#stopReason = code === 'ENOSPC' ? 'disk_full' : 'write_error';
    this.#error = error instanceof Error ? error.message : String(error);
    this.#logger?.error({ err: error, file: this.#part?.filePath, stopReason: this.#stopReason }, 'recording stopped; the stream continues unrecorded');

    const part = this.#part;
    this.#part = undefined;
    part?.file.close().catch((closeError: unknown) => {
      this.#logger?.warn({ err: closeError, file: part.filePath }, 'closing the recording file failed');
    });
  }

  #wakeRoomWaiters(): void {
    const waiters = this.#roomWaiters;
    this.#roomWaiters = [];
    for (const wake of waiters) wake();
  }

  /** <stream>_<UTC start time>_<part>.mcap, with characters outside [A-Za-z0-9._-] replaced. */
  #defaultFileName(part: number): string {
    const safeName = this.#streamName.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 64);
    const started = this.#startedAt.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
    return `${safeName}_${started}_${String(part).padStart(3, '0')}.mcap`;
  }
}

/** Registers the schemas and the six channels of a recording. */
async function registerChannels(writer: McapWriter, streamName: string): Promise<Map<Topic, number>> {
  const schemas = recordingSchemas();
  const schemaIds = new Map<string, number>();
  for (const schema of [schemas.frame, schemas.result, schemas.rawImage]) {
    schemaIds.set(schema.name, await writer.registerSchema({ name: schema.name, encoding: schema.encoding, data: schema.data }));
  }

  const channelSchemas: Array<[Topic, string]> = [
    [TOPICS.frame, schemas.frame.name],
    [TOPICS.frameImage, schemas.rawImage.name],
    [TOPICS.groundTruth, schemas.rawImage.name],
    [TOPICS.result, schemas.result.name],
    [TOPICS.labelMask, schemas.rawImage.name],
    [TOPICS.errorProbability, schemas.rawImage.name],
  ];
  const channelIds = new Map<Topic, number>();
  for (const [topic, schemaName] of channelSchemas) {
    const channelId = await writer.registerChannel({
      topic,
      schemaId: schemaIds.get(schemaName)!,
      messageEncoding: 'protobuf',
      metadata: new Map([['stream_name', streamName]]),
    });
    channelIds.set(topic, channelId);
  }
  return channelIds;
}

/** IWritable over a RecordingFile, counting the bytes written (McapWriter needs the position). */
class CountingWritable implements IWritable {
  readonly #file: RecordingFile;
  #position = 0n;

  constructor(file: RecordingFile) {
    this.#file = file;
  }

  async write(buffer: Uint8Array): Promise<void> {
    await this.#file.write(buffer);
    this.#position += BigInt(buffer.byteLength);
  }

  position(): bigint {
    return this.#position;
  }
}
