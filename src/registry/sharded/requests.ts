import { RegistryError } from '../errors.js';
import type { RegistryRecord } from '../registry.js';
import type { ShardedCore, WritePlan } from './core.js';
import type { Hint } from './hints.js';
import { isShardFailure, type Shard } from './shard.js';

/*
 * Single-key requests of a sharded registry: a write fanned out to every target of its key, and
 * a read that fails over from one replica to the next (and to the old owner during a migration).
 */

/** One write for {@link fanOut}. */
export interface FanOutWrite<T> {
  readonly key: string;
  /** Where it goes: `core.writePlan(key)`. */
  readonly plan: WritePlan;
  /** The backend operation, as shard calls and their errors name it. */
  readonly operation: string;
  /** What a target that missed the write (a failed one, a skipped owner) is hinted with. */
  readonly hint: Hint;
  readonly signal: AbortSignal | undefined;
  /**
   * Compare-and-set: the first target decides and the others replay the plain write after it.
   * @default false (every target at once)
   */
  readonly primaryFirst?: boolean;
  /** Sends the write to one shard; `primary` is true for the first target of a `primaryFirst` write. */
  readonly send: (shard: Shard, signal: AbortSignal, primary: boolean) => Promise<T>;
  /**
   * Whether `result` denies that the key exists (a delete or touch that found nothing), which a
   * stand-in cannot know for sure.
   * @default never
   */
  readonly missed?: (result: T) => boolean;
}

/**
 * Sends one write to every target of its plan. With `primaryFirst` (compare-and-set), the first
 * target decides and the others replay the plain write after it. Once the write has landed
 * somewhere, targets that failed with a backend failure and skipped owners are hinted; the call
 * rejects when no target took it (nothing is hinted then: the owner keeps the truth) or a target
 * rejected the input itself.
 */
export async function fanOut<T>(core: ShardedCore, write: FanOutWrite<T>): Promise<T> {
  const { key, operation, hint, signal, send, primaryFirst = false } = write;
  const { targets, skipped, authoritative } = write.plan;
  const [primary, ...rest] = targets as [Shard, ...Shard[]];
  if (primaryFirst && !authoritative) {
    throw RegistryError.unavailable(`the owner of "${key}" is unavailable: its version cannot be checked`);
  }
  let result: T;
  let failed: Shard[] = [];
  if (primaryFirst || rest.length === 0) {
    result = await primary.call(operation, signal, (s) => send(primary, s, true));
    if (rest.length > 0) failed = await replay(rest, operation, signal, (shard, s) => send(shard, s, false));
  } else {
    const settled = await Promise.allSettled(targets.map((t) => t.call(operation, signal, (s) => send(t, s, false))));
    let found: { value: T } | undefined;
    let failure: Error | undefined;
    let inputError: Error | undefined;
    settled.forEach((outcome, i) => {
      if (outcome.status === 'fulfilled') found ??= { value: outcome.value };
      else if (isShardFailure(outcome.reason) && signal?.aborted !== true) {
        failed.push(targets[i] as Shard);
        failure ??= outcome.reason as Error;
      } else inputError ??= outcome.reason as Error;
    });
    if (inputError !== undefined) throw inputError;
    if (found === undefined) throw failure ?? RegistryError.unavailable(`no shard took the write of "${key}"`);
    result = found.value;
  }
  if (!authoritative && write.missed?.(result) === true && core.options.unavailableReads === 'error') {
    throw RegistryError.unavailable(`the owner of "${key}" is unavailable: whether it holds the key is unknown`);
  }
  for (const shard of failed) shard.hint(key, hint);
  for (const owner of skipped) owner.hint(key, hint);
  return result;
}

/** Replays a write on replicas after the primary took it; returns the replicas that failed. */
async function replay<T>(
  shards: readonly Shard[],
  operation: string,
  signal: AbortSignal | undefined,
  send: (shard: Shard, signal: AbortSignal) => Promise<T>,
): Promise<Shard[]> {
  const settled = await Promise.allSettled(shards.map((t) => t.call(operation, signal, (s) => send(t, s))));
  const failed: Shard[] = [];
  settled.forEach((outcome, i) => {
    if (outcome.status === 'fulfilled') return;
    if (!isShardFailure(outcome.reason) || signal?.aborted === true) throw outcome.reason as Error;
    failed.push(shards[i] as Shard);
  });
  return failed;
}

/** A kind of single-key read for {@link lookup}: how one shard is asked, and what counts as found. */
export interface KeyRead<T> {
  /** The backend operation, as shard calls and their errors name it. */
  readonly operation: string;
  readonly read: (shard: Shard, key: string, signal: AbortSignal) => Promise<T>;
  /** Whether the answer found the key (else the next shard that may hold it is asked). */
  readonly hit: (value: T) => boolean;
  /** The answer when no shard holds the key. */
  readonly miss: T;
}

/** `get` of one key. */
export const GET_RECORD: KeyRead<RegistryRecord | undefined> = Object.freeze({
  operation: 'get',
  read: (shard: Shard, key: string, signal: AbortSignal) => shard.registry.get(key, { signal }),
  hit: (record: RegistryRecord | undefined) => record !== undefined,
  miss: undefined,
});

/** `has` of one key. */
export const HAS_RECORD: KeyRead<boolean> = Object.freeze({
  operation: 'has',
  read: (shard: Shard, key: string, signal: AbortSignal) => shard.registry.has(key, { signal }),
  hit: (found: boolean) => found,
  miss: false,
});

/**
 * A read of one key: the first target that answers decides (a failing one passes to the next
 * replica). On a miss, the previous owners are checked during a migration, and a miss that may
 * hide a record on an unavailable shard rejects with `BACKEND_UNAVAILABLE` unless
 * `unavailableReads` is `'miss'`.
 */
export async function lookup<T>(
  core: ShardedCore,
  key: string,
  kind: KeyRead<T>,
  signal: AbortSignal | undefined,
): Promise<T> {
  const { operation, read, hit, miss } = kind;
  const topology = core.current;
  let answered: Shard | undefined;
  let failure: Error | undefined;
  // the shards asked so far (a miss or a failure): none is asked twice
  const asked: Shard[] = [];
  const first = topology.readTarget(key);
  if (first !== undefined) {
    asked.push(first);
    try {
      const value = await first.call(operation, signal, (s) => read(first, key, s));
      if (hit(value)) return value;
      if (core.previous === undefined && topology.missIsAuthoritative(key, first)) return miss;
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
      asked.push(target);
      try {
        const value = await target.call(operation, signal, (s) => read(target, key, s));
        if (hit(value)) return value;
        answered = target;
        break;
      } catch (error) {
        if (!isShardFailure(error) || signal?.aborted === true) throw error;
        failure = error as Error;
      }
    }
  }
  // during a migration every previous owner not asked yet may still hold the record (with R > 1,
  // the previous primary may be the very shard that just failed)
  for (const old of core.previous?.targets(key) ?? []) {
    if (asked.includes(old) || old.health !== 'up') continue;
    try {
      const value = await old.call(operation, signal, (s) => read(old, key, s));
      if (hit(value)) return value;
    } catch (error) {
      if (!isShardFailure(error) || signal?.aborted === true) throw error;
    }
  }
  if (core.options.unavailableReads === 'miss') return miss;
  if (answered === undefined) throw failure ?? RegistryError.unavailable(`no shard is available for "${key}"`);
  if (topology.missIsAuthoritative(key, answered)) return miss;
  // an owner's own failure (a TIMEOUT, say) says more than the stand-in's miss
  throw failure ?? RegistryError.unavailable(`every shard that may hold "${key}" is unavailable`);
}
