// Options of startServer(): where it listens, which model and source it runs, and the limits
// that protect it from devices and viewers. Every limit has a safe default; resolveServerOptions
// fills the defaults in and rejects values that cannot work, naming the value and the fix.

import path from 'node:path';
import { fileURLToPath } from 'node:url';

import type { Logger } from 'pino';

import type { AlarmOptions, Pipeline } from '../pipeline/index.js';
import { checkTokenSyntax, isLoopbackHost } from './auth.js';
import { OptionError } from './errors.js';
import { buildAllowList } from './igtl/listener.js';
import { parseHostPort } from './igtl/server-plugin.js';

/** Repository root (the folder above stream/). */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Frames generated inside the process: no device needed. */
export interface SyntheticSourceOptions {
  kind: 'synthetic';
  /** Frames per second. Default 30. */
  fps?: number;
  /** Frame width and height in pixels. Default 640 × 480. */
  width?: number;
  height?: number;
  /** Stream name shown to viewers. Default 'synthetic'. */
  name?: string;
}

/** A folder of PNG frames replayed as one stream. */
export interface ReplaySourceOptions {
  kind: 'replay';
  /** Folder with images/ or frames/ (or the PNG files themselves), and optionally masks/ and manifest.csv. */
  dir: string;
  /** Frames per second, or 'max' for as fast as the pipeline takes them. Default 30. */
  fps?: number | 'max';
  /** Start again at the first frame after the last. Default false. */
  loop?: boolean;
  /** Wait for the pipeline to take each frame instead of latest-wins. Default false. */
  lossless?: boolean;
  /** Only these clip ids (manifest.csv clip_id). Default: every clip. */
  clips?: string[];
  /** Stream name shown to viewers. Default: the folder's name. */
  name?: string;
}

/** An MCAP recording (made by `record` or `serve --record`) replayed as one stream. */
export interface McapSourceOptions {
  kind: 'mcap';
  /** The .mcap file. */
  file: string;
  /** 'original' follows the recorded capture times; a number N plays N times faster; 'max' as fast as the pipeline takes frames. Default 'original'. */
  rate?: 'original' | number | 'max';
  /** Start again after the last frame; sequence numbers and capture times keep increasing. Default false. */
  loop?: boolean;
  /** Start this many seconds of capture time after the first frame. Default 0. */
  fromSeconds?: number;
  /** Wait for the pipeline to take each frame instead of latest-wins. Default: true for rate 'max', else false. */
  lossless?: boolean;
  /** Stream name shown to viewers. Default: the file name without .mcap. */
  name?: string;
}

export type SourceOptions = SyntheticSourceOptions | ReplaySourceOptions | McapSourceOptions | { kind: 'none' };

/** Recording of every stream the server processes to MCAP files, one file set per stream. */
export interface RecordOptions {
  /** Folder the recordings go to; created when missing. */
  directory: string;
  /** A new file starts after the frame that brings the current one to this many bytes. Default 1 GiB. */
  maxFileBytes?: number;
  /** Capture time one file spans at most, in ms. Default 10 minutes. */
  maxFileDurationMs?: number;
  /** Frames waiting for the recording thread, across streams; more are dropped and counted. Default 32. */
  maxQueuedFrames?: number;
}

export interface ServerOptions {
  /** Interface to listen on. Default '127.0.0.1' (this machine only). */
  host?: string;
  /** HTTP and WebSocket port; 0 lets the system pick a free one. Default 8080. */
  port?: number;
  /** TCP ingest port (length-delimited protobuf); 0 lets the system pick one. Default: no TCP ingest. */
  tcpPort?: number;
  /** OpenIGTLink listener port on `host` (3D Slicer uses 18944); 0 lets the system pick one. Default: no listener. */
  igtlPort?: number;
  /** OpenIGTLink device server to ingest from, as host:port; reconnects with backoff. Default: none. */
  igtlConnect?: string;
  /** Peer addresses or CIDR ranges the OpenIGTLink listener admits. Default: loopback only (127.0.0.0/8, ::1). */
  igtlAllow?: string[];

  /** Model folder with manifest.json. Default models/carotid in the repository. */
  modelDir?: string;
  /** ONNX Runtime execution providers in order of preference. Default ['cpu']. */
  executionProviders?: string[];
  /** ONNX Runtime intra-op threads. Default: the pipeline's (2). */
  intraOpThreads?: number;
  graphOptimizationLevel?: 'disabled' | 'basic' | 'extended' | 'all';
  /** Lets ONNX Runtime's intra-op threads spin-wait between runs. Default: the pipeline's (false). */
  allowSpinning?: boolean;
  /** Maximum frames per inference call, across streams. Default: the pipeline's (4). */
  maxBatch?: number;
  /** Maximum wait for a batch to fill, in ms. Default: the pipeline's (0). */
  maxBatchWaitMs?: number;
  /** Lossless frames that may wait per stream. Default: the pipeline's (8). */
  maxQueuePerStream?: number;
  /** Alarm hysteresis. Default: the model manifest's. */
  alarm?: AlarmOptions;
  /** A pipeline built by the caller; the server then ignores the model options and closes it on close(). */
  pipeline?: Pipeline;

  /** In-process source started with the server. Default { kind: 'none' }. */
  source?: SourceOptions;
  /** Record every stream to MCAP; the files are finalised on close() (SIGTERM included). Default: no recording. */
  record?: RecordOptions;
  /** Folder served at `/` (the built viewer). Default client/dist in the repository. */
  clientDir?: string;

  /** Largest accepted ingest message, in bytes. Default 32 MiB (a 2048 × 2048 RGBA8 frame with its mask fits). */
  maxMessageBytes?: number;
  /** Largest accepted width × height of a frame, in pixels. Default 2048 × 2048. */
  maxFramePixels?: number;
  /** Streams served at the same time. Default 16. */
  maxStreams?: number;
  /** Viewers per stream. Default 8. */
  maxViewersPerStream?: number;
  /**
   * Bytes a viewer socket may have queued before results for it are skipped. Default 1 MiB,
   * about two updates of a 709×749 frame with its maps, so a viewer that falls behind sees
   * at most two stale updates instead of seconds of backlog. An update is still sent whole
   * when the queue is below the bound, so larger frames are not starved.
   */
  viewerMaxBufferedBytes?: number;
  /** How long a stream stays listed (with its counters) after its device disconnects, in ms. Default 60 000. */
  streamRetentionMs?: number;
  /** How long close() lets the pipeline finish frames already taken, in ms. Default 5000. */
  shutdownDeadlineMs?: number;
  /**
   * How long a device connection may go without a DeviceHello (on TCP with tokens: without its
   * auth record and hello) before it is closed with ERR_HELLO_TIMEOUT, in ms. Default 10 000.
   */
  helloTimeoutMs?: number;
  /**
   * Highest sustained rate of live frames per stream, in frames/s, with bursts of up to half a
   * second's frames. A frame above it is rejected with ERR_RATE_LIMIT and counted as dropped
   * 'invalid'. Lossless streams are exempt because FrameAcks already pace them. Default 120.
   */
  maxFrameRateHz?: number;
  /** Open viewer WebSockets, subscribed or not; one more is closed with 1013 (try again later). Default 128. */
  maxViewerConnections?: number;

  /**
   * Tokens a device must present, any one of them (see stream/auth.ts for where it goes).
   * Default none: devices need no token, which is allowed only when `host` is a loopback address.
   */
  deviceTokens?: string[];
  /** Tokens a viewer, or a client of the HTTP routes, must present. Default none, as for deviceTokens. */
  viewerTokens?: string[];
  /** PEM certificate chain file; with tlsKeyFile, the server speaks https and wss and TCP ingest runs over TLS. Default: no TLS. */
  tlsCertFile?: string;
  /** PEM private key file of tlsCertFile. */
  tlsKeyFile?: string;

  logger?: Logger;
  /** pino level when no logger is given. Default 'info'. */
  logLevel?: string;
}

type Defaulted = 'host' | 'port' | 'modelDir' | 'source' | 'clientDir' | 'maxMessageBytes' | 'maxFramePixels' | 'maxStreams'
  | 'maxViewersPerStream' | 'viewerMaxBufferedBytes' | 'streamRetentionMs' | 'shutdownDeadlineMs' | 'logLevel'
  | 'helloTimeoutMs' | 'maxFrameRateHz' | 'maxViewerConnections' | 'deviceTokens' | 'viewerTokens';

export type ResolvedServerOptions = Omit<ServerOptions, Defaulted> & Required<Pick<ServerOptions, Defaulted>>;

const MIB = 1024 * 1024;

export const SERVER_DEFAULTS = {
  host: '127.0.0.1',
  port: 8080,
  modelDir: path.join(REPO_ROOT, 'models', 'carotid'),
  clientDir: path.join(REPO_ROOT, 'client', 'dist'),
  maxMessageBytes: 32 * MIB,
  maxFramePixels: 2048 * 2048,
  maxStreams: 16,
  maxViewersPerStream: 8,
  viewerMaxBufferedBytes: 1 * MIB,
  streamRetentionMs: 60_000,
  shutdownDeadlineMs: 5000,
  helloTimeoutMs: 10_000,
  maxFrameRateHz: 120,
  maxViewerConnections: 128,
  logLevel: 'info',
} as const;

function requireInteger(name: string, value: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new OptionError(`${name} must be an integer from ${min} to ${max}, got ${String(value)}; pass a value in that range or leave it out for the default`);
  }
  return value;
}

function requirePositive(name: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0) {
    throw new OptionError(`${name} must be a number above 0, got ${String(value)}; pass a positive value or leave it out for the default`);
  }
  return value;
}

function resolveSource(source: SourceOptions | undefined): SourceOptions {
  if (source === undefined || source.kind === 'none') {
    return { kind: 'none' };
  }
  if (source.kind === 'mcap') {
    if (source.file.length === 0) {
      throw new OptionError('source.file is empty; pass the recording to replay, for example mcap:recordings/probe.mcap');
    }
    if (typeof source.rate === 'number') requirePositive('source.rate', source.rate);
    if (source.fromSeconds !== undefined && !(source.fromSeconds >= 0)) {
      throw new OptionError(`source.fromSeconds must be 0 or more, got ${String(source.fromSeconds)}; pass the start in seconds after the first frame`);
    }
    return source;
  }
  if (source.fps !== undefined && source.fps !== 'max') {
    requirePositive('source.fps', source.fps);
  }
  if (source.kind === 'replay' && source.dir.length === 0) {
    throw new OptionError('source.dir is empty; pass the folder to replay, for example replay:/data/ccaui-carotid');
  }
  return source;
}

/** Fills in defaults and checks every limit; throws OptionError naming the bad value. */
export function resolveServerOptions(options: ServerOptions = {}): ResolvedServerOptions {
  const resolved: ResolvedServerOptions = {
    ...options,
    host: options.host ?? SERVER_DEFAULTS.host,
    port: requireInteger('port', options.port ?? SERVER_DEFAULTS.port, 0, 65535),
    modelDir: path.resolve(options.modelDir ?? SERVER_DEFAULTS.modelDir),
    source: resolveSource(options.source),
    clientDir: path.resolve(options.clientDir ?? SERVER_DEFAULTS.clientDir),
    maxMessageBytes: requireInteger('maxMessageBytes', options.maxMessageBytes ?? SERVER_DEFAULTS.maxMessageBytes, 1024, 1024 * MIB),
    maxFramePixels: requireInteger('maxFramePixels', options.maxFramePixels ?? SERVER_DEFAULTS.maxFramePixels, 1),
    maxStreams: requireInteger('maxStreams', options.maxStreams ?? SERVER_DEFAULTS.maxStreams, 1),
    maxViewersPerStream: requireInteger('maxViewersPerStream', options.maxViewersPerStream ?? SERVER_DEFAULTS.maxViewersPerStream, 1),
    viewerMaxBufferedBytes: requireInteger('viewerMaxBufferedBytes', options.viewerMaxBufferedBytes ?? SERVER_DEFAULTS.viewerMaxBufferedBytes, 0),
    streamRetentionMs: requireInteger('streamRetentionMs', options.streamRetentionMs ?? SERVER_DEFAULTS.streamRetentionMs, 0),
    shutdownDeadlineMs: requireInteger('shutdownDeadlineMs', options.shutdownDeadlineMs ?? SERVER_DEFAULTS.shutdownDeadlineMs, 0),
    helloTimeoutMs: requireInteger('helloTimeoutMs', options.helloTimeoutMs ?? SERVER_DEFAULTS.helloTimeoutMs, 1, 3_600_000),
    maxFrameRateHz: requirePositive('maxFrameRateHz', options.maxFrameRateHz ?? SERVER_DEFAULTS.maxFrameRateHz),
    maxViewerConnections: requireInteger('maxViewerConnections', options.maxViewerConnections ?? SERVER_DEFAULTS.maxViewerConnections, 1),
    deviceTokens: (options.deviceTokens ?? []).map((token, index) => checkTokenSyntax(token, `deviceTokens[${index}]`)),
    viewerTokens: (options.viewerTokens ?? []).map((token, index) => checkTokenSyntax(token, `viewerTokens[${index}]`)),
    logLevel: options.logLevel ?? SERVER_DEFAULTS.logLevel,
  };
  checkExposure(resolved);

  if (options.tcpPort !== undefined) {
    requireInteger('tcpPort', options.tcpPort, 0, 65535);
  }
  if (options.igtlPort !== undefined) {
    requireInteger('igtlPort', options.igtlPort, 0, 65535);
  }
  checkIgtlOption('igtlConnect', () => options.igtlConnect !== undefined && parseHostPort(options.igtlConnect));
  checkIgtlOption('igtlAllow', () => options.igtlAllow !== undefined && buildAllowList(options.igtlAllow));
  return resolved;
}

/**
 * Rejects a non-loopback host while a role has no token, before anything binds: otherwise anyone
 * who can reach the machine could send frames as a device or watch the images.
 */
function checkExposure(options: ResolvedServerOptions): void {
  if (isLoopbackHost(options.host)) {
    return;
  }
  const open = (['device', 'viewer'] as const).filter((role) => (role === 'device' ? options.deviceTokens : options.viewerTokens).length === 0);
  if (open.length === 0) {
    return;
  }
  throw new OptionError(
    `host ${options.host} is not a loopback address and no ${open.join(' or ')} token is set, so anyone who can reach this machine could ` +
      `${open.includes('viewer') ? 'watch the images' : 'send frames'}; set both tokens (--device-token and --viewer-token, ` +
      'SEGWITHU_DEVICE_TOKEN and SEGWITHU_VIEWER_TOKEN, or --device-token-file and --viewer-token-file), or listen on 127.0.0.1',
  );
}

/** Runs an OpenIGTLink option check and turns its IgtlError into an OptionError naming the option. */
function checkIgtlOption(name: string, check: () => unknown): void {
  try {
    check();
  } catch (error) {
    throw new OptionError(`${name} is invalid: ${(error as Error).message}`);
  }
}
