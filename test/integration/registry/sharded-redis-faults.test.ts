import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { isRegistryError, type RecordRemovedEvent, ShardedRegistry } from '../../../src/registry/index.js';
import { RedisRegistry } from '../../../src/registry/redis/index.js';
import { type RedisServerHandle, startRedisServer } from '../../../src/testing/index.js';

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);
const text = (b: Uint8Array | undefined): string | undefined =>
  b === undefined ? undefined : new TextDecoder().decode(b);
// a bound on each test (they take about a second): a wait that never ends fails the test, and the
// teardown still runs, instead of holding the process until CI's limit
const TEST = { timeout: 30_000 } as const;

/** The values of the results that fulfilled, in order. */
const fulfilled = <T>(results: readonly PromiseSettledResult<T>[]): T[] =>
  results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));

/** Throws the reason of the first result that rejected, if any. */
function throwFirstFailure(results: readonly PromiseSettledResult<unknown>[]): void {
  for (const result of results) if (result.status === 'rejected') throw result.reason;
}

describe('ShardedRegistry over redis-server processes that die', () => {
  let servers: RedisServerHandle[] = [];
  let backends: RedisRegistry[] = [];
  let registry: ShardedRegistry | undefined;

  // every step runs whatever failed before it: a client left open to a stopped server reconnects
  // forever and keeps the process alive
  afterEach(async () => {
    const closing = [registry?.close()];
    registry = undefined;
    // a shard removed as lost is no longer the sharded registry's to close
    const results = await Promise.allSettled([...closing, ...backends.map((b) => b.close())]);
    results.push(...(await Promise.allSettled(servers.map((s) => s.stop()))));
    backends = [];
    servers = [];
    throwFirstFailure(results);
  });

  async function start(count: number, options: { replicas: number; trackKeys?: boolean }): Promise<ShardedRegistry> {
    // every server and backend that starts is kept before a failure of another is thrown, so the
    // teardown closes it (`servers[i]` is the server of `backends[i]`, shard `redis-${i}`)
    const started = await Promise.allSettled(Array.from({ length: count }, () => startRedisServer()));
    servers = fulfilled(started);
    throwFirstFailure(started);
    const connected = await Promise.allSettled(
      servers.map((server) =>
        RedisRegistry.connect({ url: server.url, keyPrefix: 'kill:', timeoutMs: 300, reconnectMaxDelayMs: 50 }),
      ),
    );
    backends = fulfilled(connected);
    throwFirstFailure(connected);
    registry = new ShardedRegistry({
      shards: backends.map((backend, i) => ({ name: `redis-${i}`, registry: backend })),
      timeoutMs: 500,
      cooldownMs: 100,
      migrationRate: Number.POSITIVE_INFINITY,
      ...options,
    });
    return registry;
  }

  it(
    'rejects restore times Redis cannot store with INVALID_OPTION and keeps the shard up for its other keys',
    TEST,
    async () => {
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
    },
  );

  it(
    'loses no record and shows no error with 2 replicas when one server is killed, and hands back on restart',
    TEST,
    async () => {
      const sharded = await start(4, { replicas: 2 });
      const keys = Array.from({ length: 400 }, (_, i) => `r:${i}`);
      await sharded.setMany(keys.map((key) => ({ key, value: bytes(key) })));
      const owners = keys.map((key) => sharded.ownersOf(key).join());
      await servers[2]?.kill9();
      for (const key of keys) assert.equal(text((await sharded.get(key))?.value), key);
      assert.deepEqual(
        (await sharded.getMany(keys)).map((r) => text(r?.value)),
        keys,
      );
      for (const key of keys.slice(0, 100)) await sharded.set(key, bytes(`${key}!`));
      assert.equal(sharded.stats().shards.find((s) => s.name === 'redis-2')?.health, 'down');

      await servers[2]?.restart();
      // bounded wait for the shard to return and catch up: refilled (it came back empty) and given
      // back what was written while it was down. Until then it is out of routing, so every key is
      // routed to its owners again only once it has caught up (health and hints alone do not say so)
      const caughtUp = (): boolean =>
        sharded.stats().shards.every((s) => s.health === 'up' && s.hints === 0) &&
        keys.every((key, i) => sharded.ownersOf(key).join() === owners[i]);
      const deadline = Date.now() + 10_000;
      while (!caughtUp() && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        await sharded.settled();
      }
      assert.ok(caughtUp(), 'every shard serves its keys again');
      // every record is whole again: losing another server still loses nothing
      await servers[0]?.kill9();
      assert.deepEqual(
        (await sharded.getMany(keys)).map((r) => text(r?.value)),
        keys.map((k, i) => (i < 100 ? `${k}!` : k)),
      );
    },
  );

  it(
    "loses exactly the killed server's records with one replica, reported as shard-lost, with no error on the others",
    TEST,
    async () => {
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
    },
  );
});
