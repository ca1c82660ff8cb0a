// Renders GET /metrics in the Prometheus text exposition format (version 0.0.4): the pipeline's
// per-stream counters and stage latencies, and the server's own ingest and viewer counters.

import type { HistogramSnapshot, PipelineMetrics } from '../pipeline/index.js';
import { DROP_REASONS } from '../pipeline/types.js';
import type { ServerContext } from './context.js';

type Labels = Record<string, string>;

function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function formatLabels(labels: Labels): string {
  const parts = Object.entries(labels).map(([key, value]) => `${key}="${escapeLabelValue(value)}"`);
  return parts.length > 0 ? `{${parts.join(',')}}` : '';
}

function formatValue(value: number): string {
  if (value === Infinity) {
    return '+Inf';
  }
  if (value === -Infinity) {
    return '-Inf';
  }
  return Number.isNaN(value) ? 'NaN' : String(value);
}

/** Collects samples grouped by metric family, each family with one HELP and TYPE line. */
class Exposition {
  readonly #families = new Map<string, { help: string; type: string; lines: string[] }>();

  #family(name: string, type: string, help: string): string[] {
    let family = this.#families.get(name);
    if (family === undefined) {
      family = { help, type, lines: [] };
      this.#families.set(name, family);
    }
    return family.lines;
  }

  gauge(name: string, help: string, labels: Labels, value: number): void {
    this.#family(name, 'gauge', help).push(`${name}${formatLabels(labels)} ${formatValue(value)}`);
  }

  counter(name: string, help: string, labels: Labels, value: number): void {
    this.#family(name, 'counter', help).push(`${name}${formatLabels(labels)} ${formatValue(value)}`);
  }

  /** Adds a histogram; `scale` converts the snapshot's unit (ms -> s is 0.001). */
  histogram(name: string, help: string, labels: Labels, snapshot: HistogramSnapshot, scale = 1): void {
    const lines = this.#family(name, 'histogram', help);
    snapshot.upperBounds.forEach((bound, i) => {
      const le = bound === Infinity ? '+Inf' : formatValue(bound * scale);
      lines.push(`${name}_bucket${formatLabels({ ...labels, le })} ${snapshot.cumulativeCounts[i]}`);
    });
    lines.push(`${name}_sum${formatLabels(labels)} ${formatValue(snapshot.sum * scale)}`);
    lines.push(`${name}_count${formatLabels(labels)} ${snapshot.count}`);
  }

  toString(): string {
    const out: string[] = [];
    for (const [name, family] of this.#families) {
      out.push(`# HELP ${name} ${family.help}`, `# TYPE ${name} ${family.type}`, ...family.lines);
    }
    return `${out.join('\n')}\n`;
  }
}

/** True when received = processed + dropped + in flight for every stream, and the pipeline agrees. */
export function accountingHolds(metrics: PipelineMetrics): boolean {
  const everyStreamBalances = metrics.streams.every(({ counters }) => {
    const dropped = DROP_REASONS.reduce((sum, reason) => sum + counters.dropped[reason], 0);
    return counters.received === counters.processed + dropped + counters.inFlight;
  });
  return everyStreamBalances && metrics.accountingHolds;
}

export function renderMetrics(context: ServerContext): string {
  const { pipeline, registry, telemetry, hub, errorLog } = context;
  const metrics = pipeline.metrics();
  const out = new Exposition();
  const MS = 0.001;

  out.gauge('segwithu_model_info', 'Model the pipeline runs (value is always 1).', { model_id: pipeline.manifest.model.id, model_version: pipeline.manifest.model.version }, 1);
  out.gauge('segwithu_accounting_ok', '1 when received = processed + dropped + in flight holds for every stream, else 0.', {}, accountingHolds(metrics) ? 1 : 0);

  for (const stream of metrics.streams) {
    const labels = { stream: stream.streamId };
    const { counters } = stream;
    out.counter('segwithu_frames_received_total', 'Frames received from the device, valid or not.', labels, counters.received);
    out.counter('segwithu_frames_processed_total', 'Frames that produced a result.', labels, counters.processed);
    for (const reason of DROP_REASONS) {
      out.counter('segwithu_frames_dropped_total', 'Frames that left the pipeline without a result, by reason.', { ...labels, reason }, counters.dropped[reason]);
    }
    out.gauge('segwithu_frames_in_flight', 'Frames accepted and not yet processed or dropped.', labels, counters.inFlight);
    out.gauge('segwithu_queue_depth', 'Frames waiting in the stream\'s latest-wins slot or lossless queue.', labels, stream.queueDepth);
    out.gauge('segwithu_frame_rate_hz', 'Frames per second over the last seconds: received from the device, or processed.', { ...labels, kind: 'processed' }, stream.framesPerSecond);
    out.gauge('segwithu_alarm', '1 while the stream is in alarm, else 0.', labels, stream.alarm === 'alarm' ? 1 : 0);
    for (const [stage, snapshot] of Object.entries(stream.latencyMs)) {
      out.histogram('segwithu_stage_latency_seconds', 'Time per pipeline stage; total is received to result, send is received to sent to viewers.', { ...labels, stage }, snapshot, MS);
    }
    const entry = registry.get(stream.streamId);
    out.gauge('segwithu_viewers', 'Viewers subscribed to the stream.', labels, entry?.viewers ?? 0);
  }

  for (const [streamId, stats] of telemetry.streams()) {
    const labels = { stream: streamId };
    out.gauge('segwithu_frame_rate_hz', 'Frames per second over the last seconds: received from the device, or processed.', { ...labels, kind: 'received' }, stats.arrivals.perSecond());
    out.histogram('segwithu_stage_latency_seconds', 'Time per pipeline stage; total is received to result, send is received to sent to viewers.', { ...labels, stage: 'send' }, stats.sendLatencyMs.snapshot(), MS);
    out.counter('segwithu_viewer_updates_sent_total', 'Updates sent to viewers (one per viewer and result).', labels, stats.viewerUpdatesSent);
    out.counter('segwithu_viewer_updates_skipped_total', 'Updates not sent because the viewer was behind: socket above its send budget, or acknowledgement window full.', labels, stats.viewerUpdatesSkipped);
    out.counter('segwithu_viewer_updates_awaiting_ack_total', 'The skipped updates held back because the viewer had max_unacked_updates unacknowledged.', labels, stats.viewerUpdatesAwaitingAck);
    out.counter('segwithu_sequence_gap_frames_total', 'Sequence numbers the device skipped, reconnects included: frames that never reached the server.', labels, stats.sequenceGapFrames);
    out.counter('segwithu_stream_resumes_total', 'Device reconnects that resumed the stream id.', labels, stats.resumes);
    out.counter('segwithu_sequence_regressions_total', 'Frames numbered at or below the previous frame (repeated, or the device restarted its counter); each was still processed.', labels, stats.sequenceRegressions);
    out.counter('segwithu_replay_capture_steps_replaced_total', 'Recording replays: steps between capture timestamps that were not positive or above the maximum, paced at the nominal frame interval instead.', labels, stats.captureStepsReplaced);
  }

  for (const { streamId, code, count } of telemetry.invalidCounts()) {
    out.counter('segwithu_invalid_messages_total', 'Ingest messages rejected, by error code; stream is empty before a hello.', { stream: streamId, code }, count);
  }

  out.histogram('segwithu_batch_size', 'Frames per inference call.', {}, metrics.batchSize);
  out.gauge('segwithu_streams', 'Streams known to the server, by state.', { state: 'active' }, registry.active().length);
  out.gauge('segwithu_streams', 'Streams known to the server, by state.', { state: 'ended' }, registry.list().length - registry.active().length);
  out.gauge('segwithu_viewer_connections', 'Open viewer WebSockets, subscribed or not.', {}, hub.size);
  for (const [transport, open] of telemetry.connections()) {
    out.gauge('segwithu_ingest_connections', 'Open device connections, by transport.', { transport }, open);
  }
  for (const { code, count } of telemetry.viewerRejections()) {
    out.counter('segwithu_viewer_requests_rejected_total', 'Viewer requests rejected with an error report, by error code.', { code }, count);
  }
  for (const { role, transport, count } of telemetry.authFailures()) {
    out.counter('segwithu_auth_failures_total', 'Connections and requests rejected for a missing or invalid token, by role and transport.', { role, transport }, count);
  }
  out.counter('segwithu_log_lines_suppressed_total', 'Repeated error log lines left out by rate limiting.', {}, errorLog.suppressedTotal);
  // OpenIGTLink families (segwithu_igtl_*, rejections by ERR_IGTL_ code) have names of their own.
  return out.toString() + (context.igtlMetrics?.toPrometheus() ?? '');
}
