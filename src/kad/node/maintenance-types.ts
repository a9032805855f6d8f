import type { Milliseconds } from '../../core/clock.js';
import type { KadError } from '../errors.js';
import type { Publication } from './publications.js';

// The public shapes of a node's maintenance: its counters and the payloads of its events.

/** Counters of a node's maintenance (`node.stats().maintenance`), monotonic except the states. */
export interface MaintenanceStats {
  /** Requests of table upkeep: liveness pings and the queries of refresh and self lookups. */
  readonly requests: number;
  /** Liveness pings sent to questionable or bad contacts. */
  readonly pings: number;
  /** Of those, pings that got no answer. */
  readonly pingsFailed: number;
  /** Contacts removed from the tables after failing their pings (the node being online). */
  readonly evicted: number;
  /** Lookups of a random id in an idle bucket's range. */
  readonly refreshLookups: number;
  /** Lookups of the node's own id. */
  readonly selfLookups: number;
  /** Times upkeep left work for a later tick because its budget (`requestsPerMinute`) was spent. */
  readonly deferred: number;
  /** Items put again by republishing. */
  readonly republished: number;
  /** Announcements made again. */
  readonly reannounced: number;
  /** Republishes (items or announcements) that failed and were postponed or dropped. */
  readonly republishFailed: number;
  /** Requests of republishing: the lookups' queries and the puts / announces. */
  readonly republishRequests: number;
  /** Stored items put on nodes that became one of their k closest. */
  readonly replicated: number;
  /** Requests of replication (`get` and `put`). */
  readonly replicationRequests: number;
  /** Whether the node believes it lost the network (every ping failed, nothing arrived). */
  readonly offline: boolean;
  /** Whether no unsolicited query arrived for `firewallCheckMs` while it had contacts (BEP 43). */
  readonly firewalled: boolean;
  /** Whether its queries are marked read-only (`ro: 1`) now: `readOnly: true`, or `'auto'` while firewalled. */
  readonly readOnly: boolean;
}

/** Payload of `network:lost`: every liveness ping failed and nothing arrived meanwhile. */
export interface NetworkLostEvent {
  /** Pings that failed in a row, with no other answer or query arriving. */
  readonly failedPings: number;
}

/** Payload of `network:restored`: a probe or a re-join reached a live node again. */
export interface NetworkRestoredEvent {
  /** How long the node was offline, ms. */
  readonly offlineMs: Milliseconds;
  /** Probes sent (with backoff) before one was answered. */
  readonly attempts: number;
}

/** Payload of `firewall:changed` (BEP 43). */
export interface FirewallChangedEvent {
  /** The new state. */
  readonly firewalled: boolean;
  /** Whether the node's queries are now read-only (`ro: 1`). */
  readonly readOnly: boolean;
}

/** Payload of `republish:failed`. */
export interface RepublishFailedEvent {
  readonly publication: Publication;
  readonly error: KadError;
  /**
   * `postponed`: tried again later; `dropped`: no longer republished, because the nodes hold a
   * newer item under the same key (`SEQ_TOO_LOW`, `CAS_MISMATCH`).
   */
  readonly outcome: 'postponed' | 'dropped';
}
