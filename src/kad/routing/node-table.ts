import type { Clock } from '../../core/clock.js';
import type { AddressFamily, Contact } from '../wire/compact.js';
import type { NodeId } from '../id.js';
import { RoutingTable } from './routing-table.js';
import type { AddResult, RoutingContact } from './routing-types.js';

/** Configuration of a {@link NodeTable}. @internal */
export interface NodeTableOptions {
  readonly id: NodeId;
  readonly k: number;
  readonly family: AddressFamily;
  readonly clock: Clock;
}

/** Pings `contact`; resolves `true` when it answered (never rejects). */
export type Pinger = (contact: Contact, signal: AbortSignal) => Promise<boolean>;

/** Most ping-before-evict probes in flight at once: a flood of new ids cannot make us flood pings. */
const MAX_EVICTION_PINGS = 4;

/**
 * The insertion policy over a {@link RoutingTable} (which is mechanism only): a contact that
 * answered or queried us (without `ro`) is added; when its bucket is full, the least recently
 * seen contact is pinged once and replaced by the newcomer only if it fails to answer
 * (Kademlia §2.2: old live contacts win). At most one probe per bucket and
 * {@link MAX_EVICTION_PINGS} overall are in flight.
 * @internal
 */
export class NodeTable {
  readonly table: RoutingTable;
  readonly #ping: Pinger;
  // created on first use, and dropped when empty again: most tables probe nothing most of the time
  #probingStore: Set<number> | undefined;
  get #probing(): Set<number> {
    return (this.#probingStore ??= new Set());
  }
  // aborts the probes in flight at close; exists only while some are
  #probes: AbortController | undefined;
  #closed = false;

  constructor(options: NodeTableOptions, ping: Pinger) {
    this.table = new RoutingTable(options.id, { family: options.family, k: options.k }, { clock: options.clock });
    this.#ping = ping;
  }

  /** Contacts held. */
  get size(): number {
    return this.table.size;
  }

  /** Records that `contact` is alive (it answered or queried us). */
  observe(contact: Contact): AddResult['status'] | 'seen' | 'closed' {
    if (this.#closed) return 'closed';
    // the common case, a known contact at its known address, without building anything
    if (this.table.markSeenAt(contact)) return 'seen';
    const result = this.table.add(contact);
    if (result.status === 'bucket-full') this.#probe(result.bucket, result.leastRecentlySeen, contact);
    return result.status;
  }

  /** Up to `count` live contacts closest to `target` (with `includeBad`, failed ones too). */
  closest(target: NodeId, count: number, includeBad = false): Contact[] {
    return this.table.closest(target, count, includeBad ? { includeBad } : {});
  }

  /** Compact node info of up to `count` live contacts closest to `target` (see `RoutingTable.closestCompact`). */
  closestCompact(target: NodeId, count: number): Uint8Array {
    return this.table.closestCompact(target, count);
  }

  /** Stops probing; pending probes are aborted. */
  close(): void {
    this.#closed = true;
    this.#probes?.abort();
  }

  #probe(bucket: number, stale: RoutingContact, candidate: Contact): void {
    if (this.#probingStore !== undefined && (this.#probing.has(bucket) || this.#probing.size >= MAX_EVICTION_PINGS)) {
      return;
    }
    this.#probing.add(bucket);
    const newcomer: Contact = { id: Uint8Array.from(candidate.id), host: candidate.host, port: candidate.port };
    const probes = (this.#probes ??= new AbortController());
    void this.#ping(stale, probes.signal).then((alive) => {
      this.#probing.delete(bucket);
      if (this.#probing.size === 0) {
        this.#probingStore = undefined;
        if (this.#probes === probes) this.#probes = undefined;
      }
      if (alive || this.#closed) return;
      this.table.replace(stale.id, newcomer);
    });
  }
}
