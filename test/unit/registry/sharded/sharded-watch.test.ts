import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import {
  MemoryRegistry,
  type RegistryChange,
  RegistryError,
  type RegistryRecord,
  ShardedRegistry,
} from '../../../../src/registry/index.js';
import { ForwardingRegistry } from '../../../../src/registry/forwarding-registry.js';
import { ManualClock } from '../../../../src/testing/index.js';
import { fixture } from './sharded-fixture.js';
import { bytes, drain, perKey, take, type WatchFixture, watchFixture } from './watch-fixture.js';

const isCode = (code: string, mentions?: string) => (e: unknown) =>
  e instanceof RegistryError && e.code === code && (mentions === undefined || e.message.includes(mentions));
/** A wrapper with no change feed (as the signed and tiered wrappers have none). */
class WithoutFeed extends ForwardingRegistry {
  constructor(inner: MemoryRegistry) {
    super(inner);
  }
}

const keysN = (n: number, prefix = 'w'): string[] => Array.from({ length: n }, (_, i) => `${prefix}:${i}`);

/** Waits (bounded at 5 s) until `done()` holds, checking after each turn of the event loop. */
async function eventually(done: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!done()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting until ${what}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

describe('ShardedRegistry watch', () => {
  let f: WatchFixture;
  afterEach(async () => {
    await f.registry.close();
  });

  it('has no watch or cursor when a shard backend has no watch, and refuses to add one to a registry that has', async () => {
    const clock = new ManualClock();
    const plain = new ShardedRegistry(
      {
        shards: [
          { name: 'a', registry: new MemoryRegistry({}, { clock }) },
          { name: 'b', registry: new WithoutFeed(new MemoryRegistry({}, { clock })) },
        ],
      },
      { clock },
    );
    assert.equal(typeof plain.watch, 'undefined');
    assert.equal(typeof plain.cursor, 'undefined');
    await plain.close();
    f = watchFixture();
    assert.equal(typeof f.registry.watch, 'function');
    const noFeed = new WithoutFeed(new MemoryRegistry({}, { clock: f.clock }));
    await assert.rejects(f.registry.addShard({ name: 'd', registry: noFeed }), isCode('INVALID_OPTION', 'watch()'));
    assert.deepEqual(f.registry.shardNames, ['a', 'b', 'c']);
    await noFeed.close();
  });

  it('rejects a malformed cursor with INVALID_OPTION naming after, and a foreign position its shard refuses', async () => {
    f = watchFixture();
    const good = await (f.registry.cursor as () => Promise<string>)();
    assert.match(good, /^S1;a=0;b=0;c=0$/);
    const malformed = ['S1;a', 'S1;a=1=2', 'S1;=1', 'S1;a=', 'S1;a=1;a=2', 'S1;a=%E0%A4', 'S2;a=0', 'a=0', '', 7];
    for (const bad of malformed) {
      await assert.rejects(
        take(f.registry, 1, { after: bad as string }),
        isCode('INVALID_OPTION', 'after'),
        String(bad),
      );
    }
    await assert.rejects(take(f.registry, 1, { after: 'S1;a=0;b=x;c=0' }), isCode('INVALID_OPTION', 'shard "b"'));
  });

  it('rejects a cursor lacking a shard that was a member from the start with COMPACTED', async () => {
    f = watchFixture();
    await assert.rejects(take(f.registry, 1, { after: 'S1;a=0;b=0' }), isCode('COMPACTED'));
  });

  it('rejects with COMPACTED when one shard no longer holds the changes after its position', async () => {
    f = watchFixture(['a', 'b', 'c'], {}, { changeHistory: 16 });
    const start = await (f.registry.cursor as () => Promise<string>)();
    for (let i = 0; i < 20; i++) await (f.backends.get('b') as MemoryRegistry).set('filler', bytes(String(i)));
    await assert.rejects(take(f.registry, 1, { after: start }), isCode('COMPACTED'));
  });

  it('serves each change once with 2 replicas: a write, a touch and a delete', async () => {
    f = watchFixture(['a', 'b', 'c'], { replicas: 2 });
    const start = await (f.registry.cursor as () => Promise<string>)();
    for (const key of keysN(12)) await f.registry.set(key, bytes('1'));
    for (const key of keysN(12)) await f.registry.touch(key, 1000);
    for (const key of keysN(12)) await f.registry.delete(key);
    const served = perKey(await drain(f.registry, start));
    for (const key of keysN(12)) assert.deepEqual(served[key], ['set v1 1', 'set v1 1', 'removed v1 delete'], key);
    assert.equal(Object.keys(served).length, 12);
  });

  it('ends every shard feed when the consumer breaks out', async () => {
    f = watchFixture();
    const start = await (f.registry.cursor as () => Promise<string>)();
    await f.registry.set('x', bytes('1'));
    const watch = f.registry.watch as NonNullable<ShardedRegistry['watch']>;
    for await (const change of watch({ after: start })) {
      assert.equal(change.type, 'set');
      assert.deepEqual(
        [...f.backends.values()].map((b) => b.open),
        [1, 1, 1],
      );
      break;
    }
    await eventually(() => [...f.backends.values()].every((b) => b.open === 0), 'every shard feed has ended');
  });

  it("rejects with BACKEND_UNAVAILABLE naming the shard when a shard's feed fails, and resumes from the last cursor", async () => {
    f = watchFixture();
    const keys = keysN(30);
    const start = await (f.registry.cursor as () => Promise<string>)();
    for (const key of keys.slice(0, 15)) await f.registry.set(key, bytes('1'));
    const before = await take(f.registry, 15, { after: start });
    const last = before.at(-1)?.cursor as string;
    const failure = new Error('feed broke');
    f.backends.get('b')?.failFeeds(failure);
    const failing = take(f.registry, 15, { after: last });
    for (const key of keys.slice(15)) await f.registry.set(key, bytes('1'));
    await assert.rejects(
      failing,
      (e: unknown) => isCode('BACKEND_UNAVAILABLE', 'shard "b"')(e) && (e as Error).cause === failure,
    );
    f.backends.get('b')?.failFeeds(undefined);
    const after = await take(f.registry, 15, { after: last });
    const served = perKey([...before, ...after]);
    assert.deepEqual(Object.keys(served), [...keys].sort());
    for (const key of keys) assert.deepEqual(served[key], ['set v1 1'], key);
  });

  it('serves the writes a shard took after it joined while the consumer was not reading', async () => {
    f = watchFixture();
    const watch = f.registry.watch as NonNullable<ShardedRegistry['watch']>;
    const feed = watch({
      after: await (f.registry.cursor as () => Promise<string>)(),
      signal: AbortSignal.timeout(15_000),
    });
    /** The next change (the feed never ends by itself: it fails the test if it does). */
    const next = async (): Promise<RegistryChange> => {
      const step: IteratorResult<RegistryChange, unknown> = await feed.next();
      if (step.done === true) assert.fail('the feed ended');
      return step.value;
    };
    await f.registry.set('first', bytes('1'));
    assert.equal((await next()).type, 'set');
    // the consumer holds the feed without reading while a shard joins and takes writes
    await f.registry.addShard({ name: 'd', registry: f.backend('d') });
    const keys: string[] = [];
    for (let i = 0; keys.length < 5; i++) if (f.registry.ownersOf(`j:${i}`)[0] === 'd') keys.push(`j:${i}`);
    for (const key of keys) await f.registry.set(key, bytes('1'));
    const served: string[] = [];
    while (served.length < keys.length) {
      const change = await next();
      if (change.type === 'set') served.push(change.record.key);
    }
    await feed.return?.();
    assert.deepEqual(served.sort(), [...keys].sort());
  });

  for (const replicas of [1, 2]) {
    it(`serves every write once per version while a shard is added during the watch, R=${replicas}`, async () => {
      f = watchFixture(['a', 'b', 'c'], { replicas });
      const keys = keysN(60);
      const start = await (f.registry.cursor as () => Promise<string>)();
      const work = (async () => {
        for (const key of keys) await f.registry.set(key, bytes('1'));
        const result = await f.registry.addShard({ name: 'd', registry: f.backend('d') });
        assert.ok(result.moved > 0, 'some records moved to the new shard');
        for (const key of keys) await f.registry.set(key, bytes('2'));
      })();
      const live = perKey(await drain(f.registry, start, work));
      const expected = Object.fromEntries([...keys].sort().map((key) => [key, ['set v1 1', 'set v2 2']]));
      assert.deepEqual(live, expected, 'live: no moved record served as a set or a removal');
      assert.deepEqual(perKey(await drain(f.registry, start)), expected, 'resumed from before the shard joined');
    });

    it(`serves every write once per version while a shard is removed during the watch, R=${replicas}`, async () => {
      f = watchFixture(['a', 'b', 'c', 'd'], { replicas });
      const keys = keysN(60);
      const start = await (f.registry.cursor as () => Promise<string>)();
      const work = (async () => {
        for (const key of keys) await f.registry.set(key, bytes('1'));
        const result = await f.registry.removeShard('d');
        assert.ok(result.moved > 0, 'some records moved off the removed shard');
        for (const key of keys) await f.registry.set(key, bytes('2'));
      })();
      const live = perKey(await drain(f.registry, start, work));
      const expected = Object.fromEntries([...keys].sort().map((key) => [key, ['set v1 1', 'set v2 2']]));
      assert.deepEqual(live, expected, 'live: no moved record served as a set or a removal');
      assert.deepEqual(perKey(await drain(f.registry, start)), expected, 'resumed from before the shard left');
      await f.backends.get('d')?.close();
    });
  }
});

describe('ShardedRegistry watch across a failover', () => {
  it("serves a key's writes taken by a stand-in once, when the hand-back brings them to the primary", async () => {
    const f = fixture(['a', 'b', 'c'], { cooldownMs: 1000, failureThreshold: 1 });
    try {
      const r = f.registry;
      const keys = f.keysOwnedBy('a', 5);
      const start = await (r.cursor as () => Promise<string>)();
      for (const key of keys) await r.set(key, bytes('1'));
      f.backend('a').inject({ type: 'error' });
      // a failed read opens a's circuit (failureThreshold 1): the writes below go to a stand-in
      await assert.rejects(r.get(keys[0] as string), isCode('BACKEND_UNAVAILABLE'));
      const during: RegistryRecord[] = [];
      for (const key of keys) during.push(await r.set(key, bytes('2')));
      assert.ok(
        f.health.some((h) => h.shard === 'a' && h.health === 'down'),
        'a was taken out of routing',
      );
      f.backend('a').heal();
      const handedBack = async (): Promise<boolean> => {
        for (const key of keys) if ((await f.holders(key)).join() !== 'a') return false;
        return (await r.get(keys[0] as string))?.version === during[0]?.version;
      };
      // probes after each cooldown on the manual clock; the hand-back then moves the keys home
      for (let t = 0; t < 20_000 && !(await handedBack()); t += 500) {
        await f.clock.advanceAsync(500);
        await r.settled();
      }
      for (const key of keys) assert.deepEqual(await f.holders(key), ['a'], `${key} handed back to a only`);
      const served = perKey(await drain(r, start));
      const expected = Object.fromEntries(
        keys
          .map((key, i) => [key, ['set v1 1', `set v${during[i]?.version} 2`]] as const)
          .sort(([x], [y]) => (x < y ? -1 : 1)),
      );
      assert.deepEqual(served, expected);
    } finally {
      await f.registry.close();
    }
  });
});
