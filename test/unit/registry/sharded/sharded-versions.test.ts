import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import type { RegistryRecord } from '../../../../src/registry/index.js';
import { bytes, type Fixture, fixture, makeBackend, text } from './sharded-fixture.js';

const COOLDOWN = 5000;

/** The metadata that must survive every copy the sharded registry makes. */
const identity = (r: RegistryRecord | undefined): unknown =>
  r === undefined
    ? undefined
    : {
        value: text(r.value),
        version: r.version,
        createdAt: r.createdAt,
        updatedAt: r.updatedAt,
        expiresAt: r.expiresAt,
      };

describe('ShardedRegistry versions across copies', () => {
  let f: Fixture;
  afterEach(async () => {
    await f.registry.close();
  });

  /** Writes every key three times, 10 ms apart (version 3, createdAt before updatedAt); returns the records. */
  async function writeThrice(keys: readonly string[], ttlMs?: number): Promise<Map<string, unknown>> {
    for (let round = 1; round <= 3; round++) {
      for (const key of keys) await f.registry.set(key, bytes(`${key}#${round}`), { ttlMs });
      f.clock.advance(10);
    }
    const out = new Map<string, unknown>();
    for (const key of keys) out.set(key, identity(await f.registry.get(key)));
    return out;
  }

  /** Every owner's backend holds the record exactly as it was written. */
  async function assertCopiesIntact(before: Map<string, unknown>): Promise<void> {
    for (const [key, expected] of before) {
      assert.deepEqual(identity(await f.registry.get(key)), expected, key);
      for (const owner of f.registry.ownersOf(key))
        assert.deepEqual(identity(await f.backend(owner).inner.get(key)), expected, `${key} on ${owner}`);
    }
  }

  it('gives every replica the primary record verbatim on each write', async () => {
    f = fixture(['a', 'b', 'c'], { replicas: 3 });
    const before = await writeThrice(['k:1', 'k:2'], 60_000);
    await assertCopiesIntact(before);
    assert.equal((before.get('k:1') as { version: number }).version, 3);
  });

  it('keeps version, createdAt and updatedAt of the records addShard moves, and compare-and-set on them', async () => {
    f = fixture(['a', 'b', 'c']);
    const keys = Array.from({ length: 60 }, (_, i) => `m:${i}`);
    const before = await writeThrice(keys, 60_000);
    f.backends.set('d', makeBackend(f.clock));
    const result = await f.registry.addShard({ name: 'd', registry: f.backend('d') });
    assert.ok(result.moved > 0);
    await assertCopiesIntact(before);
    const moved = keys.filter((key) => f.registry.ownersOf(key)[0] === 'd');
    assert.ok(moved.length > 0);
    for (const key of moved) assert.equal((await f.registry.set(key, bytes('cas'), { ifVersion: 3 })).version, 4);
  });

  it('keeps versions across removeShard and drainShard, with replicas', async () => {
    f = fixture(['a', 'b', 'c', 'd'], { replicas: 2 });
    const keys = Array.from({ length: 60 }, (_, i) => `r:${i}`);
    const before = await writeThrice(keys);
    await f.registry.drainShard('d');
    await assertCopiesIntact(before);
    await f.registry.removeShard('c');
    await assertCopiesIntact(before);
    for (const key of keys) assert.equal(await f.registry.delete(key, { ifVersion: 3 }), true);
  });

  it('re-replicates the records of a lost shard with their versions', async () => {
    f = fixture(['a', 'b', 'c', 'd'], { replicas: 2 });
    const keys = Array.from({ length: 60 }, (_, i) => `l:${i}`);
    const before = await writeThrice(keys);
    f.backend('b').inject({ type: 'error' });
    await f.registry.removeShard('b', { lost: true });
    await assertCopiesIntact(before);
  });

  it('hands back to a returning replica the versions written while it was away, and CAS continues from them', async () => {
    f = fixture(['a', 'b', 'c', 'd'], { replicas: 2, cooldownMs: COOLDOWN });
    const keys = f.keysOwnedBy('b', 12);
    await writeThrice(keys);
    f.backend('b').inject({ type: 'error' });
    for (const key of keys) await f.registry.set(key, bytes(`${key}#4`));
    assert.equal(f.registry.stats().shards.find((s) => s.name === 'b')?.health, 'down');
    f.clock.advance(10);
    for (const key of keys) await f.registry.set(key, bytes(`${key}#5`));
    f.backend('b').heal();
    await f.clock.advanceAsync(COOLDOWN);
    await f.registry.settled();
    const after = new Map<string, unknown>();
    for (const key of keys) {
      const record = await f.registry.get(key);
      assert.equal(record?.version, 5, key);
      assert.equal(text(record?.value), `${key}#5`);
      after.set(key, identity(record));
    }
    await assertCopiesIntact(after);
    for (const key of keys) assert.equal((await f.registry.set(key, bytes('cas'), { ifVersion: 5 })).version, 6);
  });
});
