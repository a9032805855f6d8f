import { MemoryRegistry, type Registry, ShardedRegistry } from '../../../src/registry/index.js';
import {
  FaultRegistry,
  registryConformanceSuite,
  type ConformanceLimits,
  type ManualClock,
  type WatchConformance,
} from '../../../src/testing/index.js';

const HISTORY = 64;
/** The memory backends of each sharded registry made here, for compacting their histories. */
const backends = new WeakMap<Registry, MemoryRegistry[]>();

function sharded(clock: ManualClock, limits: ConformanceLimits, replicas: number, faulty = false): ShardedRegistry {
  const memories = ['a', 'b', 'c'].map(
    () => new MemoryRegistry({ maxEntries: 10_000, changeHistory: HISTORY }, { clock }),
  );
  const shards = memories.map((memory, i) => ({
    name: 'abc'.charAt(i),
    registry: faulty ? new FaultRegistry(memory, { clock }) : memory,
  }));
  const registry = new ShardedRegistry(
    {
      shards,
      replicas,
      ...(limits.maxEntries === undefined ? {} : { maxEntries: limits.maxEntries }),
      ...(limits.maxBytes === undefined ? {} : { maxBytes: limits.maxBytes }),
      ...(limits.maxValueBytes === undefined ? {} : { maxValueBytes: limits.maxValueBytes }),
    },
    { clock },
  );
  backends.set(registry, memories);
  return registry;
}

const watch: WatchConformance = {
  order: 'per-key',
  // a key's changes are on the shards that own it, each keeping its last HISTORY
  retained: HISTORY,
  // HISTORY more changes on every shard push out each one's earlier changes
  compact: async (registry) => {
    for (const memory of backends.get(registry) ?? []) {
      for (let i = 0; i < HISTORY; i++) await memory.set('compaction-filler', new Uint8Array(0));
    }
  },
};

registryConformanceSuite('ShardedRegistry over 3 memory shards', {
  create: ({ clock, limits }) => sharded(clock, limits, 1),
  watch,
});

registryConformanceSuite('ShardedRegistry over 3 memory shards with 2 replicas', {
  create: ({ clock, limits }) => sharded(clock, limits, 2),
  watch,
});

registryConformanceSuite('ShardedRegistry over 3 fault-free FaultRegistry shards with 3 replicas', {
  create: ({ clock, limits }) => sharded(clock, limits, 3, true),
  watch,
});
