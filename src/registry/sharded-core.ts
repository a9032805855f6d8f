import type { Clock } from './clock.js';
import { RegistryError } from './errors.js';
import type { RecordRemovedEvent } from './events.js';
import type { KeyIndex } from './sharded-index.js';
import { moveKey, type MigrationHost } from './sharded-migration.js';
import type { ResolvedShardedOptions, ShardedRegistryEvents } from './sharded-options.js';
import type { Topology } from './sharded-routing.js';
import { type Hint, isShardFailure, type Shard } from './sharded-shard.js';

/**
 * The state a sharded registry's operations share: membership, locks, the key index and the
 * fan-out helpers. Kept apart from the public class so that batch operations and administration
 * can live in their own modules.
 */
export class ShardedCore implements MigrationHost {
  readonly options: ResolvedShardedOptions;
  readonly clock: Clock;
  readonly index: KeyIndex | undefined;
  readonly emit: <E extends keyof ShardedRegistryEvents>(event: E, payload: ShardedRegistryEvents[E]) => void;
  current: Topology;
  /** The membership before the running (or cancelled) migration; reads check it on a miss. */
  previous: Topology | undefined;
  readonly locks = new Map<string, Promise<void>>();
  // operations started before the last membership switch, which a migration waits for
  #generation = 0;
  #active = 0;
  #older = 0;
  readonly #olderDone: (() => void)[] = [];

  constructor(
    options: ResolvedShardedOptions,
    clock: Clock,
    index: KeyIndex | undefined,
    emit: ShardedCore['emit'],
    topology: Topology,
  ) {
    this.options = options;
    this.clock = clock;
    this.index = index;
    this.emit = emit;
    this.current = topology;
  }

  get rate(): number {
    return this.options.migrationRate;
  }

  get batchSize(): number {
    return this.options.migrationBatchSize;
  }

  topology(): Topology {
    return this.current;
  }

  progress(event: ShardedRegistryEvents['migration:progress']): void {
    this.emit('migration:progress', event);
  }

  async lock(key: string): Promise<() => void> {
    for (let held = this.locks.get(key); held !== undefined; held = this.locks.get(key)) await held;
    let release!: () => void;
    this.locks.set(key, new Promise<void>((resolve) => (release = resolve)));
    return () => {
      this.locks.delete(key);
      release();
    };
  }

  /** Waits while a migration or hand-back is moving `key`. */
  async unlocked(key: string): Promise<void> {
    for (let held = this.locks.get(key); held !== undefined; held = this.locks.get(key)) await held;
  }

  async silently<T>(shard: Shard, key: string, fn: () => Promise<T>): Promise<T> {
    shard.silenced.set(key, (shard.silenced.get(key) ?? 0) + 1);
    try {
      return await fn();
    } finally {
      const n = (shard.silenced.get(key) ?? 1) - 1;
      if (n === 0) shard.silenced.delete(key);
      else shard.silenced.set(key, n);
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

  /** Switches membership to `next` (keeping the old one for misses) and waits out older operations. */
  async switchTo(next: Topology, keepPrevious: boolean): Promise<void> {
    if (keepPrevious) this.previous = this.current;
    this.current = next;
    this.#generation++;
    this.#older += this.#active;
    this.#active = 0;
    if (this.#older > 0) await new Promise<void>((resolve) => this.#olderDone.push(resolve));
  }

  /** Before a write during a migration: moves `key` to its new owners first, so versions and CAS see it. */
  async pullForward(key: string, signal: AbortSignal | undefined): Promise<void> {
    const previous = this.previous;
    if (previous === undefined) return;
    const source = previous.readTarget(key);
    if (source === undefined || this.current.owners(key).includes(source)) return;
    await moveKey(this, source, key, previous, this.current, signal);
  }

  /** Where a write of `key` goes now; owners that cannot take it are hinted for hand-back. */
  writeTargets(key: string, hint: Hint): Shard[] {
    const topology = this.current;
    const targets = topology.targets(key);
    if (targets.length === 0) throw RegistryError.unavailable(`no shard is available for "${key}"`);
    if (!topology.healthy()) for (const owner of topology.owners(key)) if (!targets.includes(owner)) owner.hint(key, hint);
    return targets;
  }

  /**
   * Sends one write to every target. With `primaryFirst` (compare-and-set), the first target
   * decides and the others replay the plain write after it. A target that fails with a backend
   * failure is hinted (it missed the write); the call rejects only when no target took it or a
   * target rejected the input itself.
   */
  async fanOut<T>(
    key: string,
    targets: readonly Shard[],
    operation: string,
    hint: Hint,
    signal: AbortSignal | undefined,
    primaryFirst: boolean,
    fn: (shard: Shard, signal: AbortSignal, primary: boolean) => Promise<T>,
  ): Promise<T> {
    if (primaryFirst || targets.length === 1) {
      const [primary, ...rest] = targets as [Shard, ...Shard[]];
      const result = await primary.call(operation, signal, (s) => fn(primary, s, true));
      if (rest.length > 0) await this.fanOut(key, rest, operation, hint, signal, false, (shard, s) => fn(shard, s, false));
      return result;
    }
    const settled = await Promise.allSettled(targets.map((t) => t.call(operation, signal, (s) => fn(t, s, false))));
    let found = false;
    let result: T | undefined;
    let failure: Error | undefined;
    let inputError: Error | undefined;
    settled.forEach((outcome, i) => {
      if (outcome.status === 'fulfilled') {
        if (!found) result = outcome.value;
        found = true;
      } else if (isShardFailure(outcome.reason) && signal?.aborted !== true) {
        (targets[i] as Shard).hint(key, hint);
        failure ??= outcome.reason as Error;
      } else {
        inputError ??= outcome.reason as Error;
      }
    });
    if (inputError !== undefined) throw inputError;
    if (!found) throw failure ?? RegistryError.unavailable(`no shard took the write of "${key}"`);
    return result as T;
  }

  /**
   * A read of one key: the first target that answers decides (a failing one passes to the next
   * replica). On a miss, the previous owner is checked during a migration, and a miss that may
   * hide a record on an unavailable shard rejects with `BACKEND_UNAVAILABLE` unless
   * `unavailableReads` is `'miss'`.
   */
  async lookup<T>(
    key: string,
    signal: AbortSignal | undefined,
    operation: string,
    fn: (shard: Shard, signal: AbortSignal) => Promise<T>,
    hit: (value: T) => boolean,
    miss: T,
  ): Promise<T> {
    const topology = this.current;
    let answered: Shard | undefined;
    let failure: Error | undefined;
    const first = topology.readTarget(key);
    if (first !== undefined) {
      try {
        const value = await first.call(operation, signal, (s) => fn(first, s));
        if (hit(value)) return value;
        if (this.previous === undefined && topology.missIsAuthoritative(key, first)) return miss;
        answered = first;
      } catch (error) {
        if (!isShardFailure(error) || signal?.aborted === true) throw error;
        failure = error as Error;
      }
    }
    // the first target failed: the next replicas (with R > 1) answer instead
    if (answered === undefined) {
      for (const target of topology.targets(key)) {
        if (target === first) continue;
        try {
          const value = await target.call(operation, signal, (s) => fn(target, s));
          if (hit(value)) return value;
          answered = target;
          break;
        } catch (error) {
          if (!isShardFailure(error) || signal?.aborted === true) throw error;
          failure = error as Error;
        }
      }
    }
    const old = this.previous?.readTarget(key);
    if (old !== undefined && old !== answered && old.health === 'up') {
      try {
        const value = await old.call(operation, signal, (s) => fn(old, s));
        if (hit(value)) return value;
      } catch (error) {
        if (!isShardFailure(error) || signal?.aborted === true) throw error;
      }
    }
    if (this.options.unavailableReads === 'miss') return miss;
    if (answered === undefined) throw failure ?? RegistryError.unavailable(`no shard is available for "${key}"`);
    if (topology.missIsAuthoritative(key, answered)) return miss;
    // an owner's own failure (a TIMEOUT, say) says more than the stand-in's miss
    throw failure ?? RegistryError.unavailable(`every shard that may hold "${key}" is unavailable`);
  }

  /** Deletes what the global capacity index pushed out, from every shard holding it; one event each. */
  async evictVictims(): Promise<void> {
    const victims = this.index?.takeVictims();
    if (victims === undefined || victims.length === 0) return;
    const now = this.clock.now();
    await Promise.all(
      victims.map(async ({ key, entry }) => {
        const expired = entry.expiresAt !== 0 && entry.expiresAt <= now;
        const targets = this.writeTargets(key, 'delete');
        if (!expired) (targets[0] as Shard).evictions++;
        const holders = new Set(targets);
        const old = this.previous?.readTarget(key);
        if (old !== undefined) holders.add(old);
        await Promise.all(
          [...holders].map(async (shard) => {
            try {
              await this.silently(shard, key, () => shard.call('delete', undefined, (s) => shard.registry.delete(key, { signal: s })));
            } catch (error) {
              if (!isShardFailure(error)) throw error;
              shard.hint(key, 'delete');
            }
          }),
        );
        this.emit('record:removed', { key, reason: expired ? 'expire' : 'evict', version: entry.version });
      }),
    );
  }

  /** A removal reported by a shard's backend: forwarded once, by the shard reads go to. */
  forward(shard: Shard, event: RecordRemovedEvent): void {
    if (shard.silenced.size !== 0 && shard.silenced.has(event.key)) return;
    if (this.current.readTarget(event.key) !== shard) return;
    this.index?.delete(event.key);
    this.emit('record:removed', event);
  }
}
