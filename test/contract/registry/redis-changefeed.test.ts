import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { isRegistryError, type Registry, type RegistryChange } from '../../../src/registry/index.js';
import { RedisRegistry } from '../../../src/registry/redis/index.js';
import {
  ManualClock,
  registryConformanceSuite,
  type RedisServerHandle,
  startRedisServer,
} from '../../../src/testing/index.js';

let server: RedisServerHandle;
let namespaces = 0;

before(async () => {
  server = await startRedisServer();
});

after(async () => {
  await server?.stop();
});

/** A RedisRegistry with its change feed (the `changefeed` option): `watch` and `cursor` present. */
type Fed = RedisRegistry & Required<Pick<RedisRegistry, 'watch' | 'cursor'>>;

function fed(registry: RedisRegistry): Fed {
  assert.equal(typeof registry.watch, 'function');
  assert.equal(typeof registry.cursor, 'function');
  return registry as Fed;
}

/** Drops every entry of a registry's stream: every earlier cursor is then compacted away. */
async function trimFeed(registry: Registry): Promise<void> {
  const feed = (registry as RedisRegistry).options.changefeed;
  assert.ok(feed);
  await server.command('XTRIM', feed.streamKey, 'MAXLEN', '0');
}

// the whole suite with the feed on: every write path runs its feed variant
registryConformanceSuite('RedisRegistry (standalone, changefeed)', {
  capacity: false,
  create: ({ clock, limits }) =>
    RedisRegistry.connect(
      {
        url: server.url,
        keyPrefix: `feed-conformance:${namespaces++}:`,
        expiryGraceMs: 600_000,
        changefeed: { maxLength: 1000 },
        ...(limits.maxValueBytes === undefined ? {} : { maxValueBytes: limits.maxValueBytes }),
      },
      { clock },
    ),
  watch: { compact: trimFeed, retained: 1000 },
});

const brief = (c: RegistryChange): string =>
  c.type === 'set' ? `set ${c.record.key} v${c.record.version}` : `removed ${c.key} v${c.version} ${c.reason}`;

/** The first `n` changes after `cursor` (a stall rejects after 15 s). */
async function take(registry: Fed, cursor: string, n: number): Promise<string[]> {
  const out: string[] = [];
  for await (const change of registry.watch({ after: cursor, signal: AbortSignal.timeout(15_000) })) {
    out.push(brief(change));
    if (out.length === n) break;
  }
  return out;
}

describe('RedisRegistry change feed specifics', () => {
  const open = async (options: { expiryGraceMs?: number; url?: string } = {}, clock = new ManualClock(Date.now())) =>
    fed(
      await RedisRegistry.connect(
        { url: server.url, keyPrefix: `feed:${namespaces++}:`, changefeed: {}, ...options },
        { clock },
      ),
    );

  it('appends an expiry when a read meets the record past its deadline, once, with its version', async () => {
    const clock = new ManualClock(Date.now());
    const registry = await open({ expiryGraceMs: 600_000 }, clock);
    try {
      const start = await registry.cursor();
      await registry.set('t', Buffer.from('x'), { ttlMs: 1000 });
      await registry.set('t', Buffer.from('y'), { ttlMs: 1000 });
      clock.advance(1000);
      assert.equal(await registry.get('t'), undefined);
      assert.equal(await registry.get('t'), undefined);
      await registry.set('after', Buffer.from('z'));
      assert.deepEqual(await take(registry, start, 4), ['set t v1', 'set t v2', 'removed t v2 expire', 'set after v1']);
    } finally {
      await registry.close();
    }
  });

  it('appends nothing for a record Redis drops by itself, unread past expiryGraceMs', async () => {
    const registry = await open({ expiryGraceMs: 0 }, undefined);
    try {
      const start = await registry.cursor();
      await registry.set('gone', Buffer.from('x'), { ttlMs: 30 });
      const redisKey = `${registry.options.keyPrefix}gone`;
      // Redis expires it (EXISTS meets it past PXAT, or its active expiry cycle does), not a script
      for (let i = 0; i < 500 && (await server.command('EXISTS', redisKey)) !== '0'; i++) await sleep(10);
      assert.equal(await server.command('EXISTS', redisKey), '0');
      await registry.set('next', Buffer.from('y'));
      assert.deepEqual(await take(registry, start, 2), ['set gone v1', 'set next v1']);
    } finally {
      await registry.close();
    }
  });

  it('appends nothing for records Redis evicts, and keeps the stream (volatile-lru)', async () => {
    // the stream holds about 600 changes of 4 KiB; records go past maxmemory and are evicted
    const small = await startRedisServer({ args: ['--maxmemory', '6mb', '--maxmemory-policy', 'volatile-lru'] });
    const registry = fed(
      await RedisRegistry.connect({
        url: small.url,
        keyPrefix: 'evict:',
        changefeed: { maxLength: 500 },
      }),
    );
    try {
      const writes = 1500;
      // a watch that keeps up (it falls behind by a few changes, not by maxLength)
      const seen: string[] = [];
      const watching = (async () => {
        for await (const change of registry.watch({ after: await registry.cursor() })) {
          seen.push(brief(change));
          if (seen.length === writes + 1) break;
        }
      })();
      const value = new Uint8Array(4096);
      for (let i = 0; i < writes; i++) await registry.set(`k${i}`, value, { ttlMs: 600_000 });
      await registry.set('last', value, { ttlMs: 600_000 });
      await watching;
      const evicted = Number(/evicted_keys:(\d+)/.exec(await small.command('INFO', 'stats'))?.[1]);
      assert.ok(evicted > 0, 'the server evicted records');
      assert.ok((await registry.size()) < writes, 'some records are gone');
      assert.deepEqual(seen, [...Array.from({ length: writes }, (_, i) => `set k${i} v1`), 'set last v1']);
    } finally {
      await registry.close();
      await small.stop();
    }
  });

  it('serves on across a lost epoch key with no gap, and rejects cursors of a lost stream with COMPACTED', async () => {
    const registry = await open();
    try {
      const feed = registry.options.changefeed;
      assert.ok(feed);
      await registry.set('a', Buffer.from('1'));
      const latest = await registry.cursor();
      // the epoch key alone is gone (an eviction, say): the next write starts an epoch that follows `latest`
      await server.command('DEL', feed.epochKey);
      await registry.set('b', Buffer.from('2'));
      assert.deepEqual(await take(registry, latest, 1), ['set b v1']);
      const before = await registry.cursor();
      // the stream itself is gone: nothing can tell what changed after `before`
      await server.command('DEL', feed.streamKey);
      await registry.set('c', Buffer.from('3'));
      await assert.rejects(take(registry, before, 1), (e: unknown) => isRegistryError(e, 'COMPACTED'));
      await assert.rejects(take(registry, '0-0', 1), (e: unknown) => isRegistryError(e, 'COMPACTED'));
      const fresh = await registry.cursor();
      await registry.set('d', Buffer.from('4'));
      assert.deepEqual(await take(registry, fresh, 1), ['set d v1']);
    } finally {
      await registry.close();
    }
  });

  it('frees its connection when the loop breaks', async () => {
    const registry = await open();
    try {
      const clients = async (): Promise<number> =>
        (await server.command('CLIENT', 'LIST')).split('\n').filter((line) => line.includes('cmd=')).length;
      const before = await clients();
      const start = await registry.cursor();
      await registry.set('a', Buffer.from('1'));
      assert.deepEqual(await take(registry, start, 1), ['set a v1']);
      // the server sees the closed socket a moment later
      for (let i = 0; i < 200 && (await clients()) > before; i++) await sleep(10);
      assert.equal(await clients(), before);
    } finally {
      await registry.close();
    }
  });

  it('rejects a lost connection with BACKEND_UNAVAILABLE, and resumes from the last cursor after a restart', async () => {
    const durable = await startRedisServer({ aof: true });
    const registry = fed(await RedisRegistry.connect({ url: durable.url, keyPrefix: 'restart:', changefeed: {} }));
    try {
      const start = await registry.cursor();
      await registry.set('a', Buffer.from('1'));
      const seen: RegistryChange[] = [];
      const watching = (async () => {
        for await (const change of registry.watch({ after: start })) {
          seen.push(change);
          if (seen.length === 1) await durable.kill9();
        }
      })();
      await assert.rejects(watching, (e: unknown) => isRegistryError(e, 'BACKEND_UNAVAILABLE'));
      await durable.restart();
      const last = seen[0]?.cursor as string;
      for (let i = 0; i < 500; i++) {
        if (
          await registry.set('b', Buffer.from('2')).then(
            () => true,
            () => false,
          )
        )
          break;
        await sleep(20);
      }
      assert.deepEqual(await take(registry, last, 1), ['set b v1']);
    } finally {
      await registry.close();
      await durable.stop();
    }
  });

  it('has no watch and no cursor without the changefeed option, as the contract marks an absent capability', async () => {
    const registry = await RedisRegistry.connect({ url: server.url, keyPrefix: `plain:${namespaces++}:` });
    try {
      assert.equal(typeof registry.watch, 'undefined');
      assert.equal(typeof registry.cursor, 'undefined');
      assert.equal('watch' in registry, false);
    } finally {
      await registry.close();
    }
  });

  it('validates the changefeed option, and a cluster keyPrefix without a hash tag, naming the option', () => {
    assert.throws(() => new RedisRegistry({ url: server.url, changefeed: 5 as never }), /changefeed must be an object/);
    assert.throws(() => new RedisRegistry({ url: server.url, changefeed: { maxLength: 0 } }), /changefeed\.maxLength/);
    assert.throws(() => new RedisRegistry({ url: server.url, changefeed: { size: 1 } as never }), /unknown.*"size"/);
    assert.throws(() => new RedisRegistry({ cluster: [server.url], keyPrefix: 'app:', changefeed: {} }), /hash tag/);
    assert.doesNotThrow(() => new RedisRegistry({ cluster: [server.url], keyPrefix: '{app}:', changefeed: {} }));
  });
});
