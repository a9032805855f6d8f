import { Emitter } from '../../core/emitter.js';
import { type Clock, type Milliseconds, systemClock } from '../../core/clock.js';
import { RegistryError } from '../errors.js';
import { type RegistryEvents, type RemovalReason } from '../events.js';
import type {
  DeleteOptions,
  OperationOptions,
  Registry,
  RegistryRecord,
  RegistryChange,
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
  checkSignal,
  checkTtl,
  checkVersion,
  checkWrite,
} from '../validation.js';
import { checkServerVersion, RedisConnection, toRegistryError } from './connection.js';
import { Deadlines } from './deadlines.js';
import {
  type RedisRegistryDeps,
  type RedisRegistryOptions,
  type RedisRegistryStats,
  type ResolvedRedisRegistryOptions,
  resolveOptions,
} from './options.js';
import { Coalescer } from './coalescer.js';
import { RecordStore } from './record-store.js';
import { NamespaceWalks } from './namespace-walks.js';
import { RecordReads } from './record-reads.js';
import { RecordWrites } from './record-writes.js';
import { feedCursor, type FeedContext, rejectedFeed, watchRedis } from './changefeed.js';
import { feedLua } from './changefeed-lua.js';
import { feedScripts, PLAIN_SCRIPTS } from './scripts.js';

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
 * - Batches: keys are grouped by the master serving their slot (chunks of `batchChunkSize`),
 *   all chunks pipelined: one call and one round trip per node, never a CROSSSLOT error.
 * - Capacity: only `maxValueBytes` is enforced here. Entry and byte limits belong to the
 *   server (`maxmemory` + `maxmemory-policy`, server-wide): with `noeviction` a write that does
 *   not fit rejects with `CAPACITY_EXCEEDED`; with an LRU/LFU policy Redis evicts without events.
 * - Failures: every operation has a deadline (`timeoutMs`) → `TIMEOUT`; a lost or refused
 *   connection → `BACKEND_UNAVAILABLE` at once (no offline queue) while the client reconnects.
 * - Change feed (`changefeed` option): each write script also appends its changes to a stream,
 *   atomically; `watch` and `cursor` read it (see {@link watch}, `changefeed.ts`).
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
  readonly #mapError = (error: unknown): Error => toRegistryError(error, this.#connection.lastError);
  readonly #batcher: Coalescer;
  readonly #writes: RecordWrites;
  readonly #reads: RecordReads;
  readonly #walks: NamespaceWalks;
  readonly #feed: FeedContext | undefined;
  #state: State = 'new';
  #foreignKeys = 0;

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
    const feed = this.#options.changefeed;
    const scripts =
      feed === undefined ? PLAIN_SCRIPTS : feedScripts(feedLua(feed.maxLength), [feed.streamKey, feed.epochKey]);
    this.#feed = feed === undefined ? undefined : this.#feedContext(feed);
    const context = this.#feed;
    if (context !== undefined) {
      Object.defineProperty(this, 'watch', { value: (o?: WatchOptions) => this.#watch(context, o) });
      Object.defineProperty(this, 'cursor', { value: (o?: OperationOptions) => this.#cursor(context, o) });
    }
    this.#store = new RecordStore(
      this.#connection,
      this.#prefix,
      this.#options.batchChunkSize,
      this.#options.scanCount,
      scripts,
    );
    const grace = String(this.#options.expiryGraceMs);
    this.#batcher = new Coalescer({
      store: this.#store,
      grace,
      clock: this.#clock,
      deadlines: this.#deadlines,
      decode: (key, stored, now) => this.#reads.readOne(key, stored, now),
      mapError: this.#mapError,
    });
    this.#reads = new RecordReads({
      store: this.#store,
      batcher: this.#batcher,
      clock: this.#clock,
      removed: (key, reason, version) => this.#removed(key, reason, version),
      foreign: () => this.#foreignKeys++,
    });
    this.#writes = new RecordWrites({
      connection: this.#connection,
      store: this.#store,
      batcher: this.#batcher,
      deadlines: this.#deadlines,
      clock: this.#clock,
      prefix: this.#prefix,
      grace,
      scripts,
      events: {
        written: ({ key, version, expiresAt }) => {
          if (this.listening('record:set')) this.emit('record:set', { key, version, expiresAt });
        },
        removed: (key, reason, version) => this.#removed(key, reason, version),
      },
    });
    this.#walks = new NamespaceWalks({
      store: this.#store,
      reads: this.#reads,
      writes: this.#writes,
      batcher: this.#batcher,
      deadlines: this.#deadlines,
      clock: this.#clock,
      enter: (signal) => this.#enter(signal),
    });
  }

  /** The effective configuration (password included: do not log it). */
  get options(): ResolvedRedisRegistryOptions {
    return this.#options;
  }

  /** Counters since construction: the foreign keys `scan` and `size` skipped. */
  stats(): RedisRegistryStats {
    return { foreignKeys: this.#foreignKeys };
  }

  /** Whether this registry talks to a Redis Cluster. */
  get isCluster(): boolean {
    return this.#connection.isCluster;
  }

  /**
   * Connects (in Cluster mode: discovers the topology and connects to every master) within
   * `timeoutMs`, and checks the server runs Redis 7.0 or newer (BACKEND_UNAVAILABLE otherwise).
   * A registry whose connection fails is closed; create a new one to try again.
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
      checkServerVersion(await this.#deadlines.run(this.#connection.serverVersion(), options?.signal));
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
    // gets issued in the same tick share one MGET, or one read script per master (see Coalescer)
    return this.#batcher.read(key, signal);
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
    return this.#deadlines.track(reply, (head) => this.#reads.hasOne(key, head), signal);
  }

  set(key: string, value: Uint8Array, options?: SetOptions): Promise<RegistryRecord> {
    const signal = options?.signal;
    const ttlMs = options?.ttlMs;
    const ifVersion = options?.ifVersion;
    try {
      this.#enter(signal);
      checkWrite(this.#options, key, value, ttlMs);
      if (ifVersion !== undefined) checkVersion(ifVersion);
    } catch (error) {
      return rejection(error);
    }
    // unconditional sets issued in the same tick share one write script per server
    return this.#writes.set({ key, value, ttlMs }, ifVersion, signal);
  }

  /**
   * Writes `record` verbatim in one Lua script (one key, so Redis Cluster routes it like any
   * write): the comparison with the stored header (`ifNewer`) happens inside the script. The
   * Redis key expires at `expiresAt + expiryGraceMs` (`PXAT`).
   */
  async restore(record: RegistryRecord, options?: RestoreOptions): Promise<RestoreResult> {
    this.#enter(options?.signal);
    checkRestore(this.#options, record, options?.ifNewer);
    const now = this.#clock.now();
    if (record.expiresAt !== undefined && record.expiresAt <= now) return 'kept';
    return this.#writes.restore(record, options?.ifNewer !== false, now, options?.signal);
  }

  /**
   * The change feed: present only with the `changefeed` option (callers check
   * `typeof registry.watch === 'function'`, as for every optional capability). See `watchRedis`
   * for buffering and faults. Writes, deletes and clears appear as they commit. Expiries appear
   * (reason `expire`) only when a client of the namespace meets the record past its deadline and
   * removes it — a read, a write or a touch of it, a `scan` or `size` — within `expiryGraceMs`
   * after the deadline; a record nobody meets by then is dropped by Redis itself and never
   * appears, and neither do records Redis evicts (`maxmemory-policy`).
   */
  declare readonly watch?: (options?: WatchOptions) => AsyncIterableIterator<RegistryChange>;
  /** The cursor of the latest change in the feed: present only with the `changefeed` option. */
  declare readonly cursor?: (options?: OperationOptions) => Promise<string>;

  #watch(feed: FeedContext, options: WatchOptions = {}): AsyncIterableIterator<RegistryChange> {
    try {
      this.#enter(options.signal);
    } catch (error) {
      return rejectedFeed(error);
    }
    return watchRedis(feed, options);
  }

  async #cursor(feed: FeedContext, options?: OperationOptions): Promise<string> {
    this.#enter(options?.signal);
    return feedCursor(feed, options?.signal);
  }

  async delete(key: string, options?: DeleteOptions): Promise<boolean> {
    this.#enter(options?.signal);
    checkKey(key, this.#options.maxKeyBytes);
    const ifVersion = options?.ifVersion;
    if (ifVersion !== undefined) checkVersion(ifVersion);
    return this.#writes.delete(key, ifVersion, options?.signal);
  }

  async touch(key: string, ttlMs: Milliseconds, options?: OperationOptions): Promise<boolean> {
    this.#enter(options?.signal);
    checkKey(key, this.#options.maxKeyBytes);
    checkTtl(ttlMs);
    return this.#writes.touch(key, ttlMs, options?.signal);
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
    return this.#deadlines.track(this.#store.mget(keys), (stored) => this.#reads.afterGetMany(keys, stored), signal);
  }

  setMany(entries: readonly SetEntry[], options?: OperationOptions): Promise<RegistryRecord[]> {
    const signal = options?.signal;
    try {
      this.#enter(signal);
      checkEntries(this.#options, entries);
    } catch (error) {
      return rejection(error);
    }
    if (entries.length === 0) return Promise.resolve([]);
    return this.#writes.setMany(entries, signal);
  }

  async deleteMany(keys: readonly string[], options?: OperationOptions): Promise<number> {
    this.#enter(options?.signal);
    checkKeys(keys, this.#options.maxKeyBytes);
    if (keys.length === 0) return 0;
    return this.#writes.deleteMany(keys, 'delete', options?.signal);
  }

  /**
   * `SCAN MATCH <keyPrefix><prefix>*` on every master (never `KEYS`), one page at a time, each
   * page's records fetched in one pipelined round trip under its own deadline. Costs O(records
   * in the namespace) on the server, spread over many short commands. Records that move
   * between nodes during a resharding may be missed or repeated. Keys that are not records
   * (another Redis type, a foreign string) are skipped and counted (`stats().foreignKeys`).
   */
  async *scan(options: ScanOptions = {}): AsyncIterableIterator<RegistryRecord> {
    const { prefix = '', signal } = options;
    this.#enter(signal);
    if (typeof prefix !== 'string') throw RegistryError.invalidOption('prefix must be a string');
    yield* this.#walks.scan(prefix, signal);
  }

  /**
   * Number of live records in the namespace. Reads the header of every record (a scan: O(n)
   * on the server, in pages) because records past their deadline must not count; the expired
   * ones it meets are removed (with their events). Keys that are not records are skipped and
   * counted, as by {@link scan}.
   */
  async size(options?: OperationOptions): Promise<number> {
    const signal = options?.signal;
    this.#enter(signal);
    return this.#walks.size(signal);
  }

  /**
   * Removes every record of the namespace (never other keys of the server), page by page;
   * each fires `record:removed` with reason `clear` (`expire` for records already past their
   * deadline). Records written meanwhile may survive.
   */
  async clear(options?: OperationOptions): Promise<void> {
    const signal = options?.signal;
    this.#enter(signal);
    await this.#walks.clear(signal);
  }

  /**
   * Closes the connections: first lets every call issued before it finish (each within its own
   * deadline) and reports its true outcome — a write that landed resolves — then closes the
   * connections gracefully (within `timeoutMs`) and releases every socket and timer. Later
   * calls reject with `CLOSED`; closing again resolves.
   */
  async close(options?: OperationOptions): Promise<void> {
    if (this.#state === 'closed') return;
    const connected = this.#state !== 'new';
    this.#state = 'closed';
    if (connected) {
      try {
        // the calls of this tick go out now; retries (NOSCRIPT after a server restart) still
        // find the connection open
        this.#batcher.flush();
        await this.#deadlines.idle(options?.signal);
        await this.#deadlines.run(this.#connection.close(), options?.signal);
      } catch {
        // a dead or stalled server: drop the sockets instead
      } finally {
        this.#connection.destroy();
      }
    }
    this.#deadlines.abortAll(RegistryError.closed());
    for (const wake of [...(this.#feed?.closers ?? [])]) wake();
  }

  #feedContext(feed: NonNullable<ResolvedRedisRegistryOptions['changefeed']>): FeedContext {
    return {
      feed,
      prefixBytes: Buffer.byteLength(this.#prefix),
      timeoutMs: this.#options.timeoutMs,
      isClosed: () => this.#state === 'closed',
      closers: new Set(),
      read: (args, signal) => {
        this.#enter(signal);
        return this.#deadlines.run(this.#connection.send(feed.streamKey, args, true), signal);
      },
      dedicated: () => this.#connection.dedicated(feed.streamKey),
      mapError: this.#mapError,
    };
  }

  // ---- helpers ----

  #enter(signal: AbortSignal | undefined): void {
    checkOpen(this.#state === 'closed', signal);
    if (this.#state !== 'open')
      throw RegistryError.unavailable('the Redis registry is not connected: call connect() first');
  }

  #removed(key: string, reason: RemovalReason, version: number): void {
    if (this.listening('record:removed')) this.emit('record:removed', { key, reason, version });
  }
}

/** A promise rejected with `error` as thrown (an abort reason may be any value). */
function rejection<T>(error: unknown): Promise<T> {
  return new Promise<T>((_, reject) => {
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- the contract rejects with signal.reason as given
    reject(error);
  });
}
