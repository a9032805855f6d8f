import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { keySlot, RedisRegistry } from '../../../src/registry/redis/index.js';
import { type RedisClusterHandle, type RedisServerHandle, startRedisCluster } from '../../../src/testing/index.js';

const PREFIX = 'reshard:';
const KEYS = Array.from({ length: 300 }, (_, i) => `key:${i}`);

/** Moves `slot` with its keys from `source` to `target`, the way `redis-cli --cluster reshard` does. */
async function moveSlot(
  cluster: RedisClusterHandle,
  slot: number,
  source: RedisServerHandle,
  target: RedisServerHandle,
  keys: string[],
): Promise<void> {
  const sourceId = await source.command('CLUSTER', 'MYID');
  const targetId = await target.command('CLUSTER', 'MYID');
  await target.command('CLUSTER', 'SETSLOT', String(slot), 'IMPORTING', sourceId);
  await source.command('CLUSTER', 'SETSLOT', String(slot), 'MIGRATING', targetId);
  await source.command('MIGRATE', '127.0.0.1', String(target.port), '', '0', '5000', 'KEYS', ...keys);
  for (const node of await cluster.masters()) await node.command('CLUSTER', 'SETSLOT', String(slot), 'NODE', targetId);
}

describe('RedisRegistry when a slot moves to another master behind its back', () => {
  let cluster: RedisClusterHandle;
  let registry: RedisRegistry;

  before(async () => {
    cluster = await startRedisCluster({ masters: 3, replicasPerMaster: 0 });
    registry = await RedisRegistry.connect({ cluster: cluster.urls, keyPrefix: PREFIX });
  });

  after(async () => {
    await registry?.close();
    await cluster?.stop();
  });

  it('still reads, writes and deletes whole batches, following the move slot by slot', async () => {
    await registry.setMany(KEYS.map((key) => ({ key, value: Buffer.from(key) })));
    const [source, target] = await cluster.masters();
    assert.ok(source && target);
    const [first, last] = (await cluster.slotRanges(source))[0] ?? [0, 0];
    // the slot of the source holding most of our keys, so the batches mix moved and unmoved keys
    const bySlot = new Map<number, string[]>();
    for (const key of KEYS) {
      const slot = keySlot(PREFIX + key);
      if (slot >= first && slot <= last) bySlot.set(slot, [...(bySlot.get(slot) ?? []), key]);
    }
    const [slot, moved] = [...bySlot].sort((a, b) => b[1].length - a[1].length)[0] ?? [0, []];
    assert.ok(moved.length > 0);
    await moveSlot(
      cluster,
      slot,
      source,
      target,
      moved.map((key) => PREFIX + key),
    );
    assert.equal(await target.command('EXISTS', PREFIX + (moved[0] as string)), '1');

    // the registry's slot map still sends the moved keys to the source
    const read = await registry.getMany(KEYS);
    assert.deepEqual(
      read.map((record) => record?.value.toString()),
      KEYS,
    );
    const written = await registry.setMany(KEYS.map((key) => ({ key, value: Buffer.from(`${key}!`) })));
    assert.deepEqual(new Set(written.map((record) => record.version)), new Set([2]));
    assert.equal((await registry.get(moved[0] as string))?.value.toString(), `${moved[0] as string}!`);
    assert.equal(await target.command('EXISTS', PREFIX + (moved[0] as string)), '1');
    await assert.rejects(source.command('EXISTS', PREFIX + (moved[0] as string)), /^Error: MOVED/);
    assert.equal(await registry.deleteMany(KEYS), KEYS.length);
    assert.equal(await registry.size(), 0);
  });
});
