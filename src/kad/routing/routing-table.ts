import { Emitter } from '../../core/emitter.js';
import { type Clock, type Milliseconds, systemClock } from '../../core/clock.js';
import { type AddressFamily, COMPACT_NODE_V4_BYTES, COMPACT_NODE_V6_BYTES, type Contact } from '../wire/compact.js';
import { closestSlots, type PackedContacts, type SlotRef } from './packed-contacts.js';
import { assertNodeId, bucketIndex, ID_BITS, ID_BYTES, type NodeId } from '../id.js';
import { integerAtLeast, optionError, positiveNumber } from '../option-checks.js';
import { Bucket, type Parsed, parseCandidate } from './bucket.js';
import {
  type AddResult,
  type ClosestOptions,
  type ContactState,
  DEFAULT_ROUTING_TABLE_OPTIONS,
  type NodeRemovedEvent,
  type RoutingContact,
  type RoutingTableDeps,
  type RoutingTableEvents,
  type RoutingTableOptions,
} from './routing-types.js';

/**
 * A Kademlia routing table for one address family: mechanism only. It never sends anything; it
 * reports a full bucket with its least-recently-seen contact so that maintenance can ping it
 * and evict it if it fails (Kademlia §2.4, BEP 5).
 *
 * Layout: 160 buckets indexed by the length of the common prefix with the own id (bucket i holds
 * the contacts at XOR distance [2^(159−i), 2^(160−i))), created on first use. This is the table
 * that BEP 5's "split the bucket holding the own id" converges to, except that it never needs to
 * split: a contact's bucket is found in O(1) by `bucketIndex`, and the buckets near the own id
 * can each hold k contacts from the start. Only ~log2(N/k) buckets are ever non-empty.
 *
 * Invariants: never holds the own id; at most k contacts per bucket; no duplicate ids; at most
 * `maxPerSubnet` contacts of one /24 or /64 per bucket (unless exempt); ids unique per address
 * within a bucket.
 */
export class RoutingTable extends Emitter<RoutingTableEvents> {
  /** The own node id. */
  readonly id: NodeId;
  readonly family: AddressFamily;
  readonly k: number;
  readonly #options: Required<RoutingTableOptions>;
  readonly #clock: Clock;
  // grown to the deepest bucket in use (about log2(N / k) + a few), not 160 slots up front
  readonly #buckets: (Bucket | undefined)[] = [];
  readonly #createdAt: Milliseconds;
  #size = 0;

  /** @throws {KadError} `INVALID_OPTION` naming the option; `INVALID_ID` for a bad `id`. */
  constructor(id: NodeId, options: RoutingTableOptions = {}, deps: RoutingTableDeps = {}) {
    super();
    this.id = new Uint8Array(assertNodeId(id, 'routing table id'));
    const family = options.family ?? DEFAULT_ROUTING_TABLE_OPTIONS.family;
    if (family !== 4 && family !== 6) throw optionError('family', '4 or 6', family);
    const k = integerAtLeast('k', options.k, DEFAULT_ROUTING_TABLE_OPTIONS.k, 1);
    this.#options = {
      family,
      k,
      questionableAfterMs: positiveNumber(
        'questionableAfterMs',
        options.questionableAfterMs,
        DEFAULT_ROUTING_TABLE_OPTIONS.questionableAfterMs,
        ' of milliseconds',
      ),
      maxFailures: integerAtLeast('maxFailures', options.maxFailures, DEFAULT_ROUTING_TABLE_OPTIONS.maxFailures, 1),
      replacementCacheSize: integerAtLeast(
        'replacementCacheSize',
        options.replacementCacheSize,
        DEFAULT_ROUTING_TABLE_OPTIONS.replacementCacheSize,
        0,
      ),
      maxPerSubnet: integerAtLeast('maxPerSubnet', options.maxPerSubnet, DEFAULT_ROUTING_TABLE_OPTIONS.maxPerSubnet, 1),
      limitLocalAddresses: options.limitLocalAddresses ?? DEFAULT_ROUTING_TABLE_OPTIONS.limitLocalAddresses,
    };
    this.family = family;
    this.k = k;
    this.#clock = deps.clock ?? systemClock;
    this.#createdAt = this.#clock.now();
  }

  /** Number of contacts (bad ones included until replaced). */
  get size(): number {
    return this.#size;
  }

  /** The state at `now` of a contact with these `failures` and `lastSeen`. */
  #stateOf(failures: number, lastSeen: Milliseconds, now: Milliseconds): ContactState {
    if (failures >= this.#options.maxFailures) return 'bad';
    return now - lastSeen >= this.#options.questionableAfterMs ? 'questionable' : 'good';
  }

  /** Whether slot `i` of `list` is good at `now`, read from the packed slot. */
  #goodAt(list: PackedContacts, i: number, now: Milliseconds): boolean {
    return this.#stateOf(list.failures(i), list.lastSeen(i), now) === 'good';
  }

  /** The state of a contact now. */
  state(contact: RoutingContact): ContactState {
    return this.#stateOf(contact.failures, contact.lastSeen, this.#clock.now());
  }

  /**
   * Inserts or refreshes a contact that was just heard from (it answered a query, or queried us
   * and the caller trusts it). Never evicts a live contact: see {@link AddResult}.
   */
  add(contact: Contact): AddResult {
    const parsed = parseCandidate(contact, this.family, this.#options.limitLocalAddresses);
    if (parsed === undefined) return { status: 'invalid' };
    const index = bucketIndex(this.id, contact.id);
    if (index === ID_BITS) return { status: 'self' };
    const now = this.#clock.now();
    const bucket = this.#bucket(index, now);
    const list = bucket.contacts;
    const byId = list.indexOfId(contact.id);
    const byAddress = list.indexOfAddress(parsed.ip, contact.port);
    if (byId !== -1 && byId === byAddress) {
      this.#seen(bucket, byId, now);
      return { status: 'updated', contact: list.contact(list.length - 1) };
    }
    if (byId !== -1 || byAddress !== -1)
      return { status: 'conflict', existing: list.contact(byId !== -1 ? byId : byAddress) };
    const full = list.length >= this.k;
    // in a full bucket a bad contact gives way to the newcomer, so it does not count for diversity
    const bad = full ? this.#firstBad(list) : -1;
    if (!bucket.diverse(parsed, bad, this.#options.maxPerSubnet)) return { status: 'rejected-diversity' };
    bucket.dropReplacement(contact.id);
    if (!full) {
      this.#insert(bucket, contact.id, parsed, contact.port, now);
      return { status: 'added', contact: list.contact(list.length - 1) };
    }
    if (bad !== -1) {
      const evicted = this.#delete(bucket, bad, 'bad');
      this.#insert(bucket, contact.id, parsed, contact.port, now);
      return { status: 'added', contact: list.contact(list.length - 1), evicted };
    }
    const candidate = bucket.cacheReplacement(
      contact.id,
      parsed,
      contact.port,
      now,
      this.#options.replacementCacheSize,
    );
    const leastRecentlySeen = list.contact(0);
    if (this.listening('bucket:full')) this.emit('bucket:full', { bucket: index, leastRecentlySeen, candidate });
    return { status: 'bucket-full', bucket: index, leastRecentlySeen };
  }

  /**
   * Puts back a contact saved by an earlier run, with the `lastSeen` it had then (clamped to
   * now), under the rules of {@link add}: meant for filling a table at start. A contact that was
   * last seen long ago is questionable at once, so maintenance pings it before trusting it; a
   * bucket filled this way counts as changed when its freshest contact was seen, so a stale one
   * is due for refresh. Restoring in increasing `lastSeen` order keeps each bucket least
   * recently seen first; a full bucket does not queue the contact as a replacement.
   */
  restore(contact: Contact, lastSeen: Milliseconds): AddResult {
    const parsed = parseCandidate(contact, this.family, this.#options.limitLocalAddresses);
    if (parsed === undefined || !Number.isFinite(lastSeen)) return { status: 'invalid' };
    const index = bucketIndex(this.id, contact.id);
    if (index === ID_BITS) return { status: 'self' };
    const now = this.#clock.now();
    const seen = Math.min(lastSeen, now);
    const fresh = this.#buckets[index] === undefined;
    const bucket = this.#bucket(index, now);
    const list = bucket.contacts;
    const byId = list.indexOfId(contact.id);
    const existing = byId !== -1 ? byId : list.indexOfAddress(parsed.ip, contact.port);
    if (existing !== -1) return { status: 'conflict', existing: list.contact(existing) };
    if (list.length >= this.k) return { status: 'bucket-full', bucket: index, leastRecentlySeen: list.contact(0) };
    if (!bucket.diverse(parsed, -1, this.#options.maxPerSubnet)) return { status: 'rejected-diversity' };
    const before = bucket.lastChanged;
    // least recently seen first even when restored out of order
    let at = list.length;
    while (at > 0 && list.lastSeen(at - 1) > seen) at--;
    list.insert(at, contact.id, parsed.ip, contact.port, parsed.exempt, seen);
    this.#size++;
    bucket.lastChanged = fresh ? seen : Math.max(before, seen);
    const added = list.contact(at);
    if (this.listening('node:added')) this.emit('node:added', added);
    return { status: 'added', contact: added };
  }

  /**
   * Removes `oldId` (if present) and adds `contact` in its place, e.g. after the least recently
   * seen contact of a full bucket failed to answer a ping.
   */
  replace(oldId: NodeId, contact: Contact): AddResult {
    this.remove(oldId);
    return this.add(contact);
  }

  /** Records an answer from `id`: good again, most recently seen. @returns whether it is in the table. */
  markSeen(id: NodeId): boolean {
    const found = this.#find(id);
    if (found === undefined) return false;
    this.#seen(found.bucket, found.slot, this.#clock.now());
    return true;
  }

  /**
   * Records an answer from `contact` if the table holds it at exactly that address (the common
   * case of {@link add}, without building anything). @returns whether it did.
   */
  markSeenAt(contact: Contact): boolean {
    const found = this.#find(contact.id);
    if (found === undefined) return false;
    if (!found.bucket.contacts.sameAddressAs(found.slot, contact.host, contact.port)) return false;
    this.#seen(found.bucket, found.slot, this.#clock.now());
    return true;
  }

  /**
   * Records a failed query to `id`. Once it reaches `maxFailures` it is bad: replaced at once by
   * the freshest fitting candidate of the replacement cache, if any, else by the next newcomer.
   * @returns its state after the failure (`bad` also when it was replaced), or `undefined` if unknown.
   */
  markFailed(id: NodeId): ContactState | undefined {
    const found = this.#find(id);
    if (found === undefined) return undefined;
    const { bucket, slot } = found;
    const list = bucket.contacts;
    list.setFailures(slot, list.failures(slot) + 1);
    const state = this.#stateAt(list, slot);
    if (state === 'bad') {
      const oldest = this.#clock.now() - this.#options.questionableAfterMs;
      const replacement = bucket.takeReplacement(slot, oldest, this.#options.maxPerSubnet);
      if (replacement !== undefined) {
        const cache = bucket.replacements as PackedContacts;
        this.#delete(bucket, slot, 'bad');
        // it keeps the time it was last heard from: a candidate that waited long is questionable
        // at once (worth a ping), not taken for freshly seen; least recently seen first
        const lastSeen = cache.lastSeen(replacement);
        let at = list.length;
        while (at > 0 && list.lastSeen(at - 1) > lastSeen) at--;
        list.insertFrom(at, cache, replacement, lastSeen);
        cache.removeAt(replacement);
        this.#added(bucket, at);
      }
    }
    return state;
  }

  /** Removes a contact. @returns whether it was present. */
  remove(id: NodeId): boolean {
    const found = this.#find(id);
    if (found === undefined) return false;
    this.#delete(found.bucket, found.slot, 'removed');
    return true;
  }

  /** The contact with this id, if present (a snapshot). */
  get(id: NodeId): RoutingContact | undefined {
    const found = this.#find(id);
    return found === undefined ? undefined : found.bucket.contacts.contact(found.slot);
  }

  /** Whether a contact with this id is present. */
  has(id: NodeId): boolean {
    return this.#find(id) !== undefined;
  }

  /** Every contact, bucket by bucket (farthest bucket first), as snapshots. */
  *contacts(): IterableIterator<RoutingContact> {
    for (const bucket of this.#buckets) if (bucket !== undefined) yield* bucket.contacts.snapshots();
  }

  /** Contacts of one bucket, least recently seen first (snapshots). */
  bucket(index: number): readonly RoutingContact[] {
    return this.#buckets[index]?.contacts.snapshots() ?? [];
  }

  /** Number of contacts in one bucket (without the snapshots {@link bucket} makes). */
  bucketSize(index: number): number {
    return this.#buckets[index]?.contacts.length ?? 0;
  }

  /**
   * The contacts that are not good now (questionable or bad), bucket by bucket, least recently
   * seen first within each, as snapshots; none of a bucket whose least recently seen contact is
   * good (it has no questionable one then). What liveness checks ping: only these are snapshotted.
   */
  notGood(): RoutingContact[] {
    const out: RoutingContact[] = [];
    const now = this.#clock.now();
    for (const bucket of this.#buckets) {
      if (bucket === undefined || bucket.length === 0 || this.#goodAt(bucket, 0, now)) continue;
      for (let i = 0; i < bucket.length; i++) if (!this.#goodAt(bucket, i, now)) out.push(bucket.contact(i));
    }
    return out;
  }

  /** Candidates waiting in one bucket's replacement cache, most recent last (snapshots). */
  replacements(index: number): readonly RoutingContact[] {
    return this.#buckets[index]?.replacements?.snapshots() ?? [];
  }

  /**
   * Indices of the buckets to refresh: every bucket from 0 to the deepest non-empty one whose
   * contents have not changed (add, answer, replacement) for `idleMs`. Refresh one with a lookup of
   * `randomIdInBucket(table.id, index)`. @see BEP 5 "Routing Table"
   */
  staleBuckets(idleMs: Milliseconds = this.#options.questionableAfterMs): number[] {
    const now = this.#clock.now();
    let deepest = -1;
    this.#buckets.forEach((bucket, i) => {
      if (bucket !== undefined && bucket.contacts.length > 0) deepest = i;
    });
    const out: number[] = [];
    for (let i = 0; i <= deepest; i++) {
      if (now - (this.#buckets[i]?.lastChanged ?? this.#createdAt) >= idleMs) out.push(i);
    }
    return out;
  }

  /** Marks a bucket as fresh (after a refresh lookup through it). */
  touchBucket(index: number): void {
    const bucket = this.#buckets[index];
    if (bucket !== undefined) bucket.lastChanged = this.#clock.now();
  }

  /**
   * The `count` contacts closest to `target` by XOR distance, closest first; bad contacts left out
   * unless asked. Cost: O(b + m·log count) where m is the number of contacts in the buckets it
   * visits; it walks outward from the target's bucket and stops as soon as no farther bucket can
   * hold a closer contact, never sorting the whole table.
   */
  closest(target: NodeId, count: number = this.k, options: ClosestOptions = {}): RoutingContact[] {
    return this.#closestSlots(target, count, options.includeBad ?? false).map(({ list, slot }) => list.contact(slot));
  }

  /**
   * The compact node info (BEP 5 `nodes` / BEP 32 `nodes6` format: 26 or 38 bytes each) of the
   * `count` live contacts closest to `target`, closest first, concatenated: what a `find_node`
   * answer carries, copied from the table without a contact object in between.
   */
  closestCompact(target: NodeId, count: number = this.k): Uint8Array {
    const slots = this.#closestSlots(target, count, false);
    const size = this.family === 4 ? COMPACT_NODE_V4_BYTES : COMPACT_NODE_V6_BYTES;
    const out = new Uint8Array(slots.length * size);
    slots.forEach(({ list, slot }, i) => list.copyCompact(slot, out, i * size));
    return out;
  }

  #closestSlots(target: NodeId, count: number, includeBad: boolean): SlotRef[] {
    return closestSlots(
      this.#buckets,
      bucketIndex(this.id, target),
      target,
      count,
      includeBad ? Infinity : this.#options.maxFailures,
    );
  }

  #bucket(index: number, now: Milliseconds): Bucket {
    let bucket = this.#buckets[index];
    if (bucket === undefined) {
      // every bucket in the byte array of the first one made
      bucket = new Bucket(
        this.family === 4 ? 4 : 16,
        this.k,
        now,
        this.#buckets.find((b) => b !== undefined),
      );
      while (this.#buckets.length < index) this.#buckets.push(undefined);
      this.#buckets[index] = bucket;
    }
    return bucket;
  }

  #find(id: NodeId): { bucket: Bucket; slot: number } | undefined {
    if (!(id instanceof Uint8Array) || id.length !== ID_BYTES) return undefined;
    const bucket = this.#buckets[bucketIndex(this.id, id)];
    const slot = bucket === undefined ? -1 : bucket.contacts.indexOfId(id);
    return bucket === undefined || slot === -1 ? undefined : { bucket, slot };
  }

  #stateAt(list: PackedContacts, slot: number): ContactState {
    if (list.failures(slot) >= this.#options.maxFailures) return 'bad';
    return this.#clock.now() - list.lastSeen(slot) >= this.#options.questionableAfterMs ? 'questionable' : 'good';
  }

  #firstBad(list: PackedContacts): number {
    for (let i = 0; i < list.length; i++) if (list.failures(i) >= this.#options.maxFailures) return i;
    return -1;
  }

  #seen(bucket: Bucket, slot: number, now: Milliseconds): void {
    const list = bucket.contacts;
    list.setLastSeen(slot, now);
    list.setFailures(slot, 0);
    list.moveToEnd(slot);
    bucket.lastChanged = now;
  }

  #insert(bucket: Bucket, id: NodeId, parsed: Parsed, port: number, now: Milliseconds): void {
    const list = bucket.contacts;
    list.insert(list.length, id, parsed.ip, port, parsed.exempt, now);
    this.#added(bucket, list.length - 1);
  }

  /** Counts slot `slot` of the bucket's contacts as just added. */
  #added(bucket: Bucket, slot: number): void {
    bucket.lastChanged = this.#clock.now();
    this.#size++;
    if (this.listening('node:added')) this.emit('node:added', bucket.contacts.contact(slot));
  }

  #delete(bucket: Bucket, slot: number, reason: NodeRemovedEvent['reason']): RoutingContact {
    const contact = bucket.contacts.contact(slot);
    bucket.contacts.removeAt(slot);
    this.#size--;
    if (this.listening('node:removed')) this.emit('node:removed', { contact, reason });
    return contact;
  }
}
