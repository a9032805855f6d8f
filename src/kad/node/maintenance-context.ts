import type { Clock, Milliseconds } from '../../core/clock.js';
import type { NodeId, RandomBytes } from '../id.js';
import type { KadStorage } from '../serve/storage.js';
import type { DhtOperations } from './dht-operations.js';
import type { FamilyStack } from './family-stack.js';
import type { ResolvedMaintenanceOptions } from './maintenance-options.js';
import type { MaintenanceStats } from './maintenance-types.js';
import type { KadNodeEvents } from './operation-types.js';
import type { Publications } from './publications.js';

/** The counters behind {@link MaintenanceStats}, written by the maintenance parts. @internal */
export type MaintenanceCounters = { -readonly [K in keyof MaintenanceStats]: MaintenanceStats[K] };

/** A fresh set of counters, all zero and every state off. @internal */
export function newMaintenanceCounters(readOnly: boolean): MaintenanceCounters {
  return {
    requests: 0,
    pings: 0,
    pingsFailed: 0,
    evicted: 0,
    refreshLookups: 0,
    selfLookups: 0,
    deferred: 0,
    republished: 0,
    reannounced: 0,
    republishFailed: 0,
    republishRequests: 0,
    replicated: 0,
    replicationRequests: 0,
    offline: false,
    firewalled: false,
    readOnly,
  };
}

/** What the parts of a node's maintenance run on. @internal */
export interface MaintenanceContext {
  readonly id: NodeId;
  /** Bucket size: the k closest nodes of a target (per family). */
  readonly k: number;
  readonly clock: Clock;
  /** One per family the node runs. */
  readonly stacks: readonly FamilyStack[];
  /** Aborted with `CLOSED` when the node closes: every part stops. */
  readonly lifetime: AbortSignal;
  readonly dht: DhtOperations;
  readonly publications: Publications;
  readonly storage: KadStorage;
  readonly options: ResolvedMaintenanceOptions;
  readonly counters: MaintenanceCounters;
  readonly emit: <E extends keyof KadNodeEvents>(event: E, payload: KadNodeEvents[E]) => void;
  /**
   * Joins again through the bootstrap nodes (with the join's own backoff) until it reaches a
   * live node; `undefined` when the node has no bootstrap entries.
   */
  readonly rejoin: ((signal: AbortSignal) => Promise<void>) | undefined;
  /** First delay of the offline probes, ms (`bootstrapRetryMs`); doubles up to `retryMaxMs`. */
  readonly retryMs: Milliseconds;
  readonly retryMaxMs: Milliseconds;
  /** Whether liveness pings should go without `ro` (a read-only node in `'auto'` mode probing). */
  readonly probeWritable: () => boolean;
  /** Source of the random targets of bucket refreshes (`KadNodeOptions.randomBytes`), if not the CSPRNG. */
  readonly randomBytes: RandomBytes | undefined;
}

/** Queries answered and received on every family so far: it grows only while the node is online. @internal */
export function trafficIn(stacks: readonly FamilyStack[]): number {
  let sum = 0;
  for (const stack of stacks) {
    const rpc = stack.rpc.stats();
    sum += rpc.responsesReceived + rpc.errorsReceived;
    for (const count of Object.values(rpc.queriesIn)) sum += count;
  }
  return sum;
}
