import { setMaxListeners } from 'node:events';
import type { Timer } from '../../core/clock.js';
import { RegistryError } from '../errors.js';
import type { ShardedCore } from './core.js';
import { handBack, migrate, type Move } from './migration.js';
import { MAX_RETRY_COOLDOWNS, type MigrationResult, type ShardSpec } from './options.js';
import { Topology } from './topology.js';
import { isShardFailure, type Shard } from './shard.js';

/** What the administration needs from the registry class. */
export interface AdminHooks {
  /** Starts forwarding the shard's events. */
  attach(shard: Shard): void;
  /** Stops its probes and event forwarding. */
  detach(shard: Shard): void;
  make(spec: ShardSpec): Shard;
}

interface Retry {
  failures: number;
  timer: Timer | undefined;
}

/** A migration, with what to do once it is done (not when cancelled: then it waits for `rebalance()`). */
interface PendingMigration extends Move {
  readonly after: (() => void) | undefined;
}

/**
 * Membership changes and background work of a sharded registry, run one at a time: migrations
 * (add, remove, drain, lost) and hand-backs to recovered shards.
 */
export class ShardAdmin {
  readonly #core: ShardedCore;
  readonly #hooks: AdminHooks;
  readonly #stop = new AbortController();
  readonly #drained = new Map<string, Shard>();
  /** Shards with a hand-back queued. */
  readonly #handingBack = new Set<Shard>();
  /** Shards with a hand-back running. */
  readonly #running = new Set<Shard>();
  /** Consecutive hand-backs to a shard that left keys unsettled, and the timer of the next attempt. */
  readonly #retries = new Map<Shard, Retry>();
  #jobs: Promise<unknown> = Promise.resolve();
  #pending: PendingMigration | undefined;
  #closed = false;

  constructor(core: ShardedCore, hooks: AdminHooks) {
    this.#core = core;
    this.#hooks = hooks;
    setMaxListeners(0, this.#stop.signal);
  }

  add(spec: ShardSpec, signal: AbortSignal | undefined): Promise<MigrationResult> {
    const core = this.#core;
    this.#checkNew(spec.name);
    const shard = this.#hooks.make(spec);
    // validates the weight before anything changes
    new Topology([...core.current.members, shard], core.options.replicas);
    return this.#job(async () => {
      this.#checkNew(spec.name);
      this.#checkNoPending();
      const from = core.current;
      this.#checkSources(from, from.members);
      const to = new Topology([...from.members, shard], core.options.replicas);
      this.#hooks.attach(shard);
      return this.#migrate(
        { kind: 'add', shard: shard.name, sources: from.members, from, to, after: undefined },
        signal,
      );
    });
  }

  remove(
    name: string,
    options: { readonly lost: boolean; readonly signal: AbortSignal | undefined },
  ): Promise<MigrationResult> {
    const { lost, signal } = options;
    return this.#job(async () => {
      const drained = this.#drained.get(name);
      if (drained !== undefined) {
        this.#drained.delete(name);
        this.#hooks.detach(drained);
        return { kind: 'remove', shard: name, scanned: 0, moved: 0, cancelled: false };
      }
      const { shard, from, to } = this.#without(name);
      if (lost) return this.#lose(shard, from, to, signal);
      const sources = from.r === 1 ? [shard] : from.members;
      this.#checkSources(from, sources);
      const after = (): void => this.#hooks.detach(shard);
      return this.#migrate({ kind: 'remove', shard: name, sources, from, to, after }, signal);
    });
  }

  drain(name: string, signal: AbortSignal | undefined): Promise<MigrationResult> {
    return this.#job(async () => {
      const { shard, from, to } = this.#without(name);
      const sources = from.r === 1 ? [shard] : from.members;
      this.#checkSources(from, sources);
      const after = (): void => {
        this.#drained.set(name, shard);
      };
      return this.#migrate({ kind: 'drain', shard: name, sources, from, to, after }, signal);
    });
  }

  resume(signal: AbortSignal | undefined): Promise<MigrationResult | undefined> {
    return this.#job(async () => {
      const pending = this.#pending;
      if (pending === undefined) return undefined;
      this.#pending = undefined;
      return this.#finish(pending, await migrate(this.#core, pending, this.#signal(signal)));
    });
  }

  /**
   * A shard's probe succeeded: hand back what it missed (in the background, after other jobs),
   * then retry at once what others could not be handed while it was away.
   */
  recovered(shard: Shard): void {
    if (!this.#closed && !this.#handingBack.has(shard)) {
      // out of routing until caught up: a shard that restarted without its data must not answer misses
      shard.beginResync();
      this.#cancelRetry(shard);
      this.#queueHandBack(shard, true, false);
    }
    for (const other of this.#core.current.members) {
      if (other === shard || other.health !== 'up') continue;
      this.#cancelRetry(other);
      this.handBackTo(other);
    }
  }

  /**
   * Schedules a hand-back to `shard` if it has hints and none is queued, running or waiting out
   * a backoff (a hand-back that left keys unsettled is retried on a timer: a hint left by its own
   * failed copy must not start the next attempt at once).
   */
  handBackTo(shard: Shard): void {
    if (this.#closed || this.#handingBack.has(shard) || this.#running.has(shard)) return;
    if (!shard.hints.pending) return;
    if (this.#retries.get(shard)?.timer !== undefined) return;
    this.#queueHandBack(shard, false, this.#retries.has(shard));
  }

  /**
   * Queues a hand-back to `shard`. After a recovery (`resync`) it first checks whether the shard
   * came back empty; `cautious` starts with one key (a retry after a failure).
   */
  #queueHandBack(shard: Shard, resync: boolean, cautious: boolean): void {
    this.#handingBack.add(shard);
    const core = this.#core;
    let unsettled = true;
    this.#job(async () => {
      this.#handingBack.delete(shard);
      if (!core.current.members.includes(shard) || shard.health !== 'up') {
        if (resync) shard.endResync();
        this.#afterHandBack(shard, false);
        return;
      }
      this.#running.add(shard);
      try {
        if (resync) {
          const size = await shard.call('size', this.#stop.signal, (s) => shard.registry.size({ signal: s }));
          // empty after an outage: restarted without persistence, so copy back everything it owns
          if (size === 0) shard.hints.markOverflowed();
        }
        if (shard.hints.pending) {
          const result = await handBack(core, shard, { signal: this.#stop.signal, cautious });
          // a full pass left to make again (see handBack) is retried after a backoff too
          unsettled = result.moved < result.scanned || shard.hints.overflowed;
          core.emit('migration:done', result);
        } else unsettled = false;
      } finally {
        // still out of routing while a refill after a recovery is left to make: its misses are not the truth
        if (resync || shard.resyncing) {
          if (shard.hints.overflowed && shard.health === 'up') shard.beginResync();
          else shard.endResync();
        }
        this.#running.delete(shard);
        this.#afterHandBack(shard, unsettled);
      }
    }).catch((error: unknown) => core.emit('shard:error', { shard: shard.name, operation: 'hand-back', error }));
  }

  /**
   * After a hand-back to `shard`: done when no hint is left; hints that came in meanwhile are
   * handed back at once; when the hand-back itself left keys unsettled (the shard failed the copy,
   * or an owner that may hold the key is away), it is retried after `cooldownMs`, doubling with
   * each failure in a row up to {@link MAX_RETRY_COOLDOWNS} cooldowns: a shard that keeps failing
   * writes while its circuit stays closed costs at most one call per cooldown, not a tight loop.
   * A shard that went down again is left to its recovery (which its probes pace).
   */
  #afterHandBack(shard: Shard, unsettled: boolean): void {
    const core = this.#core;
    if (this.#closed || !core.current.members.includes(shard) || !shard.hints.pending) {
      this.#cancelRetry(shard);
      this.#retries.delete(shard);
      return;
    }
    if (shard.health !== 'up') return;
    if (!unsettled) {
      this.#retries.delete(shard);
      this.handBackTo(shard);
      return;
    }
    const retry = this.#retries.get(shard) ?? { failures: 0, timer: undefined };
    this.#retries.set(shard, retry);
    retry.failures++;
    const delay = core.options.cooldownMs * Math.min(2 ** (retry.failures - 1), MAX_RETRY_COOLDOWNS);
    retry.timer?.cancel();
    retry.timer = core.clock.setTimeout(() => {
      retry.timer = undefined;
      if (!this.#closed && !this.#handingBack.has(shard) && !this.#running.has(shard))
        this.#queueHandBack(shard, false, true);
    }, delay);
  }

  /** Drops a pending hand-back retry timer of `shard` (its failure count stays). */
  #cancelRetry(shard: Shard): void {
    const retry = this.#retries.get(shard);
    retry?.timer?.cancel();
    if (retry !== undefined) retry.timer = undefined;
  }

  /** Resolves when every job queued so far has finished. */
  async settled(): Promise<void> {
    for (let jobs = this.#jobs; ; jobs = this.#jobs) {
      await jobs;
      if (jobs === this.#jobs) return;
    }
  }

  /** Cancels running work and waits for it to stop. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const shard of this.#retries.keys()) this.#cancelRetry(shard);
    this.#stop.abort(RegistryError.closed());
    await this.settled();
    for (const shard of this.#drained.values()) this.#hooks.detach(shard);
  }

  #job<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#jobs.then(fn);
    this.#jobs = run.catch(() => undefined);
    return run;
  }

  #signal(signal: AbortSignal | undefined): AbortSignal {
    if (signal === undefined) return this.#stop.signal;
    const combined = AbortSignal.any([signal, this.#stop.signal]);
    // a migration batch has one call per record in flight, each listening to it
    setMaxListeners(0, combined);
    return combined;
  }

  #checkNew(name: string): void {
    if (this.#core.current.members.some((s) => s.name === name) || this.#drained.has(name)) {
      throw RegistryError.invalidOption(`a shard named "${name}" already exists`);
    }
  }

  #checkNoPending(): void {
    if (this.#pending !== undefined) {
      throw RegistryError.invalidOption('a cancelled migration is pending: call rebalance() first');
    }
  }

  /** Without replicas, every record to move has one copy: its shard must be reachable. */
  #checkSources(from: Topology, sources: readonly Shard[]): void {
    if (from.r > 1) return;
    const down = sources.filter((s) => s.health !== 'up').map((s) => s.name);
    if (down.length > 0) {
      throw RegistryError.unavailable(
        `shard(s) ${down.join(', ')} are down: wait for them, or remove a dead one with { lost: true }`,
      );
    }
  }

  #without(name: string): { shard: Shard; from: Topology; to: Topology } {
    const from = this.#core.current;
    const shard = from.members.find((s) => s.name === name);
    if (shard === undefined) throw RegistryError.invalidOption(`no shard named "${name}"`);
    if (from.members.length === 1) throw RegistryError.invalidOption('cannot remove the last shard');
    this.#checkNoPending();
    return {
      shard,
      from,
      to: new Topology(
        from.members.filter((s) => s !== shard),
        this.#core.options.replicas,
      ),
    };
  }

  async #migrate(migration: PendingMigration, signal: AbortSignal | undefined): Promise<MigrationResult> {
    await this.#core.startMigration(migration.to);
    return this.#finish(migration, await migrate(this.#core, migration, this.#signal(signal)));
  }

  #finish(migration: PendingMigration, result: MigrationResult): MigrationResult {
    if (result.cancelled) {
      this.#pending = migration;
    } else {
      this.#core.endMigration();
      migration.after?.();
    }
    this.#core.emit('migration:done', result);
    return result;
  }

  /** Drops a dead shard at once, reports the records that died with it, re-replicates the rest. */
  async #lose(shard: Shard, from: Topology, to: Topology, signal: AbortSignal | undefined): Promise<MigrationResult> {
    const core = this.#core;
    this.#hooks.detach(shard);
    await core.replaceMembership(to);
    const records = await this.#reportLost(shard, from, to, signal);
    core.emit('shard:lost', { shard: shard.name, records });
    const result =
      from.r > 1
        ? await migrate(core, { kind: 'lost', shard: shard.name, sources: to.members, from, to }, this.#signal(signal))
        : { kind: 'lost' as const, shard: shard.name, scanned: 0, moved: 0, cancelled: false };
    core.emit('migration:done', result);
    return result;
  }

  /** With a key index: every indexed key the lost shard owned and no survivor holds is reported lost. */
  async #reportLost(
    shard: Shard,
    from: Topology,
    to: Topology,
    signal: AbortSignal | undefined,
  ): Promise<number | undefined> {
    const core = this.#core;
    const index = core.index;
    if (index === undefined) return undefined;
    const candidates = index.keys().filter((key) => from.owners(key).includes(shard));
    let lost = 0;
    for (let i = 0; i < candidates.length; i += core.batchSize) {
      const chunk = candidates.slice(i, i + core.batchSize);
      const alive = await Promise.all(chunk.map((key) => this.#survives(key, to, signal)));
      const now = core.clock.now();
      chunk.forEach((key, j) => {
        const entry = index.peek(key);
        if (alive[j] === true || entry === undefined) return;
        index.delete(key);
        const expired = entry.expiresAt !== 0 && entry.expiresAt <= now;
        if (!expired) lost++;
        core.emit('record:removed', { key, reason: expired ? 'expire' : 'shard-lost', version: entry.version });
      });
    }
    return lost;
  }

  async #survives(key: string, to: Topology, signal: AbortSignal | undefined): Promise<boolean> {
    for (const target of to.targets(key)) {
      try {
        if (await target.call('has', signal, (s) => target.registry.has(key, { signal: s }))) return true;
      } catch (error) {
        if (!isShardFailure(error) || signal?.aborted === true) throw error;
      }
    }
    return false;
  }
}
