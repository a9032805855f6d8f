import { RegistryError } from '../errors.js';
import type { RegistryRecord, SetEntry } from '../registry.js';
import type { ShardedCore, WritePlan } from './core.js';
import { GET_RECORD, lookup } from './requests.js';
import { isShardFailure, type Shard } from './shard.js';

/*
 * Batches of a sharded registry: split per shard, one call per shard, all shards in parallel.
 * Keys that need more than one round trip (a miss during a migration, a failed shard) fall back
 * to the single-key paths.
 */

/** Groups positions of a batch by shard. */
function groupBy<T>(items: readonly T[], route: (item: T, index: number) => readonly Shard[]): Map<Shard, number[]>[] {
  const groups: Map<Shard, number[]>[] = [];
  items.forEach((item, i) => {
    route(item, i).forEach((shard, rank) => {
      const byShard = (groups[rank] ??= new Map());
      const positions = byShard.get(shard);
      if (positions === undefined) byShard.set(shard, [i]);
      else positions.push(i);
    });
  });
  return groups;
}

/** `getMany`: one `getMany` per read target; misses that are not authoritative go key by key. */
export async function shardedGetMany(
  core: ShardedCore,
  keys: readonly string[],
  signal: AbortSignal | undefined,
): Promise<(RegistryRecord | undefined)[]> {
  const out: (RegistryRecord | undefined)[] = new Array<RegistryRecord | undefined>(keys.length).fill(undefined);
  const topology = core.current;
  const slow: number[] = [];
  const groups = new Map<Shard, number[]>();
  keys.forEach((key, i) => {
    const target = topology.readTarget(key);
    if (target === undefined) {
      slow.push(i);
      return;
    }
    const positions = groups.get(target);
    if (positions === undefined) groups.set(target, [i]);
    else positions.push(i);
  });
  await Promise.all(
    [...groups].map(async ([shard, positions]) => {
      let records: (RegistryRecord | undefined)[];
      try {
        const batch = positions.map((i) => keys[i] as string);
        records = await shard.call('getMany', signal, (s) => shard.registry.getMany(batch, { signal: s }));
      } catch (error) {
        if (!isShardFailure(error) || signal?.aborted === true) throw error;
        slow.push(...positions);
        return;
      }
      positions.forEach((i, n) => {
        const record = records[n];
        const key = keys[i] as string;
        if (record !== undefined) out[i] = record;
        else if (core.previous !== undefined || !topology.missIsAuthoritative(key, shard)) slow.push(i);
      });
    }),
  );
  await Promise.all(
    slow.map(async (i) => {
      const key = keys[i] as string;
      out[i] = await lookup(core, key, GET_RECORD, signal);
    }),
  );
  if (core.index !== undefined) for (const record of out) if (record !== undefined) core.index.touch(record.key);
  return out;
}

/**
 * `setMany`: every entry goes to its R targets; one `setMany` per shard, all in parallel. The
 * record returned for an entry is its first target's. Once an entry has landed somewhere, the
 * shards that failed it and the owners it skipped are hinted; the call rejects if an entry
 * reached no shard.
 */
export async function shardedSetMany(
  core: ShardedCore,
  entries: readonly SetEntry[],
  signal: AbortSignal | undefined,
): Promise<RegistryRecord[]> {
  const plans = entries.map((entry) => core.writePlan(entry.key));
  const ranks = groupBy(entries, (_, i) => (plans[i] as WritePlan).targets);
  const out: (RegistryRecord | undefined)[] = new Array<RegistryRecord | undefined>(entries.length).fill(undefined);
  const failedOn: Shard[][] = entries.map(() => []);
  let failure: Error | undefined;
  let inputError: Error | undefined;
  // one call per shard: its positions across ranks, in entry order (repeated keys stay ordered)
  const perShard = new Map<Shard, number[]>();
  for (const byShard of ranks)
    for (const [shard, positions] of byShard) perShard.set(shard, [...(perShard.get(shard) ?? []), ...positions]);
  const primaryOf = ranks[0] ?? new Map<Shard, number[]>();
  await Promise.all(
    [...perShard].map(async ([shard, positions]) => {
      positions.sort((a, b) => a - b);
      const primary = new Set(primaryOf.get(shard) ?? []);
      try {
        const batch = positions.map((i) => entries[i] as SetEntry);
        const records = await shard.call('setMany', signal, (s) => shard.registry.setMany(batch, { signal: s }));
        positions.forEach((i, n) => {
          if (primary.has(i) || out[i] === undefined) out[i] = records[n];
        });
      } catch (error) {
        if (!isShardFailure(error) || signal?.aborted === true) {
          inputError ??= error as Error;
          return;
        }
        failure ??= error as Error;
        for (const i of positions) failedOn[i]?.push(shard);
      }
    }),
  );
  if (inputError !== undefined) throw inputError;
  entries.forEach((entry, i) => {
    if (out[i] === undefined) return;
    for (const shard of [...(failedOn[i] ?? []), ...(plans[i] as WritePlan).skipped]) shard.hint(entry.key, 'set');
  });
  for (const record of out)
    if (record === undefined) throw failure ?? RegistryError.unavailable('a batch entry reached no shard');
  return out as RegistryRecord[];
}

/**
 * `deleteMany`: one call per shard and role; the count is the first targets' (each record once).
 * A key whose owner is down and left no hint is deleted from its stand-ins and hinted, so the
 * owner drops it on return, but it is not counted (nobody could tell whether it existed).
 */
export async function shardedDeleteMany(
  core: ShardedCore,
  keys: readonly string[],
  signal: AbortSignal | undefined,
): Promise<number> {
  const plans = keys.map((key) => core.writePlan(key));
  const ranks = groupBy(keys, (_, i) => (plans[i] as WritePlan).targets);
  const landed = new Array<boolean>(keys.length).fill(false);
  const failedOn: Shard[][] = keys.map(() => []);
  let count = 0;
  let failure: Error | undefined;
  await Promise.all(
    ranks.flatMap((byShard, rank) =>
      [...byShard].map(async ([shard, positions]) => {
        const batch = positions.map((i) => keys[i] as string);
        try {
          const removed = await shard.call('deleteMany', signal, (s) =>
            shard.registry.deleteMany(batch, { signal: s }),
          );
          if (rank === 0) count += removed;
          for (const i of positions) landed[i] = true;
        } catch (error) {
          if (!isShardFailure(error) || signal?.aborted === true) throw error;
          for (const i of positions) failedOn[i]?.push(shard);
          failure ??= error as Error;
        }
      }),
    ),
  );
  keys.forEach((key, i) => {
    if (!landed[i]) return;
    for (const shard of [...(failedOn[i] ?? []), ...(plans[i] as WritePlan).skipped]) shard.hint(key, 'delete');
  });
  if (landed.includes(false)) throw failure ?? RegistryError.unavailable('a batch key reached no shard');
  for (const key of keys) core.index?.delete(key);
  return count;
}
