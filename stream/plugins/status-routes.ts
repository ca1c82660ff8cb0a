// GET /healthz, GET /api/streams and GET /metrics: what the server is doing, for people,
// load balancers and Prometheus.

import type { FastifyPluginAsync } from 'fastify';

import type { ServerContext } from '../context.js';
import { renderMetrics } from '../metrics.js';

export const statusRoutesPlugin: FastifyPluginAsync<{ context: ServerContext }> = async (app, { context }) => {
  const startedAtMs = Date.now();

  app.get('/healthz', async (_request, reply) => {
    const { model } = context.pipeline.manifest;
    const body = {
      status: context.closing ? 'closing' : 'ok',
      model: { id: model.id, version: model.version },
      streams: context.registry.active().length,
      viewers: context.hub.size,
      uptimeS: Math.round((Date.now() - startedAtMs) / 1000),
    };
    // 503 while shutting down, so a load balancer stops sending new devices here.
    return reply.code(context.closing ? 503 : 200).send(body);
  });

  app.get('/api/streams', async () => {
    const metrics = context.pipeline.metrics();
    const byId = new Map(metrics.streams.map((stream) => [stream.streamId, stream]));
    const { model } = context.pipeline.manifest;

    return {
      model: { id: model.id, version: model.version },
      streams: context.registry.list().map((entry) => {
        const pipelineStream = byId.get(entry.id);
        return {
          streamId: entry.id,
          streamName: entry.name,
          source: entry.source,
          state: entry.state,
          lossless: entry.lossless,
          nominalRateHz: entry.nominalRateHz,
          width: entry.width,
          height: entry.height,
          viewers: entry.viewers,
          lastSequence: entry.lastSequence,
          startedAtMs: entry.startedAtMs,
          endedAtMs: entry.endedAtMs ?? null,
          framesPerSecond: pipelineStream?.framesPerSecond ?? 0,
          alarm: pipelineStream?.alarm ?? 'ok',
          counters: context.pipeline.counters(entry.id),
        };
      }),
    };
  });

  app.get('/metrics', async (_request, reply) => {
    return reply.type('text/plain; version=0.0.4; charset=utf-8').send(renderMetrics(context));
  });
};
