import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { EtcdRegistry } from '../../../src/registry/etcd/index.js';
import { isRegistryError, type RegistryChange } from '../../../src/registry/index.js';
import { type EtcdClusterHandle, ManualClock, startEtcdServer } from '../../../src/testing/index.js';

let server: EtcdClusterHandle;
let namespaces = 0;

before(async () => {
  server = await startEtcdServer();
});

after(async () => {
  await server?.stop();
});

/** A registry on the manual clock; etcd's leases run on real time, so they are kept from acting first. */
function open(clock: ManualClock): EtcdRegistry {
  return new EtcdRegistry(
    { hosts: [...server.endpoints], keyPrefix: `reasons:${namespaces++}:`, expiryGraceMs: 600_000 },
    { clock },
  );
}

/** The removals of the feed after `cursor`, as [key, version, reason], until `count` are seen. */
async function removals(registry: EtcdRegistry, cursor: string, count: number): Promise<[string, number, string][]> {
  const out: [string, number, string][] = [];
  for await (const change of registry.watch({ after: cursor, signal: AbortSignal.timeout(10_000) })) {
    if (change.type === 'removed') out.push([change.key, change.version, change.reason]);
    if (out.length === count) break;
  }
  return out;
}

describe('EtcdRegistry watch removal reasons, judged as of the removal', () => {
  it('replays a delete of a live record as delete after its deadline has passed since', async () => {
    const clock = new ManualClock(Date.now());
    const registry = open(clock);
    try {
      const start = await registry.cursor();
      await registry.set('session', Buffer.from('a'), { ttlMs: 1000 });
      assert.equal(await registry.delete('session'), true);
      clock.advance(5000);
      assert.deepEqual(await removals(registry, start, 1), [['session', 1, 'delete']]);
    } finally {
      await registry.close();
    }
  });

  it('replays a clear as clear, and a delete of a record already past its deadline as expire', async () => {
    const clock = new ManualClock(Date.now());
    const registry = open(clock);
    try {
      const start = await registry.cursor();
      await registry.set('stale', Buffer.from('s'), { ttlMs: 1000 });
      clock.advance(2000);
      assert.equal(await registry.delete('stale'), false, 'the record was no longer live');
      await registry.set('a', Buffer.from('1'));
      await registry.set('a', Buffer.from('2'));
      await registry.set('b', Buffer.from('3'), { ttlMs: 60_000 });
      await registry.clear();
      clock.advance(120_000);
      assert.deepEqual(await removals(registry, start, 3), [
        ['stale', 1, 'expire'],
        ['a', 2, 'clear'],
        ['b', 1, 'clear'],
      ]);
    } finally {
      await registry.close();
    }
  });

  it('gives the same reasons to a watch resumed in the middle of a transaction that removed several records', async () => {
    const clock = new ManualClock(Date.now());
    const registry = open(clock);
    try {
      // deadlines ahead: an unmarked removal of these would read as a lease running out
      await registry.setMany([
        { key: 'x', value: Buffer.from('x'), ttlMs: 60_000 },
        { key: 'y', value: Buffer.from('y'), ttlMs: 60_000 },
        { key: 'z', value: Buffer.from('z'), ttlMs: 60_000 },
      ]);
      const start = await registry.cursor();
      assert.equal(await registry.deleteMany(['x', 'y', 'z']), 3);
      let first: RegistryChange | undefined;
      for await (const change of registry.watch({ after: start, signal: AbortSignal.timeout(10_000) })) {
        first = change;
        break;
      }
      assert.equal(first?.type === 'removed' && first.key, 'x');
      assert.deepEqual(await removals(registry, (first as RegistryChange).cursor, 2), [
        ['y', 1, 'delete'],
        ['z', 1, 'delete'],
      ]);
    } finally {
      await registry.close();
    }
  });

  it('rejects with COMPACTED when etcd compacts the record a removal removed before the feed reads it', async () => {
    const clock = new ManualClock(Date.now());
    const registry = open(clock);
    try {
      await registry.set('gone', Buffer.from('g'));
      const before = await registry.cursor();
      const deletedAt = Number(before) + 1;
      // the fault: a compaction of history up to the delete lands between the stream delivering
      // the delete and the feed reading what it removed (real compaction, its timing forced)
      const kv = registry.client.kv;
      const txn = kv.txn.bind(kv);
      kv.txn = async (request, options) => {
        if (request.success?.some((op) => op.request_range?.revision !== undefined) === true) {
          await kv.compact({ revision: String(deletedAt), physical: true });
        }
        return txn(request, options);
      };
      const changes = registry.watch({ after: before, signal: AbortSignal.timeout(10_000) });
      const first = changes.next();
      await registry.delete('gone');
      const outcome = await first.catch((error: unknown) => error);
      assert.ok(isRegistryError(outcome, 'COMPACTED'), `the watch's outcome: ${JSON.stringify(outcome)}`);
    } finally {
      await registry.close();
    }
  });
});
