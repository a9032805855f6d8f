import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { EtcdRegistry } from '../../../src/registry/etcd/index.js';
import { isRegistryError } from '../../../src/registry/index.js';
import { type EtcdClusterHandle, startEtcdServer } from '../../../src/testing/index.js';

let server: EtcdClusterHandle;

before(async () => {
  server = await startEtcdServer();
});

after(async () => {
  await server?.stop();
});

describe('EtcdRegistry group commit of single-key writes', () => {
  it('gives every concurrent set its own version, one per write, across keys repeated and a rival writer', async () => {
    const a = new EtcdRegistry({ hosts: [...server.endpoints], keyPrefix: 'group:' });
    const b = new EtcdRegistry({ hosts: [...server.endpoints], keyPrefix: 'group:' });
    try {
      const KEYS = 16;
      const WRITES = 400;
      // two registries (each grouping its own writes) on the same keys: groups whose guards a
      // rival write broke fall back to one commit per write
      const versions = new Map<string, number[]>();
      await Promise.all(
        Array.from({ length: WRITES }, async (_, i) => {
          const key = `k${i % KEYS}`;
          const registry = i % 3 === 0 ? b : a;
          const written = await registry.set(key, Buffer.from(String(i)), { ttlMs: 60_000 });
          versions.set(key, [...(versions.get(key) ?? []), written.version]);
        }),
      );
      for (let k = 0; k < KEYS; k++) {
        const key = `k${k}`;
        const got = (versions.get(key) ?? []).sort((x, y) => x - y);
        assert.deepEqual(
          got,
          Array.from({ length: WRITES / KEYS }, (_, i) => i + 1),
          `${key}: versions 1..n`,
        );
        assert.equal((await a.get(key))?.version, WRITES / KEYS);
      }
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('settles concurrent compare-and-set calls on one key with exactly one winner per version', async () => {
    const a = new EtcdRegistry({ hosts: [...server.endpoints], keyPrefix: 'group-cas:' });
    try {
      await a.set('c', Buffer.from('0'));
      const outcomes = await Promise.all(
        Array.from({ length: 32 }, (_, i) =>
          a.set('c', Buffer.from(String(i)), { ifVersion: 1 }).then(
            () => 'ok',
            (e: unknown) => (isRegistryError(e, 'VERSION_CONFLICT') ? 'conflict' : String(e)),
          ),
        ),
      );
      assert.equal(outcomes.filter((o) => o === 'ok').length, 1);
      assert.equal(outcomes.filter((o) => o === 'conflict').length, 31);
      assert.equal((await a.get('c'))?.version, 2);
    } finally {
      await a.close();
    }
  });

  it('rejects a queued write whose signal aborts with the reason, and writes the others', async () => {
    const a = new EtcdRegistry({ hosts: [...server.endpoints], keyPrefix: 'group-abort:' });
    try {
      const reason = new Error('not wanted');
      const stop = new AbortController();
      // the first two go at once (two transactions in flight); the third waits for a group
      const first = a.set('x1', Buffer.from('1'));
      const second = a.set('x2', Buffer.from('2'));
      const third = a.set('x3', Buffer.from('3'), { signal: stop.signal });
      stop.abort(reason);
      await assert.rejects(third, (e: unknown) => e === reason);
      await Promise.all([first, second]);
      assert.equal(await a.get('x3'), undefined);
      assert.equal((await a.get('x1'))?.version, 1);
    } finally {
      await a.close();
    }
  });
});
