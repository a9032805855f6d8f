import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type RegistryRecord, ShardedRegistry } from '../../../src/registry/index.js';
import { RedisRegistry } from '../../../src/registry/redis/index.js';
import { type RedisServerHandle, startRedisServer } from '../../../src/testing/index.js';

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);
const identity = (r: RegistryRecord | undefined): unknown =>
  r === undefined
    ? undefined
    : {
        value: new TextDecoder().decode(r.value),
        version: r.version,
        createdAt: r.createdAt,
        updatedAt: r.updatedAt,
        expiresAt: r.expiresAt,
      };

describe('ShardedRegistry over redis-server processes: verbatim copies', () => {
  let servers: RedisServerHandle[] = [];
  const backends: RedisRegistry[] = [];

  before(async () => {
    servers = await Promise.all(Array.from({ length: 4 }, () => startRedisServer()));
  });

  after(async () => {
    await Promise.all(backends.map((b) => b.close()));
    await Promise.all(servers.map((s) => s.stop()));
  });

  async function connect(server: RedisServerHandle, prefix: string): Promise<RedisRegistry> {
    const backend = await RedisRegistry.connect({ url: server.url, keyPrefix: prefix });
    backends.push(backend);
    return backend;
  }

  it('keeps versions and times of records moved to a new shard, on every replica, and CAS on them', async () => {
    const shards = await Promise.all(
      servers.slice(0, 3).map(async (server, i) => ({ name: `r${i}`, registry: await connect(server, 'move:') })),
    );
    const registry = new ShardedRegistry({
      shards,
      replicas: 2,
      readRepair: 0,
      migrationRate: Number.POSITIVE_INFINITY,
    });
    const keys = Array.from({ length: 120 }, (_, i) => `v:${i}`);
    for (let round = 1; round <= 3; round++)
      for (const key of keys) await registry.set(key, bytes(`${key}#${round}`), { ttlMs: 600_000 });
    const before = new Map(
      await Promise.all(keys.map(async (key) => [key, identity(await registry.get(key))] as const)),
    );
    const result = await registry.addShard({
      name: 'r3',
      registry: await connect(servers[3] as RedisServerHandle, 'move:'),
    });
    assert.ok(result.moved > 0);
    const byName = new Map(
      [...shards, { name: 'r3', registry: backends.at(-1) as RedisRegistry }].map((s) => [s.name, s.registry]),
    );
    for (const key of keys) {
      for (const owner of registry.ownersOf(key))
        assert.deepEqual(identity(await byName.get(owner)?.get(key)), before.get(key), `${key} on ${owner}`);
    }
    for (const key of keys.slice(0, 20))
      assert.equal((await registry.set(key, bytes('cas'), { ifVersion: 3 })).version, 4);
    await registry.close();
  });

  it('repairs a replica that lost a record, on read, with the same version', async () => {
    const shards = await Promise.all(
      servers.slice(0, 3).map(async (server, i) => ({ name: `r${i}`, registry: await connect(server, 'repair:') })),
    );
    const registry = new ShardedRegistry({ shards, replicas: 3, readRepair: 1, readRepairConcurrency: 64 });
    // keys whose primary is not r1: a key its primary lacks is never recreated
    const keys = Array.from({ length: 40 }, (_, i) => `p:${i}`).filter((key) => registry.ownersOf(key)[0] !== 'r1');
    for (const key of keys) await registry.set(key, bytes(key));
    for (const key of keys) await registry.set(key, bytes(`${key}!`));
    const replica = shards[1]?.registry as RedisRegistry;
    await replica.deleteMany(keys);
    await registry.getMany(keys);
    await registry.settled();
    for (const key of keys) {
      const primary = shards.find((s) => s.name === registry.ownersOf(key)[0])?.registry;
      assert.deepEqual(identity(await replica.get(key)), identity(await primary?.get(key)), key);
    }
    const stats = registry.stats().shards.find((s) => s.name === 'r1');
    assert.equal(stats?.readRepairs, keys.length);
    await registry.close();
  });
});
