import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { isRegistryError, type RecordRemovedEvent, ShardedRegistry } from '../../../src/registry/index.js';
import { RedisRegistry } from '../../../src/registry/redis/index.js';
import { type RedisServerHandle, startRedisServer } from '../../../src/testing/index.js';

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);
const text = (b: Uint8Array | undefined): string | undefined =>
  b === undefined ? undefined : new TextDecoder().decode(b);

describe('ShardedRegistry over redis-server processes that die', () => {
  let servers: RedisServerHandle[] = [];
  let backends: RedisRegistry[] = [];
  let registry: ShardedRegistry | undefined;

  afterEach(async () => {
    await registry?.close();
    // a shard removed as lost is no longer the sharded registry's to close
    await Promise.all(backends.map((b) => b.close()));
    await Promise.all(servers.map((s) => s.stop()));
    registry = undefined;
    backends = [];
    servers = [];
  });

  async function start(count: number, options: { replicas: number; trackKeys?: boolean }): Promise<ShardedRegistry> {
    servers = await Promise.all(Array.from({ length: count }, () => startRedisServer()));
    backends = await Promise.all(
      servers.map((server) =>
        RedisRegistry.connect({ url: server.url, keyPrefix: 'kill:', timeoutMs: 300, reconnectMaxDelayMs: 50 }),
      ),
    );
    registry = new ShardedRegistry({
      shards: backends.map((backend, i) => ({ name: `redis-${i}`, registry: backend })),
      timeoutMs: 500,
      cooldownMs: 100,
      migrationRate: Number.POSITIVE_INFINITY,
      ...options,
    });
    return registry;
  }

  it('rejects restore times Redis cannot store with INVALID_OPTION and keeps the shard up for its other keys', async () => {
    const sharded = await start(2, { replicas: 1 });
    const now = Date.now();
    const huge = { key: 'huge', value: bytes('x'), version: 1, createdAt: now, updatedAt: now, expiresAt: 1e17 };
    const owner = sharded.ownersOf('huge')[0];
    const neighbour = Array.from({ length: 100 }, (_, i) => `n:${i}`).find((k) => sharded.ownersOf(k)[0] === owner);
    assert.ok(neighbour !== undefined);
    // more than failureThreshold (3) of them: none may count as a failure of the shard
    for (let i = 0; i < 5; i++) {
      await assert.rejects(sharded.restore(huge), (e: unknown) => isRegistryError(e, 'INVALID_OPTION'));
    }
    assert.ok(sharded.stats().shards.every((s) => s.health === 'up' && s.errors === 0));
    await sharded.set(neighbour, bytes('fine'));
    assert.equal(text((await sharded.get(neighbour))?.value), 'fine');
    assert.equal(await sharded.has('huge'), false);
  });

  it('loses no record and shows no error with 2 replicas when one server is killed, and hands back on restart', async () => {
    const sharded = await start(4, { replicas: 2 });
    const keys = Array.from({ length: 400 }, (_, i) => `r:${i}`);
    await sharded.setMany(keys.map((key) => ({ key, value: bytes(key) })));
    await servers[2]?.kill9();
    for (const key of keys) assert.equal(text((await sharded.get(key))?.value), key);
    assert.deepEqual(
      (await sharded.getMany(keys)).map((r) => text(r?.value)),
      keys,
    );
    for (const key of keys.slice(0, 100)) await sharded.set(key, bytes(`${key}!`));
    assert.equal(sharded.stats().shards.find((s) => s.name === 'redis-2')?.health, 'down');

    await servers[2]?.restart();
    // bounded wait for the shard to return and take back what was written while it was down
    const deadline = Date.now() + 10_000;
    while (sharded.stats().shards.some((s) => s.health !== 'up' || s.hints > 0) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      await sharded.settled();
    }
    assert.ok(sharded.stats().shards.every((s) => s.health === 'up' && s.hints === 0));
    // every record is whole again: losing another server still loses nothing
    await servers[0]?.kill9();
    assert.deepEqual(
      (await sharded.getMany(keys)).map((r) => text(r?.value)),
      keys.map((k, i) => (i < 100 ? `${k}!` : k)),
    );
  });

  it("loses exactly the killed server's records with one replica, reported as shard-lost, with no error on the others", async () => {
    const sharded = await start(3, { replicas: 1, trackKeys: true });
    const keys = Array.from({ length: 300 }, (_, i) => `l:${i}`);
    await sharded.setMany(keys.map((key) => ({ key, value: bytes(key) })));
    const dead = keys.filter((key) => sharded.ownersOf(key)[0] === 'redis-1');
    const alive = keys.filter((key) => !dead.includes(key));
    assert.ok(dead.length > 50 && alive.length > 150);
    await servers[1]?.kill9();
    for (const key of alive) assert.equal(text((await sharded.get(key))?.value), key);

    const removed: RecordRemovedEvent[] = [];
    sharded.on('record:removed', (e) => removed.push(e));
    await sharded.removeShard('redis-1', { lost: true });
    assert.deepEqual(removed.map((e) => e.key).sort(), [...dead].sort());
    assert.ok(removed.every((e) => e.reason === 'shard-lost'));
    assert.deepEqual(
      (await sharded.getMany(alive)).map((r) => text(r?.value)),
      alive,
    );
    assert.equal(await sharded.size(), alive.length);
  });
});
