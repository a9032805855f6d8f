import fastifySwagger from '@fastify/swagger';
import Fastify, { type FastifyInstance, LogController } from 'fastify';
import { ActivityLog } from './activity.js';
import { DASHBOARD_PATHS, loadDashboard } from './dashboard.js';
import { DaemonError } from './errors.js';
import { toHttpError } from './http-errors.js';
import {
  type ApiServerDeps,
  type ApiServerOptions,
  DEFAULT_API_SERVER_OPTIONS,
  type RouteContext,
} from './routes/context.js';
import { dhtRoutes } from './routes/dht-routes.js';
import { eventRoutes } from './routes/event-routes.js';
import { nodeRoutes } from './routes/node-routes.js';
import { registryRoutes } from './routes/registry-routes.js';
import { tokenChecker } from './token.js';

export type { ApiServerDeps, ApiServerOptions, RouteContext } from './routes/context.js';
export { DEFAULT_API_SERVER_OPTIONS, requestSignal } from './routes/context.js';

/** Paths served without a token: liveness, and the dashboard's page and scripts (they hold no data). */
const PUBLIC_PATHS = new Set(['/healthz', ...DASHBOARD_PATHS]);

/**
 * The daemon's HTTP API (Fastify): JSON routes validated by their schemas, the OpenAPI
 * document built from the same schemas at `/openapi.json`, `/metrics`, `/healthz`, `/readyz`,
 * Server-Sent Events at `/api/events`, and the dashboard at `/`. Not listening yet: call
 * `listen({ host, port })`.
 */
export async function createApiServer(deps: ApiServerDeps, options: ApiServerOptions = {}): Promise<FastifyInstance> {
  const resolved = { ...DEFAULT_API_SERVER_OPTIONS, ...options };
  const app = Fastify({
    loggerInstance: deps.logger,
    // requests are logged once, at debug, by the onResponse hook below
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: resolved.bodyLimit,
    // schemas say what is allowed: unknown fields are an error, not silently dropped
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false } },
    return503OnClosing: true,
  }) as unknown as FastifyInstance;
  // bodies are JSON only: a text/plain body is refused (415) rather than read as a string
  app.removeContentTypeParser('text/plain');
  const context: RouteContext = { ...deps, activity: new ActivityLog(), options: resolved };

  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Nautilus daemon API',
        version: '1',
        description: 'A Mainline DHT node, its registry and metrics.',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
  });

  const tokenHolds = tokenChecker(deps.token);
  // the debug request lines are built only when the log level (fixed at start) writes them
  const debugLog = deps.logger.isLevelEnabled('debug');
  app.addHook('onRequest', async (request) => {
    if (debugLog) request.log.debug({ method: request.method, url: request.url.split('?')[0] }, 'request received');
    if (PUBLIC_PATHS.has(request.url.split('?')[0] ?? '')) return;
    const header = request.headers.authorization;
    if (header === undefined)
      throw DaemonError.unauthorized('missing bearer token: send Authorization: Bearer <token>');
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (match === null || !tokenHolds(match[1] as string)) {
      throw DaemonError.unauthorized('wrong token: use the one in the daemon state dir (api-token) or --token');
    }
  });
  // once closing, answers end their connection: an idle keep-alive socket would hold close() open
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onSend', async (_request, reply, payload) => {
    if (closing) void reply.header('connection', 'close');
    return payload;
  });
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    deps.metrics.observeHttp(request.method, route, reply.statusCode);
    if (debugLog)
      request.log.debug({ method: request.method, route, status: reply.statusCode, ms: reply.elapsedTime }, 'request');
  });
  app.setErrorHandler(async (error, request, reply) => {
    const { status, body } = toHttpError(error);
    if (status >= 500 && body.error.code === 'INTERNAL') request.log.error({ err: error }, 'request failed');
    if (status === 401) void reply.header('www-authenticate', 'Bearer');
    return reply.code(status).send(body);
  });
  app.setNotFoundHandler(async (request, reply) =>
    reply
      .code(404)
      .send({ error: { code: 'NOT_FOUND', message: `no route ${request.method} ${request.url.split('?')[0] ?? ''}` } }),
  );

  const dashboard = await loadDashboard();
  for (const [path, file] of dashboard) {
    app.get(path, { schema: { hide: true } }, async (_request, reply) =>
      reply.type(file.type).header('cache-control', 'no-cache').send(file.body),
    );
  }
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  nodeRoutes(app, context);
  dhtRoutes(app, context);
  registryRoutes(app, context);
  eventRoutes(app, context);
  await app.ready();
  return app;
}
