/** The options, results and events of a `RoutingTable`. */
import type { Clock, Milliseconds } from '../../core/clock.js';
import type { AddressFamily, Contact } from '../wire/compact.js';

/** Configuration of a `RoutingTable`. */
export interface RoutingTableOptions {
  /** Address family of every contact in this table; a node holds one table per family. @default 4 */
  family?: AddressFamily;
  /** Contacts per bucket (Kademlia's k). @default 8 (BEP 5) */
  k?: number;
  /** A contact not seen for this long is questionable (worth a ping). @default 900_000 (15 min, BEP 5) */
  questionableAfterMs?: Milliseconds;
  /** Consecutive failed queries after which a contact is bad and gives way to any newcomer. @default 2 */
  maxFailures?: number;
  /** Candidates remembered per full bucket, to fill a slot as soon as one frees up. @default 8 */
  replacementCacheSize?: number;
  /**
   * Most contacts per bucket from one /24 (IPv4) or /64 (IPv6), against Sybil clusters.
   * Set to `k` to disable. @default 2
   */
  maxPerSubnet?: number;
  /** Apply `maxPerSubnet` to loopback/private/link-local addresses too (test nets on 127.0.0.1). @default false */
  limitLocalAddresses?: boolean;
}

/** Defaults of {@link RoutingTableOptions}. */
export const DEFAULT_ROUTING_TABLE_OPTIONS: Readonly<Required<RoutingTableOptions>> = Object.freeze({
  family: 4,
  k: 8,
  questionableAfterMs: 15 * 60_000,
  maxFailures: 2,
  replacementCacheSize: 8,
  maxPerSubnet: 2,
  limitLocalAddresses: false,
});

/** Collaborators of a `RoutingTable`. */
export interface RoutingTableDeps {
  /** Source of `lastSeen` times. @default systemClock */
  clock?: Clock;
}

/** Liveness of a contact. @see BEP 5 "Routing Table" */
export type ContactState = 'good' | 'questionable' | 'bad';

/** A contact as the table holds it. Read-only to callers: change it through the table. */
export interface RoutingContact extends Readonly<Contact> {
  /** Last time it answered us (or was added / marked seen), epoch ms. */
  readonly lastSeen: Milliseconds;
  /** Consecutive failed queries since it was last seen. */
  readonly failures: number;
}

/** The outcome of `RoutingTable.add`. */
export type AddResult =
  /** Inserted; `evicted` is a bad contact it replaced. */
  | { status: 'added'; contact: RoutingContact; evicted?: RoutingContact }
  /** Already present at the same address: marked seen. */
  | { status: 'updated'; contact: RoutingContact }
  /**
   * The bucket holds k live contacts. The candidate waits in the replacement cache; the caller may
   * ping `leastRecentlySeen` and, if it fails, `markFailed` it (or `replace` it).
   */
  | { status: 'bucket-full'; bucket: number; leastRecentlySeen: RoutingContact }
  /** The contact is this node. */
  | { status: 'self' }
  /** The bucket already holds `maxPerSubnet` contacts of the candidate's /24 or /64. */
  | { status: 'rejected-diversity' }
  /** The id is known at another address, or the address under another id: the entry is kept. */
  | { status: 'conflict'; existing: RoutingContact }
  /** Not a 20-byte id, an IP of this table's family, and a port in 1..65535. */
  | { status: 'invalid' };

/** Payload of `node:removed`. */
export interface NodeRemovedEvent {
  readonly contact: RoutingContact;
  /** `bad`: evicted for a newcomer or a replacement; `removed`: by `remove`/`replace`. */
  readonly reason: 'bad' | 'removed';
}

/** Payload of `bucket:full`. */
export interface BucketFullEvent {
  readonly bucket: number;
  readonly leastRecentlySeen: RoutingContact;
  readonly candidate: RoutingContact;
}

/** Events of a `RoutingTable`. */
export interface RoutingTableEvents {
  'node:added': RoutingContact;
  'node:removed': NodeRemovedEvent;
  'bucket:full': BucketFullEvent;
}

/** Options of {@link RoutingTable.closest}. */
export interface ClosestOptions {
  /** Include bad contacts. @default false */
  includeBad?: boolean;
}
