// startServer(): the fastify server with its plugins (ingest over WebSocket and TCP, viewers,
// status routes, static viewer files), the pipeline, and the in-process source.

import fastifyWebsocket from '@fastify/websocket';
import { fastify, LogController, type FastifyInstance, type RawReplyDefaultExpression, type RawRequestDefaultExpression, type RawServerDefault } from 'fastify';
import type { Logger } from 'pino';

import type { AlarmOptions, Pipeline, PipelineOptions } from '../pipeline/index.js';
import { isLoopbackHost, selectWebSocketProtocol, TokenChecker } from './auth.js';
import type { ServerContext } from './context.js';
import { OptionError } from './errors.js';
import { createLogger, RateLimitedLog } from './log.js';
import { resolveServerOptions, type ResolvedServerOptions, type ServerOptions } from './options.js';
import { igtlPlugin, parseHostPort } from './igtl/server-plugin.js';
import { addAccessControl } from './plugins/access-control.js';
import { ingestTcpPlugin } from './plugins/ingest-tcp.js';
import { ingestWebSocketPlugin } from './plugins/ingest-websocket.js';
import { staticFilesPlugin } from './plugins/static-files.js';
import { statusRoutesPlugin } from './plugins/status-routes.js';
import { viewerWebSocketPlugin } from './plugins/viewer-websocket.js';
import { StreamRegistry } from './registry.js';
import { startLiveRecording, type LiveRecording } from './mcap/live-recording.js';
import { startSource, type RunningSource } from './sources/index.js';
import { Telemetry } from './telemetry.js';
import { loadTlsFiles } from './tls.js';
import { ViewerHub } from './viewer-hub.js';

/** WebSocket close code for a server going away (RFC 6455 section 7.4.1). */
const CLOSE_GOING_AWAY = 1001;

export interface RunningServer {
  /** http://host:port (https:// with TLS) of the HTTP and WebSocket endpoints. */
  readonly url: string;
  readonly port: number;
  /** TCP ingest port, or undefined when TCP ingest is off. */
  readonly tcpPort: number | undefined;
  /** OpenIGTLink listener port, or undefined when the listener is off. */
  readonly igtlPort: number | undefined;
  /** Stream id of the in-process source, when one runs. */
  readonly sourceStreamId: string | undefined;
  readonly pipeline: Pipeline;
  /** The MCAP recording of every stream, when options.record is set. */
  readonly recording: LiveRecording | undefined;
  readonly app: FastifyInstance<RawServerDefault, RawRequestDefaultExpression, RawReplyDefaultExpression, Logger>;
  /**
   * Shuts down: stops the source and ingest, lets the pipeline finish frames already taken (up
   * to shutdownDeadlineMs), closes viewers with 1001 and stops listening. Safe to call twice.
   */
  close(): Promise<void>;
}

async function buildPipeline(options: ResolvedServerOptions, context: { logger: ServerContext['logger'] }): Promise<Pipeline> {
  if (options.pipeline !== undefined) {
    return options.pipeline;
  }
  // Loaded here so that a caller passing its own pipeline never loads ONNX Runtime.
  const { createPipeline } = await import('../pipeline/index.js');
  const pipelineOptions: PipelineOptions = { modelDir: options.modelDir, logger: context.logger };
  if (options.executionProviders !== undefined) pipelineOptions.executionProviders = options.executionProviders;
  if (options.intraOpThreads !== undefined) pipelineOptions.intraOpThreads = options.intraOpThreads;
  if (options.graphOptimizationLevel !== undefined) pipelineOptions.graphOptimizationLevel = options.graphOptimizationLevel;
  if (options.allowSpinning !== undefined) pipelineOptions.allowSpinning = options.allowSpinning;
  if (options.maxBatch !== undefined) pipelineOptions.maxBatch = options.maxBatch;
  if (options.maxBatchWaitMs !== undefined) pipelineOptions.maxBatchWaitMs = options.maxBatchWaitMs;
  if (options.maxQueuePerStream !== undefined) pipelineOptions.maxQueuePerStream = options.maxQueuePerStream;
  if (options.alarm !== undefined) pipelineOptions.alarm = options.alarm;
  return createPipeline(pipelineOptions);
}

function alarmOf(options: ResolvedServerOptions, pipeline: Pipeline): AlarmOptions {
  if (options.alarm !== undefined) {
    return options.alarm;
  }
  const { alarm } = pipeline.manifest;
  return { enter: alarm.enter, exit: alarm.exit, enterFrames: alarm.enter_frames, exitFrames: alarm.exit_frames };
}

function formatUrl(host: string, port: number, secure: boolean): string {
  const scheme = secure ? 'https' : 'http';
  return host.includes(':') ? `${scheme}://[${host}]:${port}` : `${scheme}://${host}:${port}`;
}

type App = RunningServer['app'];

export async function startServer(input: ServerOptions = {}): Promise<RunningServer> {
  const options = resolveServerOptions(input);
  const tlsFiles = loadTlsFiles(options.tlsCertFile, options.tlsKeyFile);
  const logger = options.logger ?? createLogger(options.logLevel);
  const auth = new TokenChecker({ device: options.deviceTokens, viewer: options.viewerTokens });
  if (!isLoopbackHost(options.host) && tlsFiles === undefined) {
    logger.warn({ host: options.host }, 'listening beyond this machine without TLS: tokens and images travel in clear text; pass --tls-cert and --tls-key, or put a TLS proxy in front');
  }
  const pipeline = await buildPipeline(options, { logger });

  const telemetry = new Telemetry();
  const registry = new StreamRegistry({
    pipeline,
    maxStreams: options.maxStreams,
    retentionMs: options.streamRetentionMs,
    onForget: (streamId) => telemetry.forgetStream(streamId),
  });
  const errorLog = new RateLimitedLog(logger);
  const hub = new ViewerHub({
    pipeline,
    registry,
    telemetry,
    logger,
    errorLog,
    maxViewersPerStream: options.maxViewersPerStream,
    maxBufferedBytes: options.viewerMaxBufferedBytes,
    alarm: alarmOf(options, pipeline),
  });
  const context: ServerContext = { options, pipeline, registry, hub, telemetry, logger, auth, errorLog, ingestConnections: new Set(), closing: false };

  // Requests are not logged one by one (a Prometheus scrape every few seconds would flood the
  // log); starts, stops, connections and errors are.
  const app = fastify({
    loggerInstance: logger,
    logController: new LogController({ disableRequestLogging: true }),
    ...(tlsFiles === undefined ? {} : { https: tlsFiles }),
  }) as unknown as App;
  // ws reads messages up to twice maxMessageBytes, so a message just above the limit is rejected
  // with ERR_MESSAGE_TOO_LARGE and the connection survives. Beyond that, ws closes it (1009).
  await app.register(fastifyWebsocket, { options: { maxPayload: 2 * options.maxMessageBytes, handleProtocols: selectWebSocketProtocol } });
  addAccessControl(app, context);
  await app.register(ingestWebSocketPlugin, { context });
  await app.register(viewerWebSocketPlugin, { context });
  await app.register(statusRoutesPlugin, { context });
  await app.register(staticFilesPlugin, { clientDir: options.clientDir });
  const tcpBound: { port?: number } = {};
  if (options.tcpPort !== undefined) {
    await app.register(ingestTcpPlugin, { context, host: options.host, port: options.tcpPort, bound: tcpBound, tls: tlsFiles });
  }
  const igtlBound: { port?: number } = {};
  if (options.igtlPort !== undefined || options.igtlConnect !== undefined) {
    const connect = options.igtlConnect === undefined ? undefined : parseHostPort(options.igtlConnect);
    await app.register(igtlPlugin, { context, host: options.host, port: options.igtlPort, allow: options.igtlAllow, connect, bound: igtlBound });
  }

  hub.start();
  // Recording encodes on a worker thread and drops (counting) when it falls behind, so it never
  // slows ingest.
  const recording = options.record === undefined ? undefined : startLiveRecording(pipeline, registry, { ...options.record, logger });
  try {
    await app.listen({ host: options.host, port: options.port });
  } catch (error) {
    await pipeline.close(0);
    await recording?.close();
    await app.close();
    if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      throw new OptionError(`HTTP port ${options.port} on ${options.host} is in use; pass another --port, or 0 for any free port`);
    }
    throw error;
  }

  const port = (app.server.address() as { port: number }).port;
  const url = formatUrl(options.host, port, tlsFiles !== undefined);

  let source: RunningSource | undefined;
  try {
    source = await startSource(context, options.source);
  } catch (error) {
    await shutdown();
    throw error;
  }
  logger.info(
    { url, tcpPort: tcpBound.port, model: pipeline.manifest.model, source: options.source.kind, deviceTokens: auth.required('device'), viewerTokens: auth.required('viewer') },
    'server started',
  );

  let closed: Promise<void> | undefined;
  async function shutdown(): Promise<void> {
    const startedMs = performance.now();
    context.closing = true;
    logger.info({ deadlineMs: options.shutdownDeadlineMs }, 'server stopping');

    await source?.stop();
    for (const connection of context.ingestConnections) {
      connection.shutdown('shutdown');
    }
    await pipeline.close(options.shutdownDeadlineMs);
    // After the pipeline's last results, so the files end with them; close() finalises each file.
    await recording?.close();
    hub.closeAll(CLOSE_GOING_AWAY, 'server shutting down');
    registry.close();
    await app.close();

    // The final counters, so a log reader can check that every frame was accounted for.
    const { streams: finalStreams, accountingHolds } = pipeline.metrics();
    logger.info(
      {
        durationMs: Math.round(performance.now() - startedMs),
        streams: registry.list().length,
        accountingHolds,
        counters: Object.fromEntries(finalStreams.map((stream) => [stream.streamId, stream.counters])),
      },
      'server stopped',
    );
  }

  return {
    url,
    port,
    tcpPort: tcpBound.port,
    igtlPort: igtlBound.port,
    sourceStreamId: source?.streamId,
    pipeline,
    recording,
    app,
    close: () => (closed ??= shutdown()),
  };
}
