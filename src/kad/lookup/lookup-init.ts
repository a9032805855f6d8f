import type { Clock, Milliseconds } from '../../core/clock.js';
import type { NodeId } from '../id.js';
import type { Endpoint } from '../transport/transport.js';
import type { AddressFamily, Contact } from '../wire/compact.js';
import type { ResponseValues } from '../wire/krpc-args.js';
import type { LookupMethod } from './events.js';
import type { ResolvedLookupOptions } from './options.js';

/**
 * Asks one node: sends the lookup's query to `to` and resolves with the response's values, or
 * rejects with a `KadError` (`TIMEOUT` once the RPC layer gives up, `REMOTE_ERROR`, …). It must
 * stop waiting when `signal` aborts (the lookup ended).
 */
export type LookupQuery = (to: Contact, signal: AbortSignal) => Promise<ResponseValues>;

/** What a `Lookup` runs on. */
export interface LookupInit {
  /** The 160-bit id searched for: a node id, info-hash or BEP 44 target. */
  readonly target: NodeId;
  /** This node's id: contacts with it are dropped. */
  readonly self: NodeId;
  /** What `query` sends; decides the events (`peers` for `get_peers`, `value` for `get`). */
  readonly method: LookupMethod;
  /** Size of the window: the number of closest nodes that must answer (bucket size). */
  readonly k: number;
  /** Address families searched, one candidate set per family and path (BEP 32). */
  readonly families: readonly AddressFamily[];
  /** Contacts to start from (usually the routing table's closest); others' families are dropped. */
  readonly seeds: readonly Contact[];
  /** Contacts that already answered this very query (a bootstrap round): kept as answered, not asked. */
  readonly responded?: readonly Contact[];
  /** This node's own endpoints: contacts at them are dropped. */
  readonly selfEndpoints?: readonly Endpoint[];
  /** Asks one node (see {@link LookupQuery}). */
  readonly query: LookupQuery;
  /** The soft deadline of a query to `to`, ms (see `softDeadline`). */
  readonly softDeadline: (to: Contact) => Milliseconds;
  /** Source of time: soft deadlines, the lookup deadline, `durationMs`. */
  readonly clock: Clock;
  /** Parallelism, bounds and deadline (see `resolveLookupOptions`). */
  readonly options: ResolvedLookupOptions;
  /** Abort the lookup: the iterator rejects with the reason of the first that aborts. */
  readonly signals?: readonly AbortSignal[];
  /** `get`: the salt a mutable item is checked with. */
  readonly salt?: Uint8Array;
  /** `get`: end at the first immutable item that verifies. @default true */
  readonly stopAtValue?: boolean;
  /** Disjoint paths (S/Kademlia): no node is asked by two paths. @default 1 */
  readonly disjointPaths?: number;
  /**
   * Round-trip estimates for proximity routing (`options.proximity`): `of(to)` the smoothed RTT
   * of a node, ms, or `undefined` when it has none; `typicalMs` the network's, which stands in
   * for unknown nodes. Without it, candidates are asked closest first.
   */
  readonly latency?: LookupLatency;
}

/** Round-trip estimates a lookup weighs candidates with (see {@link LookupInit.latency}). */
export interface LookupLatency {
  readonly of: (to: Contact) => Milliseconds | undefined;
  readonly typicalMs: Milliseconds;
}
