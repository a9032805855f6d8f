import { type Clock, type Milliseconds, systemClock } from '../../core/clock.js';
import { isRegistryError, RegistryError } from '../../registry/errors.js';
import type { Registry, RegistryRecord } from '../../registry/registry.js';
import { KadError } from '../errors.js';
import { bytesEqual, idFromHex, idToHex, type NodeId } from '../id.js';
import { compareSeq, type Seq } from '../items.js';
import { implementing, integerAtLeast, positiveOrInfinite } from '../option-checks.js';
import { type BudgetUsage, type Evicted, RecordBudget } from './storage-budget.js';
import {
  decodeItem,
  decodePeers,
  encodeItem,
  encodePeers,
  type StoredItem,
  type StoredMutableItem,
} from './storage-records.js';

export type { StoredImmutableItem, StoredItem, StoredMutableItem } from './storage-records.js';

/** Configuration of a {@link KadStorage}. */
export interface KadStorageOptions {
  /**
   * How long an announced peer is kept after its last `announce_peer`, in ms.
   * @default 1_800_000 (30 minutes)
   * @see BEP 5
   */
  readonly peerTtlMs?: Milliseconds;
  /**
   * How long a BEP 44 item is kept after its last `put`, in ms.
   * @default 7_200_000 (2 hours)
   * @see BEP 44 "Expiration"
   */
  readonly itemTtlMs?: Milliseconds;
  /**
   * Most peers remembered per info-hash; beyond it the peer whose announcement is oldest goes.
   * One record holds them all, so this also bounds that record (27 bytes per IPv6 peer).
   * @default 200
   */
  readonly maxPeersPerInfoHash?: number;
  /**
   * Most info-hashes whose peers are kept (one record each). Peers and items have budgets of
   * their own, so a flood of `announce_peer` can never evict an item, nor a flood of `put` a
   * peer list: beyond its budget a kind loses its own record written least recently (the one
   * closest to expiry). Counted for what this storage wrote since it started.
   * @default 30_000
   */
  readonly maxInfoHashes?: number;
  /**
   * Most bytes of peer records, keys (UTF-8) and values as a `MemoryRegistry` counts them: a
   * record costs 46 bytes of key plus 15 per IPv4 or 27 per IPv6 peer. `Infinity` for no bound.
   * @default 16_777_216 (16 MiB)
   */
  readonly maxPeerBytes?: number;
  /**
   * Most BEP 44 items kept (one record each); beyond it the item put least recently goes.
   * @default 20_000
   */
  readonly maxItems?: number;
  /**
   * Most bytes of item records (keys and values; an item takes 45 bytes of key and at most
   * ~1.2 KiB of value). `Infinity` for no bound.
   * @default 16_777_216 (16 MiB)
   */
  readonly maxItemBytes?: number;
}

/** What a {@link KadStorage} holds now, per kind, as its budgets count it. */
export interface KadStorageUsage {
  /** Peer lists (one per info-hash). */
  readonly peers: BudgetUsage;
  /** BEP 44 items. */
  readonly items: BudgetUsage;
}

/** Injected collaborators of a {@link KadStorage}. */
export interface KadStorageDeps {
  /**
   * Where peers and items live: any registry (memory, Redis, sharded), bounded as its owner
   * chooses. Shared, not owned: whoever created it closes it (a node closes the in-memory
   * registry it made by default, never an injected one).
   */
  readonly registry: Registry<Uint8Array>;
  /** Source of time for expiry. @default systemClock */
  readonly clock?: Clock;
}

/** Defaults of {@link KadStorageOptions}. */
export const DEFAULT_KAD_STORAGE_OPTIONS = Object.freeze({
  peerTtlMs: 30 * 60_000,
  itemTtlMs: 2 * 60 * 60_000,
  maxPeersPerInfoHash: 200,
  maxInfoHashes: 30_000,
  maxPeerBytes: 16 * 1024 * 1024,
  maxItems: 20_000,
  maxItemBytes: 16 * 1024 * 1024,
} satisfies Required<KadStorageOptions>);

/** One stored item as {@link KadStorage.items} yields it. */
export interface StoredItemEntry {
  readonly target: NodeId;
  readonly item: StoredItem;
  /** When it expires unless put again (epoch ms); `undefined` if the registry keeps it forever. */
  readonly expiresAt: Milliseconds | undefined;
}

/**
 * Outcome of a mutable put, checked against what is stored (BEP 44):
 * `stored` (new or higher seq), `refreshed` (same seq and value: timeout reset),
 * `cas-mismatch` (301), `seq-too-low` (302: lower seq, or same seq with another value).
 */
export type MutablePutResult = 'stored' | 'refreshed' | 'cas-mismatch' | 'seq-too-low';

/** Options of {@link KadStorage.getPeers}. */
export interface GetPeersOptions {
  /** Only peers of this family: 4 (6-byte compact peers) or 6 (18-byte). */
  readonly family: 4 | 6;
  /** Most peers returned; a random subset when more are known. */
  readonly max: number;
}

const PEER_PREFIX = 'peers:';
const ITEM_PREFIX = 'item:';
const MAX_WRITE_ATTEMPTS = 4;

/**
 * The peers (`announce_peer`) and BEP 44 items (`put`) a node stores for others, kept in a
 * {@link Registry} so the same code runs on memory or Redis. All peers of one info-hash form one
 * record (`peers:<hex>`), so `get_peers` costs one registry read, and one item is one record
 * (`item:<hex>`). Read-modify-writes use the registry's `ifVersion` compare-and-set, so
 * concurrent writers (even other processes on a shared Redis) never lose an update. Peers and
 * items each stay within a budget of records and bytes (`maxInfoHashes`/`maxPeerBytes`,
 * `maxItems`/`maxItemBytes`), enforced here whatever the registry, so one kind never evicts the
 * other.
 */
export class KadStorage {
  readonly #registry: Registry<Uint8Array>;
  readonly #clock: Clock;
  readonly #peerTtlMs: Milliseconds;
  readonly #itemTtlMs: Milliseconds;
  readonly #maxPeers: number;
  readonly #peerBudget: RecordBudget;
  readonly #itemBudget: RecordBudget;

  /** @throws {KadError} `INVALID_OPTION` naming the option. */
  constructor(options: KadStorageOptions = {}, deps: KadStorageDeps) {
    const d = DEFAULT_KAD_STORAGE_OPTIONS;
    this.#peerTtlMs = integerAtLeast('peerTtlMs', options.peerTtlMs, d.peerTtlMs, 1);
    this.#itemTtlMs = integerAtLeast('itemTtlMs', options.itemTtlMs, d.itemTtlMs, 1);
    this.#maxPeers = integerAtLeast('maxPeersPerInfoHash', options.maxPeersPerInfoHash, d.maxPeersPerInfoHash, 1);
    this.#peerBudget = new RecordBudget(
      integerAtLeast('maxInfoHashes', options.maxInfoHashes, d.maxInfoHashes, 1),
      positiveOrInfinite('maxPeerBytes', options.maxPeerBytes, d.maxPeerBytes),
    );
    this.#itemBudget = new RecordBudget(
      integerAtLeast('maxItems', options.maxItems, d.maxItems, 1),
      positiveOrInfinite('maxItemBytes', options.maxItemBytes, d.maxItemBytes),
    );
    implementing('registry', deps?.registry, 'Registry', 'get');
    this.#registry = deps.registry;
    this.#clock = deps.clock ?? systemClock;
  }

  /** The registry holding the data. */
  get registry(): Registry<Uint8Array> {
    return this.#registry;
  }

  /**
   * Records that `peer` (a compact peer: 6 bytes for IPv4, 18 for IPv6) serves `infoHash`, for
   * `peerTtlMs` from now. Announcing again renews it.
   */
  async announcePeer(
    infoHash: Uint8Array,
    peer: Uint8Array,
    options: { signal?: AbortSignal | undefined } = {},
  ): Promise<void> {
    if (peer.length !== 6 && peer.length !== 18)
      throw KadError.invalidAddress('peer must be a 6- or 18-byte compact peer');
    const key = PEER_PREFIX + idToHex(infoHash);
    await this.#update(key, this.#peerBudget, options.signal, (record) => {
      const now = this.#clock.now();
      const kept = decodePeers(record?.value).filter((p) => p.expiresAt > now && !bytesEqual(p.peer, peer));
      kept.push({ peer: Uint8Array.from(peer), expiresAt: now + this.#peerTtlMs });
      // oldest announcements first, so trimming keeps the freshest
      kept.sort((a, b) => a.expiresAt - b.expiresAt);
      const live = kept.slice(Math.max(0, kept.length - this.#maxPeers));
      return { value: encodePeers(live), ttlMs: this.#peerTtlMs };
    });
  }

  /** Up to `max` live peers of `family` for `infoHash` (a random subset when more are known). */
  async getPeers(
    infoHash: Uint8Array,
    options: GetPeersOptions & { signal?: AbortSignal | undefined },
  ): Promise<Uint8Array[]> {
    const key = PEER_PREFIX + idToHex(infoHash);
    const record = await this.#registry.get(key, { signal: options.signal });
    if (record === undefined) {
      this.#peerBudget.forget(key);
      return [];
    }
    const now = this.#clock.now();
    const size = options.family === 4 ? 6 : 18;
    const peers = decodePeers(record.value)
      .filter((p) => p.expiresAt > now && p.peer.length === size)
      .map((p) => p.peer);
    return sample(peers, options.max);
  }

  /**
   * The item stored under `target`, if any.
   * @throws {RegistryError} `CODEC_ERROR` when the stored record is corrupt (a shared backend),
   *   besides the registry's own failures.
   */
  async getItem(
    target: Uint8Array,
    options: { signal?: AbortSignal | undefined } = {},
  ): Promise<StoredItem | undefined> {
    const key = ITEM_PREFIX + idToHex(target);
    const record = await this.#registry.get(key, { signal: options.signal });
    if (record === undefined) {
      this.#itemBudget.forget(key);
      return undefined;
    }
    const item = decodeItem(record.value);
    if (item === undefined) throw RegistryError.codec('stored item record is corrupt', key);
    return item;
  }

  /**
   * Stores an immutable item (the caller has checked that `target` = SHA-1(`v`)); putting it again
   * renews its `itemTtlMs`. Resolves `refreshed` when it was already stored.
   */
  async putImmutable(
    target: Uint8Array,
    v: Uint8Array,
    options: { signal?: AbortSignal | undefined } = {},
  ): Promise<'stored' | 'refreshed'> {
    const key = ITEM_PREFIX + idToHex(target);
    const record = await this.#registry.get(key, { signal: options.signal });
    const value = encodeItem({ mutable: false, v });
    await this.#write(key, this.#itemBudget, value, { ttlMs: this.#itemTtlMs, signal: options.signal });
    return record === undefined ? 'stored' : 'refreshed';
  }

  /**
   * Stores a mutable item whose signature the caller has verified, enforcing BEP 44 ordering:
   * with `cas`, the stored seq must equal it (else `cas-mismatch`); a lower seq, or the same seq
   * with another value, is `seq-too-low`; the same seq and value renews the timeout (`refreshed`).
   */
  async putMutable(
    target: Uint8Array,
    item: Omit<StoredMutableItem, 'mutable'>,
    options: { cas?: Seq | undefined; signal?: AbortSignal | undefined } = {},
  ): Promise<MutablePutResult> {
    let result: MutablePutResult = 'stored';
    await this.#update(ITEM_PREFIX + idToHex(target), this.#itemBudget, options.signal, (record) => {
      const stored = record === undefined ? undefined : decodeItem(record.value);
      if (stored?.mutable === true) {
        if (options.cas !== undefined && compareSeq(stored.seq, options.cas) !== 0) {
          return void (result = 'cas-mismatch');
        }
        const order = compareSeq(item.seq, stored.seq);
        if (order < 0) return void (result = 'seq-too-low');
        if (order === 0) {
          if (!bytesEqual(item.v, stored.v)) return void (result = 'seq-too-low');
          result = 'refreshed';
        } else result = 'stored';
      } else result = 'stored';
      return { value: encodeItem({ mutable: true, ...item }), ttlMs: this.#itemTtlMs };
    });
    return result;
  }

  /** How long an item is kept after its last `put`, ms (`itemTtlMs`). */
  get itemTtlMs(): Milliseconds {
    return this.#itemTtlMs;
  }

  /**
   * Every item stored, with its target and the deadline its last `put` gave it (a scan of the
   * registry; records that do not decode are skipped). For replication to the nodes that
   * become an item's closest.
   */
  async *items(options: { signal?: AbortSignal | undefined } = {}): AsyncGenerator<StoredItemEntry, void, undefined> {
    for await (const record of this.#registry.scan({ prefix: ITEM_PREFIX, signal: options.signal })) {
      const item = decodeItem(record.value);
      const hex = record.key.slice(ITEM_PREFIX.length);
      if (item === undefined || !/^[0-9a-f]{40}$/.test(hex)) continue;
      yield { target: idFromHex(hex), item, expiresAt: record.expiresAt };
    }
  }

  /** Peer lists and items held now, as their budgets count them (what this storage wrote). */
  usage(): KadStorageUsage {
    return { peers: this.#peerBudget.usage(), items: this.#itemBudget.usage() };
  }

  /** Number of records held (peer lists and items). */
  async size(options: { signal?: AbortSignal | undefined } = {}): Promise<number> {
    return this.#registry.size({ signal: options.signal });
  }

  /**
   * Compare-and-set loop: `change` sees the current record and returns the new value, or
   * `undefined` to leave it as is. Retries when another writer got in between.
   */
  async #update(
    key: string,
    budget: RecordBudget,
    signal: AbortSignal | undefined,
    change: (record: RegistryRecord<Uint8Array> | undefined) => { value: Uint8Array; ttlMs: Milliseconds } | undefined,
  ): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const record = await this.#registry.get(key, { signal });
      const next = change(record);
      if (next === undefined) return;
      try {
        await this.#write(key, budget, next.value, { ttlMs: next.ttlMs, ifVersion: record?.version ?? 0, signal });
        return;
      } catch (error) {
        if (!isRegistryError(error) || error.code !== 'VERSION_CONFLICT' || attempt >= MAX_WRITE_ATTEMPTS) throw error;
      }
    }
  }

  /**
   * Writes `value` under `key` within `budget`: the records of that kind written least recently
   * go first, so the registry never needs to evict another kind's record to make room.
   */
  async #write(
    key: string,
    budget: RecordBudget,
    value: Uint8Array,
    options: { ttlMs: Milliseconds; ifVersion?: number; signal: AbortSignal | undefined },
  ): Promise<void> {
    const bytes = key.length + value.length; // keys are ASCII: one byte per char
    await this.#remove(budget, budget.makeRoom(key, bytes), options.signal);
    await this.#registry.set(key, value, options);
    await this.#remove(budget, budget.written(key, bytes), options.signal);
  }

  async #remove(budget: RecordBudget, evicted: readonly Evicted[], signal: AbortSignal | undefined): Promise<void> {
    if (evicted.length === 0) return;
    try {
      await this.#registry.deleteMany(
        evicted.map(([key]) => key),
        { signal },
      );
    } catch (error) {
      budget.restore(evicted);
      throw error;
    }
  }
}

/** Up to `max` elements in random order (partial Fisher–Yates on a copy). */
function sample<T>(items: T[], max: number): T[] {
  if (items.length <= max) return items;
  const copy = items.slice();
  for (let i = 0; i < max; i++) {
    const j = i + Math.floor(Math.random() * (copy.length - i));
    [copy[i], copy[j]] = [copy[j] as T, copy[i] as T];
  }
  return copy.slice(0, max);
}
