import { type Clock, type Milliseconds, systemClock } from '../clock.js';
import { RegistryError } from '../errors.js';
import { Emitter, type RegistryEvents, type RemovalReason } from '../events.js';
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
  checkArray,
  checkBytes,
  checkKey,
  checkKeys,
  checkRestoreMeta,
  checkSignal,
  checkTtl,
  checkVersion,
} from '../validation.js';
import { RedisConnection, toRegistryError } from './connection.js';
import { Deadlines } from './deadlines.js';
import {
  type RedisRegistryDeps,
  type RedisRegistryOptions,
  type ResolvedRedisRegistryOptions,
  resolveOptions,
} from './options.js';
import { isExpired, readHeader, readRecord, toRecord } from './record-layout.js';
import { Coalescer } from './coalescer.js';
import { bufferOf, type Expired, RecordStore, type WalkFetch, type WriteManyResult } from './record-store.js';
import { DELETE, RESTORE, TOUCH, WRITE } from './scripts.js';

type State = 'new' | 'connecting' | 'open' | 'closed';

/**
 * A {@link Registry} on Redis: one server, or a Redis Cluster (`cluster` option), through
 * `@redis/client`. Persistent when the server persists (AOF/RDB), shared by every process
 * that uses the same `keyPrefix`.
 *
 * - Layout: one Redis string per record, a 33-byte header (version, createdAt, updatedAt,
 *   expiresAt) before the value bytes; see `record-layout.ts`.
 * - Atomicity: every write, delete and touch is one Lua script that reads the header and
 *   decides (versions, `ifVersion`, deadlines). Reads are one `GET` per key (`MGET` per chunk).
 * - Time: `expiresAt` comes from the injected clock and is checked on every read, so a record is
 *   never returned at or after its deadline; Redis drops the key itself `expiryGraceMs` later.
 * - Events: `record:set` and `record:removed` fire for what this instance does or observes:
 *   its writes, deletes, clears, and the expired records it meets and removes (exactly one
 *   `expire` per record, even with many clients: only the client whose script removed it
 *   reports it). Records Redis expires on its own, and writes of other clients, fire nothing.
 * - Batches: keys are grouped by hash slot (chunks of `batchChunkSize`), all groups pipelined:
 *   one round trip per node, never a CROSSSLOT error.
 * - Capacity: only `maxValueBytes` is enforced here. Entry and byte limits belong to the
 *   server (`maxmemory` + `maxmemory-policy`, server-wide): with `noeviction` a write that does
 *   not fit rejects with `CAPACITY_EXCEEDED`; with an LRU/LFU policy Redis evicts without events.
 * - Failures: every operation has a deadline (`timeoutMs`) → `TIMEOUT`; a lost or refused
 *   connection → `BACKEND_UNAVAILABLE` at once (no offline queue) while the client reconnects.
 *
 * @example
 * const registry = await RedisRegistry.connect({ url: 'redis://127.0.0.1:6379' });
 * await registry.set('peer:1', bytes, { ttlMs: 30 * 60_000 });
 * await registry.close();
 */
export class RedisRegistry extends Emitter<RegistryEvents> implements Registry<Uint8Array> {
  readonly #options: ResolvedRedisRegistryOptions;
  readonly #clock: Clock;
  readonly #connection: RedisConnection;
  readonly #deadlines: Deadlines;
  readonly #prefix: string;
  readonly #store: RecordStore;
  readonly #grace: string;
  readonly #mapError = (error: unknown): Error => toRegistryError(error, this.#connection.lastError);
  readonly #batcher: Coalescer;
  #state: State = 'new';

  /** Creates a registry and connects it (see {@link RedisRegistry.connect}). */
  static async connect(
    options: RedisRegistryOptions,
    deps: RedisRegistryDeps = {},
    operation?: OperationOptions,
  ): Promise<RedisRegistry> {
    return new RedisRegistry(options, deps).connect(operation);
  }

  /** Validates `options`; nothing is connected until {@link connect}. */
  constructor(options: RedisRegistryOptions, deps: RedisRegistryDeps = {}) {
    super(deps.onListenerError);
    this.#options = resolveOptions(options);
    this.#clock = deps.clock ?? systemClock;
    this.#connection = new RedisConnection(this.#options);
    this.#deadlines = new Deadlines(this.#clock, this.#options.timeoutMs, this.#mapError);
    this.#prefix = this.#options.keyPrefix;
    this.#store = new RecordStore(this.#connection, this.#prefix, this.#options.batchChunkSize, this.#options.scanCount);
    this.#grace = String(this.#options.expiryGraceMs);
    this.#batcher = new Coalescer(this.#store, this.#grace);
  }

  /** The effective configuration (password included: do not log it). */
  get options(): ResolvedRedisRegistryOptions {
    return this.#options;
  }

  /** Whether this registry talks to a Redis Cluster. */
  get isCluster(): boolean {
    return this.#connection.isCluster;
  }

  /**
   * Connects (in Cluster mode: discovers the topology and connects to every master) within
   * `timeoutMs`. A registry whose connection fails is closed; create a new one to try again.
   */
  async connect(options?: OperationOptions): Promise<this> {
    if (this.#state !== 'new') {
      if (this.#state === 'closed') throw RegistryError.closed();
      throw RegistryError.invalidOption('connect() was already called');
    }
    checkSignal(options?.signal);
    this.#state = 'connecting';
    try {
      await this.#deadlines.run(this.#connection.connect(), options?.signal);
    } catch (error) {
      this.#state = 'closed';
      this.#connection.destroy();
      throw error;
    }
    if (this.#state === 'connecting') this.#state = 'open';
    return this;
  }

  get(key: string, options?: OperationOptions): Promise<RegistryRecord | undefined> {
    const signal = options?.signal;
    try {
      this.#enter(signal);
      checkKey(key, this.#options.maxKeyBytes);
    } catch (error) {
      return rejection(error);
    }
    // gets issued in the same tick share one MGET per slot group (see Coalescer)
    const { replies, index } = this.#batcher.read(key);
    return this.#deadlines.track(replies, (stored) => this.#readOne(key, stored[index] ?? null), signal);
  }

  has(key: string, options?: OperationOptions): Promise<boolean> {
    const signal = options?.signal;
    try {
      this.#enter(signal);
      checkKey(key, this.#options.maxKeyBytes);
    } catch (error) {
      return rejection(error);
    }
    const redisKey = this.#prefix + key;
    this.#batcher.flush();
    const reply = this.#connection.send(redisKey, ['GETRANGE', redisKey, '0', '32'], true) as Promise<Buffer | null>;
    return this.#deadlines.track(reply, (head) => this.#hasOne(key, head), signal);
  }

  set(key: string, value: Uint8Array, options?: SetOptions): Promise<RegistryRecord> {
    const signal = options?.signal;
    const ttlMs = options?.ttlMs;
    const ifVersion = options?.ifVersion;
    try {
      this.#enter(signal);
      this.#checkWrite(key, value, ttlMs);
      if (ifVersion !== undefined) checkVersion(ifVersion);
    } catch (error) {
      return rejection(error);
    }
    if (ifVersion === undefined) {
      // unconditional sets issued in the same tick share one write script per slot group
      const { result, index, now } = this.#batcher.write({ key, value, ttlMs }, this.#now);
      return this.#deadlines.track(result, (r) => this.#afterBatchedSet(key, value, ttlMs, now, r, index), signal);
    }
    this.#batcher.flush();
    const now = this.#clock.now();
    const args = [String(now), this.#grace, String(ifVersion), bufferOf(value), ttlMs === undefined ? '0' : String(ttlMs)];
    const reply = this.#connection.eval(WRITE, [this.#prefix + key], args) as Promise<number[]>;
    return this.#deadlines.track(reply, (r) => this.#afterSet(key, value, ttlMs, ifVersion, now, r), signal);
  }

  /**
   * Writes `record` verbatim in one Lua script (one key, so Redis Cluster routes it like any
   * write): the comparison with the stored header (`ifNewer`) happens inside the script. The
   * Redis key expires at `expiresAt + expiryGraceMs` (`PXAT`).
   */
  async restore(record: RegistryRecord, options?: RestoreOptions): Promise<RestoreResult> {
    this.#enter(options?.signal);
    checkRestoreMeta(record, options?.ifNewer);
    const { key, value, version, createdAt, updatedAt, expiresAt } = record;
    this.#checkWrite(key, value, undefined);
    const now = this.#clock.now();
    if (expiresAt !== undefined && expiresAt <= now) return 'kept';
    this.#batcher.flush();
    const args = [
      String(now),
      this.#grace,
      options?.ifNewer === false ? '0' : '1',
      String(version),
      String(createdAt),
      String(updatedAt),
      String(expiresAt ?? 0),
      bufferOf(value),
    ];
    const reply = this.#connection.eval(RESTORE, [this.#prefix + key], args) as Promise<number[]>;
    const [state = 0, expired = 0] = await this.#run(reply, options?.signal);
    if (expired !== 0) this.#removed(key, 'expire', expired);
    if (state === -2) throw foreignKey(key);
    if (state !== 1) return 'kept';
    if (this.listening('record:set')) this.emit('record:set', { key, version, expiresAt });
    return 'written';
  }

  async delete(key: string, options?: DeleteOptions): Promise<boolean> {
    this.#enter(options?.signal);
    checkKey(key, this.#options.maxKeyBytes);
    const ifVersion = options?.ifVersion;
    if (ifVersion !== undefined) checkVersion(ifVersion);
    return this.#run(this.#delete(key, ifVersion), options?.signal);
  }

  async touch(key: string, ttlMs: Milliseconds, options?: OperationOptions): Promise<boolean> {
    this.#enter(options?.signal);
    checkKey(key, this.#options.maxKeyBytes);
    checkTtl(ttlMs);
    return this.#run(this.#touch(key, ttlMs), options?.signal);
  }

  getMany(keys: readonly string[], options?: OperationOptions): Promise<(RegistryRecord | undefined)[]> {
    const signal = options?.signal;
    try {
      this.#enter(signal);
      checkKeys(keys, this.#options.maxKeyBytes);
    } catch (error) {
      return rejection(error);
    }
    if (keys.length === 0) return Promise.resolve([]);
    this.#batcher.flush();
    const { groups, replies } = this.#store.mget(keys);
    return this.#deadlines.track(replies, (r) => this.#afterGetMany(keys, groups, r), signal);
  }

  setMany(entries: readonly SetEntry[], options?: OperationOptions): Promise<RegistryRecord[]> {
    const signal = options?.signal;
    try {
      this.#enter(signal);
      checkArray('entries', entries);
      for (const entry of entries) this.#checkWrite(entry.key, entry.value, entry.ttlMs);
    } catch (error) {
      return rejection(error);
    }
    if (entries.length === 0) return Promise.resolve([]);
    this.#batcher.flush();
    return this.#run(this.#setMany(entries), signal);
  }

  async deleteMany(keys: readonly string[], options?: OperationOptions): Promise<number> {
    this.#enter(options?.signal);
    checkKeys(keys, this.#options.maxKeyBytes);
    if (keys.length === 0) return 0;
    return this.#run(this.#deleteMany(keys), options?.signal);
  }

  /**
   * `SCAN MATCH <keyPrefix><prefix>*` on every master (never `KEYS`), one page at a time, each
   * page's records fetched in one pipelined round trip under its own deadline. Costs O(records
   * in the namespace) on the server, spread over many short commands. Records that move
   * between nodes during a resharding may be missed or repeated.
   */
  async *scan(options: ScanOptions = {}): AsyncIterableIterator<RegistryRecord> {
    const { prefix = '', signal } = options;
    this.#enter(signal);
    if (typeof prefix !== 'string') throw RegistryError.invalidOption('prefix must be a string');
    for await (const page of this.#walk(prefix, 'GET', signal)) {
      const now = this.#clock.now();
      const live: RegistryRecord[] = [];
      const expired: Expired[] = [];
      for (const [key, stored] of page) {
        if (stored === null) continue; // removed since SCAN listed it
        const header = readHeader(key, stored);
        if (isExpired(header.expiresAt, now)) expired.push({ key, version: header.version });
        else live.push(toRecord(key, stored, header));
      }
      if (expired.length > 0) await this.#run(this.#reap(expired, now), signal);
      for (const record of live) {
        this.#enter(signal);
        yield record;
      }
    }
  }

  /**
   * Number of live records in the namespace. Reads the header of every record (a scan: O(n)
   * on the server, in pages) because records past their deadline must not count; the expired
   * ones it meets are removed (with their events).
   */
  async size(options?: OperationOptions): Promise<number> {
    const signal = options?.signal;
    this.#enter(signal);
    let count = 0;
    for await (const page of this.#walk('', 'GETRANGE', signal)) {
      const now = this.#clock.now();
      const expired: Expired[] = [];
      for (const [key, head] of page) {
        if (head === null || head.length === 0) continue;
        const header = readHeader(key, head);
        if (isExpired(header.expiresAt, now)) expired.push({ key, version: header.version });
        else count++;
      }
      if (expired.length > 0) await this.#run(this.#reap(expired, now), signal);
    }
    return count;
  }

  /**
   * Removes every record of the namespace (never other keys of the server), page by page;
   * each fires `record:removed` with reason `clear` (`expire` for records already past their
   * deadline). Records written meanwhile may survive.
   */
  async clear(options?: OperationOptions): Promise<void> {
    const signal = options?.signal;
    this.#enter(signal);
    for await (const page of this.#walk('', undefined, signal)) {
      const keys = page.map(([key]) => key);
      this.#batcher.flush();
      const results = await this.#run(this.#store.deleteMany(keys, this.#clock.now()), signal);
      results.forEach(([state, version], i) => {
        if (state !== 0) this.#removed(keys[i] as string, state === 1 ? 'clear' : 'expire', version);
      });
    }
  }

  /**
   * Closes the connections: waits for pending replies (within `timeoutMs`), then releases
   * every socket and timer. Later calls reject with `CLOSED`; closing again resolves.
   */
  async close(options?: OperationOptions): Promise<void> {
    if (this.#state === 'closed') return;
    const connected = this.#state !== 'new';
    this.#state = 'closed';
    if (connected) {
      try {
        await this.#deadlines.run(this.#connection.close(), options?.signal);
      } catch {
        // a dead or stalled server: drop the sockets instead
      } finally {
        this.#connection.destroy();
      }
    }
    this.#deadlines.abortAll(RegistryError.closed());
  }

  // ---- operations (validated; run under a deadline) ----

  #readOne(key: string, stored: Buffer | null): RegistryRecord | undefined | Promise<undefined> {
    if (stored === null) return undefined;
    const record = readRecord(key, stored);
    const expiresAt = record.expiresAt;
    if (expiresAt === undefined) return record;
    const now = this.#clock.now();
    if (expiresAt > now) return record;
    return this.#reap([{ key, version: record.version }], now).then(() => undefined);
  }

  #hasOne(key: string, head: Buffer | null): boolean | Promise<boolean> {
    if (head === null || head.length === 0) return false;
    const header = readHeader(key, head);
    const now = this.#clock.now();
    if (!isExpired(header.expiresAt, now)) return true;
    return this.#reap([{ key, version: header.version }], now).then(() => false);
  }

  #afterSet(
    key: string,
    value: Uint8Array,
    ttlMs: Milliseconds | undefined,
    ifVersion: number | undefined,
    now: number,
    reply: number[],
  ): RegistryRecord {
    // [new version, createdAt, expired version] or, on a conflict, [-1, actual version, expired version]
    const [version = 0, createdAt = now, expired = 0] = reply;
    if (expired !== 0) this.#removed(key, 'expire', expired);
    if (version === -1) throw RegistryError.versionConflict(key, ifVersion ?? 0, createdAt);
    if (version === -2) throw foreignKey(key);
    return this.#written(key, value, version, createdAt, now, ttlMs);
  }

  #afterBatchedSet(
    key: string,
    value: Uint8Array,
    ttlMs: Milliseconds | undefined,
    now: number,
    result: WriteManyResult,
    index: number,
  ): RegistryRecord {
    const reply = result.replies[index];
    if (reply === undefined) throw result.failure ?? RegistryError.unavailable('the write got no reply');
    const [version, createdAt, expired] = reply;
    if (expired !== 0) this.#removed(key, 'expire', expired);
    if (version === -2) throw foreignKey(key);
    return this.#written(key, value, version, createdAt, now, ttlMs);
  }

  async #delete(key: string, ifVersion: number | undefined): Promise<boolean> {
    this.#batcher.flush();
    const cond = ifVersion === undefined ? '' : String(ifVersion);
    const reply = (await this.#connection.eval(DELETE, [this.#prefix + key], [String(this.#clock.now()), cond])) as number[];
    const [state = 0, version = 0, expired = 0] = reply;
    if (state === -1) {
      if (expired !== 0) this.#removed(key, 'expire', expired);
      throw RegistryError.versionConflict(key, ifVersion ?? 0, version);
    }
    if (state === 2) this.#removed(key, 'expire', version);
    if (state !== 1) return false;
    this.#removed(key, 'delete', version);
    return true;
  }

  async #touch(key: string, ttlMs: Milliseconds): Promise<boolean> {
    this.#batcher.flush();
    const args = [String(this.#clock.now()), String(ttlMs), this.#grace];
    const [touched = 0, version = 0] = (await this.#connection.eval(TOUCH, [this.#prefix + key], args)) as number[];
    if (touched === 1) return true;
    if (version !== 0) this.#removed(key, 'expire', version);
    return false;
  }

  #afterGetMany(
    keys: readonly string[],
    groups: readonly number[][],
    replies: readonly (Buffer | null)[][],
  ): (RegistryRecord | undefined)[] | Promise<(RegistryRecord | undefined)[]> {
    const now = this.#clock.now();
    const out = new Array<RegistryRecord | undefined>(keys.length).fill(undefined);
    let expired: Expired[] | undefined;
    for (let g = 0; g < groups.length; g++) {
      const group = groups[g] as number[];
      const reply = replies[g] as (Buffer | null)[];
      for (let j = 0; j < group.length; j++) {
        const index = group[j] as number;
        const stored = reply[j];
        if (stored === null || stored === undefined) continue;
        const key = keys[index] as string;
        const record = readRecord(key, stored);
        if (record.expiresAt === undefined || record.expiresAt > now) out[index] = record;
        else (expired ??= []).push({ key, version: record.version });
      }
    }
    if (expired === undefined) return out;
    return this.#reap(expired, now).then(() => out);
  }

  async #setMany(entries: readonly SetEntry[]): Promise<RegistryRecord[]> {
    const now = this.#clock.now();
    const { replies, failure } = await this.#store.writeMany(entries, now, this.#grace);
    // report every write that happened, in entry order, even if another group failed
    const records = new Array<RegistryRecord>(entries.length);
    let error = failure;
    entries.forEach((entry, i) => {
      const reply = replies[i];
      if (reply === undefined) return;
      if (reply[2] !== 0) this.#removed(entry.key, 'expire', reply[2]);
      if (reply[0] === -2) error ??= foreignKey(entry.key);
      else records[i] = this.#written(entry.key, entry.value, reply[0], reply[1], now, entry.ttlMs);
    });
    if (error !== undefined) throw error;
    return records;
  }

  async #deleteMany(keys: readonly string[]): Promise<number> {
    this.#batcher.flush();
    const results = await this.#store.deleteMany(keys, this.#clock.now());
    let removed = 0;
    results.forEach(([state, version], i) => {
      if (state === 0) return;
      if (state === 1) removed++;
      this.#removed(keys[i] as string, state === 1 ? 'delete' : 'expire', version);
    });
    return removed;
  }

  /** Removes records a read found expired (if still that version) and reports those removed. */
  async #reap(expired: readonly Expired[], now: number): Promise<void> {
    this.#batcher.flush();
    for (const e of await this.#store.reap(expired, now)) this.#removed(e.key, 'expire', e.version);
  }

  /** Pages of the namespace under `prefix`, every round trip under the deadline and `signal`. */
  #walk(prefix: string, fetch: WalkFetch, signal: AbortSignal | undefined): AsyncGenerator<[string, Buffer | null][]> {
    return this.#store.walk(prefix, fetch, (work) => {
      this.#enter(signal);
      this.#batcher.flush();
      return this.#run(work(), signal);
    });
  }

  // ---- helpers ----

  readonly #now = (): number => this.#clock.now();

  #run<T>(work: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
    return this.#deadlines.run(work, signal);
  }

  #enter(signal: AbortSignal | undefined): void {
    if (this.#state === 'closed') throw RegistryError.closed();
    if (signal !== undefined) checkSignal(signal);
    if (this.#state !== 'open') throw RegistryError.unavailable('the Redis registry is not connected: call connect() first');
  }

  #checkWrite(key: string, value: Uint8Array, ttlMs: Milliseconds | undefined): void {
    checkKey(key, this.#options.maxKeyBytes);
    checkBytes(key, value, this.#options.maxValueBytes);
    if (ttlMs !== undefined) checkTtl(ttlMs);
  }

  #written(
    key: string,
    value: Uint8Array,
    version: number,
    createdAt: number,
    now: number,
    ttlMs: Milliseconds | undefined,
  ): RegistryRecord {
    const expiresAt = ttlMs === undefined ? undefined : now + ttlMs;
    if (this.listening('record:set')) this.emit('record:set', { key, version, expiresAt });
    return { key, value, version, expiresAt, createdAt, updatedAt: now };
  }

  #removed(key: string, reason: RemovalReason, version: number): void {
    if (this.listening('record:removed')) this.emit('record:removed', { key, reason, version });
  }
}

function foreignKey(key: string): RegistryError {
  return RegistryError.codec(`the Redis key of "${key}" holds another Redis type, not a Nautilus record`, key);
}

/** A promise rejected with `error` as thrown (an abort reason may be any value). */
function rejection<T>(error: unknown): Promise<T> {
  return new Promise<T>((_, reject) => {
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- the contract rejects with signal.reason as given
    reject(error);
  });
}
