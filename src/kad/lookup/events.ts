import type { Milliseconds } from '../../core/clock.js';
import type { KadError } from '../errors.js';
import type { MutableItem, Seq } from '../items.js';
import type { BencodeValue } from '../wire/bencode.js';
import type { Contact, PeerAddress } from '../wire/compact.js';

/** The KRPC query a lookup sends to every node it asks. */
export type LookupMethod = 'find_node' | 'get_peers' | 'get';

/** An item a `get` lookup found: immutable `{ v }` or a signed mutable item, already verified. */
export type FoundItem = { readonly v: BencodeValue } | MutableItem;

/**
 * Why a lookup ended:
 * - `converged`: the k closest nodes it knows (per address family and path) have all answered,
 *   or no node it knows is left to ask;
 * - `found`: a `get` found an immutable item that hashes to the target (final: nothing newer exists);
 * - `deadline`: its time ran out (`LookupOptions.timeoutMs`);
 * - `request-limit`: it sent `LookupOptions.maxRequests` queries on every path and family.
 */
export type LookupEnd = 'converged' | 'found' | 'deadline' | 'request-limit';

/** What every finished lookup reports (the `done` event without its `type`, and `node.lookup()`). */
export interface LookupResult {
  /**
   * The closest nodes that answered, closest to the target first: up to k per address family
   * the node runs (a dual-stack node gets up to k IPv4 and k IPv6 contacts, merged by distance).
   */
  readonly closest: Contact[];
  /** Queries sent (each node at most once). */
  readonly queried: number;
  /** Queries answered with a well-formed response from the node asked (late answers included). */
  readonly responded: number;
  /** Queries that got no answer before the RPC layer's hard timeout. */
  readonly timedOut: number;
  /** From the start of the lookup to its end, in ms on the node's clock. */
  readonly durationMs: Milliseconds;
}

/** `query`: a query was sent to `to`. */
export interface LookupQueryEvent {
  readonly type: 'query';
  readonly to: Contact;
  readonly method: LookupMethod;
  /** The disjoint path (0 … disjointPaths − 1) this query belongs to. */
  readonly path: number;
}

/** `response`: `from` answered. */
export interface LookupResponseEvent {
  readonly type: 'response';
  readonly from: Contact;
  /** Round trip, ms, from sending the query to the answer. */
  readonly rttMs: Milliseconds;
  /** Contacts it returned that the lookup did not know yet and kept as candidates. */
  readonly newContacts: number;
  /** Its write token (`get_peers`, `get`), for an `announce_peer` or `put` to it. */
  readonly token: Uint8Array | undefined;
  /** `seq` of the mutable item it stores (`get`), also when it withheld the value. */
  readonly seq: Seq | undefined;
  readonly path: number;
}

/**
 * `timeout`: `to` did not answer in time. With `final: false` its soft deadline (from the RTT
 * estimate) passed: the lookup asks the next candidate, and a late answer is still used. With
 * `final: true` the RPC layer gave up (hard timeout): it counts in `timedOut`.
 */
export interface LookupTimeoutEvent {
  readonly type: 'timeout';
  readonly to: Contact;
  readonly final: boolean;
  readonly path: number;
}

/**
 * `error`: asking `to` failed otherwise: a KRPC error reply (`REMOTE_ERROR`), a malformed
 * response or one from another node id (`INVALID_MESSAGE`), a local bound (`OVERLOADED`). The
 * node is not asked again.
 */
export interface LookupErrorEvent {
  readonly type: 'error';
  readonly to: Contact;
  readonly error: KadError;
  readonly path: number;
}

/** `value`: `from` returned an item that verified against the target (`get`). */
export interface LookupValueEvent {
  readonly type: 'value';
  readonly from: Contact;
  readonly item: FoundItem;
  /** `seq` of a mutable item; `undefined` for an immutable one. */
  readonly seq: Seq | undefined;
  readonly path: number;
}

/** `peers`: `from` returned peers of the info-hash (`get_peers`), port 0 and unroutable ones left out. */
export interface LookupPeersEvent {
  readonly type: 'peers';
  readonly from: Contact;
  readonly peers: PeerAddress[];
  readonly path: number;
}

/** `done`: the last event; the lookup's summary. */
export interface LookupDoneEvent extends LookupResult {
  readonly type: 'done';
  /** Why it ended. */
  readonly ended: LookupEnd;
  /** Values that failed verification (wrong hash, bad signature, wrong key), counted and ignored. */
  readonly invalidValues: number;
}

/**
 * The events of a lookup, in the order they happen; `done` is always last. Consume them with
 * `for await (const event of node.query(target, { method }))`; breaking out of the loop aborts
 * the queries still in flight.
 */
export type LookupEvent =
  | LookupQueryEvent
  | LookupResponseEvent
  | LookupTimeoutEvent
  | LookupErrorEvent
  | LookupValueEvent
  | LookupPeersEvent
  | LookupDoneEvent;
