import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { MemoryRegistry, RegistryError, ShardedRegistry } from '../../../../src/registry/index.js';
import { bytes, type Fixture, fixture, text } from './sharded-fixture.js';

const isCode = (code: string) => (e: unknown) => e instanceof RegistryError && e.code === code;

describe('ShardedRegistry', () => {
  let f: Fixture;
  afterEach(async () => {
    await f.registry.close();
  });

  describe('routing', () => {
    it('stores each record on exactly the shard ownersOf names', async () => {
      f = fixture();
      const keys = Array.from({ length: 200 }, (_, i) => `user:${i}`);
      for (const key of keys) await f.registry.set(key, bytes(key));
      const perShard = new Map<string, number>();
      for (const key of keys) {
        const owners = f.registry.ownersOf(key);
        assert.deepEqual(await f.holders(key), owners);
        perShard.set(owners[0] ?? '', (perShard.get(owners[0] ?? '') ?? 0) + 1);
      }
      assert.equal(perShard.size, 3);
      assert.equal(await f.registry.size(), 200);
    });

    it('writes R copies to the R top-scoring shards and reads from the first', async () => {
      f = fixture(['a', 'b', 'c', 'd'], { replicas: 2 });
      for (let i = 0; i < 100; i++) await f.registry.set(`k${i}`, bytes(String(i)));
      for (let i = 0; i < 100; i++) {
        const owners = f.registry.ownersOf(`k${i}`);
        assert.equal(owners.length, 2);
        assert.deepEqual([...(await f.holders(`k${i}`))].sort(), [...owners].sort());
      }
      const reads = [...f.backends.values()].map((b) => b.calls('get'));
      await f.registry.get('k1');
      const after = [...f.backends.values()].map((b) => b.calls('get'));
      assert.equal(after.reduce((a, b) => a + b, 0) - reads.reduce((a, b) => a + b, 0), 1);
      assert.equal(await f.registry.size(), 100);
    });

    it('caps the replication factor at the number of shards', async () => {
      f = fixture(['a', 'b'], { replicas: 5 });
      await f.registry.set('k', bytes('v'));
      assert.deepEqual((await f.holders('k')).sort(), ['a', 'b']);
    });
  });

  describe('replication', () => {
    it('reports one record:set and one record:removed per logical record whatever R is', async () => {
      f = fixture(['a', 'b', 'c'], { replicas: 3 });
      await f.registry.set('k', bytes('1'));
      await f.registry.setMany([{ key: 'm', value: bytes('2') }]);
      await f.registry.delete('k');
      await f.registry.deleteMany(['m']);
      assert.deepEqual(
        f.sets.map((e) => e.key),
        ['k', 'm'],
      );
      assert.deepEqual(
        f.removed.map((e) => [e.key, e.reason]),
        [
          ['k', 'delete'],
          ['m', 'delete'],
        ],
      );
    });

    it('keeps replica versions, values and deadlines equal to the primary', async () => {
      f = fixture(['a', 'b', 'c'], { replicas: 2 });
      await f.registry.set('k', bytes('1'));
      await f.registry.set('k', bytes('2'), { ifVersion: 1, ttlMs: 500 });
      const [primary, replica] = f.registry.ownersOf('k').map((name) => f.backend(name).inner);
      const p = await primary?.get('k');
      const r = await replica?.get('k');
      assert.equal(p?.version, 2);
      assert.deepEqual([r?.version, text(r?.value), r?.expiresAt], [p?.version, text(p?.value), p?.expiresAt]);
    });

    it('sends compare-and-set to the primary only and changes nothing on a conflict', async () => {
      f = fixture(['a', 'b', 'c'], { replicas: 2 });
      await f.registry.set('k', bytes('1'));
      const [, replicaName] = f.registry.ownersOf('k');
      const replica = f.backend(replicaName ?? '');
      const setsBefore = replica.calls('set');
      await assert.rejects(f.registry.set('k', bytes('2'), { ifVersion: 5 }), isCode('VERSION_CONFLICT'));
      await assert.rejects(f.registry.delete('k', { ifVersion: 5 }), isCode('VERSION_CONFLICT'));
      assert.equal(replica.calls('set'), setsBefore);
      assert.equal(text((await replica.inner.get('k'))?.value), '1');
    });

    it('renews the deadline on every replica with touch', async () => {
      f = fixture(['a', 'b', 'c'], { replicas: 3 });
      await f.registry.set('k', bytes('v'), { ttlMs: 100 });
      f.clock.advance(50);
      assert.equal(await f.registry.touch('k', 1000), true);
      for (const backend of f.backends.values())
        assert.equal((await backend.inner.get('k'))?.expiresAt, f.clock.now() + 1000);
    });
  });

  describe('batches', () => {
    it('sends one call per shard for getMany, setMany and deleteMany', async () => {
      f = fixture(['a', 'b', 'c']);
      const keys = Array.from({ length: 60 }, (_, i) => `b${i}`);
      await f.registry.setMany(keys.map((key) => ({ key, value: bytes(key) })));
      const got = await f.registry.getMany(keys);
      assert.deepEqual(
        got.map((r) => text(r?.value)),
        keys,
      );
      assert.equal(await f.registry.deleteMany([...keys, 'absent']), 60);
      for (const backend of f.backends.values()) {
        assert.deepEqual([backend.calls('setMany'), backend.calls('getMany'), backend.calls('deleteMany')], [1, 1, 1]);
      }
    });

    it('returns the primary record for each entry and keeps repeated keys in order', async () => {
      f = fixture(['a', 'b', 'c'], { replicas: 2 });
      const records = await f.registry.setMany([
        { key: 'x', value: bytes('1') },
        { key: 'y', value: bytes('1') },
        { key: 'x', value: bytes('2') },
      ]);
      assert.deepEqual(
        records.map((r) => [r.key, r.version]),
        [
          ['x', 1],
          ['y', 1],
          ['x', 2],
        ],
      );
      assert.equal(text((await f.registry.get('x'))?.value), '2');
    });
  });

  describe('global capacity', () => {
    it('holds at most maxEntries records across all shards, evicting the least recently used', async () => {
      f = fixture(['a', 'b', 'c'], { maxEntries: 10 });
      for (let i = 0; i < 10; i++) await f.registry.set(`k${i}`, bytes('v'));
      await f.registry.get('k0');
      for (let i = 10; i < 30; i++) await f.registry.set(`k${i}`, bytes('v'));
      assert.equal(await f.registry.size(), 10);
      assert.equal(await f.registry.has('k0'), false);
      assert.equal(f.removed.length, 20);
      assert.ok(f.removed.every((e) => e.reason === 'evict'));
      assert.deepEqual(
        f.removed.slice(0, 2).map((e) => e.key),
        ['k1', 'k2'],
      );
      assert.equal(f.registry.stats().indexedKeys, 10);
      assert.equal(
        f.registry.stats().shards.reduce((n, s) => n + s.evictions, 0),
        20,
      );
    });

    it('counts replicas once against maxBytes', async () => {
      f = fixture(['a', 'b', 'c'], { replicas: 3, maxBytes: 100 });
      for (let i = 0; i < 10; i++) await f.registry.set(`k${i}`, new Uint8Array(18)); // 20 bytes each
      assert.equal(await f.registry.size(), 5);
      assert.equal(f.registry.stats().indexedBytes, 100);
    });
  });

  describe('options', () => {
    it('rejects bad options with INVALID_OPTION naming the option', () => {
      const registry = new MemoryRegistry();
      const shards = [{ name: 'a', registry }];
      const bad: [unknown, RegExp][] = [
        [{ shards: [] }, /shards/],
        [{ shards, replicas: 0 }, /replicas/],
        [{ shards, timeoutMs: -1 }, /timeoutMs/],
        [{ shards, migrationRate: 0 }, /migrationRate/],
        [{ shards, unavailableReads: 'maybe' }, /unavailableReads/],
        [{ shards, colour: 'red' }, /colour/],
        [
          {
            shards: [
              { name: 'a', registry },
              { name: 'a', registry },
            ],
          },
          /used twice/,
        ],
        [{ shards: [{ name: 'a', registry: {} }] }, /registry/],
        [{ shards: [{ name: 'a', registry, weight: -1 }] }, /weight/],
      ];
      for (const [options, message] of bad) {
        assert.throws(
          () => new ShardedRegistry(options as never),
          (e: unknown) => isCode('INVALID_OPTION')(e) && message.test((e as Error).message),
        );
      }
      f = fixture();
    });

    it('takes timer options up to the longest delay a timer takes, and refuses longer ones naming the bound', async () => {
      const shards = [{ name: 'a', registry: new MemoryRegistry() }];
      const refused = (options: object, message: RegExp): void => {
        assert.throws(
          () => new ShardedRegistry({ shards, ...options }),
          (e: unknown) => isCode('INVALID_OPTION')(e) && message.test((e as Error).message),
        );
      };
      refused({ timeoutMs: 2 ** 31 }, /^timeoutMs must be an integer in \[1, 2147483647\] \(got 2147483648\)/);
      // a hand-back retry waits up to 8 cooldowns
      refused({ cooldownMs: 268_435_456 }, /^cooldownMs must be an integer in \[1, 268435455\]/);
      const longest = new ShardedRegistry({ shards, timeoutMs: 2 ** 31 - 1, cooldownMs: 268_435_455 });
      await longest.set('k', bytes('v'));
      assert.equal((await longest.get('k'))?.version, 1);
      await longest.close();
      f = fixture();
    });

    it('validates keys and values before calling any shard', async () => {
      f = fixture(['a'], { maxValueBytes: 4 });
      await assert.rejects(f.registry.set('', bytes('v')), isCode('INVALID_KEY'));
      await assert.rejects(f.registry.set('k', bytes('12345')), isCode('VALUE_TOO_LARGE'));
      assert.equal(f.backend('a').calls('set'), 0);
    });
  });
});
