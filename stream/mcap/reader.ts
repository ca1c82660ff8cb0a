// Reads segwithu-live MCAP recordings, finalised or cut short.
//
// A finalised file is read through its index (McapIndexedReader), which can start at a given
// time. A file without a footer (the recorder was killed, or the disk filled) is read front to
// back with McapStreamReader up to its last complete record, so everything before the last
// complete chunk is recovered.

import { createReadStream } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';

import { MCAP_MAGIC, McapIndexedReader, McapStreamReader, type McapTypes } from '@mcap/core';
import protobuf from 'protobufjs';
import 'protobufjs/ext/descriptor.js';

import { DECOMPRESS_HANDLERS, zstdReady } from './compression.js';
import { TOPICS } from './schemas.js';

export interface RecordingMessage {
  topic: string;
  schemaName: string;
  /**
   * Log time of the frame the message belongs to, Unix epoch, ns: its capture time, unless that
   * was 0 or not later than the previous frame's (see McapRecorder). /frame stores the capture time.
   */
  logTimeNs: bigint;
  /** MCAP sequence: the frame's sequence number modulo 2^32. */
  sequence: number;
  data: Uint8Array;
}

export interface ReadMessagesOptions {
  /** Only these topics. Default: every topic. */
  topics?: readonly string[];
  /** Skip messages logged before this time (ns). */
  startTimeNs?: bigint;
}

export interface Recording {
  readonly filePath: string;
  /** True when the file was finalised (summary and footer present); false when it was cut short. */
  readonly complete: boolean;
  /** The stream name from the recording's metadata, when present. */
  readonly streamName: string | undefined;
  /** Messages in log-time order (finalised files) or file order (files cut short). */
  messages(options?: ReadMessagesOptions): AsyncGenerator<RecordingMessage>;
  /** Decodes a message with the schema stored in the file, field names as in the .proto. */
  decode(message: RecordingMessage): Record<string, unknown>;
  close(): Promise<void>;
}

/** Opens a recording; rejects when the file is missing or is not MCAP. */
export async function openRecording(filePath: string): Promise<Recording> {
  await zstdReady();
  const handle = await open(filePath, 'r');
  let finalised: boolean;
  try {
    finalised = await checkMagic(handle, filePath);
  } catch (error) {
    await handle.close();
    throw error;
  }

  if (!finalised) {
    await handle.close();
    return StreamedRecording.open(filePath);
  }
  try {
    const reader = await McapIndexedReader.Initialize({ readable: fileReadable(handle), decompressHandlers: DECOMPRESS_HANDLERS });
    return new IndexedRecording(filePath, handle, reader, await indexedStreamName(reader));
  } catch (error) {
    await handle.close();
    throw error;
  }
}

/**
 * Returns whether the file ends with the MCAP magic, as a finalised file does. Throws when the
 * file does not start with the magic, because then it is not an MCAP file at all.
 */
async function checkMagic(handle: FileHandle, filePath: string): Promise<boolean> {
  const size = (await handle.stat()).size;
  const magicLength = MCAP_MAGIC.length;
  const start = new Uint8Array(magicLength);
  await handle.read(start, 0, magicLength, 0);
  if (size < magicLength || !MCAP_MAGIC.every((byte, i) => start[i] === byte)) {
    throw new Error(`${filePath} is not an MCAP file: it does not start with the MCAP magic bytes`);
  }
  if (size < 2 * magicLength) return false;
  const end = new Uint8Array(magicLength);
  await handle.read(end, 0, magicLength, size - magicLength);
  return MCAP_MAGIC.every((byte, i) => end[i] === byte);
}

/** Message types built from the schemas stored in a file, by schema name. */
class SchemaDecoder {
  readonly #types = new Map<string, protobuf.Type>();

  register(schema: McapTypes.Schema): void {
    if (this.#types.has(schema.name)) return;
    if (schema.encoding !== 'protobuf') {
      throw new Error(`schema ${schema.name} has encoding "${schema.encoding}"; only protobuf recordings can be read`);
    }
    const root = protobuf.Root.fromDescriptor(schema.data, { keepCase: true });
    this.#types.set(schema.name, root.lookupType(schema.name));
  }

  decode(message: RecordingMessage): Record<string, unknown> {
    const type = this.#types.get(message.schemaName);
    if (!type) throw new Error(`no schema ${message.schemaName} in the recording for topic ${message.topic}`);
    return type.toObject(type.decode(message.data), { longs: String, defaults: true }) as Record<string, unknown>;
  }
}

class IndexedRecording implements Recording {
  readonly complete = true;
  readonly #handle: FileHandle;
  readonly #reader: McapIndexedReader;
  readonly #decoder = new SchemaDecoder();

  constructor(
    readonly filePath: string,
    handle: FileHandle,
    reader: McapIndexedReader,
    readonly streamName: string | undefined,
  ) {
    this.#handle = handle;
    this.#reader = reader;
    for (const schema of reader.schemasById.values()) this.#decoder.register(schema);
  }

  async *messages({ topics, startTimeNs }: ReadMessagesOptions = {}): AsyncGenerator<RecordingMessage> {
    for await (const message of this.#reader.readMessages({ topics, startTime: startTimeNs })) {
      const channel = this.#reader.channelsById.get(message.channelId)!;
      const schema = this.#reader.schemasById.get(channel.schemaId);
      yield toRecordingMessage(message, channel, schema);
    }
  }

  decode(message: RecordingMessage): Record<string, unknown> {
    return this.#decoder.decode(message);
  }

  close(): Promise<void> {
    return this.#handle.close();
  }
}

class StreamedRecording implements Recording {
  readonly complete = false;
  readonly #decoder = new SchemaDecoder();

  private constructor(
    readonly filePath: string,
    readonly streamName: string | undefined,
  ) {}

  static async open(filePath: string): Promise<StreamedRecording> {
    // The stream name is in a metadata record right after the header.
    let streamName: string | undefined;
    for await (const record of streamRecords(filePath)) {
      if (record.type === 'Metadata' && record.name === 'segwithu.recording') {
        streamName = record.metadata.get('stream_name');
        break;
      }
      if (record.type === 'Chunk' || record.type === 'Message') break;
    }
    return new StreamedRecording(filePath, streamName);
  }

  async *messages({ topics, startTimeNs }: ReadMessagesOptions = {}): AsyncGenerator<RecordingMessage> {
    const schemas = new Map<number, McapTypes.Schema>();
    const channels = new Map<number, McapTypes.Channel>();
    for await (const record of streamRecords(this.filePath)) {
      if (record.type === 'Schema') {
        schemas.set(record.id, record);
        this.#decoder.register(record);
      } else if (record.type === 'Channel') {
        channels.set(record.id, record);
      } else if (record.type === 'Message') {
        const channel = channels.get(record.channelId);
        if (!channel) throw new Error(`message on channel ${record.channelId} before its channel record in ${this.filePath}`);
        if (topics && !topics.includes(channel.topic)) continue;
        if (startTimeNs !== undefined && record.logTime < startTimeNs) continue;
        yield toRecordingMessage(record, channel, schemas.get(channel.schemaId));
      }
    }
  }

  decode(message: RecordingMessage): Record<string, unknown> {
    return this.#decoder.decode(message);
  }

  async close(): Promise<void> {}
}

/**
 * Yields the records of an MCAP file front to back, stopping quietly at an incomplete record at
 * the end (where a recording was cut short).
 */
async function* streamRecords(filePath: string): AsyncGenerator<McapTypes.TypedMcapRecord> {
  const reader = new McapStreamReader({ decompressHandlers: DECOMPRESS_HANDLERS });
  const stream = createReadStream(filePath, { highWaterMark: 1024 * 1024 });
  try {
    for await (const piece of stream) {
      reader.append(piece as Buffer);
      for (let record = reader.nextRecord(); record; record = reader.nextRecord()) yield record;
    }
  } finally {
    stream.destroy();
  }
}

function toRecordingMessage(message: McapTypes.Message, channel: McapTypes.Channel, schema: McapTypes.Schema | undefined): RecordingMessage {
  return {
    topic: channel.topic,
    schemaName: schema?.name ?? '',
    logTimeNs: message.logTime,
    sequence: message.sequence,
    data: message.data,
  };
}

async function indexedStreamName(reader: McapIndexedReader): Promise<string | undefined> {
  for await (const metadata of reader.readMetadata({ name: 'segwithu.recording' })) {
    return metadata.metadata.get('stream_name');
  }
  for (const channel of reader.channelsById.values()) {
    if (channel.topic === TOPICS.frame) return channel.metadata.get('stream_name');
  }
  return undefined;
}

function fileReadable(handle: FileHandle): McapTypes.IReadable {
  return {
    size: async () => BigInt((await handle.stat()).size),
    read: async (offset, size) => {
      const buffer = new Uint8Array(Number(size));
      let filled = 0;
      while (filled < buffer.length) {
        const { bytesRead } = await handle.read(buffer, filled, buffer.length - filled, Number(offset) + filled);
        if (bytesRead === 0) throw new Error(`read past the end of the recording at byte ${Number(offset) + filled}`);
        filled += bytesRead;
      }
      return buffer;
    },
  };
}
