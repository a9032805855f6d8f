import type { Clock } from '../../core/clock.js';
import { RegistryError } from '../errors.js';
import type { RecordRemovedEvent } from '../events.js';
import type { RegistryRecord } from '../registry.js';
import type { KeyIndex } from './key-index.js';
import { moveKey, type MigrationHost } from './migration.js';
import type { ResolvedShardedOptions, ShardedRegistryEvents } from './options.js';
import type { Topology } from './topology.js';
import { isShardFailure, raceAbort, type Shard } from './shard.js';

/** Where one write goes; see {@link ShardedCore.writePlan}. */
export interface WritePlan {
  readonly targets: readonly Shard[];
  readonly skipped: readonly Shard[];
  readonly authoritative: boolean;
}

const NONE: readonly Shard[] = Object.freeze([]);

/** What a {@link ShardedCore} is built from: the resolved options and the registry's collaborators. */
export interface ShardedCoreDeps {
  readonly options: ResolvedShardedOptions;
  readonly clock: Clock;
  /** The global capacity index, when capacity is limited or keys are tracked. */
  readonly index: KeyIndex | undefined;
  readonly emit: <E extends keyof ShardedRegistryEvents>(event: E, payload: ShardedRegistryEvents[E]) => void;
  /** The membership at construction. */
  readonly topology: Topology;
}

/**
 * The state a sharded registry's operations share: membership, locks, the key index and the
 * write plans (`requests.ts` sends single-key requests by them). Kept apart from the public
 * class so that batch operations and administration can live in their own modules. Only its own
 * methods change its state.
 */
export class ShardedCore implements MigrationHost {
  readonly options: ResolvedShardedOptions;
  readonly clock: Clock;
  readonly index: KeyIndex | undefined;
  readonly emit: ShardedCoreDeps['emit'];
  #current: Topology;
  #previous: Topology | undefined;
  readonly #locks = new Map<string, Promise<void>>();
  /**
   * Deletes and forced restores issued and not yet settled on every target, per key; see
   * {@link rewindsSettled}.
   */
  readonly #rewinds = new Map<string, Promise<void>[]>();
  // operations started before the last membership switch, which a migration waits for
  #generation = 0;
  #active = 0;
  #older = 0;
  readonly #olderDone: (() => void)[] = [];

  constructor(deps: ShardedCoreDeps) {
    this.options = deps.options;
    this.clock = deps.clock;
    this.index = deps.index;
    this.emit = deps.emit;
    this.#current = deps.topology;
  }

  /** The membership operations route by. */
  get current(): Topology {
    return this.#current;
  }

  /** The membership before the running (or cancelled) migration; reads check it on a miss. */
  get previous(): Topology | undefined {
    return this.#previous;
  }

  /** Whether a move (migration, hand-back, repair) holds some key: operations then wait with {@link unlocked}. */
  get anyKeyLocked(): boolean {
    return this.#locks.size !== 0;
  }

  get rate(): number {
    return this.options.migrationRate;
  }

  get batchSize(): number {
    return this.options.migrationBatchSize;
  }

  progress(event: ShardedRegistryEvents['migration:progress']): void {
    this.emit('migration:progress', event);
  }

  async lock(key: string): Promise<() => void> {
    const locks = this.#locks;
    for (let held = locks.get(key); held !== undefined; held = locks.get(key)) await held;
    let release!: () => void;
    locks.set(key, new Promise<void>((resolve) => (release = resolve)));
    return () => {
      locks.delete(key);
      release();
    };
  }

  /** Waits while a migration or hand-back is moving `key`. */
  async unlocked(key: string): Promise<void> {
    const locks = this.#locks;
    for (let held = locks.get(key); held !== undefined; held = locks.get(key)) await held;
  }

  /**
   * Runs `issue`, a write that can take `keys` back to an older state (a delete, or a forced
   * restore to a lower version; it must send synchronously), marking the keys until it settles
   * on every target. Such a write does not take the keys' locks (it only waits for them before
   * it is sent), so a repair or hand-back that holds a key's lock waits for those of it already
   * in flight ({@link rewindsSettled}) before it reads the state to copy: else it could read the
   * newer record on a shard the write has not reached yet and copy it (conditionally, newer
   * wins) onto one the write has already left, resurrecting a deleted key or undoing the restore.
   */
  async rewinding<T>(keys: readonly string[], issue: () => Promise<T>): Promise<T> {
    let done!: () => void;
    const settled = new Promise<void>((resolve) => (done = resolve));
    const rewinds = this.#rewinds;
    for (const key of keys) {
      const pending = rewinds.get(key);
      if (pending === undefined) rewinds.set(key, [settled]);
      else pending.push(settled);
    }
    try {
      return await issue();
    } finally {
      for (const key of keys) {
        const pending = rewinds.get(key);
        const i = pending?.indexOf(settled) ?? -1;
        if (pending === undefined || i < 0) continue;
        pending[i] = pending[pending.length - 1] as Promise<void>;
        pending.length -= 1;
        if (pending.length === 0) rewinds.delete(key);
      }
      done();
    }
  }

  /**
   * Resolves once no delete or forced restore of `key` is in flight (see {@link rewinding});
   * rejects if `signal` aborts first.
   */
  async rewindsSettled(key: string, signal: AbortSignal | undefined): Promise<void> {
    for (let pending = this.#rewinds.get(key); pending !== undefined; pending = this.#rewinds.get(key)) {
      const all = Promise.all(pending);
      await (signal === undefined ? all : raceAbort(all, signal));
    }
  }

  /** Runs a client operation, counted so a membership switch can wait for older ones. */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    const generation = this.#generation;
    this.#active++;
    try {
      return await fn();
    } finally {
      if (generation === this.#generation) this.#active--;
      else if (--this.#older === 0) for (const done of this.#olderDone.splice(0)) done();
    }
  }

  /**
   * Starts a migration to `next`: operations route by it from now on, reads check the old
   * membership on a miss until {@link endMigration}. Resolves once the operations started
   * before the switch have finished.
   */
  startMigration(next: Topology): Promise<void> {
    return this.#switchTo(next, this.#current);
  }

  /** The migration is done: reads stop checking the membership it started from. */
  endMigration(): void {
    this.#previous = undefined;
  }

  /**
   * Routes by `next` from now on without keeping the old membership for misses (a lost shard
   * has nothing left to read). Resolves once the operations started before the switch have
   * finished.
   */
  replaceMembership(next: Topology): Promise<void> {
    return this.#switchTo(next, this.#previous);
  }

  async #switchTo(next: Topology, previous: Topology | undefined): Promise<void> {
    this.#previous = previous;
    this.#current = next;
    this.#generation++;
    this.#older += this.#active;
    this.#active = 0;
    if (this.#older > 0) await new Promise<void>((resolve) => this.#olderDone.push(resolve));
  }

  /** Before a write during a migration: moves `key` to its new owners first, so versions and CAS see it. */
  async pullForward(key: string, signal: AbortSignal | undefined): Promise<void> {
    const previous = this.#previous;
    if (previous === undefined) return;
    const before = previous.owners(key);
    const after = this.#current.owners(key);
    if (before.length === after.length && before.every((s) => after.includes(s))) return;
    // from the first former owner that answers: with replicas, a failing one is not needed
    let failure: Error | undefined;
    for (const source of before) {
      if (!source.servesKey(key)) continue;
      try {
        await moveKey(this, key, { source, from: previous, to: this.#current }, signal);
        return;
      } catch (error) {
        if (!isShardFailure(error) || signal?.aborted === true) throw error;
        failure = error as Error;
      }
    }
    if (failure !== undefined) throw failure;
  }

  /**
   * Runs a write of `keys` once none is being moved and, during a migration, once each has been
   * pulled to its new owners. `issue` must route and send synchronously: it runs in the same turn
   * as the check that the membership has not changed meanwhile (else the preparation repeats).
   */
  async admit<T>(keys: readonly string[], signal: AbortSignal | undefined, issue: () => Promise<T>): Promise<T> {
    for (;;) {
      const topology = this.#current;
      if (this.#locks.size === 0 && this.#previous === undefined) return issue();
      for (const key of keys) {
        if (this.#locks.size !== 0) await this.unlocked(key);
        if (this.#previous !== undefined) await this.pullForward(key, signal);
      }
      if (this.#current === topology && !keys.some((key) => this.#locks.has(key))) return issue();
    }
  }

  /** Bookkeeping after a logical write: the index and one `record:set`. */
  written(record: RegistryRecord, bytes: number): void {
    this.index?.set(record.key, { bytes, version: record.version, expiresAt: record.expiresAt ?? 0 });
    this.emit('record:set', { key: record.key, version: record.version, expiresAt: record.expiresAt });
  }

  /**
   * Where a write of `key` goes now: its targets, the owners they stand in for (hinted once the
   * write has landed, so the hand-back brings it to them), and whether the first target's answer
   * about the key's current state is the truth (it is not when it stands in for an owner that
   * went away without leaving a hint: that owner may hold the key).
   */
  writePlan(key: string): WritePlan {
    const topology = this.#current;
    const targets = topology.targets(key);
    const first = targets[0];
    if (first === undefined) throw RegistryError.unavailable(`no shard is available for "${key}"`);
    if (topology.healthy()) return { targets, skipped: NONE, authoritative: true };
    const skipped = topology.owners(key).filter((owner) => !targets.includes(owner));
    return { targets, skipped, authoritative: topology.missIsAuthoritative(key, first) };
  }

  /** Deletes what the global capacity index pushed out, from every shard holding it; one event each. */
  async evictVictims(): Promise<void> {
    const victims = this.index?.takeVictims();
    if (victims === undefined || victims.length === 0) return;
    const now = this.clock.now();
    await Promise.all(
      victims.map(async ({ key, entry }) => {
        const expired = entry.expiresAt !== 0 && entry.expiresAt <= now;
        const { targets, skipped } = this.writePlan(key);
        if (!expired) (targets[0] as Shard).countEviction();
        const holders = new Set(targets);
        const old = this.#previous?.readTarget(key);
        if (old !== undefined) holders.add(old);
        const failed: Shard[] = [];
        await this.rewinding([key], () =>
          Promise.all(
            [...holders].map(async (shard) => {
              try {
                await shard.silently(key, () =>
                  shard.call('delete', undefined, (s) => shard.registry.delete(key, { signal: s })),
                );
              } catch (error) {
                if (!isShardFailure(error)) throw error;
                failed.push(shard);
              }
            }),
          ),
        );
        for (const shard of [...failed, ...skipped]) shard.hint(key, 'delete');
        this.emit('record:removed', { key, reason: expired ? 'expire' : 'evict', version: entry.version });
      }),
    );
  }

  /** A removal reported by a shard's backend: forwarded once, by the shard reads go to. */
  forward(shard: Shard, event: RecordRemovedEvent): void {
    if (shard.isSilenced(event.key)) return;
    if (this.#current.readTarget(event.key) !== shard) return;
    this.index?.delete(event.key);
    this.emit('record:removed', event);
  }
}
