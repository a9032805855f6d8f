import { Etcd3 } from 'etcd3';
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
} from '../validation.js';
import { rangeEnd, withDeadline } from './calls.js';
import {
  campaign,
  type CampaignOptions,
  currentLeader,
  type ElectionContext,
  type Leader,
  type LeaderChange,
  type LeadershipHandle,
} from './election.js';
import { checkFence, type Fence } from './fence.js';
import { ABSENT, channelOptions, clientOptions, EtcdKv, type Seen } from './kv.js';
import { type LockContext, type LockHandle, type LockOptions, takeLock } from './lock.js';
import { observeLeaders, type ObserveOptions } from './observe.js';
import {
  type EtcdRegistryDeps,
  type EtcdRegistryOptions,
  type ResolvedEtcdRegistryOptions,
  resolveEtcdOptions,
} from './options.js';
import { watchEtcd, type WatchContext } from './watch-feed.js';
import { WatchChannels } from './watch-stream.js';
import { commit, MAX_ROUNDS, restoreRecord, writeEntries } from './writes.js';

/** Options of {@link EtcdRegistry.set}: the contract's, and a fencing token. */
export interface EtcdSetOptions extends SetOptions {
  /**
   * Write only while the lock this fence came from (see {@link EtcdRegistry.lock}) is still
   * held by that holder, checked atomically in the write's transaction; otherwise reject with
   * `FENCED` and change nothing. A paused holder whose lease ran out can no longer write.
   * Anything but the fence of a lock or leadership of this registry's `keyPrefix` (from this
   * process or another) rejects with `INVALID_OPTION`.
   */
  readonly fence?: Fence | undefined;
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
 *   compare-and-set is exact. Batches are transactions of at most `maxTxnOps` keys and
 *   `maxRequestBytes` bytes.
 * - Time: deadlines come from the injected clock and are checked on every read; the record
 *   rides a lease shared by its expiry window (see {@link LeasePool}), which etcd revokes
 *   `expiryGraceMs` after the window.
 * - Reads: linearizable by default, `serializable` as an option; `scan` pages by key range.
 * - Watch: etcd's native watch from a revision (see `watchEtcd`): removals appear as `delete`,
 *   `clear` or `expire`, judged as of the removal (see `EtcdKv.marker`); never `evict`.
 * - Events: `record:set` / `record:removed` for what this instance does or meets (writes of
 *   other clients and leases running out fire nothing: use `watch` for those).
 * - Failures: the cluster saying it cannot serve (no leader, members refused or reset) →
 *   `BACKEND_UNAVAILABLE` within `timeoutMs` (a leaderless refusal is sent again until then);
 *   no answer at all within `timeoutMs` (a hung or black-holed member) → `TIMEOUT`.
 *
 * @example
 * const registry = new EtcdRegistry({ hosts: ['http://127.0.0.1:2379'] });
 * await registry.set('peer:1', bytes, { ttlMs: 30 * 60_000 });
 * for await (const change of registry.watch({ prefix: 'peer:' })) console.log(change);
 */
export class EtcdRegistry extends Emitter<RegistryEvents> implements Registry<Uint8Array> {
  readonly #options: ResolvedEtcdRegistryOptions;
  readonly #clock: Clock;
  readonly #kv: EtcdKv;
  readonly #watch: WatchContext;
  readonly #locks: LockContext;
  readonly #elections: ElectionContext;
  /** The lock and election prefixes as a fence's entry spells them (latin1), for `checkFence`. */
  readonly #fenceNamespaces: readonly string[];
  /** Clients of one member each, for the probes of watches (created on first use). */
  readonly #hostClients: (Etcd3 | undefined)[] = [];
  /** The watch streams' channels, one member each. */
  readonly #watchStreams: WatchChannels;
  #closed = false;

  constructor(options: EtcdRegistryOptions, deps: EtcdRegistryDeps = {}) {
    super(deps.onListenerError);
    this.#options = resolveEtcdOptions(options);
    this.#clock = deps.clock ?? systemClock;
    this.#kv = new EtcdKv(this.#options, this.#clock, {
      set: (record) => this.#emitSet(record),
      removed: (key, version, reason) => this.#emitRemoved(key, version, reason),
    });
    const kv = this.#kv;
    const closers = new Set<() => void>();
    const streams = new WatchChannels(this.#options.hosts, channelOptions(this.#options));
    this.#watchStreams = streams;
    this.#watch = {
      clock: this.#clock,
      keyPrefix: kv.prefix,
      timeoutMs: this.#options.timeoutMs,
      watchBuffer: this.#options.watchBuffer,
      isClosed: () => this.#closed,
      closers,
      revision: async (signal) => Number((await kv.range(kv.prefix, { signal, limit: 1 })).header.revision),
      hosts: this.#options.hosts,
      openStream: (i) => streams.open(i),
      progressMs: this.#options.watchProgressMs,
      probe: async (i) => {
        let client = this.#hostClients[i];
        if (client === undefined) {
          client = new Etcd3(clientOptions(this.#options, [this.#options.hosts[i] as string]));
          this.#hostClients[i] = client;
        }
        const read = () =>
          client.kv.range({ key: kv.prefix, range_end: rangeEnd(kv.prefix), limit: 1, keys_only: true });
        await withDeadline(this.#clock, 2 * this.#options.watchProgressMs, undefined, 'watch probe', read);
      },
      connected: new Map(),
      valuesAt: (reads, signal) => kv.valuesAt(reads, signal),
    };
    const coordination = {
      client: kv.client,
      clock: this.#clock,
      timeoutMs: this.#options.timeoutMs,
      isClosed: () => this.#closed,
      closers,
    };
    // outside the records' key range: scans, sizes and watches never meet these entries
    this.#locks = { ...coordination, lockPrefix: `\u0000locks/${this.#options.keyPrefix}` };
    this.#elections = { ...coordination, electionPrefix: `\u0000elections/${this.#options.keyPrefix}` };
    this.#fenceNamespaces = [this.#locks.lockPrefix, this.#elections.electionPrefix].map((prefix) =>
      Buffer.from(prefix).toString('latin1'),
    );
  }

  /** The effective configuration. */
  get options(): ResolvedEtcdRegistryOptions {
    return this.#options;
  }

  /** The `etcd3` client underneath (for locks, elections and tools; closed with the registry). */
  get client(): Etcd3 {
    return this.#kv.client;
  }

  /** The members this registry's open watches are connected to now (one entry per watch). */
  get watchHosts(): string[] {
    return [...this.#watch.connected.values()];
  }

  /** Leases held for expiry windows now (bounded by the spread of deadlines, not by records). */
  get leaseCount(): number {
    return this.#kv.leases.size;
  }

  async get(key: string, options?: OperationOptions): Promise<RegistryRecord | undefined> {
    this.#enter(options?.signal);
    checkKey(key, this.#options.maxKeyBytes);
    const seen = await this.#kv.read(key, options?.signal);
    // only a record past its deadline needs the (asynchronous) removal
    const record = this.#kv.liveRecord(seen.record);
    return record !== undefined || seen.record === undefined ? record : this.#kv.live(key, seen, options?.signal);
  }

  async has(key: string, options?: OperationOptions): Promise<boolean> {
    return (await this.get(key, options)) !== undefined;
  }

  async set(key: string, value: Uint8Array, options?: EtcdSetOptions): Promise<RegistryRecord> {
    this.#enter(options?.signal);
    const { ttlMs, ifVersion, signal, fence } = options ?? {};
    checkWrite(this.#options, key, value, ttlMs);
    if (ifVersion !== undefined) checkVersion(ifVersion);
    if (fence !== undefined) checkFence(fence, this.#fenceNamespaces);
    const [record] = await writeEntries(this.#kv, [{ key, value, ttlMs }], signal, ifVersion, fence);
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

  /**
   * Campaigns in election `name` with `value` until elected (waiting while others lead); the
   * handle carries a fencing token that grows with every leader, usable as the lock's (`set(…,
   * { fence })`), and `lost` / `whenLost` for the moment leadership may be gone. Abort `signal`
   * to stop campaigning. See {@link CampaignOptions.ttlMs}.
   */
  campaign(name: string, value: Uint8Array, options?: CampaignOptions): Promise<LeadershipHandle> {
    return campaign(this.#elections, name, value, options);
  }

  /** The leader of election `name` now (a linearizable read), or `undefined` when nobody campaigns. */
  leader(name: string, options?: OperationOptions): Promise<Leader | undefined> {
    return currentLeader(this.#elections, name, options);
  }

  /**
   * The leaders of election `name`: the leader now (or `undefined`), then every change of
   * leader or of its proclaimed value. Breaking out of the loop or aborting `signal` ends it.
   */
  observe(name: string, options?: ObserveOptions): AsyncIterableIterator<LeaderChange> {
    return observeLeaders(this.#elections, name, options);
  }

  async restore(record: RegistryRecord, options?: RestoreOptions): Promise<RestoreResult> {
    this.#enter(options?.signal);
    checkRestore(this.#options, record, options?.ifNewer);
    return restoreRecord(this.#kv, { ...record, value: record.value }, options?.ifNewer !== false, options?.signal);
  }

  async delete(key: string, options?: DeleteOptions): Promise<boolean> {
    this.#enter(options?.signal);
    checkKey(key, this.#options.maxKeyBytes);
    const { ifVersion, signal } = options ?? {};
    if (ifVersion !== undefined) checkVersion(ifVersion);
    if (ifVersion === undefined) return (await this.#kv.deleteKeys([key], signal)) === 1;
    for (let round = 0; round < MAX_ROUNDS; round++) {
      // decided on what etcd holds: the cache may be stale, and "absent" is only a guess
      const basis = await this.#kv.read(key, signal);
      const live = this.#kv.liveRecord(basis.record);
      const version = live?.version ?? 0;
      if (ifVersion !== version) throw RegistryError.versionConflict(key, ifVersion, version);
      if (basis.record === undefined) return false;
      const response = await this.#kv.txn(
        [this.#kv.guard(key, basis)],
        [this.#kv.marker('delete'), { request_delete_range: { key: this.#kv.etcdKey(key) } }],
        [],
        signal,
        'delete',
      );
      if (response.succeeded) {
        this.#kv.seen.delete(key);
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
      const basis = await this.#kv.read(key, signal);
      const live = await this.#kv.live(key, basis, signal);
      if (live === undefined) return false;
      const record = { ...live, expiresAt: this.#clock.now() + ttlMs };
      if (await commit(this.#kv, [{ record, basis }], signal)) return true;
    }
    throw RegistryError.timeout(`touch of "${key}" lost ${MAX_ROUNDS} rounds to concurrent writers`);
  }

  async getMany(keys: readonly string[], options?: OperationOptions): Promise<(RegistryRecord | undefined)[]> {
    this.#enter(options?.signal);
    checkKeys(keys, this.#options.maxKeyBytes);
    const signal = options?.signal;
    const distinct = new Set(keys);
    const unique = distinct.size === keys.length ? keys : [...distinct];
    const chunk = this.#options.maxTxnOps;
    const parts: Promise<Seen[]>[] = [];
    for (let i = 0; i < unique.length; i += chunk) {
      const part = unique.slice(i, i + chunk);
      parts.push(
        this.#options.consistency === 'serializable'
          ? Promise.all(part.map((key) => this.#kv.read(key, signal)))
          : // one transaction: every key read at the same revision, in one round trip
            this.#kv.readAll(part, signal),
      );
    }
    const seen = parts.length === 1 ? await (parts[0] as Promise<Seen[]>) : (await Promise.all(parts)).flat();
    const records: (RegistryRecord | undefined)[] = new Array<RegistryRecord | undefined>(unique.length);
    const now = this.#clock.now();
    for (let i = 0; i < unique.length; i++) {
      const found = seen[i] ?? ABSENT;
      // only a record past its deadline needs the (asynchronous) removal
      const record = this.#kv.liveRecord(found.record, now);
      records[i] =
        record !== undefined || found.record === undefined
          ? record
          : await this.#kv.live(unique[i] as string, found, signal);
    }
    if (unique === keys) return records;
    const byKey = new Map(unique.map((key, i) => [key, records[i]]));
    return keys.map((key) => byKey.get(key));
  }

  async setMany(entries: readonly SetEntry[], options?: OperationOptions): Promise<RegistryRecord[]> {
    this.#enter(options?.signal);
    checkEntries(this.#options, entries);
    return writeEntries(this.#kv, entries, options?.signal, undefined);
  }

  async deleteMany(keys: readonly string[], options?: OperationOptions): Promise<number> {
    this.#enter(options?.signal);
    checkKeys(keys, this.#options.maxKeyBytes);
    return this.#kv.deleteKeys([...new Set(keys)], options?.signal);
  }

  async *scan(options: ScanOptions = {}): AsyncIterableIterator<RegistryRecord> {
    const { prefix = '', signal } = options;
    this.#enter(signal);
    if (typeof prefix !== 'string') throw RegistryError.invalidOption('prefix must be a string');
    const kv = this.#kv;
    const from = Buffer.concat([kv.prefix, Buffer.from(prefix)]);
    // without a prefix, from after the namespace key (the removal marker's)
    for await (const page of kv.pages(prefix === '' ? kv.recordsStart : from, rangeEnd(from), { signal })) {
      for (const found of page) {
        if (!isRecord(found.value)) continue;
        const record = readRecord(found.key.toString('utf8', kv.prefix.length), found.value);
        if (kv.liveRecord(record) === undefined) continue;
        this.#enter(signal);
        yield record;
      }
      this.#enter(signal);
    }
  }

  async size(options?: OperationOptions): Promise<number> {
    let count = 0;
    for await (const _ of this.scan({ signal: options?.signal })) count++;
    return count;
  }

  async clear(options?: OperationOptions): Promise<void> {
    this.#enter(options?.signal);
    await this.#kv.clear(options?.signal, this.listening('record:removed'));
  }

  /**
   * The feed of {@link Registry.watch} on etcd's native watch. Removals appear as `delete` or
   * `clear` (a caller's, of a live record), or `expire` — a record past its deadline when it was
   * removed, whether a caller, the registry meeting it or its lease (`expiryGraceMs` after the
   * end of its expiry window) removed it; judged as of the removal, also in a replay. A cursor
   * older than etcd's last compaction rejects with `COMPACTED`; see `watchEtcd` for buffering
   * and faults.
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
    this.#kv.client.close();
    for (const client of this.#hostClients) client?.close();
    this.#watchStreams.close();
  }

  #enter(signal: AbortSignal | undefined): void {
    checkOpen(this.#closed, signal);
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
