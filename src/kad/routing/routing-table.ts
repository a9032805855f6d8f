import { Emitter } from '../../core/emitter.js';
import { type Clock, type Milliseconds, systemClock } from '../../core/clock.js';
import { type AddressFamily, type Contact, formatIp, isIpv4Mapped, parseIp } from '../wire/compact.js';
import { isLocalAddress } from '../wire/ip-class.js';
import { assertNodeId, bucketIndex, bytesEqual, compareDistance, ID_BITS, ID_BYTES, type NodeId } from '../id.js';
import { integerAtLeast, optionError, positiveNumber } from '../option-checks.js';

/** Configuration of a {@link RoutingTable}. */
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

/** Collaborators of a {@link RoutingTable}. */
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

/** The outcome of {@link RoutingTable.add}. */
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

/** Events of a {@link RoutingTable}. */
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

class Entry implements RoutingContact {
  constructor(
    readonly id: NodeId,
    readonly host: string,
    readonly port: number,
    readonly subnet: string,
    public lastSeen: Milliseconds,
    public failures = 0,
  ) {}
}

interface Bucket {
  /** Least recently seen first; at most k. */
  readonly contacts: Entry[];
  /** Most recent last; at most `replacementCacheSize`. */
  readonly replacements: Entry[];
  lastChanged: Milliseconds;
}

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
  readonly #buckets: (Bucket | undefined)[] = new Array<Bucket | undefined>(ID_BITS).fill(undefined);
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

  /** The state of a contact now. */
  state(contact: RoutingContact): ContactState {
    if (contact.failures >= this.#options.maxFailures) return 'bad';
    return this.#clock.now() - contact.lastSeen >= this.#options.questionableAfterMs ? 'questionable' : 'good';
  }

  /**
   * Inserts or refreshes a contact that was just heard from (it answered a query, or queried us
   * and the caller trusts it). Never evicts a live contact: see {@link AddResult}.
   */
  add(contact: Contact): AddResult {
    const parsed = this.#parse(contact);
    if (parsed === undefined) return { status: 'invalid' };
    const index = bucketIndex(this.id, contact.id);
    if (index === ID_BITS) return { status: 'self' };
    const now = this.#clock.now();
    const bucket = this.#bucket(index, now);
    for (const entry of bucket.contacts) {
      const sameId = bytesEqual(entry.id, contact.id);
      const sameAddress = entry.host === parsed.host && entry.port === contact.port;
      if (sameId && sameAddress) {
        this.#seen(bucket, entry, now);
        return { status: 'updated', contact: entry };
      }
      if (sameId || sameAddress) return { status: 'conflict', existing: entry };
    }
    const candidate = new Entry(new Uint8Array(contact.id), parsed.host, contact.port, parsed.subnet, now);
    const full = bucket.contacts.length >= this.k;
    // in a full bucket a bad contact gives way to the newcomer, so it does not count for diversity
    const bad = full ? bucket.contacts.find((entry) => entry.failures >= this.#options.maxFailures) : undefined;
    if (!this.#diverse(bucket, candidate, bad)) return { status: 'rejected-diversity' };
    dropReplacement(bucket, candidate.id);
    if (!full) {
      this.#insert(bucket, candidate, now);
      return { status: 'added', contact: candidate };
    }
    if (bad !== undefined) {
      this.#delete(bucket, bad, 'bad');
      this.#insert(bucket, candidate, now);
      return { status: 'added', contact: candidate, evicted: bad };
    }
    if (this.#options.replacementCacheSize > 0) {
      bucket.replacements.push(candidate);
      if (bucket.replacements.length > this.#options.replacementCacheSize) bucket.replacements.shift();
    }
    const leastRecentlySeen = bucket.contacts[0] as Entry;
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
    const parsed = this.#parse(contact);
    if (parsed === undefined || !Number.isFinite(lastSeen)) return { status: 'invalid' };
    const index = bucketIndex(this.id, contact.id);
    if (index === ID_BITS) return { status: 'self' };
    const now = this.#clock.now();
    const seen = Math.min(lastSeen, now);
    const fresh = this.#buckets[index] === undefined;
    const bucket = this.#bucket(index, now);
    const existing = bucket.contacts.find(
      (e) => bytesEqual(e.id, contact.id) || (e.host === parsed.host && e.port === contact.port),
    );
    if (existing !== undefined) return { status: 'conflict', existing };
    if (bucket.contacts.length >= this.k) {
      return { status: 'bucket-full', bucket: index, leastRecentlySeen: bucket.contacts[0] as Entry };
    }
    const entry = new Entry(new Uint8Array(contact.id), parsed.host, contact.port, parsed.subnet, seen);
    if (!this.#diverse(bucket, entry)) return { status: 'rejected-diversity' };
    const before = bucket.lastChanged;
    this.#insert(bucket, entry, seen);
    // keep least recently seen first even when restored out of order
    bucket.contacts.sort((a, b) => a.lastSeen - b.lastSeen);
    bucket.lastChanged = fresh ? seen : Math.max(before, seen);
    return { status: 'added', contact: entry };
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
    this.#seen(found.bucket, found.entry, this.#clock.now());
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
    const { bucket, entry } = found;
    entry.failures++;
    const state = this.state(entry);
    if (state === 'bad') {
      const replacement = this.#takeReplacement(bucket, entry);
      if (replacement !== undefined) {
        this.#delete(bucket, entry, 'bad');
        // it keeps the time it was last heard from: a candidate that waited long is questionable
        // at once (worth a ping), not taken for freshly seen
        this.#insert(bucket, replacement, this.#clock.now(), replacement.lastSeen);
      }
    }
    return state;
  }

  /** Removes a contact. @returns whether it was present. */
  remove(id: NodeId): boolean {
    const found = this.#find(id);
    if (found === undefined) return false;
    this.#delete(found.bucket, found.entry, 'removed');
    return true;
  }

  /** The contact with this id, if present. */
  get(id: NodeId): RoutingContact | undefined {
    return this.#find(id)?.entry;
  }

  /** Whether a contact with this id is present. */
  has(id: NodeId): boolean {
    return this.#find(id) !== undefined;
  }

  /** Every contact, bucket by bucket (farthest bucket first). */
  *contacts(): IterableIterator<RoutingContact> {
    for (const bucket of this.#buckets) if (bucket !== undefined) yield* bucket.contacts;
  }

  /** Contacts of one bucket, least recently seen first. */
  bucket(index: number): readonly RoutingContact[] {
    return this.#buckets[index]?.contacts ?? [];
  }

  /** Candidates waiting in one bucket's replacement cache, most recent last. */
  replacements(index: number): readonly RoutingContact[] {
    return this.#buckets[index]?.replacements ?? [];
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
    const out: Entry[] = [];
    if (count <= 0) return out;
    const includeBad = options.includeBad ?? false;
    const consider = (entry: Entry): void => {
      if (!includeBad && entry.failures >= this.#options.maxFailures) return;
      if (out.length === count && compareDistance(target, entry.id, (out[count - 1] as Entry).id) >= 0) return;
      // binary insertion into the sorted prefix
      let lo = 0;
      let hi = out.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (compareDistance(target, (out[mid] as Entry).id, entry.id) < 0) lo = mid + 1;
        else hi = mid;
      }
      out.splice(lo, 0, entry);
      if (out.length > count) out.pop();
    };
    // Seen from the target, with c = bucketIndex(self, target): bucket c shares > c bits with the
    // target; all buckets deeper than c share exactly c bits; bucket i < c shares exactly i bits.
    const c = bucketIndex(this.id, target);
    const visit = (i: number): void => {
      for (const entry of this.#buckets[i]?.contacts ?? []) consider(entry);
    };
    if (c < ID_BITS) visit(c);
    if (out.length < count) for (let i = c + 1; i < ID_BITS; i++) visit(i);
    for (let i = Math.min(c, ID_BITS) - 1; i >= 0 && out.length < count; i--) visit(i);
    return out;
  }

  #parse(contact: Contact): { host: string; subnet: string } | undefined {
    if (!(contact.id instanceof Uint8Array) || contact.id.length !== ID_BYTES) return undefined;
    if (!Number.isInteger(contact.port) || contact.port < 1 || contact.port > 0xffff) return undefined;
    const ip = parseIp(contact.host);
    if (ip === undefined || ip.length !== (this.family === 4 ? 4 : 16)) return undefined;
    if (this.family === 6 && isIpv4Mapped(ip)) return undefined;
    const host = formatIp(ip);
    const exempt = !this.#options.limitLocalAddresses && isLocalAddress(host);
    // the /24 or /64 network prefix; exempt addresses each form their own group
    const subnet = exempt ? `${host}|${contact.port}` : String.fromCharCode(...ip.subarray(0, ip.length === 4 ? 3 : 8));
    return { host, subnet };
  }

  #bucket(index: number, now: Milliseconds): Bucket {
    let bucket = this.#buckets[index];
    if (bucket === undefined) {
      bucket = { contacts: [], replacements: [], lastChanged: now };
      this.#buckets[index] = bucket;
    }
    return bucket;
  }

  #find(id: NodeId): { bucket: Bucket; entry: Entry } | undefined {
    if (!(id instanceof Uint8Array) || id.length !== ID_BYTES) return undefined;
    const bucket = this.#buckets[bucketIndex(this.id, id)];
    const entry = bucket?.contacts.find((e) => bytesEqual(e.id, id));
    return bucket === undefined || entry === undefined ? undefined : { bucket, entry };
  }

  #diverse(bucket: Bucket, candidate: Entry, ignoring?: Entry): boolean {
    let same = 0;
    for (const entry of bucket.contacts) if (entry !== ignoring && entry.subnet === candidate.subnet) same++;
    return same < this.#options.maxPerSubnet;
  }

  #seen(bucket: Bucket, entry: Entry, now: Milliseconds): void {
    entry.lastSeen = now;
    entry.failures = 0;
    const list = bucket.contacts;
    list.splice(list.indexOf(entry), 1);
    list.push(entry);
    bucket.lastChanged = now;
  }

  #insert(bucket: Bucket, entry: Entry, now: Milliseconds, lastSeen: Milliseconds = now): void {
    entry.lastSeen = lastSeen;
    // least recently seen first
    const list = bucket.contacts;
    let at = list.length;
    while (at > 0 && (list[at - 1] as Entry).lastSeen > lastSeen) at--;
    list.splice(at, 0, entry);
    bucket.lastChanged = now;
    this.#size++;
    if (this.listening('node:added')) this.emit('node:added', entry);
  }

  #delete(bucket: Bucket, entry: Entry, reason: NodeRemovedEvent['reason']): void {
    bucket.contacts.splice(bucket.contacts.indexOf(entry), 1);
    this.#size--;
    if (this.listening('node:removed')) this.emit('node:removed', { contact: entry, reason });
  }

  /**
   * Pops the freshest cached candidate that may take `leaving`'s place. Candidates not heard
   * from for `questionableAfterMs` are dropped instead: one may be long gone, and it would take
   * the slot of a newcomer that is surely alive.
   */
  #takeReplacement(bucket: Bucket, leaving: Entry): Entry | undefined {
    const cache = bucket.replacements;
    const oldest = this.#clock.now() - this.#options.questionableAfterMs;
    // most recent last: everything before the first stale one from the end is stale too
    let fresh = cache.length;
    while (fresh > 0 && (cache[fresh - 1] as Entry).lastSeen > oldest) fresh--;
    cache.splice(0, fresh);
    for (let i = cache.length - 1; i >= 0; i--) {
      const candidate = cache[i] as Entry;
      const clash = bucket.contacts.some(
        (e) =>
          e !== leaving && (bytesEqual(e.id, candidate.id) || (e.host === candidate.host && e.port === candidate.port)),
      );
      if (clash || !this.#diverse(bucket, candidate, leaving)) continue;
      cache.splice(i, 1);
      return candidate;
    }
    return undefined;
  }
}

function dropReplacement(bucket: Bucket, id: NodeId): void {
  const i = bucket.replacements.findIndex((e) => bytesEqual(e.id, id));
  if (i !== -1) bucket.replacements.splice(i, 1);
}
