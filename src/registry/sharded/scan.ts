import { RegistryError } from '../errors.js';
import type { RegistryRecord } from '../registry.js';
import type { ShardedCore } from './core.js';

/**
 * `scan` of a sharded registry: walks the shards one after another and yields each logical
 * record once, from the shard reads of its key go to. During a migration, a record still on its
 * old owner is yielded from there when its new owner lacks it. `enter` rejects if the registry
 * closed or the signal fired meanwhile.
 */
export async function* shardedScan(
  core: ShardedCore,
  prefix: string,
  signal: AbortSignal | undefined,
  enter: () => void,
): AsyncIterableIterator<RegistryRecord> {
  const previous = core.previous;
  const current = core.current;
  const sources = [...current.members, ...(previous?.members.filter((m) => !current.members.includes(m)) ?? [])];
  for (const shard of sources) {
    if (shard.health !== 'up') continue;
    const iterator = shard.registry.scan({ prefix, signal });
    try {
      for (;;) {
        // each step under the shard's deadline: a hung shard fails the scan instead of stalling it
        const step = await shard.call('scan', signal, () => iterator.next());
        if (step.done === true) break;
        enter();
        const record = step.value;
        const target = core.current.readTarget(record.key);
        if (target === shard) yield record;
        else if (previous !== undefined && previous.readTarget(record.key) === shard && target !== undefined) {
          const moved = await target.call('has', signal, (s) => target.registry.has(record.key, { signal: s }));
          if (!moved) yield record;
        }
      }
    } finally {
      await iterator.return?.();
    }
  }
}

/** `size`: the sum of the shards' sizes when that is exact (R = 1, all healthy, no move), else a count by scan. */
export async function shardedSize(
  core: ShardedCore,
  signal: AbortSignal | undefined,
  enter: () => void,
): Promise<number> {
  const topology = core.current;
  if (topology.r === 1 && core.previous === undefined && topology.healthy()) {
    const sizes = await Promise.all(
      topology.members.map((s) => s.call('size', signal, (x) => s.registry.size({ signal: x }))),
    );
    return sizes.reduce((a, b) => a + b, 0);
  }
  let count = 0;
  for await (const _ of shardedScan(core, '', signal, enter)) count++;
  return count;
}

/** `clear`: clears every reachable shard; rejects naming those it could not reach. */
export async function shardedClear(core: ShardedCore, signal: AbortSignal | undefined): Promise<void> {
  const shards = new Set([...core.current.members, ...(core.previous?.members ?? [])]);
  const unreachable: string[] = [];
  await Promise.all(
    [...shards].map(async (shard) => {
      try {
        if (shard.health !== 'up') throw RegistryError.unavailable(`shard "${shard.name}" is down`);
        await shard.call('clear', signal, (s) => shard.registry.clear({ signal: s }));
        shard.hints.clear();
      } catch (error) {
        if (signal?.aborted === true) throw error;
        unreachable.push(shard.name);
      }
    }),
  );
  core.index?.clear();
  if (unreachable.length > 0) throw RegistryError.unavailable(`could not clear shard(s) ${unreachable.join(', ')}`);
}
