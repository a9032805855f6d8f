import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { isRegistryError } from '../../../src/registry/index.js';
import { RedisRegistry } from '../../../src/registry/redis/index.js';
import {
  ManualClock,
  registryConformanceSuite,
  type RedisServerHandle,
  startRedisServer,
} from '../../../src/testing/index.js';
import { closeRightAfterCalls } from '../../helpers/redis-close-calls.js';

let server: RedisServerHandle;
let namespaces = 0;

before(async () => {
  server = await startRedisServer();
});

after(async () => {
  await server?.stop();
});

// one server for the file; every registry gets its own key namespace, so tests never meet
registryConformanceSuite('RedisRegistry (standalone)', {
  capacity: false,
  create: ({ clock, limits }) =>
    RedisRegistry.connect(
      {
        url: server.url,
        keyPrefix: `conformance:${namespaces++}:`,
        // the manual clock runs ahead of the server's: Redis must not expire keys before the registry does
        expiryGraceMs: 600_000,
        ...(limits.maxValueBytes === undefined ? {} : { maxValueBytes: limits.maxValueBytes }),
      },
      { clock },
    ),
});

describe('RedisRegistry (standalone) specifics', () => {
  const open = async (options: { maxValueBytes?: number } = {}): Promise<RedisRegistry> =>
    RedisRegistry.connect(
      { url: server.url, keyPrefix: `specific:${namespaces++}:`, ...options },
      { clock: new ManualClock(Date.now()) },
    );

  it('rejects a value over maxValueBytes with VALUE_TOO_LARGE and keeps the old one', async () => {
    const registry = await open({ maxValueBytes: 8 });
    try {
      await registry.set('a', new Uint8Array(8));
      await assert.rejects(registry.set('a', new Uint8Array(9)), (e: unknown) => isRegistryError(e, 'VALUE_TOO_LARGE'));
      await assert.rejects(
        registry.setMany([
          { key: 'b', value: new Uint8Array(1) },
          { key: 'a', value: new Uint8Array(9) },
        ]),
        (e: unknown) => isRegistryError(e, 'VALUE_TOO_LARGE'),
      );
      assert.equal((await registry.get('a'))?.value.byteLength, 8);
      assert.equal(await registry.has('b'), false);
    } finally {
      await registry.close();
    }
  });

  it('keeps its records apart from other namespaces and from foreign keys of the server', async () => {
    const one = await open();
    const two = await open();
    try {
      await server.command('SET', 'foreign-key', 'x');
      await one.set('k', new Uint8Array([1]));
      await two.set('k', new Uint8Array([2]));
      assert.deepEqual([...((await one.get('k'))?.value ?? [])], [1]);
      await two.clear();
      assert.equal(await two.size(), 0);
      assert.equal(await one.size(), 1);
      assert.equal(await server.command('GET', 'foreign-key'), 'x');
    } finally {
      await one.close();
      await two.close();
    }
  });

  it('applies unawaited operations in the order they were issued, batched or not', async () => {
    const registry = await open();
    try {
      const calls = [
        registry.set('a', Buffer.from('1')),
        registry.delete('a'),
        registry.get('a'),
        registry.set('a', Buffer.from('2')),
        registry.set('a', Buffer.from('3')),
        registry.get('a'),
        registry.set('a', Buffer.from('4'), { ifVersion: 2 }),
        registry.get('a'),
      ] as const;
      const [set1, deleted, gone, , set3, read3, set4, read4] = await Promise.all(calls);
      assert.equal(set1.version, 1);
      assert.equal(deleted, true);
      assert.equal(gone, undefined);
      assert.equal(set3.version, 2);
      assert.equal(read3?.value.toString(), '3');
      assert.equal(set4.version, 3);
      assert.equal(read4?.value.toString(), '4');
    } finally {
      await registry.close();
    }
  });

  it('fails only the write of a key holding another Redis type, with CODEC_ERROR', async () => {
    const registry = await open();
    try {
      const prefix = registry.options.keyPrefix;
      await server.command('HSET', `${prefix}foreign`, 'field', 'x');
      const [ok, foreign] = await Promise.allSettled([
        registry.set('mine', Buffer.from('v')),
        registry.set('foreign', Buffer.from('v')),
      ]);
      assert.equal(ok.status, 'fulfilled');
      assert.ok(foreign.status === 'rejected' && isRegistryError(foreign.reason, 'CODEC_ERROR'));
      assert.equal(await registry.get('foreign'), undefined, 'MGET reads another type as nothing');
      assert.equal(await server.command('HGET', `${prefix}foreign`, 'field'), 'x');
      assert.equal((await registry.get('mine'))?.version, 1);
    } finally {
      await registry.close();
    }
  });

  it('skips keys under its prefix that are not records in scan and size, and counts them in stats', async () => {
    const registry = await open();
    try {
      const prefix = registry.options.keyPrefix;
      await server.command('RPUSH', `${prefix}list`, 'x');
      await server.command('HSET', `${prefix}hash`, 'field', 'x');
      await server.command('SET', `${prefix}short`, 'x');
      await server.command('SET', `${prefix}long`, `{"not":"a record","padding":"${'-'.repeat(40)}"}`);
      await registry.setMany(['a', 'b'].map((key) => ({ key, value: Buffer.from(key) })));
      const keys: string[] = [];
      for await (const r of registry.scan()) keys.push(r.key);
      assert.deepEqual(keys.sort(), ['a', 'b']);
      assert.equal(await registry.size(), 2);
      assert.deepEqual(registry.stats(), { foreignKeys: 8 });
      await registry.clear();
      assert.equal(await registry.size(), 0);
      assert.equal(await server.command('LINDEX', `${prefix}list`, '0'), 'x', 'foreign keys are left alone');
    } finally {
      await registry.close();
    }
  });

  it('treats glob characters in a scan prefix literally', async () => {
    const registry = await open();
    try {
      await registry.setMany(['a*1', 'a?2', 'a[3]', 'ab'].map((key) => ({ key, value: new Uint8Array(0) })));
      const keys: string[] = [];
      for await (const r of registry.scan({ prefix: 'a*' })) keys.push(r.key);
      assert.deepEqual(keys, ['a*1']);
    } finally {
      await registry.close();
    }
  });

  it('lets Redis drop a record by itself expiryGraceMs after its deadline', async () => {
    const registry = await RedisRegistry.connect({
      url: server.url,
      keyPrefix: `grace:${namespaces++}:`,
      expiryGraceMs: 0,
    });
    try {
      await registry.set('t', new Uint8Array(1), { ttlMs: 60_000 });
      const pttl = Number(await server.command('PTTL', `grace:${namespaces - 1}:t`));
      assert.ok(pttl > 0 && pttl <= 60_000, `PTTL ${pttl}`);
    } finally {
      await registry.close();
    }
  });

  it('rejects operations before connect with BACKEND_UNAVAILABLE and after close with CLOSED', async () => {
    const registry = new RedisRegistry({ url: server.url });
    await assert.rejects(registry.get('a'), (e: unknown) => isRegistryError(e, 'BACKEND_UNAVAILABLE'));
    await registry.close();
    await assert.rejects(registry.connect(), (e: unknown) => isRegistryError(e, 'CLOSED'));
  });

  it('passes a password through, and fails to connect with BACKEND_UNAVAILABLE without it', async () => {
    const guarded = await startRedisServer({ args: ['--requirepass', 's3cret'] });
    try {
      await assert.rejects(RedisRegistry.connect({ url: guarded.url }), (e: unknown) =>
        isRegistryError(e, 'BACKEND_UNAVAILABLE'),
      );
      const registry = await RedisRegistry.connect({ url: guarded.url, password: 's3cret' });
      await registry.set('a', new Uint8Array([1]));
      assert.equal((await registry.get('a'))?.version, 1);
      await registry.close();
    } finally {
      await guarded.stop();
    }
  });

  it('rejects writes with CAPACITY_EXCEEDED when a noeviction server is out of memory', async () => {
    const small = await startRedisServer({ args: ['--maxmemory', '3mb', '--maxmemory-policy', 'noeviction'] });
    const registry = await RedisRegistry.connect({ url: small.url });
    try {
      const value = new Uint8Array(64 * 1024);
      let error: unknown;
      for (let i = 0; i < 200 && error === undefined; i++) {
        await registry.set(`k${i}`, value).catch((e: unknown) => {
          error = e;
        });
      }
      assert.ok(isRegistryError(error, 'CAPACITY_EXCEEDED'), `got ${String(error)}`);
      assert.ok((await registry.get('k0'))?.value.byteLength === value.byteLength, 'reads still work');
    } finally {
      await registry.close();
      await small.stop();
    }
  });

  it('releases every socket and timer on close', async () => {
    const count = (): Record<string, number> => {
      const out: Record<string, number> = { TCPSocketWrap: 0, Timeout: 0 };
      for (const r of process.getActiveResourcesInfo()) if (r in out) out[r] = (out[r] ?? 0) + 1;
      return out;
    };
    const before = count();
    const registry = await RedisRegistry.connect({ url: server.url, keyPrefix: `release:${namespaces++}:` });
    await registry.set('a', new Uint8Array([1]), { ttlMs: 60_000 });
    await registry.getMany(['a', 'b']);
    assert.ok((count().TCPSocketWrap ?? 0) > (before.TCPSocketWrap ?? 0), 'connected');
    await registry.close();
    // a destroyed socket leaves the handle list once its close callback ran (a turn or two later)
    for (let i = 0; i < 20 && count().TCPSocketWrap !== before.TCPSocketWrap; i++)
      await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(count(), before);
  });

  it('validates its options at construction, naming the option', () => {
    assert.throws(() => new RedisRegistry({}), /exactly one of url/);
    assert.throws(() => new RedisRegistry({ url: 'http://x' }), /url must be a redis/);
    assert.throws(() => new RedisRegistry({ url: server.url, timeoutMs: 0 }), /timeoutMs/);
    assert.throws(
      () => new RedisRegistry({ url: server.url, maxEntries: 5 } as never),
      /unknown RedisRegistry option "maxEntries"/,
    );
  });

  // close() in the same tick as calls issued just before it: every call reports what Redis did (a
  // write that landed resolves), whether the server still has the scripts cached or lost them
  // (SCRIPT FLUSH, as after a restart: the NOSCRIPT retry must still go out)
  const connect = (keyPrefix: string): Promise<RedisRegistry> => RedisRegistry.connect({ url: server.url, keyPrefix });

  it('resolves every call issued just before close with what Redis did, with a warm script cache', async () => {
    await closeRightAfterCalls(connect, `close:${namespaces++}:`, async () => {});
  });

  it('resolves every call issued just before close with what Redis did, after the server lost its scripts', async () => {
    await closeRightAfterCalls(connect, `close:${namespaces++}:`, async () => {
      assert.equal(await server.command('SCRIPT', 'FLUSH'), 'OK');
    });
  });
});
