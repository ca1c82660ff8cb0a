// Converts a folder of frames into MCAP recordings, one per clip, with the masks as ground
// truth on their own channel. The folder layout (images/ or frames/, masks/, manifest.csv) is
// the one stream/sources/folder.ts reads. The folder's frames are stills in clip order, so
// capture timestamps are synthesised: evenly spaced at a chosen rate from a fixed start, which
// makes the output the same on every run.

import path from 'node:path';

import type { Logger } from 'pino';

import { listFolderFrames, readPngGray8, type FolderFrame } from '../sources/folder.js';
import { McapRecorder, type RecordedFrame } from './recorder.js';

export interface ConvertFolderOptions {
  /** The frame folder. */
  folder: string;
  /** Output folder for <clip>.mcap per clip, or <folder name>.mcap when the folder has no clips. */
  outputDirectory: string;
  /** Rate of the synthesised capture timestamps, frames per second. Default 10. */
  frameRateHz?: number;
  /** Capture timestamp of each clip's first frame, Unix epoch, ns. Default 0. */
  startTimeNs?: bigint;
  /** Only these clip ids (needs manifest.csv). Default: every clip. */
  clips?: readonly string[];
  logger?: Logger;
}

export interface ConvertedClip {
  /** The clip id, or the folder's name when the folder has no clips; also the stream name. */
  streamName: string;
  filePath: string;
  frames: number;
  framesWithGroundTruth: number;
}

/** Writes one recording per clip and returns what was written, clips in manifest order. */
export async function convertFolderToRecordings(options: ConvertFolderOptions): Promise<ConvertedClip[]> {
  const { folder, outputDirectory, frameRateHz = 10, startTimeNs = 0n, clips, logger } = options;
  if (!(frameRateHz > 0)) throw new RangeError(`convertFolderToRecordings: frameRateHz must be positive, got ${frameRateHz}.`);
  const intervalNs = BigInt(Math.round(1e9 / frameRateHz));

  const frames = await listFolderFrames(folder, { clips });
  const byClip = new Map<string, FolderFrame[]>();
  for (const frame of frames) {
    const clip = frame.clipId ?? path.basename(path.resolve(folder));
    const list = byClip.get(clip);
    if (list) list.push(frame);
    else byClip.set(clip, [frame]);
  }

  const converted: ConvertedClip[] = [];
  for (const [streamName, clipFrames] of byClip) {
    const sourceFrames: Record<string, string> = {};
    clipFrames.forEach((frame, sequence) => (sourceFrames[String(sequence)] = frame.name));
    const fileStem = streamName.replace(/[^A-Za-z0-9._-]/g, '_');
    const recorder = new McapRecorder({
      directory: outputDirectory,
      streamName,
      fileName: (part) => (part === 0 ? `${fileStem}.mcap` : `${fileStem}_${part}.mcap`),
      maxFileBytes: Number.MAX_SAFE_INTEGER,
      maxFileDurationMs: Number.MAX_SAFE_INTEGER,
      metadata: {
        'segwithu.source': { folder: path.basename(path.resolve(folder)), frame_rate_hz: String(frameRateHz) },
        // Sequence number to source file name, so a report can name the frame it talks about.
        'segwithu.source_frames': sourceFrames,
      },
      logger,
    });

    let framesWithGroundTruth = 0;
    for (const [sequence, folderFrame] of clipFrames.entries()) {
      const frame = await readFolderFrame(folderFrame, sequence, startTimeNs + BigInt(sequence) * intervalNs, logger);
      if (frame.groundTruthMask) framesWithGroundTruth++;
      if (!(await recorder.append(frame))) {
        throw new Error(`recording ${streamName} stopped at ${folderFrame.name}: ${recorder.status.error ?? 'frame rejected'}`);
      }
    }

    const status = await recorder.close();
    if (status.state === 'stopped') {
      throw new Error(`recording ${streamName} failed: ${status.error}; check free space in ${outputDirectory}`);
    }
    converted.push({ streamName, filePath: status.files[0], frames: status.framesWritten, framesWithGroundTruth });
    logger?.info({ streamName, file: status.files[0], frames: status.framesWritten }, 'clip converted');
  }
  return converted;
}

async function readFolderFrame(folderFrame: FolderFrame, sequence: number, captureTimestampNs: bigint, logger?: Logger): Promise<RecordedFrame> {
  const image = await readPngGray8(folderFrame.imagePath);
  const frame: RecordedFrame = { sequence, captureTimestampNs, width: image.width, height: image.height, gray8: image.pixels };
  if (folderFrame.maskPath) {
    const mask = await readPngGray8(folderFrame.maskPath);
    if (mask.width === image.width && mask.height === image.height) {
      frame.groundTruthMask = mask.pixels;
    } else {
      logger?.warn(
        { file: folderFrame.maskPath, mask: `${mask.width}x${mask.height}`, image: `${image.width}x${image.height}` },
        'mask size differs from its image; frame converted without ground truth',
      );
    }
  }
  return frame;
}
