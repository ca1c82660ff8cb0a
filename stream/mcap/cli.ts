// The MCAP parts of the segwithu-live command line:
//   serve --record DIR [--record-max-file-mb N] [--record-max-file-minutes N] [--record-queue N]
//   serve --source mcap:FILE [--rate original|N|max] [--from SECONDS] [--loop] [--lossless]
//   replay FILE [the same options and any serve option]   (serve with --source mcap:FILE)
//   record --folder DIR --out FILE.mcap|DIR [--clip IDS] [--fps N]   (convert a folder of frames)

import { existsSync, statSync } from 'node:fs';
import { mkdtemp, readdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';

import { OptionError } from '../errors.js';
import { formatOptions, parseInteger, parseList, parsePositiveNumber, readOptions, type OptionSpec, type ParsedValues } from '../cli-options.js';
import type { McapSourceOptions, RecordOptions } from '../options.js';
import { convertFolderToRecordings } from './convert.js';

/** Options `serve` (and so `replay`) takes for recording and for replaying a recording. */
export const MCAP_SERVE_OPTIONS: readonly OptionSpec[] = [
  { flag: 'record', env: 'SEGWITHU_RECORD', valueName: 'DIR', help: 'Record every stream (frames, masks and results) to MCAP files in this folder, on a worker thread.', defaultText: 'no recording' },
  { flag: 'record-max-file-mb', env: 'SEGWITHU_RECORD_MAX_FILE_MB', valueName: 'MB', help: 'Recording: start a new file after this many MiB.', defaultText: '1024' },
  { flag: 'record-max-file-minutes', env: 'SEGWITHU_RECORD_MAX_FILE_MINUTES', valueName: 'MIN', help: 'Recording: start a new file after this many minutes of log time (the capture time, or the recorder clock for frames without one).', defaultText: '10' },
  { flag: 'record-queue', env: 'SEGWITHU_RECORD_QUEUE', valueName: 'N', help: 'Recording: frames waiting for the recording thread; beyond it frames are dropped from the recording (counted), never from the stream.', defaultText: '32' },
  { flag: 'rate', valueName: 'RATE', help: 'mcap source: original (recorded timing), a speed factor such as 2, or max (lossless, as fast as the pipeline takes frames).', defaultText: 'original' },
  { flag: 'from', valueName: 'SECONDS', help: 'mcap source: start this many seconds after the first recorded frame.', defaultText: '0' },
];

/** Reads the recording options of `serve`; undefined when --record is absent. */
export function recordOptionsFromValues(values: ParsedValues, name: (flag: string) => string): RecordOptions | undefined {
  const directory = typeof values.record === 'string' ? values.record : undefined;
  const integer = (flag: string, fix: string): number | undefined => {
    const text = values[flag];
    return typeof text === 'string' ? parseInteger(text, name(flag), 1, 1_000_000, fix) : undefined;
  };
  const maxFileMb = integer('record-max-file-mb', 'pass MiB, for example 1024');
  const maxFileMinutes = integer('record-max-file-minutes', 'pass minutes, for example 10');
  const maxQueuedFrames = integer('record-queue', 'pass a frame count, for example 32');
  if (directory === undefined) {
    if (maxFileMb !== undefined || maxFileMinutes !== undefined || maxQueuedFrames !== undefined) {
      throw new OptionError('--record-max-file-mb, --record-max-file-minutes and --record-queue need --record DIR');
    }
    return undefined;
  }
  const options: RecordOptions = { directory: path.resolve(directory) };
  if (maxFileMb !== undefined) options.maxFileBytes = maxFileMb * 1024 * 1024;
  if (maxFileMinutes !== undefined) options.maxFileDurationMs = maxFileMinutes * 60_000;
  if (maxQueuedFrames !== undefined) options.maxQueuedFrames = maxQueuedFrames;
  return options;
}

/** Builds the mcap source of `serve --source mcap:FILE` from the rate, start, loop and lossless options. */
export function mcapSourceFromValues(file: string, values: ParsedValues, name: (flag: string) => string): McapSourceOptions {
  const source: McapSourceOptions = { kind: 'mcap', file: path.resolve(file), loop: values.loop === true };
  if (values.lossless === true) source.lossless = true;
  const rate = typeof values.rate === 'string' ? values.rate : undefined;
  if (rate !== undefined) source.rate = rate === 'original' || rate === 'max' ? rate : parsePositiveNumber(rate, name('rate'), 'pass original, max, or a speed factor such as 2');
  const from = typeof values.from === 'string' ? values.from : undefined;
  if (from !== undefined) {
    const seconds = Number(from);
    if (from.trim() === '' || !Number.isFinite(seconds) || seconds < 0) throw new OptionError(`${name('from')} "${from}" is not a number of seconds of 0 or more; pass for example 12.5`);
    source.fromSeconds = seconds;
  }
  return source;
}

/**
 * Rewrites `replay FILE [options]` as the `serve` arguments it stands for. The recording is the
 * first argument, or else the first argument that ends in .mcap.
 */
export function replayToServeArgs(argv: string[]): string[] {
  const file = argv.length > 0 && !argv[0].startsWith('-') ? argv[0] : argv.find((arg) => !arg.startsWith('-') && arg.endsWith('.mcap'));
  if (file === undefined) throw new OptionError('replay needs a recording; run segwithu-live replay FILE.mcap [--rate original|N|max] [--loop] [--from SECONDS]');
  if (argv.some((arg) => arg === '--source' || arg.startsWith('--source='))) throw new OptionError('replay sets the source itself; leave out --source');
  const rest = [...argv];
  rest.splice(argv.indexOf(file), 1);
  return ['--source', `mcap:${file}`, ...rest];
}

export const REPLAY_USAGE = `Usage: segwithu-live replay FILE.mcap [--rate original|N|max] [--loop] [--from SECONDS] [serve options]

Serves a recording made by serve --record or record as a live stream, the same as
segwithu-live serve --source mcap:FILE.mcap. --rate original keeps the recorded timing, N scales
it (2 = twice as fast), max sends as fast as the pipeline takes frames; --from starts that many
seconds into the recording. Every serve option applies; segwithu-live serve --help lists them.`;

const RECORD_OPTIONS: readonly OptionSpec[] = [
  { flag: 'folder', valueName: 'DIR', help: 'Folder of PNG frames (images/ or frames/, optional masks/ and manifest.csv) (required).' },
  { flag: 'out', valueName: 'FILE.mcap|DIR', help: 'Output: one .mcap file (the folder must hold one clip, or pass --clip), or a folder that gets <clip>.mcap per clip (required).' },
  { flag: 'clip', valueName: 'IDS', help: 'Only these clip ids of manifest.csv (comma-separated).', defaultText: 'every clip' },
  { flag: 'fps', valueName: 'RATE', help: 'Frame rate of the capture timestamps written, frames/s.', defaultText: '10' },
];

export const RECORD_USAGE = `Usage: segwithu-live record --folder DIR --out FILE.mcap|DIR [options]

Converts a folder of frames (with masks as ground truth) to MCAP recordings that replay and eval
read. To record live streams, run segwithu-live serve --record DIR.

Options:
${formatOptions(RECORD_OPTIONS)}`;

/** Runs `segwithu-live record`; returns the exit code. */
export async function runRecordCommand(argv: string[], out: (text: string) => void): Promise<number> {
  const { values, positionals } = readOptions(RECORD_OPTIONS, argv, {});
  if (values.help === true) {
    out(RECORD_USAGE);
    return 0;
  }
  if (positionals.length > 0) throw new OptionError(`record takes no arguments, got "${positionals.join(' ')}"; options start with --`);
  const folder = typeof values.folder === 'string' ? path.resolve(values.folder) : undefined;
  const target = typeof values.out === 'string' ? path.resolve(values.out) : undefined;
  if (folder === undefined) throw new OptionError('--folder is missing; pass a folder of PNG frames, for example --folder ../shared/data/ccaui-carotid');
  if (target === undefined) throw new OptionError('--out is missing; pass FILE.mcap for one clip, or a folder for one file per clip');
  const clips = typeof values.clip === 'string' ? parseList(values.clip) : undefined;
  const frameRateHz = typeof values.fps === 'string' ? parsePositiveNumber(values.fps, '--fps', 'pass frames per second, for example 10') : 10;

  if (!target.endsWith('.mcap')) {
    const converted = await convertFolderToRecordings({ folder, outputDirectory: target, frameRateHz, clips });
    for (const clip of converted) out(`${clip.filePath}: ${clip.frames} frames (${clip.framesWithGroundTruth} with ground truth)`);
    return 0;
  }

  if (existsSync(target)) throw new OptionError(`--out ${target} exists; recordings are never overwritten, so pass a new file name`);
  if (!existsSync(path.dirname(target)) || !statSync(path.dirname(target)).isDirectory()) throw new OptionError(`--out ${target}: folder ${path.dirname(target)} does not exist; create it first`);
  // Converted into a scratch folder beside the target, so the rename below stays on one file system.
  const scratch = await mkdtemp(path.join(path.dirname(target), '.segwithu-record-'));
  try {
    const converted = await convertFolderToRecordings({ folder, outputDirectory: scratch, frameRateHz, clips });
    if (converted.length !== 1) {
      throw new OptionError(`${folder} contains ${converted.length} clips (${converted.map((clip) => clip.streamName).join(', ')}) and --out names one file; pass --clip ID, or a folder as --out`);
    }
    const [clip] = converted;
    const files = await readdir(scratch);
    if (files.length !== 1) throw new Error(`the conversion wrote ${files.length} files; expected one`);
    await rename(clip.filePath, target);
    out(`${target}: ${clip.frames} frames (${clip.framesWithGroundTruth} with ground truth), stream ${clip.streamName}`);
    return 0;
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}
