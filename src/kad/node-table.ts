import type { Clock } from '../registry/clock.js';
import type { Contact, IpFamily } from './compact.js';
import { ipFamily } from './compact.js';
import { bucketIndex, compareDistance, idEquals, type NodeId } from './id.js';

/** Configuration of a {@link NodeTable}. @internal */
export interface NodeTableOptions {
  readonly id: NodeId;
  readonly k: number;
  readonly family: IpFamily;
  readonly clock: Clock;
}

/** Pings `contact`; resolves `true` when it answered. */
export type Pinger = (contact: Contact, signal: AbortSignal) => Promise<boolean>;

interface Entry {
  contact: Contact;
  lastSeen: number;
}

/** Most ping-before-evict probes in flight at once: a flood of new ids cannot make us flood pings. */
const MAX_EVICTION_PINGS = 4;

/**
 * The node's view of its routing table, with the insertion policy: a contact that answered or
 * queried us (without `ro`) is added; when its bucket is full, the least recently seen contact is
 * pinged once and replaced only if it fails to answer (Kademlia §2.2: old live contacts win).
 * @internal
 */
export class NodeTable {
  readonly #id: NodeId;
  readonly #k: number;
  readonly #family: IpFamily;
  readonly #clock: Clock;
  readonly #ping: Pinger;
  readonly #buckets = new Map<number, Entry[]>();
  readonly #probing = new Set<number>();
  readonly #lifetime = new AbortController();
  #size = 0;

  constructor(options: NodeTableOptions, ping: Pinger) {
    this.#id = options.id;
    this.#k = options.k;
    this.#family = options.family;
    this.#clock = options.clock;
    this.#ping = ping;
  }

  /** Contacts held. */
  get size(): number {
    return this.#size;
  }

  /** Records that `contact` is alive (it answered or queried us). */
  observe(contact: Contact): void {
    if (this.#lifetime.signal.aborted || idEquals(contact.id, this.#id)) return;
    if (ipFamily(contact.host) !== this.#family || !(contact.port >= 1 && contact.port <= 65535)) return;
    const index = bucketIndex(this.#id, contact.id);
    let bucket = this.#buckets.get(index);
    if (bucket === undefined) {
      bucket = [];
      this.#buckets.set(index, bucket);
    }
    const now = this.#clock.now();
    const known = bucket.find((e) => idEquals(e.contact.id, contact.id));
    if (known !== undefined) {
      known.lastSeen = now;
      known.contact = { id: known.contact.id, host: contact.host, port: contact.port };
      return;
    }
    if (bucket.length < this.#k) {
      bucket.push({ contact: { id: Uint8Array.from(contact.id), host: contact.host, port: contact.port }, lastSeen: now });
      this.#size++;
      return;
    }
    this.#evictIfDead(index, bucket, contact);
  }

  /** Up to `count` contacts closest to `target` by XOR distance. */
  closest(target: NodeId, count: number): Contact[] {
    const all: Contact[] = [];
    for (const bucket of this.#buckets.values()) for (const e of bucket) all.push(e.contact);
    all.sort((a, b) => compareDistance(target, a.id, b.id));
    return all.slice(0, count);
  }

  /** Stops probing; pending probes are aborted. */
  close(): void {
    this.#lifetime.abort();
  }

  #evictIfDead(index: number, bucket: Entry[], candidate: Contact): void {
    if (this.#probing.has(index) || this.#probing.size >= MAX_EVICTION_PINGS) return;
    let oldest = bucket[0];
    for (const e of bucket) if (oldest === undefined || e.lastSeen < oldest.lastSeen) oldest = e;
    if (oldest === undefined) return;
    const stale = oldest;
    this.#probing.add(index);
    const copy: Contact = { id: Uint8Array.from(candidate.id), host: candidate.host, port: candidate.port };
    void this.#ping(stale.contact, this.#lifetime.signal).then((alive) => {
      this.#probing.delete(index);
      if (alive || this.#lifetime.signal.aborted) return;
      const at = bucket.indexOf(stale);
      if (at === -1) return;
      bucket.splice(at, 1, { contact: copy, lastSeen: this.#clock.now() });
    });
  }
}
