import assert from 'node:assert/strict';
import type { RedisRegistry } from '../../src/registry/redis/index.js';

const bytes = (text: string): Buffer => Buffer.from(text);

/**
 * Issues one call of every kind and `close()` in the same tick, on a registry of `keyPrefix`
 * holding a few records, after `prepare()` (e.g. a `SCRIPT FLUSH`). Asserts that every call
 * resolves with what it did, and that a fresh registry of the same namespace finds it done.
 */
export async function closeRightAfterCalls(
  connect: (keyPrefix: string) => Promise<RedisRegistry>,
  keyPrefix: string,
  prepare: () => Promise<void>,
): Promise<void> {
  const registry = await connect(keyPrefix);
  await registry.setMany(
    ['cas', 'gone', 'gone-too', 'kept', 'renewed'].map((key) => ({ key, value: bytes(key), ttlMs: 60_000 })),
  );
  await prepare();
  const now = Date.now();
  const calls = {
    set: registry.set('set', bytes('1')),
    setMany: registry.setMany([
      { key: 'many:1', value: bytes('a') },
      { key: 'many:2', value: bytes('b') },
    ]),
    cas: registry.set('cas', bytes('2'), { ifVersion: 1 }),
    delete: registry.delete('gone'),
    deleteMany: registry.deleteMany(['gone-too', 'absent']),
    touch: registry.touch('renewed', 3_600_000),
    restore: registry.restore({
      key: 'restored',
      value: bytes('r'),
      version: 5,
      createdAt: now - 10,
      updatedAt: now - 5,
      expiresAt: undefined,
    }),
    get: registry.get('kept'),
    getMany: registry.getMany(['kept', 'absent']),
    has: registry.has('kept'),
    lastSet: registry.set('last', bytes('z')),
  };
  const closing = registry.close();
  const names = Object.keys(calls);
  const outcomes = await Promise.allSettled(Object.values(calls));
  await closing;
  outcomes.forEach((outcome, i) => {
    assert.equal(
      outcome.status,
      'fulfilled',
      `${names[i]} rejected: ${outcome.status === 'rejected' ? String(outcome.reason) : ''}`,
    );
  });
  const results = Object.fromEntries(
    names.map((name, i) => [name, (outcomes[i] as PromiseFulfilledResult<unknown>).value]),
  ) as { [K in keyof typeof calls]: Awaited<(typeof calls)[K]> };
  assert.equal(results.set.version, 1);
  assert.deepEqual(
    results.setMany.map((r) => r.version),
    [1, 1],
  );
  assert.equal(results.cas.version, 2);
  assert.equal(results.delete, true);
  assert.equal(results.deleteMany, 1);
  assert.equal(results.touch, true);
  assert.equal(results.restore, 'written');
  assert.equal(results.get?.value.toString(), 'kept');
  assert.deepEqual(
    results.getMany.map((r) => r?.value.toString()),
    ['kept', undefined],
  );
  assert.equal(results.has, true);
  assert.equal(results.lastSet.version, 1);

  const check = await connect(keyPrefix);
  try {
    const read = await check.getMany(['set', 'many:1', 'many:2', 'cas', 'gone', 'gone-too', 'restored', 'last']);
    assert.deepEqual(
      read.map((r) => (r === undefined ? undefined : `${r.value.toString()}@${r.version}`)),
      ['1@1', 'a@1', 'b@1', '2@2', undefined, undefined, 'r@5', 'z@1'],
    );
    const renewed = await check.get('renewed');
    assert.ok((renewed?.expiresAt ?? 0) > now + 60_000, 'touch renewed the deadline');
  } finally {
    await check.close();
  }
}
