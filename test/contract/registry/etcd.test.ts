import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { EtcdRegistry } from '../../../src/registry/etcd/index.js';
import { type EtcdClusterHandle, startEtcdServer } from '../../../src/testing/index.js';
import { etcdConformance } from '../../helpers/etcd-conformance.js';

let server: EtcdClusterHandle;

before(async () => {
  server = await startEtcdServer();
});

after(async () => {
  await server?.stop();
});

// one member for the file; every registry gets its own key namespace
etcdConformance('EtcdRegistry (one member)', () => server);

describe('EtcdRegistry batches beyond etcd’s transaction limit', () => {
  it('reads 300 keys with misses and repeats in request order, in transactions of at most maxTxnOps', async () => {
    // etcd refuses a transaction of more than 128 operations (its --max-txn-ops default)
    const registry = new EtcdRegistry({ hosts: [...server.endpoints], keyPrefix: `batches:${process.pid}:` });
    try {
      const keys = Array.from({ length: 300 }, (_, i) => `k${i}`);
      await registry.setMany(keys.filter((_, i) => i % 3 !== 0).map((key) => ({ key, value: Buffer.from(key) })));
      const asked = [...keys, 'k1', 'k299', 'k0', 'missing'];
      const got = await registry.getMany(asked);
      assert.equal(got.length, asked.length);
      asked.forEach((key, i) => {
        const stored = key.startsWith('k') && Number(key.slice(1)) % 3 !== 0;
        assert.equal(got[i]?.key, stored ? key : undefined, `record ${i} (${key})`);
        if (stored) assert.equal(Buffer.from(got[i]?.value ?? []).toString(), key);
      });
    } finally {
      await registry.close();
    }
  });
});
