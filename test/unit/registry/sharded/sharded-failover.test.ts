import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { RegistryError } from '../../../../src/registry/index.js';
import { bytes, type Fixture, fixture, settlesWithoutTime, text } from './sharded-fixture.js';

const isCode = (code: string) => (e: unknown) => e instanceof RegistryError && e.code === code;
const TIMEOUT = 2000;
const COOLDOWN = 5000;

describe('ShardedRegistry failover', () => {
  let f: Fixture;
  afterEach(async () => {
    await f.registry.close();
  });

  /** Fails writes to `name` until its circuit opens; resolves to how many of those writes rejected. */
  async function tripWithErrors(name: string, keys: string[]): Promise<number> {
    f.backend(name).inject({ type: 'error' });
    let rejected = 0;
    for (const key of keys.slice(0, 3)) await f.registry.set(key, bytes('x')).catch(() => rejected++);
    assert.deepEqual(f.health.at(-1), { shard: name, health: 'down' });
    return rejected;
  }

  describe('circuit breaker', () => {
    it('opens after failureThreshold consecutive failures and sends the keys to the next shard in HRW order', async () => {
      f = fixture();
      const keys = f.keysOwnedBy('b', 5);
      const order = f.registry.ownersOf(keys[3] ?? '');
      assert.equal(await tripWithErrors('b', keys), 3);
      const stand = f.registry.ownersOf(keys[3] ?? '');
      assert.notEqual(stand[0], 'b');
      await f.registry.set(keys[3] ?? '', bytes('v'));
      assert.deepEqual(await f.holders(keys[3] ?? ''), stand);
      assert.equal(order[0], 'b');
      const stats = f.registry.stats().shards.find((s) => s.name === 'b');
      assert.deepEqual([stats?.health, stats?.errors], ['down', 3]);
    });

    it('opens at once when a call misses its deadline, rejecting that call with TIMEOUT', async () => {
      f = fixture(['a', 'b', 'c'], { timeoutMs: TIMEOUT });
      const [key] = f.keysOwnedBy('b', 1);
      f.backend('b').inject({ type: 'hang' });
      const pending = assert.rejects(f.registry.set(key ?? '', bytes('v')), isCode('TIMEOUT'));
      await f.clock.advanceAsync(TIMEOUT);
      await pending;
      assert.deepEqual(f.health, [{ shard: 'b', health: 'down' }]);
      assert.equal(f.registry.stats().shards.find((s) => s.name === 'b')?.timeouts, 1);
    });

    it('probes after the cooldown, stays down while the probe fails and serves again once it succeeds', async () => {
      f = fixture(['a', 'b', 'c'], { cooldownMs: COOLDOWN });
      await tripWithErrors('b', f.keysOwnedBy('b', 3));
      await f.clock.advanceAsync(COOLDOWN);
      assert.deepEqual(
        f.health.slice(-2).map((h) => h.health),
        ['probing', 'down'],
      );
      f.backend('b').heal();
      await f.clock.advanceAsync(COOLDOWN);
      assert.deepEqual(
        f.health.slice(-2).map((h) => h.health),
        ['probing', 'up'],
      );
      const [key] = f.keysOwnedBy('b', 1, 'again');
      assert.equal(f.registry.ownersOf(key ?? '')[0], 'b');
    });

    it('does not count input errors such as VERSION_CONFLICT as failures', async () => {
      f = fixture(['a'], { failureThreshold: 1 });
      await f.registry.set('k', bytes('1'));
      await assert.rejects(f.registry.set('k', bytes('2'), { ifVersion: 9 }), isCode('VERSION_CONFLICT'));
      assert.deepEqual(f.health, []);
    });
  });

  describe('isolation', () => {
    it('serves keys of healthy shards without errors or waiting while another shard hangs', async () => {
      f = fixture(['a', 'b', 'c'], { timeoutMs: TIMEOUT });
      const healthy = [...f.keysOwnedBy('a', 20), ...f.keysOwnedBy('c', 20)];
      for (const key of healthy) await f.registry.set(key, bytes(key));
      f.backend('b').inject({ type: 'hang' });
      const stuck = assert.rejects(f.registry.get(f.keysOwnedBy('b', 1)[0] ?? ''), isCode('TIMEOUT'));
      for (const key of healthy) {
        assert.equal(await settlesWithoutTime(f.registry.get(key)), true);
        assert.equal(text((await f.registry.get(key))?.value), key);
      }
      assert.equal(await settlesWithoutTime(f.registry.getMany(healthy)), true);
      assert.equal(await settlesWithoutTime(f.registry.set(healthy[0] ?? '', bytes('new'))), true);
      await f.clock.advanceAsync(TIMEOUT);
      await stuck;
    });
  });

  describe('with two replicas', () => {
    it('loses no record and shows no error when one shard dies', async () => {
      f = fixture(['a', 'b', 'c', 'd'], { replicas: 2, timeoutMs: TIMEOUT });
      const keys = Array.from({ length: 300 }, (_, i) => `r:${i}`);
      await f.registry.setMany(keys.map((key) => ({ key, value: bytes(key) })));
      f.backend('c').inject({ type: 'hang' });
      // the first read that reaches c waits out one deadline, then c's circuit is open
      const reads = Promise.all(keys.map((key) => f.registry.get(key)));
      await f.clock.advanceAsync(TIMEOUT);
      assert.deepEqual(
        (await reads).map((r) => text(r?.value)),
        keys,
      );
      assert.deepEqual(
        (await f.registry.getMany(keys)).map((r) => text(r?.value)),
        keys,
      );
      for (const key of keys.slice(0, 50)) await f.registry.set(key, bytes(`${key}!`));
      assert.equal(await f.registry.size(), 300);
      assert.equal(text((await f.registry.get(keys[0] ?? ''))?.value), `${keys[0]}!`);
    });

    it('hands back to a returning replica what it missed, and drops the stand-ins copies', async () => {
      f = fixture(['a', 'b', 'c', 'd'], { replicas: 2, cooldownMs: COOLDOWN });
      const keys = f.keysOwnedBy('b', 20);
      await f.registry.setMany(keys.map((key) => ({ key, value: bytes('old') })));
      assert.equal(await tripWithErrors('b', keys), 0);
      for (const key of keys.slice(0, 10)) await f.registry.set(key, bytes('new'));
      await f.registry.deleteMany(keys.slice(10, 12));
      f.backend('b').heal();
      await f.clock.advanceAsync(COOLDOWN);
      await f.registry.settled();
      for (const key of keys) {
        assert.deepEqual(
          (await f.holders(key)).sort(),
          key === keys[10] || key === keys[11] ? [] : [...f.registry.ownersOf(key)].sort(),
        );
      }
      assert.equal(text((await f.backend('b').inner.get(keys[0] ?? ''))?.value), 'new');
      assert.equal(f.done.at(-1)?.kind, 'hand-back');
      assert.equal(f.removed.filter((e) => e.reason !== 'delete').length, 0);
    });
  });

  describe('a shard that returns empty', () => {
    /**
     * Four shards, R = 2, 200 records; b fails (the three writes that trip it store 'x' elsewhere),
     * then comes back empty (restarted without persistence). `owners` are each key's owners
     * before, `values(list)` what a read of `list` must give.
     */
    async function bReturnsEmpty(): Promise<{
      keys: string[];
      onB: string[];
      owners: Map<string, string>;
      values: (list: readonly string[]) => string[];
    }> {
      f = fixture(['a', 'b', 'c', 'd'], { replicas: 2, cooldownMs: COOLDOWN });
      const keys = Array.from({ length: 200 }, (_, i) => `e:${i}`);
      await f.registry.setMany(keys.map((key) => ({ key, value: bytes(key) })));
      const owners = new Map(keys.map((key) => [key, f.registry.ownersOf(key).join()]));
      const onB = keys.filter((key) => owners.get(key)?.includes('b'));
      await tripWithErrors('b', onB);
      await f.backend('b').inner.clear();
      f.backend('b').heal();
      const tripped = onB.slice(0, 3);
      return { keys, onB, owners, values: (list) => list.map((k) => (tripped.includes(k) ? 'x' : k)) };
    }

    it('is refilled from the replicas before it serves again', async () => {
      const { keys, onB, values } = await bReturnsEmpty();
      await f.clock.advanceAsync(COOLDOWN);
      await f.registry.settled();
      assert.deepEqual(
        (await f.registry.getMany(keys)).map((r) => text(r?.value)),
        values(keys),
      );
      for (const key of onB) assert.ok(await f.backend('b').inner.has(key), key);
      const c = f.backend('c');
      c.inject({ type: 'error' });
      await f.registry.removeShard('c', { lost: true });
      assert.deepEqual(
        (await f.registry.getMany(keys)).map((r) => text(r?.value)),
        values(keys),
      );
    });

    it('stays out of routing while its refill is cut short, and is refilled whole by a later attempt once the failing replica heals', async () => {
      const { keys, onB, owners, values } = await bReturnsEmpty();
      // b's keys whose only other copy is on d, with b as primary (its reads go to b)
      const withD = onB.filter((key) => owners.get(key) === 'b,d');
      assert.ok(withD.length > 3);
      // the refill reads every other shard: d's scan fails (its circuit stays closed)
      f.backend('d').inject({ type: 'error' }, ['scan']);
      await f.clock.advanceAsync(COOLDOWN);
      await f.registry.settled();
      assert.equal(f.shardStats('b')?.health, 'up');
      // b does not answer for keys it has not got back: the reads go to d
      assert.deepEqual(
        (await f.registry.getMany(withD)).map((r) => text(r?.value)),
        values(withD),
      );
      f.backend('d').heal();
      await f.clock.advanceAsync(8 * COOLDOWN);
      await f.registry.settled();
      for (const key of onB) assert.ok(await f.backend('b').inner.has(key), key);
      // every record whole again: losing d loses nothing
      f.backend('d').inject({ type: 'error' });
      await f.registry.removeShard('d', { lost: true });
      assert.deepEqual(
        (await f.registry.getMany(keys)).map((r) => text(r?.value)),
        values(keys),
      );
    });
  });

  describe('with one replica', () => {
    it("rejects reads of a dead shard's keys with BACKEND_UNAVAILABLE but serves what was written meanwhile", async () => {
      f = fixture();
      const keys = f.keysOwnedBy('b', 6);
      await f.registry.setMany(keys.map((key) => ({ key, value: bytes('old') })));
      await tripWithErrors('b', keys);
      await f.registry.set(keys[4] ?? '', bytes('new'));
      await f.registry.set(keys[5] ?? '', bytes('new'));
      assert.equal(await f.registry.delete(keys[5] ?? ''), true);
      assert.equal(text((await f.registry.get(keys[4] ?? ''))?.value), 'new');
      assert.equal(await f.registry.get(keys[5] ?? ''), undefined);
      await assert.rejects(f.registry.get(keys[3] ?? ''), isCode('BACKEND_UNAVAILABLE'));
      await assert.rejects(f.registry.has(keys[3] ?? ''), isCode('BACKEND_UNAVAILABLE'));
    });

    it('rejects what a stand-in cannot decide for a dead owner: compare-and-set, and deleting or touching a key it lacks', async () => {
      f = fixture();
      const keys = f.keysOwnedBy('b', 4);
      await f.registry.set(keys[3] ?? '', bytes('old'));
      await tripWithErrors('b', keys);
      const key = keys[3] ?? '';
      await assert.rejects(f.registry.set(key, bytes('v'), { ifVersion: 0 }), isCode('BACKEND_UNAVAILABLE'));
      await assert.rejects(f.registry.delete(key), isCode('BACKEND_UNAVAILABLE'));
      await assert.rejects(f.registry.touch(key, 100), isCode('BACKEND_UNAVAILABLE'));
      assert.equal(f.registry.stats().shards.find((s) => s.name === 'b')?.hints, 0);
      assert.equal(text((await f.backend('b').inner.get(key))?.value), 'old');
    });

    it('answers a miss instead when unavailableReads is miss', async () => {
      f = fixture(['a', 'b', 'c'], { unavailableReads: 'miss' });
      const keys = f.keysOwnedBy('b', 4);
      await f.registry.set(keys[3] ?? '', bytes('v'));
      await tripWithErrors('b', keys);
      assert.equal(await f.registry.get(keys[3] ?? ''), undefined);
    });

    it('hands back writes and deletes made during the outage when the shard returns', async () => {
      f = fixture(['a', 'b', 'c'], { cooldownMs: COOLDOWN });
      const keys = f.keysOwnedBy('b', 6);
      await f.registry.setMany(keys.map((key) => ({ key, value: bytes('old') })));
      await tripWithErrors('b', keys);
      await f.registry.set(keys[4] ?? '', bytes('new'));
      await f.registry.set(keys[5] ?? '', bytes('new'));
      await f.registry.delete(keys[5] ?? '');
      f.backend('b').heal();
      await f.clock.advanceAsync(COOLDOWN);
      await f.registry.settled();
      assert.deepEqual(await f.holders(keys[4] ?? ''), ['b']);
      assert.deepEqual(await f.holders(keys[5] ?? ''), []);
      assert.equal(text((await f.registry.get(keys[4] ?? ''))?.value), 'new');
      assert.equal(text((await f.registry.get(keys[0] ?? ''))?.value), 'old');
      assert.equal(f.registry.stats().shards.find((s) => s.name === 'b')?.hints, 0);
    });

    it("reports exactly the dead shard's records as shard-lost when it is removed as lost", async () => {
      f = fixture(['a', 'b', 'c'], { trackKeys: true });
      const keys = Array.from({ length: 300 }, (_, i) => `l:${i}`);
      await f.registry.setMany(keys.map((key) => ({ key, value: bytes(key) })));
      const onB = keys.filter((key) => f.registry.ownersOf(key)[0] === 'b');
      const lostEvents: (number | undefined)[] = [];
      f.registry.on('shard:lost', (e) => lostEvents.push(e.records));
      f.backend('b').inject({ type: 'error' });
      await f.registry.removeShard('b', { lost: true });
      assert.deepEqual(
        f.removed.map((e) => e.reason),
        onB.map(() => 'shard-lost'),
      );
      assert.deepEqual(f.removed.map((e) => e.key).sort(), [...onB].sort());
      assert.deepEqual(lostEvents, [onB.length]);
      const survivors = keys.filter((key) => !onB.includes(key));
      assert.deepEqual(
        (await f.registry.getMany(survivors)).map((r) => text(r?.value)),
        survivors,
      );
      assert.equal(await f.registry.size(), survivors.length);
    });

    it('reports an unknown count for a lost shard when keys are not tracked', async () => {
      f = fixture();
      const lostEvents: (number | undefined)[] = [];
      f.registry.on('shard:lost', (e) => lostEvents.push(e.records));
      await f.registry.removeShard('c', { lost: true });
      assert.deepEqual(lostEvents, [undefined]);
      assert.deepEqual(f.registry.shardNames, ['a', 'b']);
    });
  });

  describe('losing a replica', () => {
    it('re-replicates the survivors so every record has R copies again', async () => {
      f = fixture(['a', 'b', 'c', 'd'], { replicas: 2, trackKeys: true });
      const keys = Array.from({ length: 200 }, (_, i) => `x:${i}`);
      await f.registry.setMany(keys.map((key) => ({ key, value: bytes(key) })));
      f.backend('d').inject({ type: 'error' });
      await f.registry.removeShard('d', { lost: true });
      assert.equal(f.removed.length, 0);
      for (const key of keys) {
        const holders = (await f.holders(key)).filter((name) => name !== 'd');
        assert.deepEqual(holders.sort(), [...f.registry.ownersOf(key)].sort());
      }
    });
  });
});
