import { after, before } from 'node:test';
import { ShardedRegistry, type ShardSpec } from '../../../src/registry/index.js';
import { RedisRegistry } from '../../../src/registry/redis/index.js';
import {
  type ConformanceLimits,
  type ManualClock,
  type RedisServerHandle,
  registryConformanceSuite,
  startRedisServer,
} from '../../../src/testing/index.js';

// The registry contract over shards that are real redis-server processes (one per shard).
let servers: RedisServerHandle[] = [];
let namespaces = 0;
before(async () => {
  servers = await Promise.all([0, 1, 2].map(() => startRedisServer()));
});
after(async () => {
  await Promise.all(servers.map((s) => s.stop()));
});

async function sharded(clock: ManualClock, limits: ConformanceLimits, replicas: number): Promise<ShardedRegistry> {
  // every registry gets its own key namespace on the shared servers
  const namespace = namespaces++;
  const valueLimit = limits.maxValueBytes === undefined ? {} : { maxValueBytes: limits.maxValueBytes };
  const shards: ShardSpec[] = await Promise.all(
    servers.map(async (server, i) => ({
      name: `redis-${i}`,
      registry: await RedisRegistry.connect(
        // the manual clock runs ahead of Redis's own: keep expired records for the client to find
        { url: server.url, keyPrefix: `sharded:${namespace}:`, expiryGraceMs: 600_000, ...valueLimit },
        { clock },
      ),
    })),
  );
  return new ShardedRegistry(
    {
      shards,
      replicas,
      ...(limits.maxEntries === undefined ? {} : { maxEntries: limits.maxEntries }),
      ...(limits.maxBytes === undefined ? {} : { maxBytes: limits.maxBytes }),
      ...valueLimit,
    },
    { clock },
  );
}

registryConformanceSuite('ShardedRegistry over 3 redis-server processes', {
  create: ({ clock, limits }) => sharded(clock, limits, 1),
});

registryConformanceSuite('ShardedRegistry over 3 redis-server processes with 2 replicas', {
  create: ({ clock, limits }) => sharded(clock, limits, 2),
});
