// The frames an evaluation reads: a folder of PNG frames with masks (the ccaui-carotid layout,
// optionally restricted to clips or to one part of a model's split.json), or an MCAP recording
// made by stream/mcap. Frames are listed first and decoded one at a time, so a long recording
// never sits in memory whole.

import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';

import { listFolderFrames, readPngGray8 } from '../../stream/sources/folder.js';
import { openRecording, readRecordedFrames } from '../../stream/mcap/index.js';

/** One decoded frame with its ground truth (width × height bytes, non-zero = structure) when known. */
export interface EvalFrame {
  /** File name for folders, `sequence N` for recordings. */
  name: string;
  width: number;
  height: number;
  gray8: Uint8Array;
  mask?: Uint8Array;
}

/** A clip: frames in time order, decoded on demand. */
export interface EvalClip {
  clipId: string;
  frameNames: string[];
  /** Yields the clip's frames in order. */
  frames(): AsyncGenerator<EvalFrame>;
}

export type SplitPart = 'train' | 'validation' | 'test';

export interface EvalInputOptions {
  /** A folder of frames (images/ or frames/, masks/, manifest.csv) or an .mcap file. */
  input: string;
  /** Only these clip ids of the folder's manifest.csv. */
  clips?: readonly string[];
  /** Only the clips of this part of `splitFile`. */
  splitPart?: SplitPart;
  /** The split.json that `splitPart` reads. */
  splitFile?: string;
  /** Keep only the first N frames of each clip (for smoke runs). Default: every frame. */
  maxFramesPerClip?: number;
}

export interface EvalInput {
  kind: 'folder' | 'mcap';
  path: string;
  clips: EvalClip[];
  /** The clip ids asked for, and where they came from, for the report. */
  selection: string;
}

/** Lists the clips to evaluate; throws an Error naming the file and the fix when the input cannot be read. */
export async function openEvalInput(options: EvalInputOptions): Promise<EvalInput> {
  const inputPath = path.resolve(options.input);
  const info = await stat(inputPath).catch(() => undefined);
  if (info === undefined) {
    throw new Error(`eval input ${inputPath} does not exist; pass a folder of frames or an .mcap recording`);
  }
  const limit = options.maxFramesPerClip ?? Number.POSITIVE_INFINITY;

  if (info.isFile()) {
    if (options.clips !== undefined || options.splitPart !== undefined) {
      throw new Error('--clips and --split-part select clips of a folder, but a recording contains one stream; leave them out');
    }
    return { kind: 'mcap', path: inputPath, clips: [await recordingClip(inputPath, limit)], selection: 'the whole recording' };
  }

  let clips = options.clips;
  let selection = clips === undefined ? 'every clip of the folder' : `clips ${clips.join(', ')}`;
  if (options.splitPart !== undefined) {
    if (options.splitFile === undefined) throw new Error('--split-part needs a split.json; pass --split-file or a model folder that has one');
    const split = JSON.parse(await readFile(options.splitFile, 'utf8')) as Partial<Record<SplitPart, string[]>>;
    const part = split[options.splitPart];
    if (!Array.isArray(part) || part.length === 0) {
      throw new Error(`${options.splitFile} lists no "${options.splitPart}" clips; pass --split-part train, validation or test`);
    }
    clips = part;
    selection = `the ${options.splitPart} clips of ${path.basename(path.dirname(options.splitFile))}/${path.basename(options.splitFile)}`;
  }

  const frames = await listFolderFrames(inputPath, { clips });
  const byClip = new Map<string, typeof frames>();
  for (const frame of frames) {
    const clipId = frame.clipId ?? path.basename(inputPath);
    const list = byClip.get(clipId) ?? [];
    if (list.length < limit) list.push(frame);
    byClip.set(clipId, list);
  }

  const evalClips = [...byClip].map(([clipId, clipFrames]): EvalClip => ({
    clipId,
    frameNames: clipFrames.map((frame) => frame.name),
    async *frames() {
      for (const frame of clipFrames) {
        const image = await readPngGray8(frame.imagePath);
        const evalFrame: EvalFrame = { name: frame.name, width: image.width, height: image.height, gray8: image.pixels };
        if (frame.maskPath !== undefined) {
          const mask = await readPngGray8(frame.maskPath);
          if (mask.width !== image.width || mask.height !== image.height) {
            throw new Error(`mask ${frame.maskPath} is ${mask.width} × ${mask.height} but its frame is ${image.width} × ${image.height}; fix or remove the mask`);
          }
          evalFrame.mask = mask.pixels;
        }
        yield evalFrame;
      }
    },
  }));
  return { kind: 'folder', path: inputPath, clips: evalClips, selection };
}

/** Lists a recording as one clip named after its stream, with frames named by their recorded sequence numbers. */
async function recordingClip(filePath: string, limit: number): Promise<EvalClip> {
  const recording = await openRecording(filePath);
  const frameNames: string[] = [];
  let clipId: string;
  try {
    clipId = recording.streamName ?? path.basename(filePath, '.mcap');
    for await (const frame of readRecordedFrames(recording)) {
      if (frameNames.length >= limit) break;
      frameNames.push(`sequence ${frame.sequence}`);
    }
  } finally {
    await recording.close();
  }
  if (frameNames.length === 0) throw new Error(`recording ${filePath} contains no complete frame; record one with segwithu-live record or serve --record`);

  return {
    clipId,
    frameNames,
    async *frames() {
      const reader = await openRecording(filePath);
      try {
        let count = 0;
        for await (const frame of readRecordedFrames(reader)) {
          if (count++ >= frameNames.length) break;
          const evalFrame: EvalFrame = { name: `sequence ${frame.sequence}`, width: frame.width, height: frame.height, gray8: frame.gray8 };
          if (frame.groundTruthMask !== undefined) evalFrame.mask = frame.groundTruthMask;
          yield evalFrame;
        }
      } finally {
        await reader.close();
      }
    },
  };
}
