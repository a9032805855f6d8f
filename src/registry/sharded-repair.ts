import type { RegistryRecord, RestoreResult } from './registry.js';
import type { ShardedCore } from './sharded-core.js';
import type { Shard } from './sharded-shard.js';

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
