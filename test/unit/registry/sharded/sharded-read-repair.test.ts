import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { RegistryError, type RegistryRecord } from '../../../../src/registry/index.js';
import { bytes, type Fixture, fixture, settlesWithoutTime, text } from './sharded-fixture.js';

const TIMEOUT = 2000;

const identity = (r: RegistryRecord | undefined): unknown =>
  r === undefined
    ? undefined
    : { value: text(r.value), version: r.version, createdAt: r.createdAt, updatedAt: r.updatedAt };

describe('ShardedRegistry read repair', () => {
  let f: Fixture;
  afterEach(async () => {
    await f.registry.close();
  });

  it('repairs a replica that missed writes (errors injected, then healed, no hint kept) on the next reads, with the same version', async () => {
    // no hints: nothing but reads can find out that b is stale
    f = fixture(['a', 'b', 'c'], { replicas: 2, readRepair: 1, failureThreshold: 100, maxHintsPerShard: 0 });
    const keys = f.keysOwnedBy(['a', 'b'], 8, 'rr');
    for (const key of keys) await f.registry.set(key, bytes('v1'));
    f.backend('b').inject({ type: 'error' }, ['set', 'restore']);
    for (const key of keys) await f.registry.set(key, bytes('v2'));
    f.backend('b').heal();
    assert.equal(f.shardStats('b')?.health, 'up');
    assert.deepEqual(
      (await f.backend('b').inner.getMany(keys)).map((r) => r?.version),
      keys.map(() => 1),
    );
    assert.deepEqual(
      (await f.registry.getMany(keys.slice(0, 4))).map((r) => text(r?.value)),
      ['v2', 'v2', 'v2', 'v2'],
    );
    for (const key of keys.slice(4)) assert.equal(text((await f.registry.get(key))?.value), 'v2');
    await f.registry.settled();
    for (const key of keys) {
      const primary = await f.backend('a').inner.get(key);
      assert.equal(primary?.version, 2);
      assert.deepEqual(identity(await f.backend('b').inner.get(key)), identity(primary), key);
    }
    assert.deepEqual([f.shardStats('b')?.readRepairs, f.shardStats('b')?.hints], [keys.length, 0]);
  });

  it('replaces a missing or older copy that no hint knows of with the newest one', async () => {
    f = fixture(['a', 'b', 'c'], { replicas: 3, readRepair: 1 });
    const [missing, older] = ['k:missing', 'k:older'];
    for (const key of [missing, older]) {
      await f.registry.set(key, bytes('1'), { ttlMs: 60_000 });
      f.clock.advance(5);
      await f.registry.set(key, bytes('2'), { ttlMs: 60_000 });
    }
    const [, second, third] = f.registry.ownersOf(older);
    await f.backend(f.registry.ownersOf(missing)[1] ?? '').inner.delete(missing);
    const stale = await f.backend(second ?? '').inner.get(older);
    assert.ok(stale);
    await f.backend(second ?? '').inner.restore?.({ ...stale, version: 1, value: bytes('1') }, { ifNewer: false });
    await f.registry.get(missing);
    await f.registry.get(older);
    await f.registry.settled();
    for (const key of [missing, older]) {
      const copies = await Promise.all(f.registry.ownersOf(key).map((name) => f.backend(name).inner.get(key)));
      for (const copy of copies) assert.deepEqual(identity(copy), identity(copies[0]), key);
      assert.equal(copies[0]?.version, 2);
      assert.equal(copies[0]?.expiresAt, copies[1]?.expiresAt);
    }
    assert.equal(f.shardStats(third ?? '')?.readRepairs, 0);
  });

  it('never recreates a record its primary lacks, nor an expired one', async () => {
    f = fixture(['a', 'b', 'c'], { replicas: 2, readRepair: 1 });
    const [deleted, expiring] = f.keysOwnedBy(['a', 'b'], 2, 'rr');
    await f.registry.set(deleted ?? '', bytes('gone'));
    await f.backend('a').inner.delete(deleted ?? '');
    await f.registry.set(expiring ?? '', bytes('short'), { ttlMs: 100 });
    f.clock.advance(100);
    assert.equal(await f.registry.get(deleted ?? ''), undefined);
    assert.equal(await f.registry.get(expiring ?? ''), undefined);
    await f.registry.settled();
    assert.equal(await f.backend('a').inner.has(deleted ?? ''), false);
    assert.equal(await f.backend('a').inner.has(expiring ?? ''), false);
    assert.equal(f.shardStats('a')?.readRepairs, 0);
  });

  it('never touches the replicas with readRepair 0', async () => {
    f = fixture(['a', 'b', 'c'], { replicas: 2, readRepair: 0 });
    const keys = f.keysOwnedBy(['a', 'b'], 5, 'rr');
    for (const key of keys) await f.registry.set(key, bytes('v'));
    await f.backend('b').inner.deleteMany(keys);
    const reads = f.backend('b').calls('get');
    for (const key of keys) await f.registry.get(key);
    await f.registry.getMany(keys);
    await f.registry.settled();
    assert.equal(f.backend('b').calls('get'), reads);
    assert.equal(await f.backend('b').inner.size(), 0);
    assert.equal(f.shardStats('b')?.readRepairs, 0);
  });

  it('samples reads with the injected random source', async () => {
    const draws = [0.9, 0.2, 0.7, 0.1];
    f = fixture(['a', 'b', 'c'], { replicas: 2, readRepair: 0.5 }, { random: () => draws.shift() ?? 1 });
    const keys = f.keysOwnedBy(['a', 'b'], 4, 'rr');
    for (const key of keys) await f.registry.set(key, bytes('v'));
    await f.backend('b').inner.deleteMany(keys);
    for (const key of keys) await f.registry.get(key);
    await f.registry.settled();
    assert.deepEqual(await Promise.all(keys.map((key) => f.backend('b').inner.has(key))), [false, true, false, true]);
    assert.equal(f.shardStats('b')?.readRepairs, 2);
  });

  it('answers the caller at once while the replica it checks hangs, and counts the failure instead of throwing', async () => {
    f = fixture(['a', 'b', 'c'], { replicas: 2, readRepair: 1, timeoutMs: TIMEOUT });
    const keys = f.keysOwnedBy(['a', 'b'], 3, 'rr');
    for (const key of keys) await f.registry.set(key, bytes(key));
    f.backend('b').inject({ type: 'hang' });
    const read = f.registry.get(keys[0] ?? '');
    assert.equal(await settlesWithoutTime(read), true);
    assert.equal(text((await read)?.value), keys[0]);
    const batch = f.registry.getMany(keys);
    assert.equal(await settlesWithoutTime(batch), true);
    assert.deepEqual(
      (await batch).map((r) => text(r?.value)),
      keys,
    );
    await f.clock.advanceAsync(TIMEOUT);
    await f.registry.settled();
    const b = f.shardStats('b');
    assert.ok((b?.timeouts ?? 0) >= 1);
    assert.equal(b?.readRepairs, 0);
  });

  it('hands the record back to an owner hinted for the key, which then carries the same version', async () => {
    // b's writes fail: the hand-back started by its hint fails too and the next one waits a cooldown
    f = fixture(['a', 'b', 'c'], { replicas: 2, readRepair: 1, cooldownMs: 5000, failureThreshold: 1000 });
    const [key = ''] = f.keysOwnedBy(['a', 'b'], 1, 'rr');
    await f.registry.set(key, bytes('v1'));
    f.backend('b').inject({ type: 'error' }, ['restore']);
    await f.registry.set(key, bytes('v2'));
    await f.registry.settled();
    assert.deepEqual([f.shardStats('b')?.health, f.shardStats('b')?.hints], ['up', 1]);
    f.backend('b').heal();
    assert.equal(text((await f.registry.get(key))?.value), 'v2');
    await f.registry.settled();
    const primary = await f.backend('a').inner.get(key);
    assert.equal(primary?.version, 2);
    assert.deepEqual(identity(await f.backend('b').inner.get(key)), identity(primary));
    assert.deepEqual([f.shardStats('b')?.hints, f.shardStats('b')?.readRepairs], [0, 1]);
  });

  for (const batch of [false, true]) {
    it(`never resurrects a record whose ${batch ? 'deleteMany' : 'delete'} is in flight when the repair of its replica takes the key`, async () => {
      f = fixture(['a', 'b', 'c'], { replicas: 2, readRepair: 1 });
      const [key = ''] = f.keysOwnedBy(['a', 'b'], 1, 'rr');
      await f.registry.set(key, bytes('v1'));
      await f.registry.set(key, bytes('v2'));
      const stale = await f.backend('b').inner.get(key);
      assert.ok(stale);
      await f.backend('b').inner.restore?.({ ...stale, version: 1, value: bytes('v1') }, { ifNewer: false });
      // the repair's read of the replica answers at 50 ms; the delete lands on the replica at once
      // and on the primary at 100 ms, so the primary still holds the record when the repair writes
      f.backend('b').inject({ type: 'latency', ms: 50 }, ['get']);
      f.backend('a').inject({ type: 'latency', ms: 100 }, ['delete', 'deleteMany']);
      assert.equal(text((await f.registry.get(key))?.value), 'v2');
      const deleted = batch ? f.registry.deleteMany([key]) : f.registry.delete(key);
      await f.clock.advanceAsync(50);
      assert.deepEqual(await f.holders(key), ['a']);
      await f.clock.advanceAsync(50);
      assert.equal(await deleted, batch ? 1 : true);
      await f.registry.settled();
      assert.deepEqual(await f.holders(key), []);
      assert.equal(f.shardStats('b')?.readRepairs, 0);
    });
  }

  it('never undoes a forced restore to a lower version that is in flight when the repair of its primary takes the key', async () => {
    f = fixture(['a', 'b', 'c'], { replicas: 2, readRepair: 1 });
    const [key = ''] = f.keysOwnedBy(['a', 'b'], 1, 'rr');
    await f.registry.set(key, bytes('v1'));
    const stored = await f.registry.set(key, bytes('v2'));
    // the restore lands on the primary at once and on the replica at 100 ms: meanwhile the read
    // sees version 1 on the primary and version 2 on the replica, the newer-looking copy
    f.backend('b').inject({ type: 'latency', ms: 100 }, ['restore']);
    const restored = f.registry.restore({ ...stored, version: 1, value: bytes('old') }, { ifNewer: false });
    assert.equal(text((await f.registry.get(key))?.value), 'old');
    await f.clock.advanceAsync(100);
    assert.equal(await restored, 'written');
    await f.registry.settled();
    for (const name of ['a', 'b']) {
      const copy = await f.backend(name).inner.get(key);
      assert.deepEqual([text(copy?.value), copy?.version], ['old', 1], name);
    }
    assert.deepEqual([f.shardStats('a')?.readRepairs, f.shardStats('b')?.readRepairs], [0, 0]);
  });

  it('rejects a readRepair outside [0, 1] at construction', () => {
    for (const readRepair of [-0.1, 1.5, Number.NaN, '0.5' as unknown as number]) {
      assert.throws(
        () => fixture(['a'], { readRepair }),
        (e: unknown) => e instanceof RegistryError && /readRepair/.test(e.message),
      );
    }
    f = fixture(['a']);
  });
});
