import { Emitter } from '../../core/emitter.js';
import { type Clock, type Milliseconds, systemClock } from '../../core/clock.js';
import { RegistryError } from '../errors.js';
import { type RegistryEvents, type RemovalReason } from '../events.js';
import {
  type MemoryRegistryDeps,
  type MemoryRegistryOptions,
  type MemoryRegistryStats,
  resolveMemoryOptions,
} from './options.js';
import { RecordSlots } from './record-slots.js';
import { ExpirySweeper } from './expiry-sweeper.js';
import { ChangeLog, Removal } from '../change-log.js';
import type {
  DeleteOptions,
  OperationOptions,
  Registry,
  RegistryChange,
  RegistryRecord,
  RestoreOptions,
  RestoreResult,
  ScanOptions,
  SetEntry,
  SetOptions,
  WatchOptions,
} from '../registry.js';
import {
  checkEntries,
  checkKey,
  checkKeys,
  checkOpen,
  checkRestore,
  checkTtl,
  checkVersion,
  checkWrite,
  isNewer,
  utf8Length,
} from '../validation.js';

// Expired records removed by a write before it stores: keeps them from crowding out live
// records under capacity pressure, at a bounded cost per write.
const SWEEP_PER_WRITE = 8;

function noFeed(): never {
  throw RegistryError.invalidOption('this MemoryRegistry keeps no change feed (changeHistory is 0)');
}

/** One write as {@link MemoryRegistry} `#set` takes it, validated. */
interface Write {
  readonly key: string;
  readonly value: Uint8Array;
  readonly ttlMs: Milliseconds | undefined;
  readonly ifVersion: number | undefined;
  /** UTF-8 key bytes plus value bytes. */
  readonly bytes: number;
  /** Evict for `maxBytes` right after this write; a batch does it once at its end instead. */
  readonly enforceBytes: boolean;
}

/**
 * An in-memory {@link Registry}: per-record TTL, true LRU eviction by count and bytes, and an
 * own expiry sweeper of bounded cost per run. Records live in typed arrays that grow with what
 * is held (see {@link RecordSlots}), so an empty registry costs a few KiB whatever `maxEntries`
 * allows.
 *
 * Values are stored by reference: the registry takes ownership of the bytes passed to `set`,
 * and returned values must be treated as read-only.
 */
export class MemoryRegistry extends Emitter<RegistryEvents> implements Registry<Uint8Array> {
  readonly #options: Required<MemoryRegistryOptions>;
  readonly #clock: Clock;
  readonly #slots: RecordSlots;
  readonly #changes: ChangeLog | undefined;
  #bytes = 0;
  #closed = false;
  readonly #sweeper: ExpirySweeper;
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
    this.#slots = new RecordSlots(this.#options.maxEntries);
    const history = this.#options.changeHistory;
    this.#changes = history === 0 ? undefined : new ChangeLog(history);
    this.#sweeper = new ExpirySweeper({
      clock: this.#clock,
      slots: this.#slots,
      intervalMs: this.#options.sweepIntervalMs,
      batchSize: this.#options.sweepBatchSize,
      sweep: (now, limit) => this.#sweep(now, limit),
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
      entries: this.#slots.size,
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
    return this.#live(this.#slots.find(key)) !== undefined;
  }

  async set(key: string, value: Uint8Array, options?: SetOptions): Promise<RegistryRecord> {
    this.#enter(options?.signal);
    const ttlMs = options?.ttlMs;
    const ifVersion = options?.ifVersion;
    const bytes = checkWrite(this.#options, key, value, ttlMs);
    if (ifVersion !== undefined) checkVersion(ifVersion);
    return this.#set({ key, value, ttlMs, ifVersion, bytes, enforceBytes: true });
  }

  async restore(record: RegistryRecord, options?: RestoreOptions): Promise<RestoreResult> {
    this.#enter(options?.signal);
    const bytes = checkRestore(this.#options, record, options?.ifNewer);
    const { key, value, version, createdAt, updatedAt, expiresAt } = record;
    const slots = this.#slots;
    const now = this.#clock.now();
    if (expiresAt !== undefined && expiresAt <= now) return 'kept';
    if (slots.due(now) !== -1) this.#sweep(now, SWEEP_PER_WRITE);
    const live = this.#live(slots.find(key), now);
    if (live !== undefined && options?.ifNewer !== false) {
      if (!isNewer(version, updatedAt, slots.version(live), slots.updatedAt(live))) return 'kept';
    }
    const slot = this.#put(key, value, bytes, live);
    slots.stamp(slot, version, createdAt, updatedAt);
    slots.setDeadline(slot, expiresAt ?? 0);
    if (expiresAt !== undefined) this.#sweeper.schedule();
    this.#enforceBytes();
    this.#sets++;
    this.#changes?.append(this.#record(slot));
    if (this.listening('record:set')) this.emit('record:set', { key, version, expiresAt });
    return 'written';
  }

  async delete(key: string, options?: DeleteOptions): Promise<boolean> {
    this.#enter(options?.signal);
    checkKey(key, this.#options.maxKeyBytes);
    const ifVersion = options?.ifVersion;
    if (ifVersion !== undefined) checkVersion(ifVersion);
    const slot = this.#live(this.#slots.find(key));
    const version = slot === undefined ? 0 : this.#slots.version(slot);
    if (ifVersion !== undefined && ifVersion !== version) throw RegistryError.versionConflict(key, ifVersion, version);
    if (slot === undefined) return false;
    this.#removed(slot, 'delete');
    return true;
  }

  async touch(key: string, ttlMs: Milliseconds, options?: OperationOptions): Promise<boolean> {
    this.#enter(options?.signal);
    checkKey(key, this.#options.maxKeyBytes);
    checkTtl(ttlMs);
    const slot = this.#live(this.#slots.find(key));
    if (slot === undefined) return false;
    this.#slots.use(slot);
    this.#slots.setDeadline(slot, this.#clock.now() + ttlMs);
    this.#sweeper.schedule();
    this.#changes?.append(this.#record(slot));
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
    const records = entries.map(({ key, value, ttlMs }, i) =>
      this.#set({ key, value, ttlMs, ifVersion: undefined, bytes: sizes[i] ?? 0, enforceBytes: false }),
    );
    this.#enforceBytes();
    return records;
  }

  async deleteMany(keys: readonly string[], options?: OperationOptions): Promise<number> {
    this.#enter(options?.signal);
    checkKeys(keys, this.#options.maxKeyBytes);
    let removed = 0;
    for (const key of keys) {
      const slot = this.#live(this.#slots.find(key));
      if (slot === undefined) continue;
      this.#removed(slot, 'delete');
      removed++;
    }
    return removed;
  }

  async *scan(options: ScanOptions = {}): AsyncIterableIterator<RegistryRecord> {
    const { prefix = '', signal } = options;
    this.#enter(signal);
    if (typeof prefix !== 'string') throw RegistryError.invalidOption('prefix must be a string');
    // a snapshot of matching keys: concurrent writes cannot make the walk skip or repeat a key
    const slots = this.#slots;
    const keys: string[] = [];
    for (const slot of slots.newestFirst()) {
      const key = slots.keys[slot] as string;
      if (key.startsWith(prefix)) keys.push(key);
    }
    for (const key of keys) {
      this.#enter(signal);
      const slot = this.#live(slots.find(key));
      if (slot !== undefined) yield this.#record(slot);
    }
  }

  /**
   * The feed of {@link Registry.watch}, read from the last `changeHistory` changes: every
   * write, `touch` and `restore` as `set`; every removal with its reason — `delete`, `clear`,
   * `evict` (capacity) and `expire` (when the sweeper, a read or a write meets the expired
   * record: at most `sweepIntervalMs` after its deadline while it is not read). A watch buffers
   * nothing of its own; one more than `changeHistory` changes behind rejects with `COMPACTED`.
   */
  watch(options: WatchOptions = {}): AsyncIterableIterator<RegistryChange> {
    const changes = this.#changes;
    if (changes === undefined)
      return (async function* () {
        yield noFeed();
      })();
    return changes.watch(options, () => this.#closed);
  }

  async cursor(options?: OperationOptions): Promise<string> {
    this.#enter(options?.signal);
    return (this.#changes ?? noFeed()).cursor();
  }

  async size(options?: OperationOptions): Promise<number> {
    this.#enter(options?.signal);
    this.#sweep(this.#clock.now(), Number.POSITIVE_INFINITY);
    return this.#slots.size;
  }

  async clear(options?: OperationOptions): Promise<void> {
    this.#enter(options?.signal);
    const slots = this.#slots;
    const listening = this.listening('record:removed');
    for (const slot of slots.newestFirst()) {
      const removed = { key: slots.keys[slot] as string, reason: 'clear', version: slots.version(slot) } as const;
      this.#changes?.append(new Removal(removed.key, removed.version, 'clear'));
      if (listening) this.emit('record:removed', removed);
    }
    this.#dropAll();
  }

  async close(_options?: OperationOptions): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#sweeper.stop();
    this.#dropAll();
    this.#changes?.wakeAll();
  }

  #enter(signal: AbortSignal | undefined): void {
    checkOpen(this.#closed, signal);
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
      const slot = slots.find(key);
      if (slot === undefined) continue;
      const version = slots.version(slot);
      const deadline = slots.expiresAt(slot);
      // only a version within the batch's length of the limit needs counting
      if (version <= room || (deadline !== 0 && deadline <= now)) continue;
      const writes = entries.reduce((n, e) => (e.key === key ? n + 1 : n), 0);
      if (version > Number.MAX_SAFE_INTEGER - writes) throw RegistryError.versionExhausted(key, version);
    }
  }

  #get(key: string): RegistryRecord | undefined {
    const slot = this.#live(this.#slots.find(key));
    if (slot === undefined) {
      this.#misses++;
      return undefined;
    }
    this.#slots.use(slot);
    this.#hits++;
    return this.#record(slot);
  }

  #set(write: Write): RegistryRecord {
    const { key, value, ttlMs, ifVersion } = write;
    const slots = this.#slots;
    const now = this.#clock.now();
    if (slots.due(now) !== -1) this.#sweep(now, SWEEP_PER_WRITE);
    const live = this.#live(slots.find(key), now);
    // a write is a use even when its compare-and-set fails, as a read would be
    if (live !== undefined) slots.use(live);
    const version = live === undefined ? 0 : slots.version(live);
    if (ifVersion !== undefined && ifVersion !== version) throw RegistryError.versionConflict(key, ifVersion, version);
    if (version === Number.MAX_SAFE_INTEGER) throw RegistryError.versionExhausted(key, version);
    const slot = this.#put(key, value, write.bytes, live);
    slots.stamp(slot, version + 1, live === undefined ? now : slots.createdAt(live), now);
    slots.setDeadline(slot, ttlMs === undefined ? 0 : now + ttlMs);
    if (ttlMs !== undefined) this.#sweeper.schedule();
    if (write.enforceBytes) this.#enforceBytes();
    this.#sets++;
    const record = this.#record(slot);
    this.#changes?.append(record);
    if (this.listening('record:set'))
      this.emit('record:set', { key, version: record.version, expiresAt: record.expiresAt });
    return record;
  }

  /**
   * Stores `value` under `key` as the most recently used record: in `live`, the key's live slot,
   * or in a new slot, evicting the least recently used record first when the store is full.
   */
  #put(key: string, value: Uint8Array, bytes: number, live: number | undefined): number {
    const slots = this.#slots;
    if (live !== undefined) {
      this.#bytes += value.byteLength - (slots.values[live]?.byteLength ?? 0);
      slots.values[live] = value;
      slots.use(live);
      return live;
    }
    if (slots.size >= this.#options.maxEntries) this.#evicted(slots.oldest());
    this.#bytes += bytes;
    return slots.insert(key, value);
  }

  /** Evicts least recently used records until the byte budget holds. */
  #enforceBytes(): void {
    // the records just written are the most recently used, so they go last
    while (this.#bytes > this.#options.maxBytes) this.#evicted(this.#slots.oldest());
  }

  /** `slot` if it holds a live record, else `undefined` (removing it first if it expired). */
  #live(slot: number | undefined, now?: number): number | undefined {
    if (slot === undefined) return undefined;
    const deadline = this.#slots.expiresAt(slot);
    if (deadline === 0 || deadline > (now ?? this.#clock.now())) return slot;
    this.#removed(slot, 'expire');
    return undefined;
  }

  #record(slot: number): RegistryRecord {
    const s = this.#slots;
    const expiresAt = s.expiresAt(slot);
    return {
      key: s.keys[slot] as string,
      value: s.values[slot] as Uint8Array,
      version: s.version(slot),
      expiresAt: expiresAt === 0 ? undefined : expiresAt,
      createdAt: s.createdAt(slot),
      updatedAt: s.updatedAt(slot),
    };
  }

  /** Evicts `slot` for capacity: an expired record leaving under pressure is reported as expired. */
  #evicted(slot: number): void {
    const deadline = this.#slots.expiresAt(slot);
    const expired = deadline !== 0 && deadline <= this.#clock.now();
    this.#removed(slot, expired ? 'expire' : 'evict');
  }

  /** Removes the record in `slot`: bytes, slot, counters, one event. */
  #removed(slot: number, reason: RemovalReason): void {
    const slots = this.#slots;
    const key = slots.keys[slot] as string;
    this.#bytes -= utf8Length(key) + (slots.values[slot]?.byteLength ?? 0);
    const version = slots.version(slot);
    slots.remove(slot);
    if (reason === 'delete') this.#deletes++;
    else if (reason === 'expire') this.#expirations++;
    else if (reason === 'evict') this.#evictions++;
    this.#changes?.append(new Removal(key, version, reason));
    if (this.listening('record:removed')) this.emit('record:removed', { key, reason, version });
  }

  /** Removes up to `limit` records whose deadline is at or before `now`. */
  #sweep(now: number, limit: number): number {
    const slots = this.#slots;
    let removed = 0;
    for (let slot = slots.due(now); slot !== -1 && removed < limit; slot = slots.due(now)) {
      this.#removed(slot, 'expire');
      removed++;
    }
    return removed;
  }

  #dropAll(): void {
    this.#sweeper.cancel();
    this.#slots.reset();
    this.#bytes = 0;
  }
}
