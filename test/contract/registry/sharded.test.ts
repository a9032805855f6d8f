import { MemoryRegistry, ShardedRegistry } from '../../../src/registry/index.js';
import {
  FaultRegistry,
  registryConformanceSuite,
  type ConformanceLimits,
  type ManualClock,
} from '../../../src/testing/index.js';

function sharded(clock: ManualClock, limits: ConformanceLimits, replicas: number, faulty = false): ShardedRegistry {
  const shards = ['a', 'b', 'c'].map((name) => {
    const memory = new MemoryRegistry({ maxEntries: 10_000 }, { clock });
    return { name, registry: faulty ? new FaultRegistry(memory, { clock }) : memory };
  });
  return new ShardedRegistry(
    {
      shards,
      replicas,
      ...(limits.maxEntries === undefined ? {} : { maxEntries: limits.maxEntries }),
      ...(limits.maxBytes === undefined ? {} : { maxBytes: limits.maxBytes }),
      ...(limits.maxValueBytes === undefined ? {} : { maxValueBytes: limits.maxValueBytes }),
    },
    { clock },
  );
}

registryConformanceSuite('ShardedRegistry over 3 memory shards', {
  create: ({ clock, limits }) => sharded(clock, limits, 1),
});

registryConformanceSuite('ShardedRegistry over 3 memory shards with 2 replicas', {
  create: ({ clock, limits }) => sharded(clock, limits, 2),
});

registryConformanceSuite('ShardedRegistry over 3 fault-free FaultRegistry shards with 3 replicas', {
  create: ({ clock, limits }) => sharded(clock, limits, 3, true),
});
