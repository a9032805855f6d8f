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
});
