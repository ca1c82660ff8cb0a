// Shared state of the server's plugins: options, the pipeline, the stream registry, the viewer
// hub, telemetry and loggers. startServer builds one and hands it to each plugin.

import type { Logger } from 'pino';

import type { Pipeline } from '../pipeline/index.js';
import type { TokenChecker } from './auth.js';
import type { IgtlMetrics } from './igtl/metrics.js';
import type { RateLimitedLog } from './log.js';
import type { ResolvedServerOptions } from './options.js';
import type { StreamRegistry } from './registry.js';
import type { Telemetry } from './telemetry.js';
import type { ViewerHub } from './viewer-hub.js';

/** A connection the server can end at shutdown. */
export interface ClosableConnection {
  /** Ends the connection; WebSockets close with 1001 (going away). */
  shutdown(reason: string): void;
}

export interface ServerContext {
  readonly options: ResolvedServerOptions;
  readonly pipeline: Pipeline;
  readonly registry: StreamRegistry;
  readonly hub: ViewerHub;
  readonly telemetry: Telemetry;
  readonly logger: Logger;
  /** Device and viewer tokens; a role without tokens is open (loopback hosts only). */
  readonly auth: TokenChecker;
  /** For errors a device or viewer can repeat at frame rate. */
  readonly errorLog: RateLimitedLog;
  /** Open ingest connections, ended first at shutdown. */
  readonly ingestConnections: Set<ClosableConnection>;
  /** True once shutdown has begun: new hellos are rejected with ERR_SERVER_CLOSING. */
  closing: boolean;
  /** OpenIGTLink counters, set when the server runs OpenIGTLink; /metrics appends them. */
  igtlMetrics?: IgtlMetrics;
}
