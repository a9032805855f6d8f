import { LRUCache } from 'lru-cache';
import type { Milliseconds } from '../../core/clock.js';

/** What the coordinator remembers of one logical record. */
export interface IndexEntry {
  /** UTF-8 key bytes plus value bytes. */
  readonly bytes: number;
  readonly version: number;
  /** Absolute deadline (epoch ms), 0 for none. */
  readonly expiresAt: Milliseconds;
}

/** An entry as the index holds it: only the index changes it (see {@link KeyIndex.renew}). */
type StoredEntry = { -readonly [K in keyof IndexEntry]: IndexEntry[K] };

/** A record the index pushed out for capacity; the registry deletes it from its shards. */
export interface IndexVictim {
  readonly key: string;
  readonly entry: IndexEntry;
}

/**
 * The coordinator-level key index of a sharded registry: an LRU over logical records (replicas
 * counted once) that enforces the global `maxEntries` / `maxBytes`, and remembers which keys
 * exist so that a lost shard's records can be reported. Costs one lru-cache entry plus one small
 * object per key (about 150 bytes).
 */
export class KeyIndex {
  readonly #lru: LRUCache<string, StoredEntry> | undefined;
  readonly #map: Map<string, StoredEntry> | undefined;
  readonly #victims: IndexVictim[] = [];
  #bytes = 0;

  constructor(maxEntries: number, maxBytes: number) {
    if (maxEntries === Number.POSITIVE_INFINITY && maxBytes === Number.POSITIVE_INFINITY) {
      // tracking only: nothing to evict
      this.#map = new Map();
      return;
    }
    const dispose = (entry: StoredEntry, key: string, reason: LRUCache.DisposeReason): void => {
      this.#bytes -= entry.bytes;
      if (reason === 'evict') this.#victims.push({ key, entry });
    };
    const sizeCalculation = (e: StoredEntry): number => Math.max(1, e.bytes);
    const base = { noDisposeOnSet: true, dispose };
    if (maxBytes === Number.POSITIVE_INFINITY)
      this.#lru = new LRUCache<string, StoredEntry>({ ...base, max: maxEntries });
    else if (maxEntries === Number.POSITIVE_INFINITY)
      this.#lru = new LRUCache<string, StoredEntry>({ ...base, maxSize: maxBytes, sizeCalculation });
    else
      this.#lru = new LRUCache<string, StoredEntry>({ ...base, max: maxEntries, maxSize: maxBytes, sizeCalculation });
  }

  /** Number of keys indexed. */
  get size(): number {
    return this.#lru?.size ?? this.#map?.size ?? 0;
  }

  /** Key plus value bytes indexed. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Records a write (most recently used); evicted records are collected for {@link takeVictims}. */
  set(key: string, entry: IndexEntry): void {
    const old = this.peek(key);
    if (old !== undefined) this.#bytes -= old.bytes;
    this.#bytes += entry.bytes;
    if (this.#lru !== undefined) this.#lru.set(key, entry);
    else this.#map?.set(key, entry);
  }

  /** Marks a read: the record becomes the most recently used. */
  touch(key: string): IndexEntry | undefined {
    return this.#lru !== undefined ? this.#lru.get(key) : this.#map?.get(key);
  }

  /** A `touch` that renewed `key` until `expiresAt`: marks it most recently used with its new deadline. */
  renew(key: string, expiresAt: Milliseconds): void {
    const entry = this.#lru !== undefined ? this.#lru.get(key) : this.#map?.get(key);
    if (entry !== undefined) entry.expiresAt = expiresAt;
  }

  /** The entry without changing recency. */
  peek(key: string): IndexEntry | undefined {
    return this.#lru !== undefined ? this.#lru.peek(key) : this.#map?.get(key);
  }

  /** Forgets `key` (a removal the registry already reports). */
  delete(key: string): void {
    if (this.#lru !== undefined) {
      this.#lru.delete(key);
      return;
    }
    const old = this.#map?.get(key);
    if (old === undefined) return;
    this.#bytes -= old.bytes;
    this.#map?.delete(key);
  }

  /** Forgets everything. */
  clear(): void {
    this.#lru?.clear();
    this.#map?.clear();
    this.#bytes = 0;
    this.#victims.length = 0;
  }

  /** Every indexed key (a snapshot). */
  keys(): string[] {
    return [...(this.#lru?.keys() ?? this.#map?.keys() ?? [])];
  }

  /** Takes the records pushed out since the last call. */
  takeVictims(): IndexVictim[] {
    return this.#victims.splice(0, this.#victims.length);
  }
}
