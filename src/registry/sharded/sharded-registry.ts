import { Emitter } from '../../core/emitter.js';
import { type Clock, type Milliseconds, systemClock } from '../../core/clock.js';
import { RegistryError } from '../errors.js';
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
import { ShardAdmin } from './admin.js';
import { shardedDeleteMany, shardedGetMany, shardedSetMany } from './batch.js';
import { ShardedCore } from './core.js';
import { ShardedFeed } from './feed.js';
import { Attachments } from './attachments.js';
import { ReadRepair, replicatedSet, restoreOnOwners } from './repair.js';
import { fanOut, GET_RECORD, HAS_RECORD, lookup } from './requests.js';
import { shardedClear, shardedScan, shardedSize } from './scan.js';
import { KeyIndex } from './key-index.js';
import type {
  MigrationResult,
  ShardedRegistryDeps,
  ShardedRegistryEvents,
  ShardedRegistryOptions,
  ShardedRegistryStats,
  ShardSpec,
} from './options.js';
import { checkBatchFits, checkShardSpec, resolveShardedOptions } from './options.js';
import { Topology } from './topology.js';
import { Shard } from './shard.js';
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

/**
 * A {@link Registry} spread over named backends of any kind by rendezvous (HRW) hashing, with
 * replication, failover, hand-back and live rebalancing.
 *
 * - Routing: each key goes to the `replicas` (R) shards with the highest weighted HRW score
 *   ({@link ownersOf} shows them). Only keys whose owners change move when shards come and go.
 * - Replication: a write goes to the first owner (the primary, which also decides a
 *   compare-and-set), then the record it stored is copied verbatim (`restore`) to the other
 *   owners, so every replica carries the same version and times. Copies made by hand-back,
 *   migration and re-replication are verbatim too: versions and compare-and-set survive them.
 *   (Backends without `restore` get plain writes instead; their copies' versions restart at 1.)
 *   Reads go to the first healthy owner; with `readRepair`, a sample of them checks the other
 *   owners in the background and repairs missing or older copies.
 * - Failover: every shard call has a deadline (`timeoutMs`); failures open the shard's circuit
 *   and its keys go to the next shard in HRW order. Calls to healthy shards never wait on a sick
 *   one. Keys written or deleted meanwhile are remembered ("hints") and handed back when a probe
 *   finds the shard healthy again.
 * - Rebalancing: {@link addShard}, {@link removeShard} and {@link drainShard} stream exactly the
 *   records whose owners change, paced to `migrationRate`, cancellable, with progress events;
 *   reads stay correct meanwhile (a miss on the new owner checks the old one).
 * - Events: one `record:set` / `record:removed` per logical record, whatever R is; removals of a
 *   lost shard's only copies are reported with reason `shard-lost` (with `trackKeys`).
 * - Change feed: `watch` and `cursor` exist when every shard's backend has them; the shards'
 *   feeds are merged, each change served once, from its key's primary owner (see `ShardedFeed`).
 *
 * The registry owns its backends: `close()` closes them (a removed shard is handed back open).
 */
export class ShardedRegistry extends Emitter<ShardedRegistryEvents> implements Registry<Uint8Array> {
  readonly #core: ShardedCore;
  readonly #admin: ShardAdmin;
  readonly #repair: ReadRepair;
  readonly #attached: Attachments;
  readonly #feed: ShardedFeed | undefined;
  #closed = false;
  /** Present when every shard's backend has `watch`: their feeds merged (see `ShardedFeed`). */
  declare readonly watch?: (options?: WatchOptions) => AsyncIterableIterator<RegistryChange>;
  /** Present with {@link watch}: every shard's latest cursor, as one cursor. */
  declare readonly cursor?: (options?: OperationOptions) => Promise<string>;

  constructor(options: ShardedRegistryOptions, deps: ShardedRegistryDeps = {}) {
    super(deps.onListenerError);
    const resolved = resolveShardedOptions(options);
    // resolveShardedOptions checked that the shards are a non-empty array
    const specs: readonly unknown[] = options.shards;
    const clock: Clock = deps.clock ?? systemClock;
    const { maxEntries, maxBytes, trackKeys } = resolved;
    const indexed = trackKeys || maxEntries !== Number.POSITIVE_INFINITY || maxBytes !== Number.POSITIVE_INFINITY;
    const index = indexed ? new KeyIndex(maxEntries, maxBytes) : undefined;
    const shards = specs.map((spec: unknown, i) => {
      checkShardSpec(spec, `shards[${i}]`);
      return this.#makeShard(spec, resolved, clock);
    });
    const topology = new Topology(shards, resolved.replicas);
    this.#core = new ShardedCore({
      options: resolved,
      clock,
      index,
      emit: (event, payload) => this.emit(event, payload),
      topology,
    });
    this.#admin = new ShardAdmin(this.#core, {
      attach: (shard) => this.#attached.attach(shard),
      detach: (shard) => this.#attached.detach(shard),
      make: (spec) => this.#makeShard(spec, resolved, clock),
    });
    this.#repair = new ReadRepair(this.#core, deps.random ?? Math.random);
    const attached = new Attachments(this.#core);
    this.#attached = attached;
    for (const shard of shards) attached.attach(shard);
    this.#feed = attached.feed = ShardedFeed.over(shards, {
      core: this.#core,
      attached: () => attached.shards,
      isClosed: () => this.#closed,
    });
    const feed = this.#feed;
    if (feed !== undefined) [this.watch, this.cursor] = [(o) => feed.watch(o), (o) => feed.cursor(o)];
  }

  /** Names of the shards that currently take part in routing, in construction order. */
  get shardNames(): readonly string[] {
    return this.#core.current.members.map((s) => s.name);
  }

  /**
   * The shards operations on `key` use now, in preference order: its R owners, with a healthy
   * stand-in (the next in HRW order) in place of an owner that is unavailable.
   */
  ownersOf(key: string): string[] {
    checkKey(key, this.#core.options.maxKeyBytes);
    return this.#core.current.targets(key).map((s) => s.name);
  }

  /** Per-shard counters and health, plus the global capacity index. */
  stats(): ShardedRegistryStats {
    return {
      shards: this.#core.current.members.map((s) => s.stats()),
      indexedKeys: this.#core.index?.size ?? 0,
      indexedBytes: this.#core.index?.bytes ?? 0,
    };
  }

  async get(key: string, options?: OperationOptions): Promise<RegistryRecord | undefined> {
    this.#enter(options?.signal);
    checkKey(key, this.#core.options.maxKeyBytes);
    const core = this.#core;
    return core.run(async () => {
      if (core.anyKeyLocked) await core.unlocked(key);
      const record = await lookup(core, key, GET_RECORD, options?.signal);
      if (record !== undefined) core.index?.touch(key);
      this.#repair.sample(key, record);
      return record;
    });
  }

  async has(key: string, options?: OperationOptions): Promise<boolean> {
    this.#enter(options?.signal);
    checkKey(key, this.#core.options.maxKeyBytes);
    const core = this.#core;
    return core.run(async () => {
      if (core.anyKeyLocked) await core.unlocked(key);
      return lookup(core, key, HAS_RECORD, options?.signal);
    });
  }

  async set(key: string, value: Uint8Array, options?: SetOptions): Promise<RegistryRecord> {
    this.#enter(options?.signal);
    const ttlMs = options?.ttlMs;
    const ifVersion = options?.ifVersion;
    const bytes = checkWrite(this.#core.options, key, value, ttlMs);
    if (ifVersion !== undefined) checkVersion(ifVersion);
    const core = this.#core;
    const signal = options?.signal;
    return core.run(async () => {
      const record = await core.admit([key], signal, () =>
        replicatedSet(core, key, value, { ttlMs, ifVersion, signal }),
      );
      core.written(record, bytes);
      await core.evictVictims();
      return record;
    });
  }

  /**
   * Writes `record` verbatim on its key's targets (owners, or stand-ins), as for replication or
   * migration; see {@link Registry.restore}. A backend without `restore` gets a plain `set`.
   */
  async restore(record: RegistryRecord, options?: RestoreOptions): Promise<RestoreResult> {
    this.#enter(options?.signal);
    const bytes = checkRestore(this.#core.options, record, options?.ifNewer);
    const core = this.#core;
    if (record.expiresAt !== undefined && record.expiresAt <= core.clock.now()) return 'kept';
    return core.run(async () => {
      const { signal } = options ?? {};
      const ifNewer = options?.ifNewer !== false;
      const issue = (): Promise<RestoreResult> => restoreOnOwners(core, record, { ifNewer, signal });
      // a forced restore may lower the version: a repair or move of the key must not undo it
      const result = await core.admit(
        [record.key],
        signal,
        ifNewer ? issue : () => core.rewinding([record.key], issue),
      );
      if (result === 'written') core.written(record, bytes);
      await core.evictVictims();
      return result;
    });
  }

  async delete(key: string, options?: DeleteOptions): Promise<boolean> {
    this.#enter(options?.signal);
    checkKey(key, this.#core.options.maxKeyBytes);
    const ifVersion = options?.ifVersion;
    if (ifVersion !== undefined) checkVersion(ifVersion);
    const core = this.#core;
    const signal = options?.signal;
    return core.run(async () => {
      const removed = await core.admit([key], signal, () =>
        core.rewinding([key], () =>
          fanOut(core, {
            key,
            plan: core.writePlan(key),
            operation: 'delete',
            hint: 'delete',
            signal,
            primaryFirst: ifVersion !== undefined,
            send: (shard, s, primary) =>
              shard.registry.delete(key, { ifVersion: primary ? ifVersion : undefined, signal: s }),
            missed: (existed) => !existed,
          }),
        ),
      );
      core.index?.delete(key);
      return removed;
    });
  }

  async touch(key: string, ttlMs: Milliseconds, options?: OperationOptions): Promise<boolean> {
    this.#enter(options?.signal);
    checkKey(key, this.#core.options.maxKeyBytes);
    checkTtl(ttlMs);
    const core = this.#core;
    const signal = options?.signal;
    return core.run(async () => {
      const renewed = await core.admit([key], signal, () =>
        fanOut(core, {
          key,
          plan: core.writePlan(key),
          operation: 'touch',
          hint: 'set',
          signal,
          send: (shard, s) => shard.registry.touch(key, ttlMs, { signal: s }),
          missed: (live) => !live,
        }),
      );
      if (renewed) core.index?.renew(key, core.clock.now() + ttlMs);
      return renewed;
    });
  }

  async getMany(keys: readonly string[], options?: OperationOptions): Promise<(RegistryRecord | undefined)[]> {
    this.#enter(options?.signal);
    checkKeys(keys, this.#core.options.maxKeyBytes);
    const core = this.#core;
    return core.run(async () => {
      if (core.anyKeyLocked) for (const key of keys) await core.unlocked(key);
      const records = await shardedGetMany(core, keys, options?.signal);
      records.forEach((record, i) => this.#repair.sample(keys[i] as string, record));
      return records;
    });
  }

  async setMany(entries: readonly SetEntry[], options?: OperationOptions): Promise<RegistryRecord[]> {
    this.#enter(options?.signal);
    const sizes = checkEntries(this.#core.options, entries);
    if (this.#core.index !== undefined) checkBatchFits(this.#core.options, entries, sizes);
    const core = this.#core;
    const signal = options?.signal;
    return core.run(async () => {
      const records = await core.admit(
        entries.map((e) => e.key),
        signal,
        () => shardedSetMany(core, entries, signal),
      );
      records.forEach((record, i) => core.written(record, sizes[i] ?? 0));
      await core.evictVictims();
      return records;
    });
  }

  async deleteMany(keys: readonly string[], options?: OperationOptions): Promise<number> {
    this.#enter(options?.signal);
    checkKeys(keys, this.#core.options.maxKeyBytes);
    const core = this.#core;
    const signal = options?.signal;
    return core.run(async () => {
      return core.admit(keys, signal, () => core.rewinding(keys, () => shardedDeleteMany(core, keys, signal)));
    });
  }

  /**
   * Every live record under `prefix`, each once: a shard yields the records it is the read
   * target of (replicas and stale copies are skipped); during a migration, a record not yet moved
   * is yielded by its old owner when the new one lacks it. Shards are walked one after another.
   */
  async *scan(options: ScanOptions = {}): AsyncIterableIterator<RegistryRecord> {
    const { prefix = '', signal } = options;
    this.#enter(signal);
    if (typeof prefix !== 'string') throw RegistryError.invalidOption('prefix must be a string');
    yield* shardedScan(this.#core, prefix, signal, () => this.#enter(signal));
  }

  /**
   * Number of live logical records. With R = 1, every shard healthy and no migration running it
   * is the sum of the shards' sizes (one call each); otherwise records are counted by a scan.
   */
  async size(options?: OperationOptions): Promise<number> {
    this.#enter(options?.signal);
    const signal = options?.signal;
    return shardedSize(this.#core, signal, () => this.#enter(signal));
  }

  /**
   * Removes every record from every shard (one `clear` event per logical record). Rejects with
   * `BACKEND_UNAVAILABLE` naming the shards it could not reach (the others are cleared).
   */
  async clear(options?: OperationOptions): Promise<void> {
    this.#enter(options?.signal);
    return shardedClear(this.#core, options?.signal);
  }

  /** Stops migrations and probes, then closes every backend. Later calls reject with `CLOSED`. */
  async close(options?: OperationOptions): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    // stop both at once: a repair may wait for a key a migration holds
    const repairs = this.#repair.close();
    await this.#admin.close();
    await repairs;
    const shards = this.#attached.shards;
    for (const shard of shards) this.#attached.detach(shard);
    await Promise.all(shards.map((s) => s.registry.close(options)));
    this.#core.index?.clear();
  }

  /**
   * Adds a shard and moves to it exactly the records it now owns. Resolves when the migration
   * is done (or cancelled by `signal`: the shard stays, reads keep checking the old owners, and
   * {@link rebalance} finishes the move). Migrations run one at a time.
   */
  async addShard(spec: ShardSpec, options: OperationOptions = {}): Promise<MigrationResult> {
    this.#enter(options.signal);
    checkShardSpec(spec, 'shard');
    this.#feed?.checkJoining(spec.registry);
    return this.#admin.add(spec, options.signal);
  }

  /**
   * Removes a shard. By default its records first move to their new owners (the backend is not
   * closed; it is the caller's again). With `lost: true` the shard is gone: it is dropped at once,
   * surviving replicas are re-replicated, and records whose last copy was there are reported with
   * `record:removed` reason `shard-lost` (exactly, when keys are tracked; see `trackKeys`).
   */
  async removeShard(
    name: string,
    options: OperationOptions & { readonly lost?: boolean } = {},
  ): Promise<MigrationResult> {
    this.#enter(options.signal);
    return this.#admin.remove(name, { lost: options.lost === true, signal: options.signal });
  }

  /**
   * Moves every record off a shard and stops routing to it, keeping it attached (for
   * maintenance, then {@link removeShard} is immediate). Resolves like {@link addShard}.
   */
  async drainShard(name: string, options: OperationOptions = {}): Promise<MigrationResult> {
    this.#enter(options.signal);
    return this.#admin.drain(name, options.signal);
  }

  /** Finishes a cancelled migration; resolves `undefined` when none is pending. */
  async rebalance(options: OperationOptions = {}): Promise<MigrationResult | undefined> {
    this.#enter(options.signal);
    return this.#admin.resume(options.signal);
  }

  /**
   * Resolves once hand-backs, migrations and read repairs started so far have finished (not a
   * hand-back retry still waiting out its backoff).
   */
  async settled(): Promise<void> {
    await this.#repair.settled();
    await this.#admin.settled();
  }

  #enter(signal: AbortSignal | undefined): void {
    checkOpen(this.#closed, signal);
  }

  #makeShard(spec: ShardSpec, options: ReturnType<typeof resolveShardedOptions>, clock: Clock): Shard {
    return new Shard(spec, {
      clock,
      timeoutMs: options.timeoutMs,
      failureThreshold: options.failureThreshold,
      cooldownMs: options.cooldownMs,
      maxHints: options.maxHintsPerShard,
      onHealth: (shard, health, error) => {
        this.emit(
          'shard:health',
          error === undefined ? { shard: shard.name, health } : { shard: shard.name, health, error },
        );
        if (health === 'up') this.#admin.recovered(shard);
      },
      onError: (shard, operation, error) => this.emit('shard:error', { shard: shard.name, operation, error }),
      onHint: (shard) => this.#admin.handBackTo(shard),
    });
  }
}
