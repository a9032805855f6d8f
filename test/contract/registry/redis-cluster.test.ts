import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { keySlot, RedisRegistry } from '../../../src/registry/redis/index.js';
import { type RedisClusterHandle, registryConformanceSuite, startRedisCluster } from '../../../src/testing/index.js';
import { closeRightAfterCalls } from '../../helpers/redis-close-calls.js';

let cluster: RedisClusterHandle;
let namespaces = 0;

before(async () => {
  cluster = await startRedisCluster({ masters: 3, replicasPerMaster: 1 });
});

after(async () => {
  await cluster?.stop();
});

// one 3-master + 3-replica cluster for the file; every registry gets its own key namespace
registryConformanceSuite('RedisRegistry (cluster)', {
  capacity: false,
  create: ({ clock, limits }) =>
    RedisRegistry.connect(
      {
        cluster: cluster.urls,
        keyPrefix: `conformance:${namespaces++}:`,
        expiryGraceMs: 600_000,
        ...(limits.maxValueBytes === undefined ? {} : { maxValueBytes: limits.maxValueBytes }),
      },
      { clock },
    ),
});

// the feed's stream lives in one slot: a hash-tagged namespace keeps every record in it too
registryConformanceSuite('RedisRegistry (cluster, changefeed)', {
  capacity: false,
  create: ({ clock, limits }) =>
    RedisRegistry.connect(
      {
        cluster: cluster.urls,
        keyPrefix: `{feed-conformance:${namespaces++}}:`,
        expiryGraceMs: 600_000,
        changefeed: { maxLength: 1000 },
        ...(limits.maxValueBytes === undefined ? {} : { maxValueBytes: limits.maxValueBytes }),
      },
      { clock },
    ),
  watch: {
    retained: 1000,
    // the stream is on the master serving its tag; the other masters refuse with MOVED
    compact: async (registry) => {
      const feed = (registry as RedisRegistry).options.changefeed;
      assert.ok(feed);
      for (const master of await cluster.masters()) {
        await master.command('XTRIM', feed.streamKey, 'MAXLEN', '0').catch(() => undefined);
      }
    },
  },
});

describe('RedisRegistry (cluster) specifics', () => {
  it('runs batches over keys of every slot and hash tag without CROSSSLOT errors', async () => {
    const registry = await RedisRegistry.connect({
      cluster: cluster.urls,
      keyPrefix: `batch:${namespaces++}:`,
      batchChunkSize: 7,
    });
    try {
      assert.equal(registry.isCluster, true);
      const keys = Array.from({ length: 1000 }, (_, i) => (i % 3 === 0 ? `{tag}:${i}` : `key:${i}`));
      const written = await registry.setMany(keys.map((key, i) => ({ key, value: Buffer.from(String(i)) })));
      assert.deepEqual(
        written.map((r) => r.version),
        keys.map(() => 1),
      );
      const read = await registry.getMany([...keys].reverse());
      assert.deepEqual(
        read.map((r) => r?.value.toString()),
        keys.map((_, i) => String(i)).reverse(),
      );
      assert.equal(await registry.size(), 1000);
      assert.equal(await registry.deleteMany(keys.slice(0, 500)), 500);
      assert.equal(await registry.size(), 500);
    } finally {
      await registry.close();
    }
  });

  it('computes the hash slot of a key as Redis does, hash tags and UTF-8 included', async () => {
    const [node] = cluster.nodes;
    assert.ok(node);
    for (const key of [
      'foo',
      '123456789',
      '{user1000}.following',
      'a{}b',
      '{}{x}',
      'ключ',
      '{ключ}:1',
      '🔑',
      'x'.repeat(300),
    ]) {
      assert.equal(keySlot(key), Number(await node.command('CLUSTER', 'KEYSLOT', key)), key);
    }
  });

  it('resolves every call issued just before close with what Redis did, after every master lost its scripts', async () => {
    await closeRightAfterCalls(
      (keyPrefix) => RedisRegistry.connect({ cluster: cluster.urls, keyPrefix }),
      `close:${namespaces++}:`,
      async () => {
        for (const master of await cluster.masters()) assert.equal(await master.command('SCRIPT', 'FLUSH'), 'OK');
      },
    );
  });

  it('spreads a namespace over every master', async () => {
    const registry = await RedisRegistry.connect({ cluster: cluster.urls, keyPrefix: `spread:${namespaces++}:` });
    try {
      await registry.setMany(Array.from({ length: 300 }, (_, i) => ({ key: `k${i}`, value: new Uint8Array(1) })));
      for (const master of await cluster.masters()) {
        assert.ok(Number(await master.command('DBSIZE')) > 0, `master ${master.port} holds no key`);
      }
    } finally {
      await registry.close();
    }
  });
});
