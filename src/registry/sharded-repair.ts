import { RegistryError } from './errors.js';
import type { RegistryRecord, RestoreResult } from './registry.js';
import type { ShardedCore } from './sharded-core.js';
import { isShardFailure, type Shard } from './sharded-shard.js';

/*
 * Verbatim copies between the shards of a sharded registry: `restore` on backends that have it
 * (so a copy keeps its version, createdAt and updatedAt), and the shard-level half of
 * `ShardedRegistry.restore`.
 */

/** Whether `shard`'s backend can take verbatim copies (`Registry.restore`). */
export function canRestore(shard: Shard): boolean {
  return typeof shard.registry.restore === 'function';
}

/**
 * Restores `record` on `shard` through its circuit breaker and deadline. The backend must have
 * `restore` (see {@link canRestore}).
 */
export function restoreOn(shard: Shard, record: RegistryRecord, ifNewer: boolean, signal: AbortSignal | undefined): Promise<RestoreResult> {
  const backend = shard.registry;
  return shard.call('restore', signal, (s) => (backend.restore as NonNullable<typeof backend.restore>).call(backend, record, { ifNewer, signal: s }));
}

/**
 * `ShardedRegistry.restore` once validated: the record goes verbatim to every target of its key
 * (its owners, or stand-ins). A backend without `restore` gets a plain `set` with the remaining
 * TTL (its copy's version restarts). Resolves to the first target's answer.
 */
export async function restoreOnOwners(core: ShardedCore, record: RegistryRecord, ifNewer: boolean, signal: AbortSignal | undefined): Promise<RestoreResult> {
  const { key } = record;
  return core.fanOut(key, core.writePlan(key), 'restore', 'set', signal, false, async (shard, s) => {
    const backend = shard.registry;
    if (typeof backend.restore === 'function') return backend.restore(record, { ifNewer, signal: s });
    const ttlMs = record.expiresAt === undefined ? undefined : record.expiresAt - core.clock.now();
    if (ttlMs !== undefined && ttlMs <= 0) return 'kept';
    await shard.registry.set(key, record.value, { ttlMs: ttlMs === undefined ? undefined : Math.ceil(ttlMs), signal: s });
    return 'written';
  });
}

/**
 * `ShardedRegistry.set` once validated. When every replica can `restore`, the primary (first
 * target) takes the `set` — compare-and-set included — and the other targets get a verbatim
 * copy of the record it returned, so all replicas carry the same version and times (two round
 * trips instead of one parallel one). If the primary fails, a plain write falls back to the
 * other targets in parallel and the primary is hinted. Without `restore` on the replicas, every
 * target replays the same `set` as before.
 */
export async function replicatedSet(
  core: ShardedCore,
  key: string,
  value: Uint8Array,
  ttlMs: number | undefined,
  ifVersion: number | undefined,
  signal: AbortSignal | undefined,
): Promise<RegistryRecord> {
  const plan = core.writePlan(key);
  const setOn = (shard: Shard, s: AbortSignal, primary: boolean): Promise<RegistryRecord> =>
    shard.registry.set(key, value, { ttlMs, ifVersion: primary ? ifVersion : undefined, signal: s });
  const [primary, ...rest] = plan.targets as [Shard, ...Shard[]];
  if (rest.length === 0 || !rest.every(canRestore)) return core.fanOut(key, plan, 'set', 'set', signal, ifVersion !== undefined, setOn);
  if (ifVersion !== undefined && !plan.authoritative) {
    throw RegistryError.unavailable(`the owner of "${key}" is unavailable: its version cannot be checked`);
  }
  let record: RegistryRecord;
  try {
    record = await primary.call('set', signal, (s) => setOn(primary, s, true));
  } catch (error) {
    if (ifVersion !== undefined || !isShardFailure(error) || signal?.aborted === true) throw error;
    // the others take the write, and the primary gets it back by hand-back
    const fallback = { targets: rest, skipped: [...plan.skipped, primary], authoritative: plan.authoritative };
    return core.fanOut(key, fallback, 'set', 'set', signal, false, setOn);
  }
  const settled = await Promise.allSettled(
    rest.map(async (replica) => {
      const result = await restoreOn(replica, record, true, signal);
      // expired in between: the replica must not keep serving the value it had before
      if (result === 'kept' && record.expiresAt !== undefined && record.expiresAt <= core.clock.now()) {
        await core.silently(replica, key, () => replica.call('delete', signal, (s) => replica.registry.delete(key, { signal: s })));
      }
    }),
  );
  settled.forEach((outcome, i) => {
    if (outcome.status === 'fulfilled') return;
    if (!isShardFailure(outcome.reason) || signal?.aborted === true) throw outcome.reason as Error;
    (rest[i] as Shard).hint(key, 'set');
  });
  for (const owner of plan.skipped) owner.hint(key, 'set');
  return record;
}
