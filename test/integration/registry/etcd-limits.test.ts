import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { EtcdRegistry } from '../../../src/registry/etcd/index.js';
import { isRegistryError, type RemovalReason } from '../../../src/registry/index.js';
import { type EtcdClusterHandle, startEtcdServer } from '../../../src/testing/index.js';
import { heapInUse, kib } from '../../helpers/heap.js';

// etcd refuses requests over --max-request-bytes (1.5 MiB by default) and the gRPC client, by
// default, replies over 4 MiB: each case below crosses one of the two
let server: EtcdClusterHandle;
let namespaces = 0;

before(async () => {
  server = await startEtcdServer();
});

after(async () => {
  await server?.stop();
});

function open(): EtcdRegistry {
  return new EtcdRegistry({ hosts: [...server.endpoints], keyPrefix: `limits:${namespaces++}:` });
}

const filled = (bytes: number, seed: number): Buffer => Buffer.alloc(bytes, seed);
const same = (a: Uint8Array | undefined, b: Uint8Array): boolean => a !== undefined && Buffer.from(a).equals(b);

describe('EtcdRegistry within etcd request and reply sizes', () => {
  it('writes a batch of three 800 KiB values, more than one etcd request carries, and reads them back', async () => {
    const registry = open();
    try {
      const entries = [0, 1, 2].map((i) => ({ key: `big${i}`, value: filled(800 * 1024, i + 1) }));
      const written = await registry.setMany(entries);
      assert.deepEqual(
        written.map((r) => [r.key, r.version]),
        [
          ['big0', 1],
          ['big1', 1],
          ['big2', 1],
        ],
      );
      const read = await registry.getMany(entries.map((e) => e.key));
      assert.deepEqual(
        read.map((r, i) => same(r?.value, entries[i]?.value as Buffer)),
        [true, true, true],
      );
    } finally {
      await registry.close();
    }
  });

  it('commits concurrent single writes of 700 KiB each, grouped only as far as a request holds them', async () => {
    const registry = open();
    try {
      const writes = Array.from({ length: 12 }, (_, i) => registry.set(`w${i}`, filled(700 * 1024, i)));
      const records = await Promise.all(writes);
      assert.deepEqual(
        records.map((r) => r.version),
        Array.from({ length: 12 }, () => 1),
      );
      assert.equal(await registry.size(), 12);
    } finally {
      await registry.close();
    }
  });

  it('reads 128 keys of 40 KiB (5 MiB, over the 4 MiB reply limit) in one getMany', async () => {
    const registry = open();
    try {
      const keys = Array.from({ length: 128 }, (_, i) => `k${String(i).padStart(3, '0')}`);
      await registry.setMany(keys.map((key, i) => ({ key, value: filled(40 * 1024, i) })));
      const records = await registry.getMany(keys);
      assert.equal(records.filter((r, i) => same(r?.value, filled(40 * 1024, i))).length, 128);
    } finally {
      await registry.close();
    }
  });

  it('scans and counts 600 records of 10 KiB (6 MiB) each once, in key order, page by page', async () => {
    const registry = open();
    try {
      const keys = Array.from({ length: 600 }, (_, i) => `s${String(i).padStart(3, '0')}`);
      await registry.setMany(keys.map((key) => ({ key, value: filled(10 * 1024, 9) })));
      const scanned: string[] = [];
      for await (const record of registry.scan()) scanned.push(record.key);
      assert.deepEqual(scanned, keys);
      assert.equal(await registry.size(), 600);
    } finally {
      await registry.close();
    }
  });

  it('clears 6 MiB of records in one step and reports each removed record once with reason clear', async () => {
    const registry = open();
    try {
      const keys = Array.from({ length: 600 }, (_, i) => `c${String(i).padStart(3, '0')}`);
      await registry.setMany(keys.map((key) => ({ key, value: filled(10 * 1024, 3) })));
      const removed: [string, number, RemovalReason][] = [];
      registry.on('record:removed', ({ key, version, reason }) => removed.push([key, version, reason]));
      await registry.clear();
      assert.deepEqual(
        removed,
        keys.map((key) => [key, 1, 'clear']),
      );
      assert.equal(await registry.size(), 0);
    } finally {
      await registry.close();
    }
  });
});

describe('EtcdRegistry memory', () => {
  it('keeps no values of the records it read or wrote once the caller drops them (only their revisions and versions)', async () => {
    const registry = open();
    try {
      // 1 MiB values written one by one, then read back one by one and in batches of 3
      const pass = async (from: number, count: number): Promise<void> => {
        for (let i = from; i < from + count; i++) await registry.set(`m${i}`, filled(1024 * 1024, i));
        for (let i = from; i < from + count; i++) {
          assert.equal((await registry.get(`m${i}`))?.value.byteLength, 1024 * 1024);
        }
        for (let i = from; i < from + count; i += 3) {
          const batch = await registry.getMany([`m${i}`, `m${i + 1}`, `m${i + 2}`]);
          assert.equal(batch.filter((r) => r?.value.byteLength === 1024 * 1024).length, 3);
        }
      };
      // a first pass sizes what the client keeps whatever it holds (gRPC and HTTP/2 buffers)
      await pass(0, 6);
      const before = heapInUse();
      await pass(6, 24);
      const held = heapInUse() - before;
      assert.ok(held < 4 * 1024 * 1024, `the registry holds ${kib(held)} more after 24 MiB more went through it`);
      // what it remembers still guards the next write: version 2, no read first
      assert.equal((await registry.set('m0', filled(8, 0))).version, 2);
    } finally {
      await registry.close();
    }
  });
});

describe('EtcdRegistry on a cluster with a smaller --max-request-bytes', () => {
  let small: EtcdClusterHandle;
  before(async () => {
    small = await startEtcdServer({ args: ['--max-request-bytes=65536'] });
  });
  after(async () => {
    await small?.stop();
  });

  it('refuses a write over the limit with CAPACITY_EXCEEDED, keeps what was stored, and serves the next calls', async () => {
    const registry = new EtcdRegistry({ hosts: [...small.endpoints], keyPrefix: 'small:' });
    try {
      await registry.set('kept', filled(16, 1));
      // more refusals than etcd3's default circuit breaker allows before refusing every call for 5 s
      for (let i = 0; i < 4; i++) {
        await assert.rejects(registry.set('kept', filled(100_000, 2)), (error: unknown) => {
          assert.ok(isRegistryError(error) && error.code === 'CAPACITY_EXCEEDED', String(error));
          assert.match(error.message, /maxRequestBytes/);
          return true;
        });
      }
      const kept = await registry.get('kept');
      assert.deepEqual([kept?.version, same(kept?.value, filled(16, 1))], [1, true]);
      assert.equal((await registry.set('next', filled(16, 3))).version, 1);
    } finally {
      await registry.close();
    }
  });

  it('splits batches to fit when maxRequestBytes is set to the cluster limit', async () => {
    const registry = new EtcdRegistry({
      hosts: [...small.endpoints],
      keyPrefix: 'fitted:',
      maxRequestBytes: 65536,
      maxValueBytes: 48 * 1024,
    });
    try {
      const entries = Array.from({ length: 8 }, (_, i) => ({ key: `f${i}`, value: filled(40 * 1024, i) }));
      await registry.setMany(entries);
      const records = await registry.getMany(entries.map((e) => e.key));
      assert.equal(records.filter((r, i) => same(r?.value, filled(40 * 1024, i))).length, 8);
    } finally {
      await registry.close();
    }
  });
});
