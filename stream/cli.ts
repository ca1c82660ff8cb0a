// segwithu-live: the command-line entry point (bin/segwithu-live.js runs this file with tsx).
//
//   segwithu-live serve [options]   run the server (default source: the synthetic probe)
//   segwithu-live send [options]    stream a folder of frames to a server as a device would
//   segwithu-live bench [options]   measure the pipeline and print a table
//   segwithu-live eval [options]    evaluate a model: report.json, summary.md, SVG plots
//   segwithu-live record [options]  convert a folder of frames to an MCAP recording
//   segwithu-live replay FILE.mcap  serve a recording as a stream (serve --source mcap:FILE)
//
// Deployment settings can also come from SEGWITHU_* environment variables; a flag wins over
// its variable. `segwithu-live COMMAND --help` lists each option with its unit and default.

import path from 'node:path';
import { pathToFileURL } from 'node:url';

import type { AlarmOptions } from '../pipeline/index.js';
import { SEND_ACCESS_OPTIONS, SERVE_ACCESS_OPTIONS, sendAccessOptions, serveAccessOptions } from './cli-access.js';
import { formatSendSummary, sendFolder, type SendFolderOptions } from './device-client.js';
import { MCAP_SERVE_OPTIONS, mcapSourceFromValues, recordOptionsFromValues, REPLAY_USAGE, replayToServeArgs, runRecordCommand } from './mcap/cli.js';
import { OptionError } from './errors.js';
import { formatOptions, origin, parseInteger, parseList, parseLogLevel, parsePositiveNumber, readOptions, type OptionSpec, type ParsedValues } from './cli-options.js';
import { createLogger } from './log.js';
import { SERVER_DEFAULTS, type ServerOptions, type SourceOptions } from './options.js';
import { startServer } from './server.js';
import type { FrameRate } from './sources/playback.js';

const SERVE_OPTIONS: readonly OptionSpec[] = [
  { flag: 'host', env: 'SEGWITHU_HOST', valueName: 'ADDRESS', help: 'Interface to listen on; 127.0.0.1 serves this machine only.', defaultText: SERVER_DEFAULTS.host },
  { flag: 'port', env: 'SEGWITHU_PORT', valueName: 'N', help: 'HTTP and WebSocket port (0 = any free port).', defaultText: String(SERVER_DEFAULTS.port) },
  { flag: 'tcp-port', env: 'SEGWITHU_TCP_PORT', valueName: 'N', help: 'TCP ingest port for length-delimited protobuf (0 = off).', defaultText: '0' },
  { flag: 'igtl-port', env: 'SEGWITHU_IGTL_PORT', valueName: 'N', help: 'OpenIGTLink listener port for devices and 3D Slicer (0 = off; Slicer uses 18944).', defaultText: '0' },
  { flag: 'igtl-connect', env: 'SEGWITHU_IGTL_CONNECT', valueName: 'HOST:PORT', help: 'OpenIGTLink device server to ingest from; reconnects with backoff.', defaultText: 'none' },
  { flag: 'igtl-allow', env: 'SEGWITHU_IGTL_ALLOW', valueName: 'LIST', help: 'Peer addresses or CIDR ranges the OpenIGTLink listener admits (comma-separated).', defaultText: '127.0.0.0/8,::1' },
  { flag: 'source', env: 'SEGWITHU_SOURCE', valueName: 'SOURCE', help: 'In-process source: synthetic, replay:DIR (a folder of PNG frames), mcap:FILE (a recording) or none.', defaultText: 'synthetic' },
  { flag: 'fps', env: 'SEGWITHU_SOURCE_FPS', valueName: 'RATE', help: 'Frame rate of the source in frames/s; replay also takes max.', defaultText: '30' },
  { flag: 'loop', env: 'SEGWITHU_SOURCE_LOOP', help: 'Replay: start again after the last frame.' },
  { flag: 'lossless', env: 'SEGWITHU_SOURCE_LOSSLESS', help: 'Replay: wait for the pipeline to take each frame instead of latest-wins.' },
  { flag: 'clip', env: 'SEGWITHU_SOURCE_CLIP', valueName: 'IDS', help: 'Replay: only these clip ids of manifest.csv (comma-separated).', defaultText: 'every clip' },
  { flag: 'model-dir', env: 'SEGWITHU_MODEL_DIR', valueName: 'DIR', help: 'Model folder with manifest.json.', defaultText: 'models/carotid' },
  { flag: 'threads', env: 'SEGWITHU_THREADS', valueName: 'N', help: 'ONNX Runtime intra-op threads.', defaultText: '2' },
  { flag: 'ort-spinning', env: 'SEGWITHU_ORT_SPINNING', help: 'Let ONNX Runtime threads spin-wait between runs: shorter runs where cores are free, but on few cores the spinning takes CPU from ingest and viewers. The variable takes true or false.', defaultText: 'off' },
  { flag: 'providers', env: 'SEGWITHU_PROVIDERS', valueName: 'LIST', help: 'ONNX Runtime execution providers in order of preference (comma-separated).', defaultText: 'cpu' },
  { flag: 'max-batch', env: 'SEGWITHU_MAX_BATCH', valueName: 'N', help: 'Maximum frames per inference call, across streams.', defaultText: '4' },
  { flag: 'max-batch-wait-ms', env: 'SEGWITHU_MAX_BATCH_WAIT_MS', valueName: 'MS', help: 'Maximum wait for a batch to fill, in ms.', defaultText: '0' },
  { flag: 'max-queue-per-stream', env: 'SEGWITHU_MAX_QUEUE_PER_STREAM', valueName: 'N', help: 'Lossless frames that may wait per stream.', defaultText: '8' },
  { flag: 'alarm', env: 'SEGWITHU_ALARM', valueName: 'E,X,EF,XF', help: 'Alarm hysteresis: enter risk, exit risk, frames to enter, frames to leave.', defaultText: "the model manifest's" },
  { flag: 'max-message-bytes', env: 'SEGWITHU_MAX_MESSAGE_BYTES', valueName: 'BYTES', help: 'Largest ingest message, in bytes.', defaultText: String(SERVER_DEFAULTS.maxMessageBytes) },
  { flag: 'max-frame-pixels', env: 'SEGWITHU_MAX_FRAME_PIXELS', valueName: 'N', help: 'Largest frame width × height, in pixels.', defaultText: String(SERVER_DEFAULTS.maxFramePixels) },
  { flag: 'max-streams', env: 'SEGWITHU_MAX_STREAMS', valueName: 'N', help: 'Streams served at the same time.', defaultText: String(SERVER_DEFAULTS.maxStreams) },
  { flag: 'max-viewers-per-stream', env: 'SEGWITHU_MAX_VIEWERS_PER_STREAM', valueName: 'N', help: 'Viewers per stream.', defaultText: String(SERVER_DEFAULTS.maxViewersPerStream) },
  { flag: 'viewer-buffer-bytes', env: 'SEGWITHU_VIEWER_BUFFER_BYTES', valueName: 'BYTES', help: 'Bytes queued on a viewer socket above which its results are skipped.', defaultText: String(SERVER_DEFAULTS.viewerMaxBufferedBytes) },
  { flag: 'stream-retention-ms', env: 'SEGWITHU_STREAM_RETENTION_MS', valueName: 'MS', help: 'How long an ended stream stays listed with its counters, in ms.', defaultText: String(SERVER_DEFAULTS.streamRetentionMs) },
  { flag: 'shutdown-deadline-ms', env: 'SEGWITHU_SHUTDOWN_DEADLINE_MS', valueName: 'MS', help: 'How long shutdown lets the pipeline finish frames already taken, in ms.', defaultText: String(SERVER_DEFAULTS.shutdownDeadlineMs) },
  { flag: 'client-dir', env: 'SEGWITHU_CLIENT_DIR', valueName: 'DIR', help: 'Built viewer served at /.', defaultText: 'client/dist' },
  { flag: 'log-level', env: 'SEGWITHU_LOG_LEVEL', valueName: 'LEVEL', help: 'pino log level: fatal, error, warn, info, debug, trace or silent.', defaultText: 'info' },
  ...SERVE_ACCESS_OPTIONS,
  ...MCAP_SERVE_OPTIONS,
];

const SEND_OPTIONS: readonly OptionSpec[] = [
  { flag: 'url', env: 'SEGWITHU_SEND_URL', valueName: 'URL', help: 'Server ingest endpoint: ws://HOST:PORT/ingest or tcp://HOST:PORT (required).' },
  { flag: 'folder', valueName: 'DIR', help: 'Folder of PNG frames (images/ or frames/, optional masks/ and manifest.csv) (required).' },
  { flag: 'fps', valueName: 'RATE', help: 'Frames per second, or max.', defaultText: '30' },
  { flag: 'lossless', help: 'Ask for a FrameAck per frame and wait for it: every frame gets a result.' },
  { flag: 'clip', valueName: 'IDS', help: 'Only these clip ids of manifest.csv (comma-separated).', defaultText: 'every clip' },
  { flag: 'loop', help: 'Start again after the last frame, until interrupted.' },
  { flag: 'name', valueName: 'NAME', help: 'Stream name in the hello.', defaultText: 'the first clip id, or the folder name' },
  { flag: 'no-masks', help: 'Do not send the ground-truth masks of masks/.' },
  { flag: 'preload', help: 'Decode every frame before sending the first (about 2 bytes per pixel per frame of memory).' },
  { flag: 'json', help: 'Print the summary as JSON.' },
  ...SEND_ACCESS_OPTIONS,
];


const USAGE = `Usage: segwithu-live COMMAND [options]

Commands:
  serve    run the server: ingest, pipeline, viewers (default command)
  send     stream a folder of frames to a server as a device would
  bench    measure the pipeline and print a table
  soak     run server, device and two viewers for minutes; check memory, latency, accounting
  eval     evaluate a model on frames with ground truth: report.json, summary.md, SVG plots
  record   convert a folder of frames to an MCAP recording (serve --record DIR records live streams)
  replay   serve an MCAP recording as a stream: replay FILE.mcap [--rate original|N|max] [--loop] [--from SECONDS]

Run segwithu-live COMMAND --help for the options of a command.`;

/** Output channels of the CLI; tests pass their own. */
export interface CliOutput {
  out: (text: string) => void;
  err: (text: string) => void;
}

const processOutput: CliOutput = {
  out: (text) => process.stdout.write(`${text}\n`),
  err: (text) => process.stderr.write(`${text}\n`),
};

function stringValue(values: ParsedValues, flag: string): string | undefined {
  const value = values[flag];
  return typeof value === 'string' ? value : undefined;
}

function spec(specs: readonly OptionSpec[], flag: string): OptionSpec {
  return specs.find((candidate) => candidate.flag === flag)!;
}

function parseFrameRate(text: string, name: string, allowMax: boolean): FrameRate {
  if (allowMax && text === 'max') {
    return 'max';
  }
  return parsePositiveNumber(text, name, allowMax ? 'pass frames per second, for example 30, or max' : 'pass frames per second, for example 30');
}

function parseSource(text: string, name: string): SourceOptions['kind'] | { replayDir: string } | { mcapFile: string } {
  if (text === 'synthetic' || text === 'none') {
    return text;
  }
  if (text.startsWith('mcap:') && text.length > 'mcap:'.length) {
    return { mcapFile: text.slice('mcap:'.length) };
  }
  if (text.startsWith('replay:') && text.length > 'replay:'.length) {
    return { replayDir: path.resolve(text.slice('replay:'.length)) };
  }
  throw new OptionError(`${name} "${text}" is not a source; pass synthetic, none, or replay:DIR with the folder of frames or mcap:FILE with a recording`);
}

function parseAlarm(text: string, name: string): AlarmOptions {
  const parts = parseList(text).map(Number);
  const [enter, exit, enterFrames, exitFrames] = parts;
  if (parts.length !== 4 || parts.some((part) => !Number.isFinite(part)) || !(exit <= enter) || !Number.isInteger(enterFrames) || enterFrames < 1 || !Number.isInteger(exitFrames) || exitFrames < 1) {
    throw new OptionError(`${name} "${text}" is not an alarm setting; pass enter,exit,enterFrames,exitFrames with exit <= enter, for example 0.5,0.3,3,3`);
  }
  return { enter, exit, enterFrames, exitFrames };
}

/** Turns `serve` options into ServerOptions; throws OptionError naming the bad value. */
export function serveOptionsFromArgs(argv: string[], env: NodeJS.ProcessEnv): ServerOptions & { help: boolean } {
  const { values, positionals } = readOptions(SERVE_OPTIONS, argv, env);
  if (positionals.length > 0) {
    throw new OptionError(`serve takes no arguments, got "${positionals.join(' ')}"; options start with --`);
  }
  const name = (flag: string): string => origin(spec(SERVE_OPTIONS, flag), argv);
  const integer = (flag: string, min: number, max: number, fix: string): number | undefined => {
    const text = stringValue(values, flag);
    return text === undefined ? undefined : parseInteger(text, name(flag), min, max, fix);
  };

  const options: ServerOptions & { help: boolean } = { help: values.help === true };
  options.host = stringValue(values, 'host');
  options.port = integer('port', 0, 65535, 'pass a port number, or 0 for any free port');
  const tcpPort = integer('tcp-port', 0, 65535, 'pass a port number, or 0 to turn TCP ingest off');
  options.tcpPort = tcpPort === 0 ? undefined : tcpPort;
  const igtlPort = integer('igtl-port', 0, 65535, 'pass a port number, for example 18944, or 0 to turn the listener off');
  options.igtlPort = igtlPort === 0 ? undefined : igtlPort;
  options.igtlConnect = stringValue(values, 'igtl-connect');
  const igtlAllow = stringValue(values, 'igtl-allow');
  options.igtlAllow = igtlAllow === undefined ? undefined : parseList(igtlAllow);
  options.modelDir = stringValue(values, 'model-dir');
  options.intraOpThreads = integer('threads', 1, 256, 'pass the number of threads, for example 2');
  options.allowSpinning = values['ort-spinning'] === true ? true : undefined;
  const providers = stringValue(values, 'providers');
  options.executionProviders = providers === undefined ? undefined : parseList(providers);
  options.maxBatch = integer('max-batch', 1, 256, 'pass the number of frames, for example 4');
  options.maxBatchWaitMs = integer('max-batch-wait-ms', 0, 10_000, 'pass milliseconds, for example 0');
  options.maxQueuePerStream = integer('max-queue-per-stream', 1, 10_000, 'pass the number of frames, for example 8');
  const alarm = stringValue(values, 'alarm');
  options.alarm = alarm === undefined ? undefined : parseAlarm(alarm, name('alarm'));
  options.maxMessageBytes = integer('max-message-bytes', 1024, 1024 ** 3, 'pass bytes, for example 33554432 (32 MiB)');
  options.maxFramePixels = integer('max-frame-pixels', 1, 1 << 30, 'pass pixels, for example 4194304 (2048 × 2048)');
  options.maxStreams = integer('max-streams', 1, 10_000, 'pass the number of streams, for example 16');
  options.maxViewersPerStream = integer('max-viewers-per-stream', 1, 10_000, 'pass the number of viewers, for example 8');
  options.viewerMaxBufferedBytes = integer('viewer-buffer-bytes', 0, 1024 ** 3, 'pass bytes, for example 1048576 (1 MiB)');
  options.streamRetentionMs = integer('stream-retention-ms', 0, 86_400_000, 'pass milliseconds, for example 60000');
  options.shutdownDeadlineMs = integer('shutdown-deadline-ms', 0, 600_000, 'pass milliseconds, for example 5000');
  options.clientDir = stringValue(values, 'client-dir');

  const logLevel = stringValue(values, 'log-level');
  options.logLevel = logLevel === undefined ? undefined : parseLogLevel(logLevel, name('log-level'));

  const sourceText = stringValue(values, 'source') ?? 'synthetic';
  const source = parseSource(sourceText, name('source'));
  const fpsText = stringValue(values, 'fps');
  const clips = stringValue(values, 'clip');
  if (typeof source === 'object' && 'mcapFile' in source) {
    options.source = mcapSourceFromValues(source.mcapFile, values, name);
  } else if (typeof source === 'object') {
    options.source = {
      kind: 'replay',
      dir: source.replayDir,
      fps: fpsText === undefined ? undefined : parseFrameRate(fpsText, name('fps'), true),
      loop: values.loop === true,
      lossless: values.lossless === true,
      clips: clips === undefined ? undefined : parseList(clips),
    };
  } else if (source === 'synthetic') {
    options.source = { kind: 'synthetic', fps: fpsText === undefined ? undefined : (parseFrameRate(fpsText, name('fps'), false) as number) };
  } else {
    options.source = { kind: 'none' };
  }

  Object.assign(options, serveAccessOptions(values, argv));
  options.record = recordOptionsFromValues(values, name);

  for (const key of Object.keys(options) as (keyof ServerOptions)[]) {
    if (options[key] === undefined) {
      delete options[key];
    }
  }
  return options;
}

/** Turns `send` options into SendFolderOptions; throws OptionError naming the bad or missing value. */
export function sendOptionsFromArgs(argv: string[], env: NodeJS.ProcessEnv): SendFolderOptions & { help: boolean; json: boolean } {
  const { values, positionals } = readOptions(SEND_OPTIONS, argv, env);
  if (positionals.length > 0) {
    throw new OptionError(`send takes no arguments, got "${positionals.join(' ')}"; options start with --`);
  }
  const help = values.help === true;
  const url = stringValue(values, 'url');
  const folder = stringValue(values, 'folder');
  if (!help && url === undefined) {
    throw new OptionError('--url is missing; pass the server ingest endpoint, for example --url ws://127.0.0.1:8080/ingest');
  }
  if (!help && folder === undefined) {
    throw new OptionError('--folder is missing; pass a folder of PNG frames, for example --folder ../shared/data/imfusion-liver-sweep');
  }
  if (url !== undefined && !/^(wss?|tcp|tls):\/\//.test(url)) {
    throw new OptionError(`--url "${url}" is not an ingest endpoint; pass ws://HOST:PORT/ingest or tcp://HOST:PORT (wss:// or tls:// for a server with TLS)`);
  }

  const fpsText = stringValue(values, 'fps');
  const clips = stringValue(values, 'clip');
  return {
    help,
    json: values.json === true,
    url: url ?? '',
    folder: path.resolve(folder ?? '.'),
    fps: fpsText === undefined ? 30 : parseFrameRate(fpsText, '--fps', true),
    lossless: values.lossless === true,
    clips: clips === undefined ? undefined : parseList(clips),
    loop: values.loop === true,
    name: stringValue(values, 'name'),
    sendMasks: values['no-masks'] !== true,
    preload: values.preload === true,
    ...sendAccessOptions(values, argv),
  };
}

async function runServe(argv: string[], output: CliOutput): Promise<number> {
  const options = serveOptionsFromArgs(argv, process.env);
  if (options.help) {
    output.out(`Usage: segwithu-live serve [options]\n\nRuns the server: WS /ingest, WS /view, the viewer at /, /healthz, /api/streams, /metrics.\n\nOptions:\n${formatOptions(SERVE_OPTIONS)}`);
    return 0;
  }

  const logger = createLogger(options.logLevel ?? SERVER_DEFAULTS.logLevel);
  const server = await startServer({ ...options, logger });

  await new Promise<void>((resolve) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals): void => {
      if (stopping) {
        logger.warn({ signal }, 'second signal during shutdown; exiting now');
        process.exit(1);
      }
      stopping = true;
      logger.info({ signal }, 'signal received, shutting down');
      // A shutdown stuck past its deadline (plus time to close sockets) ends the process anyway.
      const watchdog = setTimeout(() => {
        logger.error({ signal }, 'shutdown did not finish in time; exiting');
        process.exit(1);
      }, (options.shutdownDeadlineMs ?? SERVER_DEFAULTS.shutdownDeadlineMs) + 5000);
      watchdog.unref();
      void server.close().then(resolve, (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        resolve();
      });
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
  return 0;
}

async function runSend(argv: string[], output: CliOutput): Promise<number> {
  const options = sendOptionsFromArgs(argv, process.env);
  if (options.help) {
    output.out(`Usage: segwithu-live send --url URL --folder DIR [options]\n\nStreams a folder of frames as a device would and prints a summary: frames sent, acks, errors by code.\n\nOptions:\n${formatOptions(SEND_OPTIONS)}`);
    return 0;
  }

  const abort = new AbortController();
  const stop = (): void => abort.abort(new Error('interrupted'));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const summary = await sendFolder({ ...options, signal: abort.signal });
  output.out(options.json ? JSON.stringify(summary) : formatSendSummary(summary));
  return Object.keys(summary.errors).length === 0 && summary.closedByServer === undefined ? 0 : 1;
}

async function runBenchCommand(argv: string[], output: CliOutput): Promise<number> {
  const { BENCH_USAGE, parseBenchArgs, runBench } = await import('../pipeline/bench.js');
  const options = parseBenchArgs(argv);
  if (options.help) {
    output.out(BENCH_USAGE.replace('npx tsx pipeline/bench.ts', 'segwithu-live bench'));
    return 0;
  }
  await runBench(options);
  return 0;
}

async function runEvalCommand(argv: string[], output: CliOutput): Promise<number> {
  const { runEvalCommand: runEval } = await import('../pipeline/eval/cli-args.js');
  return runEval(argv, output.out, output.err);
}

/** Runs one command line (without the node and script arguments); returns the exit code. */
export async function main(argv: string[], output: CliOutput = processOutput): Promise<number> {
  const [first, ...rest] = argv;
  const command = first === undefined || first.startsWith('-') ? 'serve' : first;
  const args = first === undefined || first.startsWith('-') ? argv : rest;

  if (command === 'help' || ((first === '--help' || first === '-h') && rest.length === 0)) {
    output.out(USAGE);
    return 0;
  }

  try {
    switch (command) {
      case 'serve':
        return await runServe(args, output);
      case 'send':
        return await runSend(args, output);
      case 'bench':
        return await runBenchCommand(args, output);
      case 'soak':
        return await (await import('./soak.js')).runSoakCommand(args, output);
      case 'eval':
        return await runEvalCommand(args, output);
      case 'record':
        return await runRecordCommand(args, output.out);
      case 'replay':
        if (args.includes('--help') || args.includes('-h')) {
          output.out(REPLAY_USAGE);
          return 0;
        }
        return await runServe(replayToServeArgs(args), output);
      default:
        output.err(`segwithu-live: unknown command "${command}"; run segwithu-live --help for the commands`);
        return 2;
    }
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (error instanceof OptionError || code === 'ERR_BENCH_ARGS') {
      output.err(`segwithu-live ${command}: ${(error as Error).message}`);
      return 2;
    }
    output.err(`segwithu-live ${command}: ${code ?? 'error'}: ${(error as Error).message}`);
    return 1;
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  process.exitCode = await main(process.argv.slice(2));
}
