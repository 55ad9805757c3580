/**
 * Serves the built web UI (packages/web/dist) at `/`, so one port gives the whole portal.
 * The UI routes with `#/…` because `/tasks/…` paths belong to the API. Without a build,
 * `/` sends people to the API docs instead of a 404.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';

/** Where the web build is by default: packages/web/dist next to this package. */
export const DEFAULT_WEB_ROOT = fileURLToPath(new URL('../../../web/dist', import.meta.url));

export async function registerWebUi(app: FastifyInstance, webRoot: string | undefined): Promise<void> {
  const root = webRoot ? path.resolve(webRoot) : undefined;
  if (!root || !existsSync(path.join(root, 'index.html'))) {
    app.get('/', { schema: { hide: true }, config: { public: true } }, async (_request, reply) =>
      reply.redirect('/docs'),
    );
    return;
  }
  await app.register(async (ui) => {
    // The page and its assets load without a token; the UI then asks for one if needed.
    ui.addHook('onRoute', (route) => {
      route.config = { ...(route.config as object), public: true };
      route.schema = { ...(route.schema ?? {}), hide: true };
    });
    await ui.register(fastifyStatic, {
      root,
      wildcard: false, // one route per built file: nothing shadows the API
      index: ['index.html'],
      maxAge: '1h',
      setHeaders(res, file) {
        // index.html names the hashed assets; it must never be cached stale.
        if (file.endsWith('index.html')) res.header('Cache-Control', 'no-cache');
        else if (file.includes(`${path.sep}assets${path.sep}`))
          res.header('Cache-Control', 'public, max-age=31536000, immutable');
      },
    });
  });
}
