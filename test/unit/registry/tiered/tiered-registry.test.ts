import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryRegistry, RegistryError, type RegistryErrorCode } from '../../../../src/registry/index.js';
import type { TierInvalidator } from '../../../../src/registry/tiered/options.js';
import { NEAR_ENTRY_OVERHEAD_BYTES as OVERHEAD } from '../../../../src/registry/tiered/near-cache.js';
import { TieredRegistry } from '../../../../src/registry/tiered/tiered-registry.js';
import { FaultRegistry, ManualClock } from '../../../../src/testing/index.js';

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const text = (value: Uint8Array | undefined): string | undefined =>
  value === undefined ? undefined : new TextDecoder().decode(value);

async function rejectsWith(promise: Promise<unknown>, code: RegistryErrorCode): Promise<void> {
  await assert.rejects(promise, (error: unknown) => error instanceof RegistryError && error.code === code);
}

function setup(
  options: {
    serveStaleMs?: number;
    invalidator?: TierInvalidator;
    nearMaxEntries?: number;
    nearMaxBytes?: number;
  } = {},
) {
  const clock = new ManualClock(1_700_000_000_000);
  const store = new MemoryRegistry({}, { clock });
  const far = new FaultRegistry(store, { clock });
  const tiered = new TieredRegistry({ far, nearTtlMs: 1000, ...options }, { clock });
  return { clock, store, far, tiered };
}

describe('TieredRegistry', () => {
  it('serves a read from the near copy while fresh, with the far record version and times', async () => {
    const { clock, far, store, tiered } = setup();
    const written = await store.set('k', bytes('v'), { ttlMs: 60_000 });
    clock.advance(5);
    const first = await tiered.get('k');
    const second = await tiered.get('k');
    assert.deepEqual(second, first);
    assert.deepEqual({ ...first, value: text(first?.value) }, { ...written, value: 'v' });
    assert.equal(far.calls('get'), 1);
    assert.deepEqual(tiered.stats, {
      hits: 1,
      misses: 1,
      coalesced: 0,
      staleServed: 0,
      nearEntries: 1,
      nearBytes: OVERHEAD + 2 + 1,
    });
  });

  it('rejects a read of a fresh near copy after close (CLOSED) and with an aborted signal (its reason)', async () => {
    const { tiered } = setup();
    await tiered.set('k', bytes('v'));
    const reason = new Error('stop');
    await assert.rejects(tiered.get('k', { signal: AbortSignal.abort(reason) }), (e: unknown) => e === reason);
    assert.equal(text((await tiered.get('k', { signal: new AbortController().signal }))?.value), 'v');
    await tiered.close();
    await rejectsWith(tiered.get('k'), 'CLOSED');
  });

  it('coalesces concurrent misses of one key into one far read', async () => {
    const { far, store, tiered } = setup();
    await store.set('k', bytes('v'));
    const reads = await Promise.all(Array.from({ length: 10 }, () => tiered.get('k')));
    assert.deepEqual(new Set(reads.map((r) => text(r?.value))), new Set(['v']));
    assert.equal(far.calls('get'), 1);
    assert.equal(tiered.stats.coalesced, 9);
  });

  it('sees a change made behind it in the far tier once nearTtlMs has passed, not before', async () => {
    const { clock, store, tiered } = setup();
    await tiered.set('k', bytes('one'));
    await store.set('k', bytes('two')); // another process writing the shared far tier
    clock.advance(999);
    assert.equal(text((await tiered.get('k'))?.value), 'one');
    clock.advance(1);
    assert.equal(text((await tiered.get('k'))?.value), 'two');
  });

  it('reads its own writes at once: set, delete and touch go to the far tier first', async () => {
    const { far, store, tiered } = setup();
    await tiered.set('k', bytes('one'));
    await tiered.set('k', bytes('two'));
    assert.equal((await tiered.get('k'))?.version, 2);
    assert.equal(far.calls('get'), 0);
    await tiered.delete('k');
    assert.equal(await tiered.get('k'), undefined);
    assert.equal(await store.has('k'), false);
  });

  it('does not fill the near tier with a far read that a write overtook', async () => {
    const clock = new ManualClock(1_700_000_000_000);
    const far = new MemoryRegistry({}, { clock });
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let readDone: () => void = () => undefined;
    const hasRead = new Promise<void>((resolve) => (readDone = resolve));
    const read = far.get.bind(far);
    // the far read answers with what it read before the write, but arrives after it
    far.get = async (key, options) => {
      const record = await read(key, options);
      readDone();
      await gate;
      return record;
    };
    const tiered = new TieredRegistry({ far }, { clock });
    await far.set('k', bytes('old'));
    const slowRead = tiered.get('k');
    await hasRead;
    await tiered.set('k', bytes('new'));
    release();
    assert.equal(text((await slowRead)?.value), 'old');
    assert.equal(text((await tiered.get('k'))?.value), 'new');
  });

  it('rejects with the far tier’s typed error once the copy is stale, not the stale copy', async () => {
    const { clock, far, tiered } = setup();
    await tiered.set('k', bytes('v'));
    far.inject({ type: 'error', code: 'BACKEND_UNAVAILABLE' });
    assert.equal(text((await tiered.get('k'))?.value), 'v'); // fresh: within the bound
    clock.advance(1000);
    await rejectsWith(tiered.get('k'), 'BACKEND_UNAVAILABLE');
    await rejectsWith(tiered.set('k', bytes('w')), 'BACKEND_UNAVAILABLE');
  });

  it('serves a stale copy when the far tier fails only within serveStaleMs', async () => {
    const { clock, far, tiered } = setup({ serveStaleMs: 5000 });
    await tiered.set('k', bytes('v'));
    far.inject({ type: 'error', code: 'TIMEOUT' });
    clock.advance(3000);
    assert.equal(text((await tiered.get('k'))?.value), 'v');
    assert.equal(tiered.stats.staleServed, 1);
    clock.advance(3000);
    await rejectsWith(tiered.get('k'), 'TIMEOUT');
  });

  it('drops a near copy when its invalidator reports the key changed', async () => {
    let invalidate: (key: string | undefined) => void = () => undefined;
    let stopped = false;
    const invalidator: TierInvalidator = {
      start(callback) {
        invalidate = callback;
        return { stop: () => (stopped = true) };
      },
    };
    const { store, tiered } = setup({ invalidator });
    await tiered.set('k', bytes('one'));
    await store.set('k', bytes('two'));
    invalidate('k');
    assert.equal(text((await tiered.get('k'))?.value), 'two');
    await tiered.close();
    assert.equal(stopped, true);
  });

  it('answers getMany from near copies and one far batch for the rest', async () => {
    const { far, store, tiered } = setup();
    await tiered.set('a', bytes('A'));
    await store.set('b', bytes('B'));
    const records = await tiered.getMany(['a', 'b', 'c']);
    assert.deepEqual(
      records.map((r) => text(r?.value)),
      ['A', 'B', undefined],
    );
    assert.equal(far.calls('getMany'), 1);
    assert.equal(text((await tiered.get('b'))?.value), 'B');
    assert.equal(far.calls('get'), 0);
  });

  it('rejects options out of range naming the option, and a near registry (the near tier is built in)', () => {
    const far = new MemoryRegistry();
    for (const [name, value] of [
      ['nearTtlMs', 0],
      ['nearMaxEntries', 0],
      ['nearMaxBytes', -1],
    ] as const) {
      assert.throws(
        () => new TieredRegistry({ far, [name]: value }),
        (e: unknown) => e instanceof RegistryError && e.code === 'INVALID_OPTION' && e.message.includes(name),
      );
    }
    assert.throws(
      () => new TieredRegistry({ far, near: new MemoryRegistry() } as never),
      (e: unknown) => e instanceof RegistryError && e.code === 'INVALID_OPTION' && /near/.test(e.message),
    );
  });

  it('never serves a near copy at or after its record’s deadline, by the injected clock', async () => {
    const { clock, far, tiered } = setup({ serveStaleMs: 5000 });
    await tiered.set('k', bytes('v'), { ttlMs: 300 });
    clock.advance(299);
    assert.equal(text((await tiered.get('k'))?.value), 'v');
    assert.equal(far.calls('get'), 0);
    clock.advance(1);
    assert.equal(await tiered.get('k'), undefined);
    assert.equal(far.calls('get'), 1);
    // nor as a stale copy for a failing far tier
    await tiered.set('j', bytes('w'), { ttlMs: 300 });
    far.inject({ type: 'error', code: 'BACKEND_UNAVAILABLE' });
    clock.advance(300);
    await rejectsWith(tiered.get('j'), 'BACKEND_UNAVAILABLE');
    assert.equal(tiered.stats.staleServed, 0);
  });

  it('holds at most nearMaxEntries copies, dropping the least recently read first', async () => {
    const { far, store, tiered } = setup({ nearMaxEntries: 2 });
    for (const key of ['a', 'b', 'c']) await store.set(key, bytes(key));
    await tiered.get('a');
    await tiered.get('b');
    await tiered.get('a'); // a hit: now b is the least recently read
    await tiered.get('c');
    assert.equal(tiered.stats.nearEntries, 2);
    const before = far.calls('get');
    await tiered.get('a');
    await tiered.get('c');
    assert.equal(far.calls('get'), before, 'a and c are near hits');
    await tiered.get('b');
    assert.equal(far.calls('get'), before + 1, 'b was dropped');
  });

  it('holds at most nearMaxBytes of copies, and never a record larger than that', async () => {
    const { far, store, tiered } = setup({ nearMaxBytes: 2 * (OVERHEAD + 2 + 100) });
    for (const key of ['a', 'b', 'c']) await store.set(key, new Uint8Array(100));
    await store.set('big', new Uint8Array(1000));
    for (const key of ['a', 'b', 'c']) await tiered.get(key);
    assert.deepEqual([tiered.stats.nearEntries, tiered.stats.nearBytes], [2, 2 * (OVERHEAD + 2 + 100)]);
    await tiered.get('big');
    await tiered.get('big');
    assert.equal(far.calls('get'), 5, 'the big record is read from the far tier each time');
    assert.equal(tiered.stats.nearEntries, 2);
  });

  it('holds memory only for the copies it holds, and none once they are dropped', async () => {
    const { store, tiered } = setup();
    assert.deepEqual([tiered.stats.nearEntries, tiered.stats.nearBytes], [0, 0]);
    await store.set('k', new Uint8Array(10));
    await tiered.get('k');
    assert.deepEqual([tiered.stats.nearEntries, tiered.stats.nearBytes], [1, OVERHEAD + 2 + 10]);
    await tiered.delete('k');
    assert.deepEqual([tiered.stats.nearEntries, tiered.stats.nearBytes], [0, 0]);
  });
});
