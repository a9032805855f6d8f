import type { FastifyInstance } from 'fastify';
import { idToHex } from '../../kad/id.js';
import type { KadNode } from '../../kad/node/types.js';
import { DaemonError } from '../errors.js';
import type { RouteContext } from './context.js';
import { routingTables } from '../table.js';
import { endpointText, SCHEMAS } from '../values.js';

const errors = { '4xx': SCHEMAS.error, '5xx': SCHEMAS.error };

/** Health, readiness, metrics, counters and the routing table. */
export function nodeRoutes(app: FastifyInstance, context: RouteContext): void {
  const { node } = context;
  let ready = false;
  node.ready.then(
    () => (ready = true),
    () => undefined,
  );

  app.get(
    '/healthz',
    { schema: { summary: 'Liveness: the daemon answers (no token needed)', tags: ['health'], security: [] } },
    async () => ({ status: 'ok' }),
  );
  app.get(
    '/readyz',
    { schema: { summary: 'Readiness: the node has joined the network', tags: ['health'], response: errors } },
    async () => {
      if (!ready) throw new DaemonError('NOT_READY', 'the node has not joined the network yet');
      return { status: 'ready' };
    },
  );
  app.get(
    '/metrics',
    { schema: { summary: 'Prometheus metrics (text format)', tags: ['health'] } },
    async (_request, reply) => reply.type(context.metrics.registry.contentType).send(await context.metrics.text()),
  );
  app.get(
    '/api/stats',
    {
      schema: { summary: "The node's counters, addresses and the daemon's settings", tags: ['node'], response: errors },
    },
    async () => statsJson(node, ready, context.info),
  );
  app.get(
    '/api/table',
    { schema: { summary: 'The routing table(s), bucket by bucket', tags: ['node'], response: errors } },
    async () => ({ id: idToHex(node.id), families: routingTables(node) }),
  );
  app.get(
    '/api/activity',
    {
      schema: {
        summary: 'The last DHT operations run through the API, newest first',
        tags: ['node'],
        response: errors,
      },
    },
    async () => ({ activity: context.activity.recent() }),
  );
}

/** What `/api/stats` answers (and the dashboard's `stats` events carry). */
export function statsJson(
  node: KadNode,
  ready: boolean,
  info: Readonly<Record<string, unknown>>,
): Record<string, unknown> {
  const stats = node.stats();
  const external = node.externalAddress();
  return {
    id: idToHex(node.id),
    ready,
    addresses: node.addresses().map((a) => endpointText(a.host, a.port)),
    externalAddress: external === undefined ? null : endpointText(external.host, external.port),
    daemon: info,
    contacts: stats.contacts,
    families: Object.fromEntries(
      Object.entries(stats.families).map(([family, f]) => [`ipv${family}`, { contacts: f.contacts }]),
    ),
    rpc: stats.rpc,
    transport: stats.transport,
    storage: stats.storage,
    published: node.published().length,
    reachability: reachabilityJson(node),
    time: Date.now(),
  };
}

/** The reachability of `node` as `/api/stats` shows it (addresses as `host:port` text). */
function reachabilityJson(node: KadNode): Record<string, unknown> {
  const r = node.reachability();
  const { mapping } = r;
  return {
    state: r.reachability,
    externalAddress:
      r.externalAddress === undefined ? null : endpointText(r.externalAddress.host, r.externalAddress.port),
    behindNat: r.behindNat ?? null,
    unsolicitedQueries: r.unsolicitedQueries,
    firewalled: r.firewalled,
    verifiedBy: r.verifiedBy ?? null,
    dialBack: { last: r.dialBack.last ?? null, ignoredProbes: r.dialBack.ignoredProbes },
    mapping:
      mapping.state === 'mapped'
        ? {
            state: 'mapped',
            protocol: mapping.protocol,
            externalPort: mapping.externalPort,
            expiresAt: mapping.expiresAt,
          }
        : mapping.state === 'failed'
          ? { state: 'failed', reason: mapping.reason, message: mapping.message, retryAt: mapping.retryAt }
          : { state: mapping.state },
  };
}
