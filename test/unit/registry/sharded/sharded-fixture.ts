import {
  MemoryRegistry,
  type MigrationEvent,
  type RecordRemovedEvent,
  type RecordSetEvent,
  ShardedRegistry,
  type ShardedRegistryDeps,
  type ShardedRegistryOptions,
  type ShardHealth,
  type ShardStats,
} from '../../../../src/registry/index.js';
import { FaultRegistry, ManualClock } from '../../../../src/testing/index.js';

/** A sharded registry over fault-injecting memory shards on a manual clock, with its events recorded. */
export interface Fixture {
  readonly clock: ManualClock;
  readonly registry: ShardedRegistry;
  readonly backends: Map<string, FaultRegistry>;
  readonly removed: RecordRemovedEvent[];
  readonly sets: RecordSetEvent[];
  readonly health: { shard: string; health: ShardHealth }[];
  readonly progress: MigrationEvent[];
  readonly done: MigrationEvent[];
  /** The backend named `name` (fails the test if there is none). */
  backend(name: string): FaultRegistry;
  /**
   * Keys (`prefix:i`) whose first owner is `owners` now, or, given a list, whose owners start
   * with exactly that list (e.g. `['a', 'b']`: primary a, first replica b).
   */
  keysOwnedBy(owners: string | readonly string[], count: number, prefix?: string): string[];
  /** The stats of shard `name`. */
  shardStats(name: string): ShardStats | undefined;
  /** Names of the shards whose memory backend holds `key` (faults bypassed). */
  holders(key: string): Promise<string[]>;
}

export const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
export const text = (value: Uint8Array | undefined): string | undefined =>
  value === undefined ? undefined : new TextDecoder().decode(value);

export function makeBackend(clock: ManualClock): FaultRegistry {
  return new FaultRegistry(new MemoryRegistry({ maxEntries: 20_000 }, { clock }), { clock });
}

export function fixture(
  names: readonly string[] = ['a', 'b', 'c'],
  options: Omit<ShardedRegistryOptions, 'shards'> = {},
  deps: Omit<ShardedRegistryDeps, 'clock'> = {},
): Fixture {
  const clock = new ManualClock();
  const backends = new Map(names.map((name) => [name, makeBackend(clock)]));
  const registry = new ShardedRegistry(
    {
      shards: [...backends].map(([name, registry]) => ({ name, registry })),
      migrationRate: Number.POSITIVE_INFINITY,
      readRepair: 0,
      ...options,
    },
    { clock, ...deps },
  );
  const f: Fixture = {
    clock,
    registry,
    backends,
    removed: [],
    sets: [],
    health: [],
    progress: [],
    done: [],
    backend(name) {
      const backend = backends.get(name);
      if (backend === undefined) throw new Error(`no backend ${name}`);
      return backend;
    },
    keysOwnedBy(owners, count, prefix = 'k') {
      const wanted = typeof owners === 'string' ? [owners] : owners;
      const keys: string[] = [];
      for (let i = 0; keys.length < count; i++) {
        const actual = registry.ownersOf(`${prefix}:${i}`);
        if (wanted.every((name, j) => actual[j] === name)) keys.push(`${prefix}:${i}`);
      }
      return keys;
    },
    shardStats: (name) => registry.stats().shards.find((s) => s.name === name),
    async holders(key) {
      const out: string[] = [];
      for (const [name, backend] of backends) if (await backend.inner.has(key)) out.push(name);
      return out;
    },
  };
  registry.on('record:removed', (e) => f.removed.push(e));
  registry.on('record:set', (e) => f.sets.push(e));
  registry.on('shard:health', (e) => f.health.push({ shard: e.shard, health: e.health }));
  registry.on('migration:progress', (e) => f.progress.push(e));
  registry.on('migration:done', (e) => f.done.push(e));
  return f;
}

/** Whether `promise` settles while time stands still (after pending callbacks have run). */
export async function settlesWithoutTime(promise: Promise<unknown>): Promise<boolean> {
  let settled = false;
  promise.then(
    () => (settled = true),
    () => (settled = true),
  );
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
  return settled;
}
