import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HrwRouter, RegistryError } from '../../../../src/registry/index.js';
import { keyHash } from '../../../../src/registry/sharded/hrw.js';

const names = (n: number, from = 0): { name: string }[] =>
  Array.from({ length: n }, (_, i) => ({ name: `shard-${from + i}` }));
const KEYS = 1_000_000;
const key = (i: number): string => `key:${i}`;

describe('keyHash', () => {
  it('matches the pinned golden vectors (changing them remaps stored data)', () => {
    assert.deepEqual(['a', 'hello', 'user:42', 'ключ', '🔑', 'x'.repeat(33)].map(keyHash), [
      '30f148a997d4f161',
      '13d721424f09e404',
      'f9ec6e6aeb459e8f',
      '75e23a70bd46689f',
      'cd30e03e3a6171a6',
      'bd82cba8c72429c7',
    ]);
  });
});

describe('HrwRouter', () => {
  it('maps keys to the pinned shards for equal weights', () => {
    const router = new HrwRouter(['alpha', 'beta', 'gamma', 'delta', 'epsilon'].map((name) => ({ name })));
    const owners = Array.from({ length: 12 }, (_, i) => router.names[router.first(key(i))]);
    assert.deepEqual(owners, [
      'alpha',
      'delta',
      'epsilon',
      'alpha',
      'gamma',
      'gamma',
      'beta',
      'gamma',
      'gamma',
      'gamma',
      'epsilon',
      'gamma',
    ]);
  });

  it('orders shards by the pinned weighted preference', () => {
    const router = new HrwRouter([
      { name: 'small', weight: 1 },
      { name: 'medium', weight: 2 },
      { name: 'large', weight: 4 },
    ]);
    const orders = Array.from({ length: 6 }, (_, i) =>
      router
        .order(key(i))
        .map((s) => router.names[s])
        .join('>'),
    );
    assert.deepEqual(orders, [
      'large>medium>small',
      'large>small>medium',
      'medium>large>small',
      'medium>large>small',
      'large>small>medium',
      'large>medium>small',
    ]);
  });

  it('depends on shard names, not on their order in the list', () => {
    const forward = new HrwRouter(names(5));
    const backward = new HrwRouter(names(5).reverse());
    for (let i = 0; i < 1000; i++)
      assert.equal(forward.names[forward.first(key(i))], backward.names[backward.first(key(i))]);
  });

  it('returns the top r shards as a prefix of the full preference order, skipping excluded ones', () => {
    const router = new HrwRouter(names(10));
    const out: number[] = [];
    for (let i = 0; i < 500; i++) {
      const order = router.order(key(i));
      assert.equal(router.top(key(i), 3, out), 3);
      assert.deepEqual(out, order.slice(0, 3));
      assert.equal(router.first(key(i)), order[0]);
      router.top(key(i), 2, out, (s) => s === order[0]);
      assert.deepEqual(out, order.slice(1, 3));
    }
    assert.equal(router.top('k', 20, out), 10);
  });

  it('rejects duplicate names, empty names and non-positive weights with INVALID_OPTION', () => {
    const bad = [
      [{ name: 'a' }, { name: 'a' }],
      [{ name: '' }],
      [{ name: 'a', weight: 0 }],
      [{ name: 'a', weight: Number.NaN }],
    ];
    for (const shards of bad) {
      assert.throws(
        () => new HrwRouter(shards),
        (e: unknown) => e instanceof RegistryError && e.code === 'INVALID_OPTION',
      );
    }
  });

  it('spreads 1 M keys over 10 equal shards within 2 % of the mean', () => {
    const router = new HrwRouter(names(10));
    const load = new Array<number>(10).fill(0);
    for (let i = 0; i < KEYS; i++) {
      const s = router.first(key(i));
      load[s] = (load[s] ?? 0) + 1;
    }
    const ratio = Math.max(...load) / (KEYS / 10);
    assert.ok(ratio <= 1.02, `max/mean ${ratio}`);
  });

  it('moves at most 1.05 × 1/11 of 1 M keys when an 11th shard joins, all of them to it', () => {
    const before = new HrwRouter(names(10));
    const after = new HrwRouter(names(11));
    let moved = 0;
    for (let i = 0; i < KEYS; i++) {
      const a = before.names[before.first(key(i))];
      const b = after.names[after.first(key(i))];
      if (a === b) continue;
      assert.equal(b, 'shard-10');
      moved++;
    }
    assert.ok(moved / KEYS <= 1.05 / 11, `moved ${moved / KEYS}`);
    assert.ok(moved > 0);
  });

  it('moves exactly the keys of a removed shard and nothing else', () => {
    const before = new HrwRouter(names(10));
    const after = new HrwRouter(names(10).filter((s) => s.name !== 'shard-3'));
    for (let i = 0; i < KEYS; i++) {
      const a = before.names[before.first(key(i))];
      const b = after.names[after.first(key(i))];
      assert.equal(a !== b, a === 'shard-3');
    }
  });

  it('gives shards key shares proportional to their weights', () => {
    const router = new HrwRouter([
      { name: 'a', weight: 1 },
      { name: 'b', weight: 2 },
      { name: 'c', weight: 3 },
    ]);
    const load = [0, 0, 0];
    const n = 300_000;
    for (let i = 0; i < n; i++) {
      const s = router.first(key(i));
      load[s] = (load[s] ?? 0) + 1;
    }
    load.forEach((count, s) => {
      const expected = (n * (s + 1)) / 6;
      assert.ok(Math.abs(count - expected) / expected < 0.02, `shard ${s}: ${count} vs ${expected}`);
    });
  });
});
