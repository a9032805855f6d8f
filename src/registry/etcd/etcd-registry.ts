import { Etcd3, type IKeyValue, type IRangeResponse, type IRequestOp, type ITxnResponse } from 'etcd3';
import { LRUCache } from 'lru-cache';
import { Emitter } from '../../core/emitter.js';
import { type Clock, type Milliseconds, systemClock } from '../../core/clock.js';
import { RegistryError } from '../errors.js';
import type { RegistryEvents, RemovalReason } from '../events.js';
import { isRecord, readRecord } from '../record-layout.js';
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
} from '../validation.js';
import { encodeRecord, isLeaseGone, rangeEnd, withDeadline } from './calls.js';
import { LeasePool } from './leases.js';
import { type Fence, type LockContext, type LockHandle, type LockOptions, takeLock } from './lock.js';
import {
  type EtcdRegistryDeps,
  type EtcdRegistryOptions,
  type ResolvedEtcdRegistryOptions,
  resolveEtcdOptions,
} from './options.js';
import { watchEtcd, type WatchContext } from './watch-feed.js';

/** Options of {@link EtcdRegistry.set}: the contract's, and a fencing token. */
export interface EtcdSetOptions extends SetOptions {
  /**
   * Write only while the lock this fence came from (see {@link EtcdRegistry.lock}) is still
   * held by that holder, checked atomically in the write's transaction; otherwise reject with
   * `FENCED` and change nothing. A paused holder whose lease ran out can no longer write.
   */
  readonly fence?: Fence | undefined;
}

/** What the registry last saw of a key: its etcd `mod_revision` (0: absent) and record. */
interface Seen {
  readonly modRevision: string;
  readonly record: RegistryRecord | undefined;
}

const ABSENT: Seen = Object.freeze({ modRevision: '0', record: undefined });

/** One write a transaction makes: the record, and the `Seen` it was computed from. */
interface PlannedWrite {
  readonly record: RegistryRecord;
  readonly basis: Seen;
}

// a write whose guarded transaction keeps losing to other writers gives up with TIMEOUT
// instead of looping; each round is one round trip and sees the newest state
const MAX_ROUNDS = 64;

function sameRecord(a: RegistryRecord | undefined, b: RegistryRecord): boolean {
  return (
    a !== undefined &&
    a.version === b.version &&
    a.createdAt === b.createdAt &&
    a.updatedAt === b.updatedAt &&
    a.expiresAt === b.expiresAt &&
    Buffer.compare(a.value, b.value) === 0
  );
}

/**
 * A {@link Registry} on etcd v3 (Raft), through the `etcd3` client (gRPC).
 *
 * - Layout: one etcd key per record (`keyPrefix` + key), its value the shared 33-byte header
 *   (version, createdAt, updatedAt, expiresAt) then the value bytes (see `record-layout.ts`).
 *   The contract's version lives in the header: etcd's own per-key version also counts
 *   `touch`, which the contract's does not.
 * - Atomicity: every write is one transaction guarded by the key's `mod_revision` as last
 *   seen (`revisionCacheSize` keys remembered), whose failure branch reads the key: a stale
 *   guess costs one more round trip, a concurrent writer can never be overwritten unseen, and
 *   compare-and-set is exact. Batches are transactions of at most `maxTxnOps` keys.
 * - Time: deadlines come from the injected clock and are checked on every read; the record
 *   rides a lease shared by its expiry window (see {@link LeasePool}), which etcd revokes
 *   `expiryGraceMs` after the window.
 * - Reads: linearizable by default, `serializable` as an option; `scan` pages by key range.
 * - Watch: etcd's native watch from a revision (see `watchEtcd`): removals appear as `delete`
 *   (including `clear`) or as `expire` when the removed record's deadline had passed.
 * - Events: `record:set` / `record:removed` for what this instance does or meets (writes of
 *   other clients and leases running out fire nothing: use `watch` for those).
 * - Failures: every operation has a deadline (`timeoutMs`) → `TIMEOUT`; a member that cannot
 *   serve (down, no leader) → `BACKEND_UNAVAILABLE`.
 *
 * @example
 * const registry = new EtcdRegistry({ hosts: ['http://127.0.0.1:2379'] });
 * await registry.set('peer:1', bytes, { ttlMs: 30 * 60_000 });
 * for await (const change of registry.watch({ prefix: 'peer:' })) console.log(change);
 */
export class EtcdRegistry extends Emitter<RegistryEvents> implements Registry<Uint8Array> {
  readonly #options: ResolvedEtcdRegistryOptions;
  readonly #clock: Clock;
  readonly #client: Etcd3;
  readonly #prefix: Buffer;
  readonly #leases: LeasePool;
  readonly #seen: LRUCache<string, Seen>;
  readonly #watch: WatchContext;
  readonly #locks: LockContext;
  #closed = false;

  constructor(options: EtcdRegistryOptions, deps: EtcdRegistryDeps = {}) {
    super(deps.onListenerError);
    this.#options = resolveEtcdOptions(options);
    this.#clock = deps.clock ?? systemClock;
    this.#client = new Etcd3({ hosts: [...this.#options.hosts] });
    this.#prefix = Buffer.from(this.#options.keyPrefix);
    this.#leases = new LeasePool(this.#client, this.#clock, this.#options.leaseWindowMs, this.#options.expiryGraceMs);
    this.#seen = new LRUCache({ max: this.#options.revisionCacheSize });
    this.#watch = {
      client: this.#client,
      clock: this.#clock,
      keyPrefix: this.#prefix,
      timeoutMs: this.#options.timeoutMs,
      watchBuffer: this.#options.watchBuffer,
      isClosed: () => this.#closed,
      closers: new Set(),
      revision: async (signal) => Number((await this.#range(this.#prefix, { signal, limit: 1 })).header.revision),
    };
    this.#locks = {
      client: this.#client,
      clock: this.#clock,
      timeoutMs: this.#options.timeoutMs,
      // outside the records' key range: scans, sizes and watches never meet lock entries
      lockPrefix: `\u0000locks/${this.#options.keyPrefix}`,
      isClosed: () => this.#closed,
    };
  }

  /** The effective configuration. */
  get options(): ResolvedEtcdRegistryOptions {
    return this.#options;
  }

  /** The `etcd3` client underneath (for locks, elections and tools; closed with the registry). */
  get client(): Etcd3 {
    return this.#client;
  }

  /** Leases held for expiry windows now (bounded by the spread of deadlines, not by records). */
  get leaseCount(): number {
    return this.#leases.size;
  }

  async get(key: string, options?: OperationOptions): Promise<RegistryRecord | undefined> {
    this.#enter(options?.signal);
    checkKey(key, this.#options.maxKeyBytes);
    return this.#live(key, await this.#read(key, options?.signal), options?.signal);
  }

  async has(key: string, options?: OperationOptions): Promise<boolean> {
    return (await this.get(key, options)) !== undefined;
  }

  async set(key: string, value: Uint8Array, options?: EtcdSetOptions): Promise<RegistryRecord> {
    this.#enter(options?.signal);
    const { ttlMs, ifVersion, signal, fence } = options ?? {};
    checkWrite(this.#options, key, value, ttlMs);
    if (ifVersion !== undefined) checkVersion(ifVersion);
    if (fence !== undefined && (typeof fence?.entry !== 'string' || typeof fence?.token !== 'string')) {
      throw RegistryError.invalidOptionValue('fence', 'the fence of a lock handle', fence);
    }
    const [record] = await this.#write([{ key, value, ttlMs }], signal, ifVersion, fence);
    return record as RegistryRecord;
  }

  /**
   * Takes the lock `name` (waiting while another holds it), held while this process keeps its
   * lease alive; the handle carries a fencing token that grows with every holder. See
   * {@link LockOptions.ttlMs} for what happens to a holder that stops.
   */
  lock(name: string, options?: LockOptions): Promise<LockHandle> {
    return takeLock(this.#locks, name, options);
  }

  async restore(record: RegistryRecord, options?: RestoreOptions): Promise<RestoreResult> {
    this.#enter(options?.signal);
    checkRestore(this.#options, record, options?.ifNewer);
    const signal = options?.signal;
    const copy: RegistryRecord = { ...record, value: record.value };
    if (copy.expiresAt !== undefined && copy.expiresAt <= this.#clock.now()) return 'kept';
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const basis = this.#seenOf(copy.key);
      const live = this.#liveRecord(basis.record);
      if (live !== undefined && options?.ifNewer !== false) {
        if (!isNewer(copy.version, copy.updatedAt, live.version, live.updatedAt)) {
          // the cached view may be stale: decide on what etcd holds
          if (round === 0 && this.#seen.has(copy.key)) {
            await this.#read(copy.key, signal);
            continue;
          }
          return 'kept';
        }
      }
      if (await this.#commit([{ record: copy, basis }], signal)) {
        this.#emitSet(copy);
        return 'written';
      }
    }
    throw RegistryError.timeout(`restore of "${copy.key}" lost ${MAX_ROUNDS} rounds to concurrent writers`);
  }

  async delete(key: string, options?: DeleteOptions): Promise<boolean> {
    this.#enter(options?.signal);
    checkKey(key, this.#options.maxKeyBytes);
    const { ifVersion, signal } = options ?? {};
    if (ifVersion !== undefined) checkVersion(ifVersion);
    if (ifVersion === undefined) return (await this.#deleteKeys([key], signal, 'delete')) === 1;
    for (let round = 0; round < MAX_ROUNDS; round++) {
      // decided on what etcd holds: the cache may be stale, and "absent" is only a guess
      const basis = await this.#read(key, signal);
      const live = this.#liveRecord(basis.record);
      const version = live?.version ?? 0;
      if (ifVersion !== version) throw RegistryError.versionConflict(key, ifVersion, version);
      if (basis.record === undefined) return false;
      const response = await this.#txn(
        [this.#guard(key, basis)],
        [{ request_delete_range: { key: this.#etcdKey(key) } }],
        [],
        signal,
        'delete',
      );
      if (response.succeeded) {
        this.#seen.delete(key);
        this.#emitRemoved(key, basis.record.version, live === undefined ? 'expire' : 'delete');
        return live !== undefined;
      }
    }
    throw RegistryError.timeout(`delete of "${key}" lost ${MAX_ROUNDS} rounds to concurrent writers`);
  }

  async touch(key: string, ttlMs: Milliseconds, options?: OperationOptions): Promise<boolean> {
    this.#enter(options?.signal);
    checkKey(key, this.#options.maxKeyBytes);
    checkTtl(ttlMs);
    const signal = options?.signal;
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const basis = await this.#read(key, signal);
      const live = await this.#live(key, basis, signal);
      if (live === undefined) return false;
      const record = { ...live, expiresAt: this.#clock.now() + ttlMs };
      if (await this.#commit([{ record, basis }], signal)) return true;
    }
    throw RegistryError.timeout(`touch of "${key}" lost ${MAX_ROUNDS} rounds to concurrent writers`);
  }

  async getMany(keys: readonly string[], options?: OperationOptions): Promise<(RegistryRecord | undefined)[]> {
    this.#enter(options?.signal);
    checkKeys(keys, this.#options.maxKeyBytes);
    const signal = options?.signal;
    const unique = [...new Set(keys)];
    const found = new Map<string, Seen>();
    const chunk = this.#options.maxTxnOps;
    const reads: Promise<void>[] = [];
    for (let i = 0; i < unique.length; i += chunk) {
      const part = unique.slice(i, i + chunk);
      reads.push(
        (async () => {
          if (this.#options.consistency === 'serializable') {
            await Promise.all(part.map(async (key) => void found.set(key, await this.#read(key, signal))));
            return;
          }
          // one transaction: every key read at the same revision, in one round trip
          const seen = await this.#readAll(part, signal);
          part.forEach((key, j) => found.set(key, seen[j] ?? ABSENT));
        })(),
      );
    }
    await Promise.all(reads);
    const live = new Map<string, RegistryRecord | undefined>();
    for (const key of unique) live.set(key, await this.#live(key, found.get(key) ?? ABSENT, signal));
    return keys.map((key) => live.get(key));
  }

  async setMany(entries: readonly SetEntry[], options?: OperationOptions): Promise<RegistryRecord[]> {
    this.#enter(options?.signal);
    checkEntries(this.#options, entries);
    return this.#write(entries, options?.signal, undefined);
  }

  async deleteMany(keys: readonly string[], options?: OperationOptions): Promise<number> {
    this.#enter(options?.signal);
    checkKeys(keys, this.#options.maxKeyBytes);
    return this.#deleteKeys([...new Set(keys)], options?.signal, 'delete');
  }

  async *scan(options: ScanOptions = {}): AsyncIterableIterator<RegistryRecord> {
    const { prefix = '', signal } = options;
    this.#enter(signal);
    if (typeof prefix !== 'string') throw RegistryError.invalidOption('prefix must be a string');
    const start = Buffer.concat([this.#prefix, Buffer.from(prefix)]);
    const end = rangeEnd(start);
    for (let from = start; ;) {
      this.#enter(signal);
      const page = await this.#range(from, { end, limit: this.#options.scanPageSize, signal });
      for (const kv of page.kvs) {
        const key = kv.key.subarray(this.#prefix.length).toString();
        if (!isRecord(kv.value)) continue;
        const record = readRecord(key, kv.value);
        if (this.#liveRecord(record) === undefined) continue;
        this.#enter(signal);
        yield record;
      }
      const last = page.kvs[page.kvs.length - 1];
      if (!page.more || last === undefined) return;
      from = Buffer.concat([last.key, Buffer.from([0])]);
    }
  }

  async size(options?: OperationOptions): Promise<number> {
    let count = 0;
    for await (const _ of this.scan({ signal: options?.signal })) count++;
    return count;
  }

  async clear(options?: OperationOptions): Promise<void> {
    this.#enter(options?.signal);
    const response = await this.#call(options?.signal, 'clear', () =>
      this.#client.kv.deleteRange({ key: this.#prefix, range_end: rangeEnd(this.#prefix), prev_kv: true }),
    );
    this.#seen.clear();
    for (const kv of response.prev_kvs) {
      if (!isRecord(kv.value)) continue;
      const record = readRecord(kv.key.subarray(this.#prefix.length).toString(), kv.value);
      this.#emitRemoved(record.key, record.version, 'clear');
    }
  }

  /**
   * The feed of {@link Registry.watch} on etcd's native watch. Removals appear as `delete`
   * (a `clear` too: etcd does not tell them apart) or, for a record whose deadline had passed
   * when the feed delivers it, `expire` — whether the registry met it or its lease ran out
   * (then `expiryGraceMs` after the end of its expiry window). A cursor older than etcd's last
   * compaction rejects with `COMPACTED`; see `watchEtcd` for buffering and faults.
   */
  watch(options: WatchOptions = {}): AsyncIterableIterator<RegistryChange> {
    return watchEtcd(this.#watch, options);
  }

  async cursor(options?: OperationOptions): Promise<string> {
    this.#enter(options?.signal);
    return String(await this.#watch.revision(options?.signal));
  }

  async close(_options?: OperationOptions): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const wake of [...this.#watch.closers]) wake();
    // leases are left to run out: revoking one would delete records other clients still serve
    this.#client.close();
  }

  #enter(signal: AbortSignal | undefined): void {
    checkOpen(this.#closed, signal);
  }

  #etcdKey(key: string): Buffer {
    return Buffer.concat([this.#prefix, Buffer.from(key)]);
  }

  #call<T>(signal: AbortSignal | undefined, what: string, call: () => Promise<T>): Promise<T> {
    return withDeadline(this.#clock, this.#options.timeoutMs, signal, what, call);
  }

  #range(key: Buffer, o: { end?: Buffer; limit?: number; signal: AbortSignal | undefined }): Promise<IRangeResponse> {
    return this.#call(o.signal, 'range', () =>
      this.#client.kv.range({
        key,
        ...(o.end === undefined ? {} : { range_end: o.end }),
        ...(o.limit === undefined ? {} : { limit: o.limit }),
        serializable: this.#options.consistency === 'serializable',
      }),
    );
  }

  #txn(
    compare: NonNullable<Parameters<Etcd3['kv']['txn']>[0]['compare']>,
    success: IRequestOp[],
    failure: IRequestOp[],
    signal: AbortSignal | undefined,
    what: string,
  ): Promise<ITxnResponse> {
    return this.#call(signal, what, () => this.#client.kv.txn({ compare, success, failure }));
  }

  #guard(key: string, basis: Seen) {
    return {
      key: this.#etcdKey(key),
      target: 'Mod' as const,
      result: 'Equal' as const,
      mod_revision: basis.modRevision,
    };
  }

  /** What the registry knows of `key` without asking: the cache, or "absent" as the first guess. */
  #seenOf(key: string): Seen {
    return this.#seen.get(key) ?? ABSENT;
  }

  /** Reads `key` from etcd and remembers what it found. */
  async #read(key: string, signal: AbortSignal | undefined): Promise<Seen> {
    const response = await this.#range(this.#etcdKey(key), { signal });
    return this.#learn(key, response.kvs[0]);
  }

  /** Reads `keys` (distinct, at most `maxTxnOps`) in one transaction and remembers what it found. */
  async #readAll(keys: readonly string[], signal: AbortSignal | undefined): Promise<Seen[]> {
    if (keys.length === 1) return [await this.#read(keys[0] as string, signal)];
    const ops = keys.map((key): IRequestOp => ({ request_range: { key: this.#etcdKey(key) } }));
    const response = await this.#txn([], ops, [], signal, 'read');
    return keys.map((key, i) => this.#learn(key, response.responses[i]?.response_range.kvs[0]));
  }

  #learn(key: string, kv: IKeyValue | undefined): Seen {
    if (kv === undefined) {
      this.#seen.delete(key);
      return ABSENT;
    }
    const seen: Seen = {
      modRevision: kv.mod_revision,
      record: isRecord(kv.value) ? readRecord(key, kv.value) : undefined,
    };
    if (seen.record === undefined) {
      throw RegistryError.codec(`the etcd value of "${key}" is not a Nautilus record`, key);
    }
    this.#seen.set(key, seen);
    return seen;
  }

  #liveRecord(record: RegistryRecord | undefined): RegistryRecord | undefined {
    if (record === undefined) return undefined;
    return record.expiresAt === undefined || record.expiresAt > this.#clock.now() ? record : undefined;
  }

  /** The live record of `seen`, removing it (one `expire` event, by whoever removes it) when expired. */
  async #live(key: string, seen: Seen, signal: AbortSignal | undefined): Promise<RegistryRecord | undefined> {
    const record = seen.record;
    if (record === undefined || this.#liveRecord(record) !== undefined) return record;
    const response = await this.#txn(
      [this.#guard(key, seen)],
      [{ request_delete_range: { key: this.#etcdKey(key) } }],
      [],
      signal,
      'expire',
    );
    this.#seen.delete(key);
    if (response.succeeded) this.#emitRemoved(key, record.version, 'expire');
    return undefined;
  }

  /**
   * Writes `entries` in order, each as the next version of its key, in transactions of at most
   * `maxTxnOps` keys (a key repeated in a batch starts a new transaction). With `ifVersion`
   * (single writes only) the stored version must equal it.
   */
  async #write(
    entries: readonly SetEntry[],
    signal: AbortSignal | undefined,
    ifVersion: number | undefined,
    fence?: Fence,
  ): Promise<RegistryRecord[]> {
    const out: RegistryRecord[] = [];
    let chunk: SetEntry[] = [];
    const keys = new Set<string>();
    const flush = async (): Promise<void> => {
      if (chunk.length === 0) return;
      out.push(...(await this.#writeChunk(chunk, signal, ifVersion, fence)));
      chunk = [];
      keys.clear();
    };
    for (const entry of entries) {
      if (keys.has(entry.key) || chunk.length === this.#options.maxTxnOps) await flush();
      chunk.push(entry);
      keys.add(entry.key);
    }
    await flush();
    return out;
  }

  async #writeChunk(
    chunk: readonly SetEntry[],
    signal: AbortSignal | undefined,
    ifVersion: number | undefined,
    fence: Fence | undefined,
  ): Promise<RegistryRecord[]> {
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const now = this.#clock.now();
      const plan: PlannedWrite[] = [];
      for (const { key, value, ttlMs } of chunk) {
        const basis = this.#seenOf(key);
        const live = this.#liveRecord(basis.record);
        const version = live?.version ?? 0;
        if (ifVersion !== undefined && ifVersion !== version) {
          // a conflict is decided on what etcd holds, not on a cached (or "absent") guess
          if (round === 0) break;
          throw RegistryError.versionConflict(key, ifVersion, version);
        }
        if (version === Number.MAX_SAFE_INTEGER) throw RegistryError.versionExhausted(key, version);
        const record: RegistryRecord = {
          key,
          value,
          version: version + 1,
          createdAt: live?.createdAt ?? now,
          updatedAt: now,
          expiresAt: ttlMs === undefined ? undefined : now + ttlMs,
        };
        plan.push({ record, basis });
      }
      if (plan.length < chunk.length) {
        await this.#readAll(
          chunk.map((e) => e.key),
          signal,
        );
        continue;
      }
      if (await this.#commit(plan, signal, fence)) {
        for (const { record } of plan) this.#emitSet(record);
        return plan.map((p) => p.record);
      }
    }
    throw RegistryError.timeout(`write of ${chunk.length} keys lost ${MAX_ROUNDS} rounds to concurrent writers`);
  }

  /**
   * One transaction: every record of `plan` put if its key's `mod_revision` is still the one
   * its basis saw. Resolves `false` (having learned the current state) when one was not.
   */
  async #commit(plan: readonly PlannedWrite[], signal: AbortSignal | undefined, fence?: Fence): Promise<boolean> {
    const fenceKey = fence === undefined ? undefined : Buffer.from(fence.entry, 'latin1');
    for (let attempt = 0; ; attempt++) {
      const ops: IRequestOp[] = [];
      const leases: string[] = [];
      for (const { record } of plan) {
        const expiresAt = record.expiresAt;
        const lease =
          expiresAt === undefined ? '0' : (this.#leases.granted(expiresAt) ?? (await this.#leases.leaseFor(expiresAt)));
        leases.push(lease);
        ops.push({ request_put: { key: this.#etcdKey(record.key), value: encodeRecord(record), lease } });
      }
      let response: ITxnResponse;
      try {
        const guards = plan.map(({ record, basis }) => this.#guard(record.key, basis));
        if (fenceKey !== undefined && fence !== undefined) {
          guards.push({ key: fenceKey, target: 'Create', result: 'Equal', create_revision: fence.token } as never);
        }
        response = await this.#txn(
          guards,
          ops,
          // one key: its current state comes back with the failure; a batch reads it after one
          // (smaller requests for the common case, where the guess holds)
          plan.length === 1 ? [{ request_range: { key: ops[0]?.request_put?.key as Buffer } }] : [],
          signal,
          'write',
        );
      } catch (error) {
        // a lease etcd no longer has (it restarted without it, or it ran out early): grant anew
        if (attempt === 0 && isLeaseGone((error as { cause?: unknown }).cause ?? error)) {
          for (const lease of leases) this.#leases.forget(lease);
          continue;
        }
        throw error;
      }
      if (response.succeeded) {
        const revision = response.header.revision;
        for (const { record } of plan) this.#seen.set(record.key, { modRevision: revision, record });
        return true;
      }
      if (fenceKey !== undefined && fence !== undefined) {
        const holder = (await this.#range(fenceKey, { signal })).kvs[0];
        if (holder?.create_revision !== fence.token) throw RegistryError.fenced(plan[0]?.record.key ?? '', fence.token);
      }
      const current =
        plan.length === 1
          ? [this.#learn(plan[0]?.record.key as string, response.responses[0]?.response_range.kvs[0])]
          : await this.#readAll(
              plan.map((p) => p.record.key),
              signal,
            );
      // the client resends a request whose answer was lost (a member died): if etcd holds exactly
      // what this write put, byte for byte, the write was applied, and its guard failed on itself
      return plan.every(({ record }, i) => sameRecord(current[i]?.record, record));
    }
  }

  /** Deletes `keys` (distinct) in transactions of `maxTxnOps`; resolves to how many were live. */
  async #deleteKeys(keys: readonly string[], signal: AbortSignal | undefined, reason: RemovalReason): Promise<number> {
    let removed = 0;
    const chunk = this.#options.maxTxnOps;
    for (let i = 0; i < keys.length; i += chunk) {
      const part = keys.slice(i, i + chunk);
      const ops = part.map((key): IRequestOp => ({ request_delete_range: { key: this.#etcdKey(key), prev_kv: true } }));
      const response = await this.#txn([], ops, [], signal, 'delete');
      part.forEach((key, j) => {
        this.#seen.delete(key);
        const previous = response.responses[j]?.response_delete_range.prev_kvs[0];
        if (previous === undefined || !isRecord(previous.value)) return;
        const record = readRecord(key, previous.value);
        const live = this.#liveRecord(record) !== undefined;
        if (live) removed++;
        this.#emitRemoved(key, record.version, live ? reason : 'expire');
      });
    }
    return removed;
  }

  #emitSet(record: RegistryRecord): void {
    if (this.listening('record:set')) {
      this.emit('record:set', { key: record.key, version: record.version, expiresAt: record.expiresAt });
    }
  }

  #emitRemoved(key: string, version: number, reason: RemovalReason): void {
    if (this.listening('record:removed')) this.emit('record:removed', { key, reason, version });
  }
}
