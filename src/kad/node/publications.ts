import type { Clock, Milliseconds } from '../../core/clock.js';
import { KadError } from '../errors.js';
import { idFromHex, idToHex, isNodeId, type NodeId } from '../id.js';
import { immutableTarget, isSeq, type MutableItem, mutableTarget, verifyMutable } from '../items.js';
import { integerAtLeast } from '../option-checks.js';
import { bdecode, bencode } from '../wire/bencode.js';
import type { FoundItem } from '../lookup/events.js';

/** An immutable `{ v }` or a signed mutable item, as `node.put()` takes it. */
export type PutItem = { readonly v: FoundItem['v'] } | MutableItem;

// What this node itself published (put, putMutable, announce), kept so maintenance can publish
// it again before the nodes that store it forget it, and so a restarted node can carry on.

/** Timing of republishing what this node published. */
export interface PublicationsOptions {
  /**
   * How often an item this node put (`put`, `putMutable`) is put again, ms. Storing nodes keep an
   * item 2 h unless it is re-put (BEP 44), so the default leaves one missed round of slack.
   * @default 3_600_000 (1 hour)
   */
  readonly republishMs?: Milliseconds;
  /**
   * How often an announcement (`announce`) is made again, ms. Nodes keep a peer 30 min (BEP 5),
   * so this must stay below that.
   * @default 1_500_000 (25 minutes)
   */
  readonly reannounceMs?: Milliseconds;
}

/** Defaults of {@link PublicationsOptions}. */
export const DEFAULT_PUBLICATIONS_OPTIONS = Object.freeze({
  republishMs: 60 * 60_000,
  reannounceMs: 25 * 60_000,
} satisfies Required<PublicationsOptions>);

/** An item this node published: an immutable `{ v }` or a signed mutable item, exactly as stored. */
export interface ItemPublication {
  readonly kind: 'item';
  /** The item's target: SHA-1 of bencoded `v`, or SHA-1(k ‖ salt). */
  readonly target: NodeId;
  /** The item; a mutable one keeps its `seq`, `salt` and `sig`, so republishing needs no secret key. */
  readonly item: PutItem;
  /** When it is next due to be put again (clock time, ms). */
  readonly nextDueAt: Milliseconds;
}

/** An announcement this node made: itself as a peer of `infoHash`. */
export interface AnnouncePublication {
  readonly kind: 'announce';
  readonly infoHash: NodeId;
  /** The announced port (a placeholder 0 with `impliedPort`). */
  readonly port: number;
  /** Whether the storing nodes take the UDP source port instead (BEP 5 `implied_port`). */
  readonly impliedPort: boolean;
  /** When it is next due to be announced again (clock time, ms). */
  readonly nextDueAt: Milliseconds;
}

/** One thing this node published. */
export type Publication = ItemPublication | AnnouncePublication;

/**
 * The plain-data form of {@link Publications} (JSON-safe: ids and bytes as lowercase hex, `v`
 * as its bencoding in hex), as `toJSON()` writes and `Publications.fromJSON()` reads it.
 */
export interface PublicationsState {
  readonly version: 1;
  readonly items: readonly ItemPublicationState[];
  readonly announcements: readonly AnnouncePublicationState[];
}

/** An {@link ItemPublication} as plain data; `k`, `sig`, `seq` (and `salt`) only for a mutable item. */
export interface ItemPublicationState {
  readonly target: string;
  /** bencoded `v`, hex. */
  readonly v: string;
  readonly k?: string;
  readonly sig?: string;
  /** A sequence number beyond 2^53 − 1 is written as a decimal string (JSON has no 64-bit integers). */
  readonly seq?: number | string;
  readonly salt?: string;
  readonly nextDueAt: Milliseconds;
}

/** An {@link AnnouncePublication} as plain data. */
export interface AnnouncePublicationState {
  readonly infoHash: string;
  readonly port: number;
  readonly impliedPort: boolean;
  readonly nextDueAt: Milliseconds;
}

/** What {@link Publications} runs on. */
export interface PublicationsDeps {
  readonly clock: Clock;
}

/**
 * The book of what this node published, each with the time it is next due to be published
 * again: items by target (a newer `putMutable` of the same target replaces the older one) and
 * announcements by info-hash. Bookkeeping only: maintenance does the republishing.
 */
export class Publications {
  readonly #clock: Clock;
  readonly #republishMs: Milliseconds;
  readonly #reannounceMs: Milliseconds;
  // created with the first entry: most nodes publish nothing, and an empty map costs ~200 bytes
  #itemsStore: Map<string, ItemPublication> | undefined;
  #announcementsStore: Map<string, AnnouncePublication> | undefined;
  get #items(): Map<string, ItemPublication> {
    return (this.#itemsStore ??= new Map());
  }
  get #announcements(): Map<string, AnnouncePublication> {
    return (this.#announcementsStore ??= new Map());
  }

  /** @throws {KadError} `INVALID_OPTION` naming a bad interval. */
  constructor(options: PublicationsOptions, deps: PublicationsDeps) {
    const d = DEFAULT_PUBLICATIONS_OPTIONS;
    this.#republishMs = integerAtLeast('republishMs', options.republishMs, d.republishMs, 1);
    this.#reannounceMs = integerAtLeast('reannounceMs', options.reannounceMs, d.reannounceMs, 1);
    this.#clock = deps.clock;
  }

  /** Items and announcements recorded. */
  get size(): number {
    return (this.#itemsStore?.size ?? 0) + (this.#announcementsStore?.size ?? 0);
  }

  /**
   * Records `item` as published now (due again one `republishMs` later), replacing what was
   * recorded for its target.
   */
  addItem(item: PutItem, publishedAt: Milliseconds = this.#clock.now()): ItemPublication {
    const target = targetOf(item);
    const entry: ItemPublication = {
      kind: 'item',
      target,
      item: copyItem(item),
      nextDueAt: publishedAt + this.#republishMs,
    };
    this.#items.set(idToHex(target), entry);
    return entry;
  }

  /** Records an announcement of `infoHash` as made now (due again one `reannounceMs` later). */
  addAnnouncement(
    infoHash: NodeId,
    port: number,
    impliedPort: boolean,
    announcedAt: Milliseconds = this.#clock.now(),
  ): AnnouncePublication {
    const entry: AnnouncePublication = {
      kind: 'announce',
      infoHash: Uint8Array.from(infoHash),
      port,
      impliedPort,
      nextDueAt: announcedAt + this.#reannounceMs,
    };
    this.#announcements.set(idToHex(infoHash), entry);
    return entry;
  }

  /** The item recorded for `target`, if any. */
  item(target: NodeId): ItemPublication | undefined {
    return this.#itemsStore?.get(idToHex(target));
  }

  /** The announcement recorded for `infoHash`, if any. */
  announcement(infoHash: NodeId): AnnouncePublication | undefined {
    return this.#announcementsStore?.get(idToHex(infoHash));
  }

  /** Forgets the item of `target`; whether one was recorded. */
  removeItem(target: NodeId): boolean {
    return this.#itemsStore?.delete(idToHex(target)) ?? false;
  }

  /** Forgets the announcement of `infoHash`; whether one was recorded. */
  removeAnnouncement(infoHash: NodeId): boolean {
    return this.#announcementsStore?.delete(idToHex(infoHash)) ?? false;
  }

  /**
   * Forgets `entry` (item or announcement) if it is still recorded as it is, not replaced
   * meanwhile by a newer `putMutable` or `announce`; whether it was.
   */
  remove(entry: Publication): boolean {
    if (entry.kind === 'item') {
      const key = idToHex(entry.target);
      return this.#itemsStore?.get(key) === entry && this.#items.delete(key);
    }
    const key = idToHex(entry.infoHash);
    return this.#announcementsStore?.get(key) === entry && this.#announcements.delete(key);
  }

  /**
   * Marks `entry` as published again at `at`, if it is still recorded and was not replaced
   * meanwhile (a newer `putMutable`): it is next due one interval after the time it was due (so
   * the cadence does not drift by the time a republish takes), or one interval after `at` if it
   * was already that late. Returns the entry as recorded now, or `undefined` when it is gone.
   */
  published(entry: Publication, at: Milliseconds = this.#clock.now()): Publication | undefined {
    if (entry.kind === 'item') {
      const key = idToHex(entry.target);
      if (this.#itemsStore?.get(key) !== entry) return this.#itemsStore?.get(key);
      const next: ItemPublication = { ...entry, nextDueAt: nextDue(entry.nextDueAt, at, this.#republishMs) };
      this.#items.set(key, next);
      return next;
    }
    const key = idToHex(entry.infoHash);
    if (this.#announcementsStore?.get(key) !== entry) return this.#announcementsStore?.get(key);
    const next: AnnouncePublication = { ...entry, nextDueAt: nextDue(entry.nextDueAt, at, this.#reannounceMs) };
    this.#announcements.set(key, next);
    return next;
  }

  /**
   * Postpones `entry` to `at` (a republish that failed is retried then), if it is still recorded
   * as it was.
   */
  postpone(entry: Publication, at: Milliseconds): void {
    if (entry.kind === 'item') {
      const key = idToHex(entry.target);
      if (this.#itemsStore?.get(key) === entry) this.#items.set(key, { ...entry, nextDueAt: at });
      return;
    }
    const key = idToHex(entry.infoHash);
    if (this.#announcementsStore?.get(key) === entry) this.#announcements.set(key, { ...entry, nextDueAt: at });
  }

  /** Everything due at `now` (next due time ≤ now), earliest first. */
  due(now: Milliseconds = this.#clock.now()): Publication[] {
    return this.all()
      .filter((entry) => entry.nextDueAt <= now)
      .sort((a, b) => a.nextDueAt - b.nextDueAt);
  }

  /** The earliest next due time of anything recorded; `undefined` when nothing is. */
  nextDueAt(): Milliseconds | undefined {
    let next: Milliseconds | undefined;
    for (const entry of this.all()) if (next === undefined || entry.nextDueAt < next) next = entry.nextDueAt;
    return next;
  }

  /** Every item, then every announcement. */
  all(): Publication[] {
    return [...(this.#itemsStore?.values() ?? []), ...(this.#announcementsStore?.values() ?? [])];
  }

  /** Forgets everything. */
  clear(): void {
    this.#itemsStore = undefined;
    this.#announcementsStore = undefined;
  }

  /** The book as plain, JSON-safe data (see {@link PublicationsState}). */
  toJSON(): PublicationsState {
    return {
      version: 1,
      items: [...(this.#itemsStore?.values() ?? [])].map(itemToState),
      announcements: [...(this.#announcementsStore?.values() ?? [])].map((a) => ({
        infoHash: idToHex(a.infoHash),
        port: a.port,
        impliedPort: a.impliedPort,
        nextDueAt: a.nextDueAt,
      })),
    };
  }

  /**
   * Replaces the book with `state` (as `toJSON()` wrote it), checking every entry: a mutable
   * item's signature must verify and every target must match its item.
   * @throws {KadError} `CORRUPT_STATE` naming the first bad entry; the book is then unchanged.
   */
  load(state: unknown): void {
    const { items, announcements } = readState(state);
    this.clear();
    for (const entry of items) this.#items.set(idToHex(entry.target), entry);
    for (const entry of announcements) this.#announcements.set(idToHex(entry.infoHash), entry);
  }

  /**
   * A book read from `state` (as `toJSON()` wrote it).
   * @throws {KadError} `CORRUPT_STATE` naming the first bad entry; `INVALID_OPTION` for a bad interval.
   */
  static fromJSON(state: unknown, options: PublicationsOptions, deps: PublicationsDeps): Publications {
    const book = new Publications(options, deps);
    book.load(state);
    return book;
  }
}

/** One interval after `due`, or after `at` when that is already past. */
function nextDue(due: Milliseconds, at: Milliseconds, interval: Milliseconds): Milliseconds {
  return due + interval > at ? due + interval : at + interval;
}

/** The target of an immutable `{ v }` or a mutable item. */
function targetOf(item: PutItem): NodeId {
  return 'k' in item ? mutableTarget(item.k, item.salt) : immutableTarget(item.v);
}

/** A copy of the item's byte arrays, so a caller reusing its buffers cannot change what is republished. */
function copyItem(item: PutItem): PutItem {
  if (!('k' in item)) return { v: item.v };
  const copy: MutableItem = { v: item.v, k: Uint8Array.from(item.k), sig: Uint8Array.from(item.sig), seq: item.seq };
  if (item.salt !== undefined && item.salt.length > 0) copy.salt = Uint8Array.from(item.salt);
  return copy;
}

function itemToState(entry: ItemPublication): ItemPublicationState {
  const { item } = entry;
  const base = { target: idToHex(entry.target), v: toHex(bencode(item.v)), nextDueAt: entry.nextDueAt };
  if (!('k' in item)) return base;
  return {
    ...base,
    k: toHex(item.k),
    sig: toHex(item.sig),
    seq: typeof item.seq === 'bigint' ? item.seq.toString() : item.seq,
    ...(item.salt === undefined ? {} : { salt: toHex(item.salt) }),
  };
}

function readState(state: unknown): { items: ItemPublication[]; announcements: AnnouncePublication[] } {
  const s = record(state, 'publications');
  if (s['version'] !== 1) throw corrupt(`publications: unknown version ${String(s['version'])}`);
  const items = list(s['items'], 'publications.items').map((raw, i) => readItem(raw, `publications.items[${i}]`));
  const announcements = list(s['announcements'], 'publications.announcements').map((raw, i) => {
    const where = `publications.announcements[${i}]`;
    const a = record(raw, where);
    const port = a['port'];
    if (!Number.isInteger(port) || (port as number) < 0 || (port as number) > 65535) {
      throw corrupt(`${where}.port is not a port`);
    }
    if (typeof a['impliedPort'] !== 'boolean') throw corrupt(`${where}.impliedPort is not a boolean`);
    return {
      kind: 'announce' as const,
      infoHash: id(a['infoHash'], `${where}.infoHash`),
      port: port as number,
      impliedPort: a['impliedPort'],
      nextDueAt: time(a['nextDueAt'], `${where}.nextDueAt`),
    };
  });
  return { items, announcements };
}

function readItem(raw: unknown, where: string): ItemPublication {
  const e = record(raw, where);
  const target = id(e['target'], `${where}.target`);
  let item: PutItem;
  try {
    const v = bdecode(bytes(e['v'], `${where}.v`));
    if (e['k'] === undefined) item = { v };
    else {
      const raw = e['seq'];
      const seq = typeof raw === 'string' && /^[0-9]{1,19}$/.test(raw) ? BigInt(raw) : raw;
      if (!isSeq(seq)) throw corrupt(`${where}.seq is not a sequence number`);
      const mutable: MutableItem = {
        v,
        k: bytes(e['k'], `${where}.k`),
        sig: bytes(e['sig'], `${where}.sig`),
        seq,
      };
      if (e['salt'] !== undefined) mutable.salt = bytes(e['salt'], `${where}.salt`);
      if (!verifyMutable(mutable)) throw corrupt(`${where}: the signature does not verify`);
      item = mutable;
    }
    if (idToHex(targetOf(item)) !== idToHex(target)) throw corrupt(`${where}.target is not the item's target`);
  } catch (error) {
    if (error instanceof KadError && error.code === 'CORRUPT_STATE') throw error;
    throw corrupt(`${where} is not a valid item`, error);
  }
  return { kind: 'item', target, item, nextDueAt: time(e['nextDueAt'], `${where}.nextDueAt`) };
}

function corrupt(reason: string, cause?: unknown): KadError {
  return KadError.corruptState(reason, cause);
}

function record(value: unknown, where: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw corrupt(`${where} is not an object`);
  return value as Record<string, unknown>;
}

function list(value: unknown, where: string): unknown[] {
  if (!Array.isArray(value)) throw corrupt(`${where} is not an array`);
  return value;
}

function time(value: unknown, where: string): Milliseconds {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw corrupt(`${where} is not a time`);
  return value;
}

function id(value: unknown, where: string): NodeId {
  const out = typeof value === 'string' && /^[0-9a-f]{40}$/.test(value) ? idFromHex(value) : undefined;
  if (out === undefined || !isNodeId(out)) throw corrupt(`${where} is not a 40-digit hex id`);
  return out;
}

function bytes(value: unknown, where: string): Uint8Array {
  if (typeof value !== 'string' || !/^(?:[0-9a-f]{2})*$/.test(value)) throw corrupt(`${where} is not hex bytes`);
  return Uint8Array.from(Buffer.from(value, 'hex'));
}

function toHex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}
