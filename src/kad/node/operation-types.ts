import type { Milliseconds } from '../../core/clock.js';
import type { KadError } from '../errors.js';
import type { Seq } from '../items.js';
import type { FoundItem, LookupMethod } from '../lookup/events.js';
import type { LookupOptions } from '../lookup/options.js';
import type { NodeId } from '../id.js';
import type { Contact } from '../wire/compact.js';
import type {
  FirewallChangedEvent,
  NetworkLostEvent,
  NetworkRestoredEvent,
  RepublishFailedEvent,
} from './maintenance-types.js';
import type { StateDiscardReason } from './state-format.js';
import type { ReachabilityChangedEvent } from './reachability-types.js';

// The shapes of the DHT operations of a KadNode (lookups across the network), apart from the
// single-peer client calls in types.ts.

/** Options of the DHT operations: every one aborts with `signal` (rejecting with `signal.reason`). */
export interface DhtCallOptions {
  /**
   * Aborts the operation and the queries it has in flight. Without one, the lookup deadline
   * (`KadNodeOptions.lookup.timeoutMs`, 10 s by default) bounds it.
   */
  readonly signal?: AbortSignal;
  /**
   * Lookup tuning of this call only, over the node's `KadNodeOptions.lookup`: for example
   * `{ alpha: 3, maxAlpha: 3 }` for a fixed α, to compare strategies on one network (the
   * simulator does). A `maxAlpha` left out is raised to `alpha` when needed. Checked like the
   * node's (`INVALID_OPTION` naming `lookup.<field>`).
   * @default the node's lookup options
   */
  readonly lookup?: LookupOptions;
}

/** Options of `node.query()`. */
export interface LookupQueryOptions extends DhtCallOptions {
  /**
   * The query sent to every node: `find_node` (nodes only), `get_peers` (`peers` events) or
   * BEP 44 `get` (`value` events; ends at the first immutable item that verifies).
   */
  readonly method: LookupMethod;
  /** `get`: the salt a mutable item's target was made with (needed to verify it). */
  readonly salt?: Uint8Array;
  /** `get`: only mutable items with a greater `seq` are returned by the nodes (BEP 44). */
  readonly seq?: Seq;
  /**
   * Disjoint lookups (S/Kademlia): `d` paths started from different contacts, no node asked by
   * two paths, so a region of hostile nodes cannot hide a value from all of them. Costs about
   * `d` times the queries. From 1 to 8.
   * @default 1
   */
  readonly disjointPaths?: number;
}

/** Options of `node.get()`. */
export interface GetOptions extends DhtCallOptions {
  /** The salt of a mutable item (BEP 44); needed to verify it. */
  readonly salt?: Uint8Array;
  /** Return a mutable item only when its `seq` is greater than this. */
  readonly seq?: Seq;
  /** See {@link LookupQueryOptions.disjointPaths}. @default 1 */
  readonly disjointPaths?: number;
}

/** What `node.get()` found. */
export interface GetResult {
  /** The target looked up. */
  readonly target: NodeId;
  /** The item, verified: its hash is the target (immutable), or its signature holds (mutable). */
  readonly item: FoundItem;
  /** `seq` of a mutable item: the highest one any node returned; `undefined` for an immutable item. */
  readonly seq: Seq | undefined;
  /** The nodes that returned this item (for a mutable item: every one that had this `seq`). */
  readonly from: Contact[];
  /** Queries the lookup sent. */
  readonly queried: number;
  /** Queries answered. */
  readonly responded: number;
  /** Queries that timed out. */
  readonly timedOut: number;
  /** Duration of the lookup, ms. */
  readonly durationMs: Milliseconds;
}

/** Options of `node.put()`. */
export interface PutOptions extends DhtCallOptions {
  /** Mutable items: store only where the current `seq` equals `cas` (BEP 44 compare-and-swap). */
  readonly cas?: Seq;
}

/** Options of `node.putMutable()`. */
export interface PutMutableOptions extends PutOptions {
  /** Salt of the item (at most 64 bytes): one key pair can hold many items. */
  readonly salt?: Uint8Array;
  /** Sequence number. @default one above the highest found, or 1 when none is found */
  readonly seq?: Seq;
}

/** Options of `node.getMutable()`. */
export interface GetMutableOptions extends DhtCallOptions {
  /** Salt of the item. */
  readonly salt?: Uint8Array;
  /** Return the item only when its `seq` is greater than this. */
  readonly seq?: Seq;
  /** See {@link LookupQueryOptions.disjointPaths}. @default 1 */
  readonly disjointPaths?: number;
}

/** A store request that a node refused or did not answer. */
export interface StoreFailure {
  readonly contact: Contact;
  readonly error: KadError;
}

/** What `node.put()` and `node.putMutable()` did. */
export interface PutResult {
  /** Target of the item. */
  readonly target: NodeId;
  /** The item as stored (for `putMutable`, signed with the chosen `seq`). */
  readonly item: FoundItem;
  /** `seq` of a mutable item; `undefined` for an immutable one. */
  readonly seq: Seq | undefined;
  /** Nodes that accepted the `put`: of the k closest that answered the lookup (per family). */
  readonly storedOn: Contact[];
  /** Nodes among those that refused it or did not answer. */
  readonly failed: StoreFailure[];
  /** Queries of the lookup before the puts. */
  readonly queried: number;
  /** Duration of lookup and puts, ms. */
  readonly durationMs: Milliseconds;
}

/** Options of `node.announce()`. */
export interface AnnounceOptions extends DhtCallOptions {
  /** The port peers should connect to (1–65535); ignored with `impliedPort`. */
  readonly port?: number;
  /** Ask the nodes to use the UDP source port of the announce instead (BEP 5 `implied_port`). @default false */
  readonly impliedPort?: boolean;
}

/** What `node.announce()` did. */
export interface AnnounceResult {
  readonly infoHash: NodeId;
  /** Nodes that accepted the `announce_peer`: of the k closest that answered (per family). */
  readonly storedOn: Contact[];
  /** Nodes among those that refused it or did not answer. */
  readonly failed: StoreFailure[];
  /** Queries of the lookup before the announces. */
  readonly queried: number;
  /** Duration of lookup and announces, ms. */
  readonly durationMs: Milliseconds;
}

export type { PutItem } from './publications.js';

/** Payload of the `bootstrap:retry` event: no bootstrap contact answered, the next try is scheduled. */
export interface BootstrapRetryEvent {
  /** The attempt that failed, from 1. */
  readonly attempt: number;
  /** Delay until the next attempt, ms: doubling from `bootstrapRetryMs` up to `bootstrapRetryMaxMs`. */
  readonly delayMs: Milliseconds;
  /** Why it failed. */
  readonly reason: KadError;
}

/** Payload of the `state:discarded` event: the saved state could not be used; the node started afresh. */
export interface StateDiscardedEvent {
  /** Why: `corrupt` (truncated, damaged, not a state file), `version`, `other-id` or `unreadable`. */
  readonly reason: StateDiscardReason;
  /** What exactly was wrong, for a person. */
  readonly detail: string;
  /** Where the bad state was kept for inspection (a path, for `stateDir`), if it could be moved aside. */
  readonly keptAs: string | undefined;
}

/** Payload of the `state:restored` event: the node started from its saved state. */
export interface StateRestoredEvent {
  /** When that state was written, epoch ms. */
  readonly savedAt: Milliseconds;
  /** Saved contacts put back into the routing table(s). */
  readonly contacts: number;
  /** Items and announcements it carries on publishing (see `node.published()`). */
  readonly publications: number;
}

/** Payload of the `state:error` event: writing the state failed; the next write tries again. */
export interface StateErrorEvent {
  /** The store's error (for a `stateDir`, the file system's: `ENOSPC`, `EACCES`…). */
  readonly error: Error;
}

/** The events of a {@link KadNode} (`node.on(event, listener)`). */
export interface KadNodeEvents {
  /** Joining failed (nothing answered); it is retried after `delayMs`. */
  'bootstrap:retry': BootstrapRetryEvent;
  /** Every liveness ping failed and nothing arrived: the node keeps its table and probes with backoff. */
  'network:lost': NetworkLostEvent;
  /** After `network:lost`, a probe or a re-join reached a live node. */
  'network:restored': NetworkRestoredEvent;
  /** The node became firewalled, or reachable again (BEP 43; see `maintenance.firewallCheckMs`). */
  'firewall:changed': FirewallChangedEvent;
  /** The node's reachability changed (`node.reachability()`; see docs/nat.md). */
  'reachability:changed': ReachabilityChangedEvent;
  /** Republishing an item or an announcement failed: it is tried again later, or dropped. */
  'republish:failed': RepublishFailedEvent;
  /** The saved state was unusable and set aside (once, just after `createNode` resolves). */
  'state:discarded': StateDiscardedEvent;
  /** The node started from its saved state (once, just after `createNode` resolves). */
  'state:restored': StateRestoredEvent;
  /** A write of the state failed. */
  'state:error': StateErrorEvent;
}
