import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
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

describe('ShardedRegistry over redis-server processes holding foreign keys under its prefix', () => {
  it('scans, counts and migrates past keys that are not records', async () => {
    const namespace = `foreign:${namespaces++}:`;
    const connect = (server: RedisServerHandle): Promise<RedisRegistry> =>
      RedisRegistry.connect({ url: server.url, keyPrefix: namespace });
    const [first, second, third] = servers as [RedisServerHandle, RedisServerHandle, RedisServerHandle];
    for (const server of [first, second]) {
      await server.command('RPUSH', `${namespace}list`, 'x');
      await server.command('SET', `${namespace}text`, 'not a record');
    }
    const registry = new ShardedRegistry({
      shards: [
        { name: 'redis-0', registry: await connect(first) },
        { name: 'redis-1', registry: await connect(second) },
      ],
      migrationRate: Number.POSITIVE_INFINITY,
    });
    try {
      const keys = Array.from({ length: 60 }, (_, i) => `k${i}`);
      await registry.setMany(keys.map((key) => ({ key, value: new Uint8Array([1]) })));
      assert.equal(await registry.size(), keys.length);
      const result = await registry.addShard({ name: 'redis-2', registry: await connect(third) });
      assert.equal(result.cancelled, false);
      assert.ok(result.moved > 0);
      const scanned: string[] = [];
      for await (const r of registry.scan()) scanned.push(r.key);
      assert.deepEqual(scanned.sort(), [...keys].sort());
    } finally {
      await registry.close();
    }
  });
});
