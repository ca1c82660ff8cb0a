// GET /: the built viewer (client/dist). When it has not been built, / returns a short page
// with the build command, so the server still starts and serves its other routes.

import { existsSync } from 'node:fs';
import path from 'node:path';

import fastifyStatic from '@fastify/static';
import type { FastifyPluginAsync } from 'fastify';

const VIEWER_NOT_BUILT_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>segwithu-live</title></head>
<body><h1>segwithu-live</h1>
<p>The viewer has not been built. Run <code>npm run build</code>, then reload this page.</p>
<p>The server is running: see <a href="/healthz">/healthz</a>, <a href="/api/streams">/api/streams</a> and <a href="/metrics">/metrics</a>.</p>
</body></html>
`;

export const staticFilesPlugin: FastifyPluginAsync<{ clientDir: string }> = async (app, { clientDir }) => {
  // The viewer's files carry no image data, and the page must load before it can read its
  // token, so they need none. The hook covers only the routes registered in this plugin.
  app.addHook('onRoute', (route) => {
    route.config = { ...route.config, access: 'public' };
  });

  if (existsSync(path.join(clientDir, 'index.html'))) {
    await app.register(fastifyStatic, { root: clientDir, prefix: '/' });
    app.log.info({ clientDir }, 'serving the viewer');
    return;
  }

  app.log.warn({ clientDir }, 'viewer not built; / serves a page with the build command');
  app.get('/', async (_request, reply) => reply.type('text/html; charset=utf-8').send(VIEWER_NOT_BUILT_HTML));
};
