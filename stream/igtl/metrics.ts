// Counters of the OpenIGTLink transports, shared by the listener, the client and their
// connections, and rendered in the Prometheus text format for the server's /metrics.

import type { IgtlErrorCode } from './errors.js';

export class IgtlMetrics {
  /** Connections accepted by the listener or made by the client. */
  connectionsOpened = 0;
  connectionsActive = 0;
  /** Connections the listener closed at once: peer outside the allow-list, or maxConnections reached. */
  connectionsRefused = 0;
  /** Connections ended by a framing error. */
  connectionsFailed = 0;
  messagesReceived = 0;
  /** Messages of types this product does not read, skipped by body size. */
  messagesSkipped = 0;
  framesSubmitted = 0;
  /** Result messages written to sockets (label, error probability and risk count as one result). */
  resultsSent = 0;
  /** Results replaced by a newer one for the same stream before the socket could take them. */
  resultsSuperseded = 0;
  /** Results not sent because encoding failed. */
  resultsFailed = 0;
  /** Rejected messages and framing errors by error code. */
  readonly rejectedByCode = new Map<IgtlErrorCode, number>();

  countRejected(code: IgtlErrorCode): void {
    this.rejectedByCode.set(code, (this.rejectedByCode.get(code) ?? 0) + 1);
  }

  rejected(code: IgtlErrorCode): number {
    return this.rejectedByCode.get(code) ?? 0;
  }

  /** Renders the counters as Prometheus text exposition lines, names prefixed segwithu_igtl_. */
  toPrometheus(): string {
    const lines: string[] = [];
    const counter = (name: string, help: string, value: number, type = 'counter'): void => {
      lines.push(`# HELP segwithu_igtl_${name} ${help}`, `# TYPE segwithu_igtl_${name} ${type}`, `segwithu_igtl_${name} ${value}`);
    };
    counter('connections_opened_total', 'OpenIGTLink connections accepted or made.', this.connectionsOpened);
    counter('connections_active', 'OpenIGTLink connections open now.', this.connectionsActive, 'gauge');
    counter('connections_refused_total', 'OpenIGTLink connections refused (allow-list or maxConnections).', this.connectionsRefused);
    counter('connections_failed_total', 'OpenIGTLink connections ended by a framing error.', this.connectionsFailed);
    counter('messages_received_total', 'OpenIGTLink messages received.', this.messagesReceived);
    counter('messages_skipped_total', 'OpenIGTLink messages of unread types skipped by body size.', this.messagesSkipped);
    counter('frames_submitted_total', 'IMAGE messages submitted to the pipeline as frames.', this.framesSubmitted);
    counter('results_sent_total', 'Results sent as OpenIGTLink label, error-probability and risk messages.', this.resultsSent);
    counter('results_superseded_total', 'Results replaced by a newer one before the socket could take them.', this.resultsSuperseded);
    counter('results_failed_total', 'Results that could not be encoded.', this.resultsFailed);

    lines.push('# HELP segwithu_igtl_rejected_total OpenIGTLink messages rejected, by error code.', '# TYPE segwithu_igtl_rejected_total counter');
    for (const [code, count] of [...this.rejectedByCode].sort(([a], [b]) => a.localeCompare(b))) {
      lines.push(`segwithu_igtl_rejected_total{code="${code}"} ${count}`);
    }
    return lines.join('\n') + '\n';
  }
}
