import type { FastifyInstance } from 'fastify';
import type { ServerResponse } from 'node:http';
import type { RouteContext } from './context.js';
import { routingTables } from '../table.js';
import { statsJson } from './node-routes.js';

/**
 * `/api/events`: Server-Sent Events for the dashboard. `stats` (the `/api/stats` body plus the
 * table's bucket sizes) every `eventIntervalMs`, and `activity` for each DHT operation the API runs.
 * Streams end when the daemon closes.
 */
export function eventRoutes(app: FastifyInstance, context: RouteContext): void {
  const streams = new Set<ServerResponse>();
  let ready = false;
  context.node.ready.then(
    () => (ready = true),
    () => undefined,
  );
  app.addHook('preClose', async () => {
    for (const stream of streams) stream.end();
  });

  app.get(
    '/api/events',
    {
      schema: {
        summary: 'Live updates as Server-Sent Events (stats every second, activity as it happens)',
        tags: ['node'],
        produces: ['text/event-stream'],
      },
    },
    async (request, reply) => {
      reply.hijack();
      const stream = reply.raw;
      stream.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache',
        connection: 'keep-alive',
      });
      streams.add(stream);
      const send = (event: string, data: unknown): void => {
        stream.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
      };
      const tick = (): void => {
        const buckets = routingTables(context.node).map((t) => ({
          family: t.family,
          buckets: t.buckets.map((b) => [b.index, b.contacts.length]),
        }));
        send('stats', { ...statsJson(context.node, ready, context.info), buckets });
      };
      tick();
      for (const activity of [...context.activity.recent()].reverse()) send('activity', activity);
      const timer = setInterval(tick, context.options.eventIntervalMs);
      const unsubscribe = context.activity.subscribe((activity) => send('activity', activity));
      stream.once('close', () => {
        clearInterval(timer);
        unsubscribe();
        streams.delete(stream);
      });
      void request;
    },
  );
}
