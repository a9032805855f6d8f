import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { RegistryError } from '../../../../src/registry/index.js';
import { bytes, type Fixture, fixture, makeBackend, text } from './sharded-fixture.js';

const isCode = (code: string) => (e: unknown) => e instanceof RegistryError && e.code === code;
const keysN = (n: number, prefix = 'm'): string[] => Array.from({ length: n }, (_, i) => `${prefix}:${i}`);

describe('ShardedRegistry migrations', () => {
  let f: Fixture;
  afterEach(async () => {
    await f.registry.close();
  });

  async function load(keys: string[]): Promise<void> {
    await f.registry.setMany(keys.map((key) => ({ key, value: bytes(key) })));
    f.sets.length = 0;
  }

  async function assertPlacedByOwners(keys: string[]): Promise<void> {
    for (const key of keys) assert.deepEqual((await f.holders(key)).sort(), [...f.registry.ownersOf(key)].sort(), key);
  }

  it('moves to an added shard exactly the records it now owns, silently', async () => {
    f = fixture();
    const keys = keysN(1000);
    await load(keys);
    const before = new Map(keys.map((key) => [key, f.registry.ownersOf(key)[0]]));
    const d = makeBackend(f.clock);
    f.backends.set('d', d);
    const result = await f.registry.addShard({ name: 'd', registry: d });
    const movers = keys.filter((key) => f.registry.ownersOf(key)[0] !== before.get(key));
    assert.ok(movers.every((key) => f.registry.ownersOf(key)[0] === 'd'));
    assert.deepEqual([result.kind, result.moved, result.cancelled], ['add', movers.length, false]);
    assert.equal(result.scanned, 1000);
    assert.ok(movers.length > 150 && movers.length < 350, `${movers.length} moved`);
    await assertPlacedByOwners(keys);
    assert.deepEqual([f.sets.length, f.removed.length], [0, 0]);
    assert.ok(f.progress.length > 0);
    assert.deepEqual(f.done.at(-1), result);
    assert.deepEqual(f.registry.shardNames, ['a', 'b', 'c', 'd']);
  });

  it("moves only the removed shard's records, to their next owners, and leaves its backend open", async () => {
    f = fixture(['a', 'b', 'c', 'd']);
    const keys = keysN(800);
    await load(keys);
    const onC = keys.filter((key) => f.registry.ownersOf(key)[0] === 'c');
    const writes = (name: string): number => f.backend(name).calls('set') + f.backend(name).calls('restore');
    const setsBefore = ['a', 'b', 'd'].map(writes);
    const result = await f.registry.removeShard('c');
    assert.deepEqual([result.moved, result.scanned], [onC.length, onC.length]);
    const setsAfter = ['a', 'b', 'd'].map(writes);
    assert.equal(setsAfter.reduce((a, b) => a + b, 0) - setsBefore.reduce((a, b) => a + b, 0), onC.length);
    assert.equal(await f.backend('c').size(), 0);
    await assertPlacedByOwners(keys);
    assert.deepEqual(
      (await f.registry.getMany(keys)).map((r) => text(r?.value)),
      keys,
    );
    assert.deepEqual(f.registry.shardNames, ['a', 'b', 'd']);
  });

  it('keeps R copies of every record when shards come and go with replication', async () => {
    f = fixture(['a', 'b', 'c'], { replicas: 2 });
    const keys = keysN(400);
    await load(keys);
    const d = makeBackend(f.clock);
    f.backends.set('d', d);
    await f.registry.addShard({ name: 'd', registry: d });
    await assertPlacedByOwners(keys);
    await f.registry.removeShard('a');
    f.backends.delete('a');
    await assertPlacedByOwners(keys);
    assert.equal(await f.registry.size(), 400);
  });

  it('drains a shard out of routing and keeps it attached until removed', async () => {
    f = fixture();
    const keys = keysN(300);
    await load(keys);
    await f.registry.drainShard('b');
    assert.equal(await f.backend('b').size(), 0);
    assert.deepEqual(f.registry.shardNames, ['a', 'c']);
    assert.deepEqual(
      (await f.registry.getMany(keys)).map((r) => text(r?.value)),
      keys,
    );
    await assert.rejects(f.registry.addShard({ name: 'b', registry: makeBackend(f.clock) }), isCode('INVALID_OPTION'));
    const removed = await f.registry.removeShard('b');
    assert.equal(removed.moved, 0);
  });

  it('paces a migration to migrationRate records per second on the clock', async () => {
    f = fixture(['a', 'b'], { migrationRate: 100, migrationBatchSize: 10 });
    const keys = keysN(600);
    await load(keys);
    const d = makeBackend(f.clock);
    let finished = false;
    const adding = f.registry.addShard({ name: 'c', registry: d }).then((r) => {
      finished = true;
      return r;
    });
    await f.clock.advanceAsync(500);
    assert.equal(finished, false);
    const movedByHalfSecond = f.progress.at(-1)?.moved ?? 0;
    assert.ok(movedByHalfSecond >= 50 && movedByHalfSecond <= 70, `${movedByHalfSecond} moved in 0.5 s`);
    for (let i = 0; i < 100 && !finished; i++) await f.clock.advanceAsync(100);
    const result = await adding;
    assert.ok(result.moved > 150, `${result.moved}`);
    assert.deepEqual(
      (await f.registry.getMany(keys)).map((r) => text(r?.value)),
      keys,
    );
  });

  it('serves reads and writes correctly while records are moving', async () => {
    f = fixture(['a', 'b'], { migrationRate: 100, migrationBatchSize: 10 });
    const keys = keysN(300);
    await load(keys);
    const adding = f.registry.addShard({ name: 'c', registry: makeBackend(f.clock) });
    await f.clock.advanceAsync(300);
    const movers = keys.filter((key) => f.registry.ownersOf(key)[0] === 'c');
    assert.deepEqual(
      (await f.registry.getMany(keys)).map((r) => text(r?.value)),
      keys,
    );
    for (const key of keys) assert.equal(text((await f.registry.get(key))?.value), key);
    const [w, cas, gone] = movers.slice(-3) as [string, string, string];
    await f.registry.set(w, bytes('written during the move'));
    assert.equal((await f.registry.set(cas, bytes('cas'), { ifVersion: 1 })).version, 2);
    assert.equal(await f.registry.delete(gone), true);
    for (let i = 0; i < 100; i++) await f.clock.advanceAsync(100);
    await adding;
    assert.equal(text((await f.registry.get(w))?.value), 'written during the move');
    assert.equal(text((await f.registry.get(cas))?.value), 'cas');
    assert.equal(await f.registry.get(gone), undefined);
    assert.deepEqual(
      f.removed.map((e) => [e.key, e.reason]),
      [[gone, 'delete']],
    );
  });

  it('reads a record from its previous replica while it moves and the previous primary fails', async () => {
    f = fixture(['a', 'b', 'c', 'd'], { replicas: 2, migrationRate: 1, migrationBatchSize: 1, failureThreshold: 2 });
    const keys = f.keysOwnedBy(['a', 'b'], 20);
    await load(keys);
    f.backend('a').inject({ type: 'error' });
    // it may stop at the failing shard: what matters here is the reads while it runs
    f.registry.removeShard('b').catch(() => undefined);
    // a record b held that its new replica has not received yet: only b still has it, besides a
    const waiting: string[] = [];
    for (const key of keys) {
      const next = f.registry.ownersOf(key).find((name) => name !== 'a') as string;
      if (!(await f.holders(key)).includes(next)) waiting.push(key);
    }
    assert.ok(waiting.length > 0, 'the migration has not moved everything yet');
    for (const key of waiting) assert.equal(text((await f.registry.get(key))?.value), key, key);
  });

  it('stops when its signal aborts, keeps reads correct, and finishes with rebalance', async () => {
    f = fixture(['a', 'b'], { migrationRate: 100, migrationBatchSize: 10 });
    const keys = keysN(300);
    await load(keys);
    const controller = new AbortController();
    const c = makeBackend(f.clock);
    f.backends.set('c', c);
    const adding = f.registry.addShard({ name: 'c', registry: c }, { signal: controller.signal });
    await f.clock.advanceAsync(200);
    controller.abort(new Error('enough'));
    const result = await adding;
    assert.equal(result.cancelled, true);
    assert.deepEqual(
      (await f.registry.getMany(keys)).map((r) => text(r?.value)),
      keys,
    );
    await assert.rejects(f.registry.removeShard('a'), /rebalance/);
    const resuming = f.registry.rebalance();
    for (let i = 0; i < 100; i++) await f.clock.advanceAsync(100);
    const finished = await resuming;
    assert.equal(finished?.cancelled, false);
    assert.equal(await f.registry.rebalance(), undefined);
    await assertPlacedByOwners(keys);
  });

  it('refuses to move records off a shard that is down without replicas, and stops when a source fails midway', async () => {
    f = fixture(['a', 'b'], { migrationRate: 100, migrationBatchSize: 10 });
    const keys = keysN(300);
    await load(keys);
    f.backend('b').inject({ type: 'error' });
    for (const key of f.keysOwnedBy('b', 3, 'trip'))
      await f.registry.set(key, new Uint8Array(1)).catch(() => undefined);
    await assert.rejects(f.registry.removeShard('b'), isCode('BACKEND_UNAVAILABLE'));
    await assert.rejects(
      f.registry.addShard({ name: 'c', registry: makeBackend(f.clock) }),
      isCode('BACKEND_UNAVAILABLE'),
    );
    f.backend('b').heal();
    await f.clock.advanceAsync(5000);
    await f.registry.settled();
    const c = makeBackend(f.clock);
    f.backends.set('c', c);
    const adding = f.registry.addShard({ name: 'c', registry: c });
    await f.clock.advanceAsync(100);
    f.backend('a').inject({ type: 'error' }, ['scan', 'get']);
    for (let i = 0; i < 50; i++) await f.clock.advanceAsync(100);
    const result = await adding;
    assert.equal(result.cancelled, true);
    f.backend('a').heal();
    const resuming = f.registry.rebalance();
    for (let i = 0; i < 100; i++) await f.clock.advanceAsync(100);
    assert.equal((await resuming)?.cancelled, false);
    assert.deepEqual(
      (await f.registry.getMany(keys)).map((r) => text(r?.value)),
      keys,
    );
    await assertPlacedByOwners(keys);
  });

  it('rejects removing an unknown or the last shard with INVALID_OPTION', async () => {
    f = fixture(['a']);
    await assert.rejects(f.registry.removeShard('zz'), isCode('INVALID_OPTION'));
    await assert.rejects(f.registry.removeShard('a'), isCode('INVALID_OPTION'));
  });

  it('never copies a record whose delete is in flight onto its new owner', async () => {
    f = fixture(['a', 'b', 'c'], { replicas: 2 });
    // a key that a and b own now, and a and d once d is added (a stays an owner, d is new)
    const later = fixture(['a', 'b', 'c', 'd'], { replicas: 2 });
    let key = '';
    for (let i = 0; key === ''; i++) {
      const now = f.registry.ownersOf(`mv:${i}`).sort().join();
      if (now === 'a,b' && later.registry.ownersOf(`mv:${i}`).sort().join() === 'a,d') key = `mv:${i}`;
    }
    await later.registry.close();
    await f.registry.set(key, bytes('v'));
    const d = makeBackend(f.clock);
    f.backends.set('d', d);
    // the migration starts scanning a at 100 ms; the delete lands on a at 200 ms
    f.backend('a').inject({ type: 'latency', ms: 100 }, ['scan']);
    f.backend('a').inject({ type: 'latency', ms: 200 }, ['delete']);
    const added = f.registry.addShard({ name: 'd', registry: d });
    await f.clock.advanceAsync(0);
    assert.deepEqual(f.registry.ownersOf(key).sort(), ['a', 'd']);
    // the write first pulls the key to d, then deletes it from a and d
    const deleted = f.registry.delete(key);
    await f.clock.advanceAsync(100);
    assert.deepEqual(await f.holders(key), ['a']);
    await f.clock.advanceAsync(100);
    assert.equal(await deleted, true);
    assert.equal((await added).cancelled, false);
    assert.deepEqual(await f.holders(key), []);
  });

  it('does not serve a record deleted while the removal of a failing former owner is cancelled', async () => {
    f = fixture(['a', 'b', 'c', 'd'], { replicas: 2, cooldownMs: 500 });
    const [key = ''] = f.keysOwnedBy('b', 1);
    await f.registry.set(key, bytes('v'));
    f.backend('b').inject({ type: 'error' });
    assert.equal((await f.registry.removeShard('b')).cancelled, true);
    assert.equal(await f.registry.delete(key), true);
    f.backend('b').heal();
    await f.clock.advanceAsync(500);
    await f.registry.settled();
    assert.deepEqual(await f.holders(key), ['b']);
    assert.equal(await f.registry.get(key), undefined);
    assert.equal((await f.registry.rebalance())?.cancelled, false);
    assert.equal(await f.registry.get(key), undefined);
    assert.deepEqual(await f.holders(key), []);
  });
});
