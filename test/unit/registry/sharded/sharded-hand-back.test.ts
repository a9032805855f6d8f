import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { bytes, type Fixture, fixture, text } from './sharded-fixture.js';

const COOLDOWN = 5000;
/** The longest wait between two hand-back attempts: 8 cooldowns. */
const MAX_BACKOFF = 8 * COOLDOWN;

describe('ShardedRegistry hand-back retries', () => {
  let f: Fixture;
  afterEach(async () => {
    await f.registry.close();
  });

  /** Advances the clock by `ms` in steps of `step`, letting background work run after each. */
  async function advance(ms: number, step = 1000): Promise<void> {
    for (let t = 0; t < ms; t += step) await f.clock.advanceAsync(step);
    await f.registry.settled();
  }

  it('backs off on the clock while the copy to a shard keeps failing (its circuit closed), then completes once the shard heals', async () => {
    // writes to b fail but b answers everything else: its circuit never opens, no probe paces the retries
    f = fixture(['a', 'b', 'c'], { replicas: 2, cooldownMs: COOLDOWN, failureThreshold: 1000 });
    const keys = f.keysOwnedBy(['a', 'b'], 3, 'hb');
    for (const key of keys) await f.registry.set(key, bytes('v1'));
    const b = f.backend('b');
    const written = b.calls('restore') + b.calls('set');
    const calls = (): number => b.calls('restore') + b.calls('set') - written;
    b.inject({ type: 'error' }, ['set', 'restore']);
    for (const key of keys) await f.registry.set(key, bytes('v2'));
    await f.registry.settled();
    // the three replica writes, then at most one immediate hand-back attempt of each key
    const immediate = calls();
    assert.ok(immediate > keys.length && immediate <= 2 * keys.length, `${immediate} calls`);
    const span = 10 * MAX_BACKOFF;
    await advance(span);
    // then one key per attempt, after 1, 2, 4, 8, 8, … cooldowns: at most one call per cooldown
    const retries = calls() - immediate;
    assert.ok(retries >= 1 && retries <= span / COOLDOWN, `${retries} calls in ${span} ms`);
    assert.deepEqual([f.shardStats('b')?.health, f.shardStats('b')?.hints], ['up', keys.length]);
    assert.deepEqual(await f.holders(keys[0] ?? ''), ['a', 'b']);
    assert.equal(text((await b.inner.get(keys[0] ?? ''))?.value), 'v1');

    b.heal();
    await advance(MAX_BACKOFF);
    assert.equal(f.shardStats('b')?.hints, 0);
    for (const key of keys) {
      const copy = await b.inner.get(key);
      assert.deepEqual([text(copy?.value), copy?.version], ['v2', 2], key);
    }
    assert.deepEqual(f.done.at(-1), {
      kind: 'hand-back',
      shard: 'b',
      scanned: keys.length,
      moved: keys.length,
      cancelled: false,
    });
  });

  it('forgets earlier failures once a hand-back succeeds: the next failure waits one cooldown again', async () => {
    f = fixture(['a', 'b', 'c'], { replicas: 2, cooldownMs: COOLDOWN, failureThreshold: 1000 });
    const [first, second] = f.keysOwnedBy(['a', 'b'], 2, 'hb');
    const b = f.backend('b');
    b.inject({ type: 'error' }, ['restore']);
    await f.registry.set(first ?? '', bytes('1'));
    await f.registry.settled();
    await advance(3 * COOLDOWN); // two more failed attempts: the next would wait 4 cooldowns
    b.heal();
    await advance(4 * COOLDOWN);
    assert.deepEqual([await f.holders(first ?? ''), f.shardStats('b')?.hints], [['a', 'b'], 0]);
    b.inject({ type: 'error' }, ['restore']);
    await f.registry.set(second ?? '', bytes('2'));
    await f.registry.settled();
    b.heal();
    await advance(COOLDOWN);
    assert.equal(text((await b.inner.get(second ?? ''))?.value), '2');
    assert.equal(f.shardStats('b')?.hints, 0);
  });

  it('backs off too while the shard holding the record fails the reads of the hand-back', async () => {
    f = fixture(['a', 'b', 'c'], { replicas: 2, cooldownMs: COOLDOWN, failureThreshold: 1000 });
    const [key = ''] = f.keysOwnedBy(['a', 'b'], 1, 'hb');
    f.backend('b').inject({ type: 'error' }, ['restore']);
    await f.registry.set(key, bytes('v'));
    await f.registry.settled();
    f.backend('b').heal();
    const a = f.backend('a');
    a.inject({ type: 'error' }, ['get']);
    const reads = a.calls('get');
    const span = 10 * MAX_BACKOFF;
    await advance(span);
    const retries = a.calls('get') - reads;
    assert.ok(retries >= 1 && retries <= span / COOLDOWN, `${retries} reads in ${span} ms`);
    a.heal();
    await advance(MAX_BACKOFF);
    assert.deepEqual([await f.holders(key), f.shardStats('b')?.hints], [['a', 'b'], 0]);
  });
});
