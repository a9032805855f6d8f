/** A record a budget gave up: its key and the bytes it was counted at. */
export type Evicted = readonly [key: string, bytes: number];

/** What one kind of stored record (peer lists, or items) holds now. */
export interface BudgetUsage {
  /** Records counted. */
  readonly entries: number;
  /** Their key (UTF-8) and value bytes, as a `MemoryRegistry` counts them. */
  readonly bytes: number;
}

/**
 * The count and byte budget of one kind of record a {@link KadStorage} writes, in write order:
 * the record written least recently is the first to go. Every record of a kind lives the same
 * time after its last write, so that is also the one closest to expiry, and records that already
 * expired in the registry (still counted here until they are found missing) go before any live
 * one. About 30 bytes of heap per record (one `Map` entry; the key string is the registry's).
 * @internal
 */
export class RecordBudget {
  readonly maxEntries: number;
  readonly maxBytes: number;
  // key → bytes, least recently written first
  // created on first use, and dropped when empty again: a budget with nothing stored holds no map
  #sizesStore: Map<string, number> | undefined;
  get #sizes(): Map<string, number> {
    return (this.#sizesStore ??= new Map());
  }
  #bytes = 0;

  constructor(maxEntries: number, maxBytes: number) {
    this.maxEntries = maxEntries;
    this.maxBytes = maxBytes;
  }

  /** Records counted now, and their bytes. */
  usage(): BudgetUsage {
    return { entries: this.#sizesStore?.size ?? 0, bytes: this.#bytes };
  }

  /**
   * The records to remove, least recently written first, so that `key` written at `bytes` stays
   * within the budget; they are no longer counted (see {@link restore} if removing fails). Never
   * `key` itself: a record larger than `maxBytes` alone is kept.
   */
  makeRoom(key: string, bytes: number): Evicted[] {
    const current = this.#sizes.get(key);
    return this.#evict(this.#sizes.size + (current === undefined ? 1 : 0), this.#bytes - (current ?? 0) + bytes, key);
  }

  /**
   * Counts `key` at `bytes` as the record written last; returns what must go when concurrent
   * writes overran the budget since their {@link makeRoom}.
   */
  written(key: string, bytes: number): Evicted[] {
    this.forget(key);
    this.#sizes.set(key, bytes);
    this.#bytes += bytes;
    return this.#evict(this.#sizes.size, this.#bytes, key);
  }

  /** Stops counting `key`: it is gone from the registry (read as absent, or removed). */
  forget(key: string): void {
    const current = this.#sizesStore?.get(key);
    if (current === undefined) return;
    this.#sizes.delete(key);
    this.#bytes -= current;
    if (this.#sizes.size === 0) this.#sizesStore = undefined;
  }

  /** Counts again records whose removal failed, as the newest (their age is lost). */
  restore(evicted: readonly Evicted[]): void {
    for (const [key, bytes] of evicted) {
      if (this.#sizes.has(key)) continue;
      this.#sizes.set(key, bytes);
      this.#bytes += bytes;
    }
  }

  #evict(entries: number, bytes: number, keep: string): Evicted[] {
    const out: Evicted[] = [];
    for (const [key, size] of this.#sizes) {
      if (entries <= this.maxEntries && bytes <= this.maxBytes) break;
      if (key === keep) continue;
      this.#sizes.delete(key);
      this.#bytes -= size;
      entries--;
      bytes -= size;
      out.push([key, size]);
    }
    return out;
  }
}
