import { Counter, Gauge, Histogram, Registry as MetricsRegistry } from 'prom-client';
import type { KadNode } from '../kad/node/types.js';
import type { Registry } from '../registry/registry.js';
import { COUNTED_METHODS } from '../kad/rpc/stats.js';
import { routingTables } from './table.js';

/** The DHT operations the API runs, as metric labels. */
export type OperationName = 'put' | 'get' | 'put_mutable' | 'get_mutable' | 'announce' | 'peers' | 'lookup' | 'ping';

/** What the metrics read at scrape time. */
export interface MetricsSources {
  readonly node: KadNode;
  /** The node's store, counted by key prefix (`item:`, `peers:`). */
  readonly store: Registry<Uint8Array>;
}

/** Most keys counted per prefix at each scrape (a Redis store is scanned). */
const MAX_COUNTED_KEYS = 100_000;
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * The Prometheus metrics of one daemon, in a registry of its own (never prom-client's global
 * one, so two daemons in one process do not mix). Counters of the node are read from
 * `node.stats()` at each scrape; operations and registry calls are observed as they happen.
 */
export class DaemonMetrics {
  readonly registry = new MetricsRegistry();
  readonly #operationSeconds: Histogram<'operation'>;
  readonly #operationRequests: Histogram<'operation'>;
  readonly #operationErrors: Counter<'operation' | 'code'>;
  readonly #registrySeconds: Histogram<'registry' | 'operation'>;
  readonly #registryCalls: Counter<'registry' | 'operation' | 'outcome'>;
  readonly #httpRequests: Counter<'method' | 'route' | 'status'>;

  constructor(sources: MetricsSources) {
    const registers = [this.registry];
    this.#operationSeconds = new Histogram({
      name: 'nautilus_operation_duration_seconds',
      help: 'Duration of DHT operations run through the API, lookup and stores included',
      labelNames: ['operation'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.#operationRequests = new Histogram({
      name: 'nautilus_operation_requests',
      help: 'Queries one DHT operation sent to other nodes',
      labelNames: ['operation'],
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
      registers,
    });
    this.#operationErrors = new Counter({
      name: 'nautilus_operation_errors_total',
      help: 'DHT operations that failed, by error code',
      labelNames: ['operation', 'code'],
      registers,
    });
    this.#registrySeconds = new Histogram({
      name: 'nautilus_registry_operation_duration_seconds',
      help: 'Latency of registry calls (node: the store of items and peers; records: the registry verbs)',
      labelNames: ['registry', 'operation'],
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25, 1],
      registers,
    });
    this.#registryCalls = new Counter({
      name: 'nautilus_registry_operations_total',
      help: 'Registry calls by outcome (ok, or the RegistryError code)',
      labelNames: ['registry', 'operation', 'outcome'],
      registers,
    });
    this.#httpRequests = new Counter({
      name: 'nautilus_http_requests_total',
      help: 'HTTP API requests by route and status',
      labelNames: ['method', 'route', 'status'],
      registers,
    });
    nodeGauges(sources, registers);
  }

  /** Records one DHT operation: its duration and the queries it sent, or its error code. */
  observeOperation(operation: OperationName, seconds: number, outcome: { requests: number } | { code: string }): void {
    this.#operationSeconds.observe({ operation }, seconds);
    if ('requests' in outcome) this.#operationRequests.observe({ operation }, outcome.requests);
    else this.#operationErrors.inc({ operation, code: outcome.code });
  }

  /** Records one registry call (see `meteredRegistry`). */
  observeRegistry(registry: 'node' | 'records', operation: string, seconds: number, outcome: string): void {
    this.#registrySeconds.observe({ registry, operation }, seconds);
    this.#registryCalls.inc({ registry, operation, outcome });
  }

  /** Records one HTTP request. */
  observeHttp(method: string, route: string, status: number): void {
    this.#httpRequests.inc({ method, route, status: String(status) });
  }

  /** The metrics in Prometheus text format. */
  text(): Promise<string> {
    return this.registry.metrics();
  }
}

/** Gauges and counters read from the node at scrape time. */
function nodeGauges({ node, store }: MetricsSources, registers: MetricsRegistry[]): void {
  new Gauge({
    name: 'nautilus_routing_table_contacts',
    help: 'Contacts in the routing table, by address family and bucket (common-prefix length with the node id)',
    labelNames: ['family', 'bucket'],
    registers,
    collect() {
      this.reset();
      for (const table of routingTables(node)) {
        for (const bucket of table.buckets) {
          this.set({ family: `ipv${table.family}`, bucket: String(bucket.index) }, bucket.contacts.length);
        }
      }
    },
  });
  new Counter({
    name: 'nautilus_rpc_queries_total',
    help: 'KRPC queries by direction (in: answered for others, out: sent) and method',
    labelNames: ['family', 'direction', 'method'],
    registers,
    collect() {
      this.reset();
      for (const [family, stats] of familyStats(node)) {
        for (const method of [...COUNTED_METHODS, 'other'] as const) {
          this.inc({ family, direction: 'in', method }, stats.rpc.queriesIn[method]);
          this.inc({ family, direction: 'out', method }, stats.rpc.queriesOut[method]);
        }
      }
    },
  });
  new Counter({
    name: 'nautilus_rpc_replies_total',
    help: 'KRPC replies by direction and kind (response, or error with its wire code counted apart)',
    labelNames: ['family', 'direction', 'kind'],
    registers,
    collect() {
      this.reset();
      for (const [family, { rpc }] of familyStats(node)) {
        this.inc({ family, direction: 'received', kind: 'response' }, rpc.responsesReceived);
        this.inc({ family, direction: 'received', kind: 'error' }, rpc.errorsReceived);
        this.inc({ family, direction: 'sent', kind: 'response' }, rpc.responsesSent);
        this.inc({ family, direction: 'sent', kind: 'error' }, rpc.errorsSent);
        this.inc({ family, direction: 'received', kind: 'timeout' }, rpc.timeouts);
      }
    },
  });
  new Counter({
    name: 'nautilus_rpc_dropped_total',
    help: 'Inbound datagrams dropped, by reason (rate_limited: the per-IP token bucket)',
    labelNames: ['family', 'reason'],
    registers,
    collect() {
      this.reset();
      for (const [family, { rpc }] of familyStats(node)) {
        this.inc({ family, reason: 'malformed' }, rpc.dropped.malformed);
        this.inc({ family, reason: 'rate_limited' }, rpc.dropped.rateLimited);
        this.inc({ family, reason: 'oversized' }, rpc.dropped.oversized);
        this.inc({ family, reason: 'unmatched' }, rpc.dropped.unmatched);
      }
    },
  });
  new Gauge({
    name: 'nautilus_rpc_in_flight',
    help: 'Queries waiting for an answer',
    labelNames: ['family'],
    registers,
    collect() {
      for (const [family, { rpc }] of familyStats(node)) this.set({ family }, rpc.inFlight);
    },
  });
  new Gauge({
    name: 'nautilus_reachability',
    help: 'How other nodes reach this one: 1 for the current state (public, mapped, firewalled, unknown), 0 for the others',
    labelNames: ['state'],
    registers,
    collect() {
      const current = node.reachability().reachability;
      for (const state of ['public', 'mapped', 'firewalled', 'unknown'] as const)
        this.set({ state }, state === current ? 1 : 0);
    },
  });
  new Gauge({
    name: 'nautilus_port_mapping',
    help: 'Port mapping on the home router: 1 for its current state (off, requesting, mapped, failed, closed) by protocol',
    labelNames: ['state', 'protocol'],
    registers,
    collect() {
      this.reset();
      const { mapping } = node.reachability();
      this.set({ state: mapping.state, protocol: mapping.state === 'mapped' ? mapping.protocol : 'none' }, 1);
    },
  });
  new Counter({
    name: 'nautilus_unsolicited_queries_total',
    help: 'Queries from hosts this node had not sent to within 2 minutes (what a NAT would have dropped, BEP 43)',
    registers,
    collect() {
      this.reset();
      this.inc(node.reachability().unsolicitedQueries);
    },
  });
  new Gauge({
    name: 'nautilus_stored',
    help: `Items and peer lists (info-hashes) this node stores for the DHT (counted up to ${MAX_COUNTED_KEYS})`,
    labelNames: ['kind'],
    registers,
    async collect() {
      this.set({ kind: 'items' }, await countPrefix(store, 'item:'));
      this.set({ kind: 'info_hashes' }, await countPrefix(store, 'peers:'));
    },
  });
}

function familyStats(node: KadNode): [string, NonNullable<ReturnType<KadNode['stats']>['families'][4]>][] {
  return Object.entries(node.stats().families).map(([family, stats]) => [`ipv${family}`, stats]);
}

async function countPrefix(store: Registry<Uint8Array>, prefix: string): Promise<number> {
  let count = 0;
  for await (const _record of store.scan({ prefix, signal: AbortSignal.timeout(2000) })) {
    if (++count >= MAX_COUNTED_KEYS) break;
  }
  return count;
}
