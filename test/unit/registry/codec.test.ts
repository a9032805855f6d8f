import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  bytesCodec,
  type Codec,
  CodecRegistry,
  jsonCodec,
  MemoryRegistry,
  RegistryError,
  stringCodec,
} from '../../../src/registry/index.js';

interface User {
  name: string;
  tags: string[];
}

describe('CodecRegistry', () => {
  it('round-trips JSON values with versions from the backend', async () => {
    const users = new CodecRegistry(new MemoryRegistry(), jsonCodec as Codec<User>);
    const written = await users.set('u:1', { name: 'Ada', tags: ['x'] });
    assert.deepEqual(written.value, { name: 'Ada', tags: ['x'] });
    const read = await users.get('u:1');
    assert.deepEqual(read?.value, { name: 'Ada', tags: ['x'] });
    assert.equal(read?.version, 1);
    await users.setMany([{ key: 'u:2', value: { name: 'Bo', tags: [] } }]);
    assert.deepEqual(
      (await users.getMany(['u:2', 'u:3'])).map((r) => r?.value.name),
      ['Bo', undefined],
    );
    const scanned = [];
    for await (const r of users.scan({ prefix: 'u:' })) scanned.push(r.value.name);
    assert.deepEqual(scanned.sort(), ['Ada', 'Bo']);
  });

  it('rejects values JSON cannot encode with INVALID_VALUE naming the key', async () => {
    const registry = new CodecRegistry(new MemoryRegistry(), jsonCodec);
    const cyclic: { self?: unknown } = {};
    cyclic.self = cyclic;
    for (const bad of [undefined, cyclic, 10n]) {
      await assert.rejects(
        registry.set('k', bad),
        (e: unknown) => e instanceof RegistryError && e.code === 'INVALID_VALUE' && e.key === 'k',
      );
    }
    assert.equal(await registry.has('k'), false);
  });

  it('rejects values JSON would read back as something else with INVALID_VALUE, storing nothing', async () => {
    const registry = new CodecRegistry(new MemoryRegistry(), jsonCodec);
    class Point {
      x = 1;
    }
    // eslint-disable-next-line no-sparse-arrays -- the hole is the point
    const holey = [1, , 3];
    const bad: [unknown, RegExp][] = [
      [Number.NaN, /the value is NaN/],
      [Number.POSITIVE_INFINITY, /Infinity/],
      [{ n: Number.NEGATIVE_INFINITY }, /the value\.n is -Infinity/],
      [new Map([['a', 1]]), /is a Map/],
      [new Set([1]), /is a Set/],
      [new Date(0), /is a Date/],
      [new Point(), /is a Point/],
      [Buffer.from('x'), /is a Buffer/],
      [{ a: undefined }, /the value\.a is undefined/],
      [[1, undefined], /\[1\] is undefined/],
      [holey, /\[1\] is a hole/],
      [{ f: () => 1 }, /is a function/],
      [{ toJSON: () => 'other' }, /toJSON is a function/],
      [{ [Symbol('s')]: 1 }, /keyed by a symbol/],
      [{ deep: [{ x: [Number.NaN] }] }, /the value\.deep\[0\]\.x\[0\] is NaN/],
    ];
    for (const [value, message] of bad) {
      await assert.rejects(
        registry.set('k', value),
        (e: unknown) =>
          e instanceof RegistryError && e.code === 'INVALID_VALUE' && e.key === 'k' && message.test(e.message),
        String(message),
      );
      await assert.rejects(
        registry.setMany([{ key: 'k', value }]),
        (e: unknown) => e instanceof RegistryError && e.code === 'INVALID_VALUE',
      );
    }
    assert.equal(await registry.has('k'), false);
  });

  it('reads back every JSON value it accepts as it was written', async () => {
    const registry = new CodecRegistry(new MemoryRegistry(), jsonCodec);
    const shared = { s: 1 };
    const values: unknown[] = [
      null,
      true,
      0,
      5e-324,
      1e21,
      Number.MAX_SAFE_INTEGER,
      'lone \ud800 surrogates \udfff survive JSON',
      '🔑 ключ',
      [],
      {},
      [1, 'a', null, [true], { b: [] }],
      { nested: { deeper: { list: [1, 2, { x: 'y' }] } }, __proto__x: 1 },
      { twice: shared, again: shared },
    ];
    for (const [i, value] of values.entries()) {
      const written = await registry.set(`k${i}`, value);
      assert.deepEqual(written.value, value);
      assert.deepEqual((await registry.get(`k${i}`))?.value, value);
    }
    const bare = Object.assign(Object.create(null) as object, { a: 1 });
    await registry.set('bare', bare);
    assert.deepEqual((await registry.get('bare'))?.value, { a: 1 });
    await registry.set('minus-zero', -0);
    assert.equal((await registry.get('minus-zero'))?.value, 0);
  });

  it('rejects strings with a lone surrogate with INVALID_VALUE instead of storing U+FFFD', async () => {
    const registry = new CodecRegistry(new MemoryRegistry(), stringCodec);
    for (const bad of ['a\ud800b', '\udc00', 'end\ud83d']) {
      await assert.rejects(
        registry.set('k', bad),
        (e: unknown) => e instanceof RegistryError && e.code === 'INVALID_VALUE' && e.key === 'k',
      );
    }
    assert.equal(await registry.has('k'), false);
    await registry.set('k', 'a\ud83d\udd11b');
    assert.equal((await registry.get('k'))?.value, 'a🔑b');
  });

  it('reports bytes that do not decode as CODEC_ERROR instead of returning garbage', async () => {
    const backend = new MemoryRegistry();
    await backend.set('k', new Uint8Array([0xff, 0xfe]));
    const asJson = new CodecRegistry(backend, jsonCodec);
    const asText = new CodecRegistry(backend, stringCodec);
    await assert.rejects(asJson.get('k'), (e: unknown) => e instanceof RegistryError && e.code === 'CODEC_ERROR');
    await assert.rejects(asText.get('k'), (e: unknown) => e instanceof RegistryError && e.code === 'CODEC_ERROR');
  });

  it('passes raw bytes through the bytes codec and text through the string codec', async () => {
    const backend = new MemoryRegistry();
    await new CodecRegistry(backend, bytesCodec).set('b', new Uint8Array([1, 2, 3]));
    await new CodecRegistry(backend, stringCodec).set('s', 'héllo');
    assert.deepEqual(Array.from((await backend.get('b'))?.value ?? []), [1, 2, 3]);
    assert.equal((await new CodecRegistry(backend, stringCodec).get('s'))?.value, 'héllo');
  });

  it('forwards events from the backend', async () => {
    const registry = new CodecRegistry(new MemoryRegistry(), stringCodec);
    const keys: string[] = [];
    registry.on('record:removed', (e) => keys.push(`${e.key}:${e.reason}`));
    await registry.set('a', 'x');
    await registry.delete('a');
    assert.deepEqual(keys, ['a:delete']);
  });

  it('encodes a restored record and passes it to a backend that has restore', async () => {
    const backend = new MemoryRegistry();
    const users = new CodecRegistry(backend, jsonCodec as Codec<User>);
    assert.equal(typeof users.restore, 'function');
    const record = {
      key: 'u:1',
      value: { name: 'Ada', tags: [] },
      version: 4,
      createdAt: 10,
      updatedAt: 20,
      expiresAt: undefined,
    };
    assert.equal(await users.restore?.(record), 'written');
    assert.deepEqual(await users.get('u:1'), record);
    await assert.rejects(users.restore?.({ ...record, value: undefined as unknown as User }) ?? Promise.resolve(), {
      code: 'INVALID_VALUE',
    });
  });

  it('has no restore when its backend has none', () => {
    const backend = new MemoryRegistry();
    const bare = Object.create(backend, { restore: { value: undefined } }) as MemoryRegistry;
    assert.equal(new CodecRegistry(bare, stringCodec).restore, undefined);
  });

  it('serves the backend feed with each written value decoded, removals as they are', async () => {
    const users = new CodecRegistry(new MemoryRegistry(), jsonCodec as Codec<User>);
    const start = await users.cursor?.();
    await users.set('u:1', { name: 'Ada', tags: [] });
    await users.delete('u:1');
    const changes = [];
    for await (const change of users.watch?.({ after: start }) ?? []) {
      changes.push(change.type === 'set' ? change.record.value : change.reason);
      if (changes.length === 2) break;
    }
    assert.deepEqual(changes, [{ name: 'Ada', tags: [] }, 'delete']);
  });

  it('rejects a feed value the codec cannot decode with CODEC_ERROR', async () => {
    const backend = new MemoryRegistry();
    const users = new CodecRegistry(backend, jsonCodec as Codec<User>);
    const start = await users.cursor?.();
    await backend.set('u:1', new Uint8Array([0xff]));
    await assert.rejects(
      (async () => {
        for await (const _ of users.watch?.({ after: start }) ?? []) break;
      })(),
      { code: 'CODEC_ERROR' },
    );
  });

  it('has no watch nor cursor when its backend has no watch', () => {
    const backend = new MemoryRegistry();
    const bare = Object.create(backend, { watch: { value: undefined } }) as MemoryRegistry;
    const view = new CodecRegistry(bare, stringCodec);
    assert.equal(view.watch, undefined);
    assert.equal(view.cursor, undefined);
  });
});
