import type { RegistryRecord } from '../registry.js';

/**
 * Heap cost of one near copy besides its key and value bytes, measured on Node 20 (x64) with
 * 100 000 copies of 64 B values: ~525 B — the `Uint8Array` with its `ArrayBuffer` ~210, the
 * record ~120, the entry ~145, its settled promise ~50, the map slot ~30.
 */
export const NEAR_ENTRY_OVERHEAD_BYTES = 528;

/** A copy of a far record held by a {@link NearCache}. @internal */
export interface NearEntry {
  readonly key: string;
  /** The far record as it was read or written (frozen; its value is shared, read-only). */
  readonly record: RegistryRecord;
  /** A settled promise of `record`: what every hit answers, so that a hit allocates nothing. */
  readonly answer: Promise<RegistryRecord>;
  /** When it was read from (or written to) the far tier, epoch ms by the tier's clock. */
  readonly fetchedAt: number;
  /** Served as fresh before this instant: `fetchedAt + nearTtlMs`, or the record's deadline if sooner. */
  readonly freshUntil: number;
  /** Held (for `serveStaleMs`) before this instant, never past the record's deadline. */
  readonly holdUntil: number;
  /** What it counts against `maxBytes`. */
  readonly bytes: number;
  prev: NearEntry | undefined;
  next: NearEntry | undefined;
}

/**
 * The near tier of a `TieredRegistry`: decoded copies of far records in one `Map`, with a
 * recency list threaded through the entries (most recent at the head), bounded by count and by
 * estimated bytes. Nothing is preallocated: memory follows what is held. Deadlines are the
 * caller's to check at read time (it holds the clock); entries past `holdUntil` are dropped when
 * met — on a read, or at the cold end of the list when a copy is added. @internal
 */
export class NearCache {
  readonly #entries = new Map<string, NearEntry>();
  readonly #maxEntries: number;
  readonly #maxBytes: number;
  #head: NearEntry | undefined;
  #tail: NearEntry | undefined;
  #bytes = 0;

  constructor(maxEntries: number, maxBytes: number) {
    this.#maxEntries = maxEntries;
    this.#maxBytes = maxBytes;
  }

  /** Copies held. */
  get size(): number {
    return this.#entries.size;
  }

  /** Estimated bytes held (keys, values, {@link NEAR_ENTRY_OVERHEAD_BYTES} each). */
  get bytes(): number {
    return this.#bytes;
  }

  /** The copy of `key`, without marking it used. */
  peek(key: string): NearEntry | undefined {
    return this.#entries.get(key);
  }

  /** Marks `entry` (held) as the most recently used. */
  use(entry: NearEntry): void {
    if (entry === this.#head) return;
    this.#unlink(entry);
    this.#pushHead(entry);
  }

  /**
   * Holds `record` as the copy of `key` (replacing any) until `holdUntil`; a record larger than the
   * whole budget is not held. Evicts least recently used copies to stay within the bounds.
   */
  put(key: string, record: RegistryRecord, fetchedAt: number, freshUntil: number, holdUntil: number): void {
    this.delete(key);
    // a view into a larger buffer (a decoded reply) would keep all of it alive: copy the bytes
    const value = record.value.byteLength < record.value.buffer.byteLength ? record.value.slice() : record.value;
    const bytes = NEAR_ENTRY_OVERHEAD_BYTES + 2 * key.length + value.byteLength;
    if (bytes > this.#maxBytes) return;
    // built field by field: a spread with `value` overridden makes a slow object of 240 B more
    const copy: RegistryRecord = Object.freeze({
      key: record.key,
      value,
      version: record.version,
      expiresAt: record.expiresAt,
      createdAt: record.createdAt,
      updatedAt: record.updatedAt,
    });
    const entry: NearEntry = {
      key,
      record: copy,
      answer: Promise.resolve(copy),
      fetchedAt,
      freshUntil,
      holdUntil,
      bytes,
      prev: undefined,
      next: undefined,
    };
    this.#entries.set(key, entry);
    this.#pushHead(entry);
    this.#bytes += bytes;
    this.#dropExpiredTail(fetchedAt);
    while (this.#entries.size > this.#maxEntries || this.#bytes > this.#maxBytes) {
      this.delete((this.#tail as NearEntry).key);
    }
  }

  /** Drops the copy of `key`, if held. */
  delete(key: string): void {
    const entry = this.#entries.get(key);
    if (entry === undefined) return;
    this.#entries.delete(key);
    this.#unlink(entry);
    this.#bytes -= entry.bytes;
  }

  /** Drops every copy. */
  clear(): void {
    this.#entries.clear();
    this.#head = undefined;
    this.#tail = undefined;
    this.#bytes = 0;
  }

  /** Up to two copies past `holdUntil` at the cold end: what a write pays to keep expired copies from piling up. */
  #dropExpiredTail(now: number): void {
    for (let i = 0; i < 2; i++) {
      const tail = this.#tail;
      if (tail === undefined || tail.holdUntil > now) return;
      this.delete(tail.key);
    }
  }

  #pushHead(entry: NearEntry): void {
    entry.prev = undefined;
    entry.next = this.#head;
    if (this.#head === undefined) this.#tail = entry;
    else this.#head.prev = entry;
    this.#head = entry;
  }

  #unlink(entry: NearEntry): void {
    const { prev, next } = entry;
    if (prev === undefined) {
      if (this.#head === entry) this.#head = next;
    } else prev.next = next;
    if (next === undefined) {
      if (this.#tail === entry) this.#tail = prev;
    } else next.prev = prev;
    entry.prev = undefined;
    entry.next = undefined;
  }
}
