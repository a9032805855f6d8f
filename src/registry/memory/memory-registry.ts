import { Emitter } from '../../core/emitter.js';
import { LRUCache } from 'lru-cache';
import { type Clock, type Milliseconds, systemClock, type Timer } from '../../core/clock.js';
import { RegistryError } from '../errors.js';
import { type RegistryEvents, type RemovalReason } from '../events.js';
import {
  type MemoryRegistryDeps,
  type MemoryRegistryOptions,
  type MemoryRegistryStats,
  resolveMemoryOptions,
} from './options.js';
import { RecordSlots } from './record-slots.js';
import type {
  DeleteOptions,
  OperationOptions,
  Registry,
  RegistryRecord,
  RestoreOptions,
  RestoreResult,
  ScanOptions,
  SetEntry,
  SetOptions,
} from '../registry.js';
import {
  checkEntries,
  checkKey,
  checkKeys,
  checkRestore,
  checkSignal,
  checkTtl,
  checkVersion,
  checkWrite,
  isNewer,
  utf8Length,
} from '../validation.js';

// Expired records removed by a write before it stores: keeps them from crowding out live
// records under capacity pressure, at a bounded cost per write.
const SWEEP_PER_WRITE = 8;

/**
 * An in-memory {@link Registry} on `lru-cache`: per-record TTL, true LRU eviction by count and
 * bytes, and an own expiry sweeper of bounded cost per run.
 *
 * Values are stored by reference: the registry takes ownership of the bytes passed to `set`,
 * and returned values must be treated as read-only.
 */
export class MemoryRegistry extends Emitter<RegistryEvents> implements Registry<Uint8Array> {
  readonly #options: Required<MemoryRegistryOptions>;
  readonly #clock: Clock;
  readonly #lru: LRUCache<string, number>;
  readonly #slots: RecordSlots;
  #bytes = 0;
  #closed = false;
  #sweepTimer: Timer | undefined;
  #hits = 0;
  #misses = 0;
  #sets = 0;
  #deletes = 0;
  #evictions = 0;
  #expirations = 0;

  constructor(options: MemoryRegistryOptions = {}, deps: MemoryRegistryDeps = {}) {
    super(deps.onListenerError);
    this.#options = resolveMemoryOptions(options);
    this.#clock = deps.clock ?? systemClock;
    const { maxEntries } = this.#options;
    // one spare slot: a new record takes its slot before lru-cache evicts the one it replaces
    this.#slots = new RecordSlots(Math.min(1024, maxEntries + 1), maxEntries + 1);
    this.#lru = new LRUCache<string, number>({
      max: maxEntries,
      dispose: (slot, key, reason) => {
        // lru-cache only decides evictions; every other removal is done and reported here
        if (reason === 'evict') this.#evicted(key, slot);
      },
    });
  }

  /** The effective configuration. */
  get options(): Readonly<Required<MemoryRegistryOptions>> {
    return this.#options;
  }

  /** Counters since construction, and current entries and bytes. */
  stats(): MemoryRegistryStats {
    return {
      hits: this.#hits,
      misses: this.#misses,
      sets: this.#sets,
      deletes: this.#deletes,
      evictions: this.#evictions,
      expirations: this.#expirations,
      entries: this.#lru.size,
      bytes: this.#bytes,
    };
  }

  async get(key: string, options?: OperationOptions): Promise<RegistryRecord | undefined> {
    this.#enter(options?.signal);
    checkKey(key, this.#options.maxKeyBytes);
    return this.#get(key);
  }

  async has(key: string, options?: OperationOptions): Promise<boolean> {
    this.#enter(options?.signal);
    checkKey(key, this.#options.maxKeyBytes);
    return this.#live(key, this.#lru.peek(key)) !== undefined;
  }

  async set(key: string, value: Uint8Array, options?: SetOptions): Promise<RegistryRecord> {
    this.#enter(options?.signal);
    const ttlMs = options?.ttlMs;
    const ifVersion = options?.ifVersion;
    const bytes = checkWrite(this.#options, key, value, ttlMs);
    if (ifVersion !== undefined) checkVersion(ifVersion);
    return this.#set(key, value, ttlMs, ifVersion, bytes, true);
  }

  async restore(record: RegistryRecord, options?: RestoreOptions): Promise<RestoreResult> {
    this.#enter(options?.signal);
    const bytes = checkRestore(this.#options, record, options?.ifNewer);
    const { key, value, version, createdAt, updatedAt, expiresAt } = record;
    const slots = this.#slots;
    const now = this.#clock.now();
    if (expiresAt !== undefined && expiresAt <= now) return 'kept';
    if (slots.due(now) !== -1) this.#sweep(now, SWEEP_PER_WRITE);
    let slot = this.#live(key, this.#lru.peek(key), now);
    if (slot !== undefined && options?.ifNewer !== false) {
      if (!isNewer(version, updatedAt, slots.versions[slot] ?? 0, slots.updatedAt[slot] ?? 0)) return 'kept';
    }
    if (slot === undefined) {
      slot = slots.allocate();
      slots.keys[slot] = key;
      this.#bytes += bytes;
      slots.values[slot] = value;
      this.#lru.set(key, slot); // may evict the least recently used record
    } else {
      this.#bytes += value.byteLength - (slots.values[slot]?.byteLength ?? 0);
      slots.values[slot] = value;
      this.#lru.get(key); // a use, like set
    }
    slots.versions[slot] = version;
    slots.createdAt[slot] = createdAt;
    slots.updatedAt[slot] = updatedAt;
    slots.setDeadline(slot, expiresAt ?? 0);
    if (expiresAt !== undefined) this.#scheduleSweep();
    this.#enforceBytes();
    this.#sets++;
    if (this.listening('record:set')) this.emit('record:set', { key, version, expiresAt });
    return 'written';
  }

  async delete(key: string, options?: DeleteOptions): Promise<boolean> {
    this.#enter(options?.signal);
    checkKey(key, this.#options.maxKeyBytes);
    const ifVersion = options?.ifVersion;
    if (ifVersion !== undefined) checkVersion(ifVersion);
    const slot = this.#live(key, this.#lru.peek(key));
    const version = slot === undefined ? 0 : (this.#slots.versions[slot] ?? 0);
    if (ifVersion !== undefined && ifVersion !== version) throw RegistryError.versionConflict(key, ifVersion, version);
    if (slot === undefined) return false;
    this.#lru.delete(key);
    this.#removed(key, slot, 'delete');
    return true;
  }

  async touch(key: string, ttlMs: Milliseconds, options?: OperationOptions): Promise<boolean> {
    this.#enter(options?.signal);
    checkKey(key, this.#options.maxKeyBytes);
    checkTtl(ttlMs);
    const slot = this.#live(key, this.#lru.get(key));
    if (slot === undefined) return false;
    this.#slots.setDeadline(slot, this.#clock.now() + ttlMs);
    this.#scheduleSweep();
    return true;
  }

  async getMany(keys: readonly string[], options?: OperationOptions): Promise<(RegistryRecord | undefined)[]> {
    this.#enter(options?.signal);
    checkKeys(keys, this.#options.maxKeyBytes);
    return keys.map((key) => this.#get(key));
  }

  async setMany(entries: readonly SetEntry[], options?: OperationOptions): Promise<RegistryRecord[]> {
    this.#enter(options?.signal);
    const sizes = checkEntries(this.#options, entries);
    // what the batch leaves behind: the last write of each key
    const final = new Map<string, number>();
    entries.forEach((e, i) => final.set(e.key, sizes[i] ?? 0));
    if (final.size > this.#options.maxEntries) {
      throw RegistryError.capacityExceeded(
        `batch of ${final.size} keys exceeds maxEntries ${this.#options.maxEntries}`,
      );
    }
    let total = 0;
    for (const bytes of final.values()) total += bytes;
    if (total > this.#options.maxBytes) {
      throw RegistryError.capacityExceeded(`batch of ${total} bytes exceeds maxBytes ${this.#options.maxBytes}`);
    }
    this.#checkVersionRoom(entries, final.keys());
    // bytes are enforced once for the whole batch: an entry of the batch is never evicted by a
    // later entry of the same batch (the batch's final state fits, checked above)
    const records = entries.map((e, i) => this.#set(e.key, e.value, e.ttlMs, undefined, sizes[i] ?? 0, false));
    this.#enforceBytes();
    return records;
  }

  async deleteMany(keys: readonly string[], options?: OperationOptions): Promise<number> {
    this.#enter(options?.signal);
    checkKeys(keys, this.#options.maxKeyBytes);
    let removed = 0;
    for (const key of keys) {
      const slot = this.#live(key, this.#lru.peek(key));
      if (slot === undefined) continue;
      this.#lru.delete(key);
      this.#removed(key, slot, 'delete');
      removed++;
    }
    return removed;
  }

  async *scan(options: ScanOptions = {}): AsyncIterableIterator<RegistryRecord> {
    const { prefix = '', signal } = options;
    this.#enter(signal);
    if (typeof prefix !== 'string') throw RegistryError.invalidOption('prefix must be a string');
    // a snapshot of matching keys: concurrent writes cannot make the walk skip or repeat a key
    const keys: string[] = [];
    for (const key of this.#lru.keys()) if (key.startsWith(prefix)) keys.push(key);
    for (const key of keys) {
      this.#enter(signal);
      const slot = this.#live(key, this.#lru.peek(key));
      if (slot !== undefined) yield this.#record(key, slot);
    }
  }

  async size(options?: OperationOptions): Promise<number> {
    this.#enter(options?.signal);
    this.#sweep(this.#clock.now(), Number.POSITIVE_INFINITY);
    return this.#lru.size;
  }

  async clear(options?: OperationOptions): Promise<void> {
    this.#enter(options?.signal);
    if (this.listening('record:removed')) {
      const versions = this.#slots.versions;
      for (const [key, slot] of this.#lru.entries()) {
        this.emit('record:removed', { key, reason: 'clear', version: versions[slot] ?? 0 });
      }
    }
    this.#dropAll();
  }

  async close(_options?: OperationOptions): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#dropAll();
  }

  #enter(signal: AbortSignal | undefined): void {
    if (this.#closed) throw RegistryError.closed();
    if (signal !== undefined) checkSignal(signal);
  }

  /**
   * Rejects a batch with `VERSION_EXHAUSTED` before it writes anything if it would take a key's
   * version past `Number.MAX_SAFE_INTEGER` (a key repeated n times adds n).
   */
  #checkVersionRoom(entries: readonly SetEntry[], keys: Iterable<string>): void {
    const slots = this.#slots;
    const now = this.#clock.now();
    const room = Number.MAX_SAFE_INTEGER - entries.length;
    for (const key of keys) {
      const slot = this.#lru.peek(key);
      if (slot === undefined) continue;
      const version = slots.versions[slot] ?? 0;
      const deadline = slots.expiresAt[slot] ?? 0;
      // only a version within the batch's length of the limit needs counting
      if (version <= room || (deadline !== 0 && deadline <= now)) continue;
      const writes = entries.reduce((n, e) => (e.key === key ? n + 1 : n), 0);
      if (version > Number.MAX_SAFE_INTEGER - writes) throw RegistryError.versionExhausted(key, version);
    }
  }

  #get(key: string): RegistryRecord | undefined {
    const slot = this.#live(key, this.#lru.get(key));
    if (slot === undefined) {
      this.#misses++;
      return undefined;
    }
    this.#hits++;
    return this.#record(key, slot);
  }

  #set(
    key: string,
    value: Uint8Array,
    ttlMs: Milliseconds | undefined,
    ifVersion: number | undefined,
    bytes: number,
    enforceBytes: boolean,
  ): RegistryRecord {
    const slots = this.#slots;
    const now = this.#clock.now();
    if (slots.due(now) !== -1) this.#sweep(now, SWEEP_PER_WRITE);
    let slot = this.#live(key, this.#lru.get(key), now);
    const version = slot === undefined ? 0 : (slots.versions[slot] ?? 0);
    if (ifVersion !== undefined && ifVersion !== version) throw RegistryError.versionConflict(key, ifVersion, version);
    if (version === Number.MAX_SAFE_INTEGER) throw RegistryError.versionExhausted(key, version);
    if (slot === undefined) {
      slot = slots.allocate();
      slots.keys[slot] = key;
      slots.values[slot] = value;
      slots.versions[slot] = 1;
      slots.createdAt[slot] = now;
      this.#bytes += bytes;
      this.#lru.set(key, slot); // may evict the least recently used record
    } else {
      this.#bytes += value.byteLength - (slots.values[slot]?.byteLength ?? 0);
      slots.values[slot] = value;
      slots.versions[slot] = version + 1;
    }
    slots.updatedAt[slot] = now;
    slots.setDeadline(slot, ttlMs === undefined ? 0 : now + ttlMs);
    if (ttlMs !== undefined) this.#scheduleSweep();
    if (enforceBytes) this.#enforceBytes();
    this.#sets++;
    if (this.listening('record:set')) {
      this.emit('record:set', { key, version: version + 1, expiresAt: ttlMs === undefined ? undefined : now + ttlMs });
    }
    return this.#record(key, slot);
  }

  /** Evicts least recently used records until the byte budget holds. */
  #enforceBytes(): void {
    // the records just written are the most recently used, so they are popped last
    while (this.#bytes > this.#options.maxBytes) this.#lru.pop();
  }

  /** `slot` if it holds a live record, else `undefined` (removing it first if it expired). */
  #live(key: string, slot: number | undefined, now?: number): number | undefined {
    if (slot === undefined) return undefined;
    const deadline = this.#slots.expiresAt[slot] ?? 0;
    if (deadline === 0 || deadline > (now ?? this.#clock.now())) return slot;
    this.#lru.delete(key);
    this.#removed(key, slot, 'expire');
    return undefined;
  }

  #record(key: string, slot: number): RegistryRecord {
    const s = this.#slots;
    const expiresAt = s.expiresAt[slot] ?? 0;
    return {
      key,
      value: s.values[slot] as Uint8Array,
      version: s.versions[slot] ?? 0,
      expiresAt: expiresAt === 0 ? undefined : expiresAt,
      createdAt: s.createdAt[slot] ?? 0,
      updatedAt: s.updatedAt[slot] ?? 0,
    };
  }

  /** lru-cache evicted `key`: an expired record leaving under pressure is reported as expired. */
  #evicted(key: string, slot: number): void {
    const deadline = this.#slots.expiresAt[slot] ?? 0;
    const expired = deadline !== 0 && deadline <= this.#clock.now();
    this.#removed(key, slot, expired ? 'expire' : 'evict');
  }

  /** Bookkeeping for a record that already left the LRU: bytes, slot, counters, one event. */
  #removed(key: string, slot: number, reason: RemovalReason): void {
    const slots = this.#slots;
    this.#bytes -= utf8Length(key) + (slots.values[slot]?.byteLength ?? 0);
    const version = slots.versions[slot] ?? 0;
    slots.release(slot);
    if (reason === 'delete') this.#deletes++;
    else if (reason === 'expire') this.#expirations++;
    else if (reason === 'evict') this.#evictions++;
    if (this.listening('record:removed')) this.emit('record:removed', { key, reason, version });
  }

  /** Removes up to `limit` records whose deadline is at or before `now`. */
  #sweep(now: number, limit: number): number {
    const slots = this.#slots;
    let removed = 0;
    for (let slot = slots.due(now); slot !== -1 && removed < limit; slot = slots.due(now)) {
      const key = slots.keys[slot] as string;
      this.#lru.delete(key);
      this.#removed(key, slot, 'expire');
      removed++;
    }
    return removed;
  }

  #scheduleSweep(): void {
    if (this.#sweepTimer !== undefined || this.#closed) return;
    this.#sweepTimer = this.#clock.setTimeout(() => this.#sweepTick(), this.#options.sweepIntervalMs);
  }

  #sweepTick(): void {
    this.#sweepTimer = undefined;
    if (this.#closed) return;
    const { sweepBatchSize, sweepIntervalMs } = this.#options;
    const now = this.#clock.now();
    const removed = this.#sweep(now, sweepBatchSize);
    if (this.#slots.scheduled === 0) return;
    // a full batch means more may be due: continue on the next turn instead of waiting
    const delay = removed === sweepBatchSize && this.#slots.due(now) !== -1 ? 0 : sweepIntervalMs;
    this.#sweepTimer = this.#clock.setTimeout(() => this.#sweepTick(), delay);
  }

  #dropAll(): void {
    this.#sweepTimer?.cancel();
    this.#sweepTimer = undefined;
    this.#lru.clear();
    this.#slots.reset();
    this.#bytes = 0;
  }
}
