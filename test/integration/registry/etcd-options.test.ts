import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { EtcdRegistry, type EtcdRegistryOptions } from '../../../src/registry/etcd/index.js';
import { isRegistryError, type RegistryChange } from '../../../src/registry/index.js';
import { type EtcdClusterHandle, startEtcdCluster, startEtcdServer } from '../../../src/testing/index.js';

let server: EtcdClusterHandle;
const opened: EtcdRegistry[] = [];

before(async () => {
  server = await startEtcdServer();
});

after(async () => {
  for (const registry of opened) await registry.close();
  await server?.stop();
});

let namespaces = 0;

/** A registry on the file's member in a key namespace of its own, closed after the file. */
function open(options: Partial<EtcdRegistryOptions> = {}): EtcdRegistry {
  const registry = new EtcdRegistry({
    hosts: [...server.endpoints],
    keyPrefix: `options:${process.pid}:${namespaces++}:`,
    ...options,
  });
  opened.push(registry);
  return registry;
}

/** How many calls of gRPC `method` (`Range`, `Txn`, `Watch`, …) the member has started, or (`handled`) finished. */
async function grpcCalls(method: string, counter: 'started' | 'handled' = 'started'): Promise<number> {
  const text = await (await fetch(`${server.endpoints[0]}/metrics`)).text();
  let total = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith(`grpc_server_${counter}_total{`) && line.includes(`grpc_method="${method}"`)) {
      total += Number(line.slice(line.lastIndexOf(' ') + 1));
    }
  }
  return total;
}

/** Resolves once `check()` holds, polling every 20 ms; rejects after `withinMs`. */
async function until(what: string, check: () => boolean | Promise<boolean>, withinMs: number): Promise<void> {
  const deadline = Date.now() + withinMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${withinMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const text = (value: Uint8Array | undefined): string | undefined =>
  value === undefined ? undefined : Buffer.from(value).toString();

describe('EtcdRegistry scanPageSize', () => {
  it('scans 50 records in pages of 7, each record once and in key order, one range request per page', async () => {
    const registry = open({ scanPageSize: 7 });
    const keys = Array.from({ length: 50 }, (_, i) => `r${String(i).padStart(2, '0')}`);
    await registry.setMany([...keys].reverse().map((key) => ({ key, value: Buffer.from(key) })));
    const ranges = await grpcCalls('Range');
    const scanned: string[] = [];
    for await (const record of registry.scan()) {
      assert.equal(text(record.value), record.key);
      scanned.push(record.key);
    }
    assert.deepEqual(scanned, keys);
    // 7 full pages say there is more; the 8th holds the last record
    assert.equal((await grpcCalls('Range')) - ranges, 8);
  });
});

describe('EtcdRegistry revisionCacheSize', () => {
  it('writes a key it still remembers in one transaction, and one it forgot in two (a failed guess, then the write)', async () => {
    const registry = open({ revisionCacheSize: 2 });
    for (const key of ['a', 'b', 'c']) await registry.set(key, Buffer.from('1'));
    // the cache holds b and c now: a was the least recently used
    let txns = await grpcCalls('Txn');
    assert.equal((await registry.set('c', Buffer.from('2'))).version, 2);
    assert.equal((await grpcCalls('Txn')) - txns, 1, 'c: remembered');
    txns = await grpcCalls('Txn');
    assert.equal((await registry.set('a', Buffer.from('2'))).version, 2);
    assert.equal((await grpcCalls('Txn')) - txns, 2, 'a: forgotten');
    txns = await grpcCalls('Txn');
    assert.equal((await registry.set('a', Buffer.from('3'))).version, 3);
    assert.equal((await grpcCalls('Txn')) - txns, 1, 'a: remembered again');
  });
});

describe('EtcdRegistry leaseWindowMs', () => {
  it('puts 500 records with deadlines spread over 3 s on one etcd lease per 1 s window they fall in', async () => {
    const registry = open({ leaseWindowMs: 1000 });
    const entries = Array.from({ length: 500 }, (_, i) => ({
      key: `leased:${i}`,
      value: Buffer.from('x'),
      ttlMs: 60_000 + (i % 30) * 100,
    }));
    const records = await registry.setMany(entries);
    const windows = new Set(records.map((r) => Math.ceil((r.expiresAt as number) / 1000))).size;
    // every lease etcd holds, and the keys of this registry's namespace on each
    const { leases } = await registry.client.leaseClient.leaseLeases();
    let holding = 0;
    let keys = 0;
    for (const { ID } of leases) {
      const lease = await registry.client.leaseClient.leaseTimeToLive({ ID, keys: true });
      const ours = lease.keys.filter((k) => k.toString().startsWith(registry.options.keyPrefix)).length;
      if (ours > 0) holding++;
      keys += ours;
    }
    assert.equal(keys, 500, 'every record rides a lease');
    assert.ok(holding >= 1 && holding <= windows + 1, `${holding} leases for ${windows} windows`);
    assert.ok(registry.leaseCount <= windows + 1, `the registry holds ${registry.leaseCount} leases`);
  });
});

describe('EtcdRegistry watchBuffer', () => {
  it('delivers 400 changes written while a slow consumer reads ahead at most 2, all of them in order', async () => {
    const registry = open({ watchBuffer: 2 });
    const start = await registry.cursor();
    const expected: string[] = [];
    const writing = (async () => {
      // batches of 20: each etcd response brings 10 times the buffer
      for (let batch = 0; batch < 20; batch++) {
        const entries = Array.from({ length: 20 }, (_, i) => ({ key: `k${i}`, value: Buffer.from(String(batch)) }));
        for (const record of await registry.setMany(entries)) expected.push(`${record.key}@${record.version}`);
      }
    })();
    const seen: string[] = [];
    for await (const change of registry.watch({ after: start, signal: AbortSignal.timeout(30_000) })) {
      assert.equal(change.type, 'set');
      if (change.type === 'set') seen.push(`${change.record.key}@${change.record.version}`);
      if (seen.length === 400) break;
      await new Promise((r) => setImmediate(r));
    }
    await writing;
    assert.deepEqual(seen, expected);
  });
});

describe('EtcdRegistry lease expiry in the watch feed', () => {
  it("reports a watched record etcd's lease removed as removed / expire with the record's version, without any read", async () => {
    // 100 ms windows, no grace: the record's lease is granted for 1 s (etcd's unit)
    const registry = open({ leaseWindowMs: 100, expiryGraceMs: 0 });
    let met = 0;
    registry.on('record:removed', () => met++);
    const start = await registry.cursor();
    await registry.set('short', Buffer.from('a'), { ttlMs: 500 });
    await registry.set('short', Buffer.from('b'), { ttlMs: 500 });
    const changes: RegistryChange[] = [];
    for await (const change of registry.watch({ after: start, signal: AbortSignal.timeout(10_000) })) {
      changes.push(change);
      if (change.type === 'removed') break;
    }
    assert.deepEqual(
      changes.map((c) => (c.type === 'set' ? ['set', c.record.key, c.record.version] : [c.type, c.key, c.version])),
      [
        ['set', 'short', 1],
        ['set', 'short', 2],
        ['removed', 'short', 2],
      ],
    );
    const removed = changes[2];
    assert.equal(removed?.type === 'removed' ? removed.reason : undefined, 'expire');
    assert.equal(met, 0, 'the registry itself met no expired record: etcd removed it');
    const { kvs } = await registry.client.kv.range({ key: Buffer.from(`${registry.options.keyPrefix}short`) });
    assert.equal(kvs.length, 0, 'etcd holds the key no more');
  });
});

describe('EtcdRegistry watch streams', () => {
  it('closes the etcd watch stream of a loop that breaks out of its watch', async () => {
    const registry = open();
    const start = await registry.cursor();
    await registry.set('w', Buffer.from('1'));
    const ended = await grpcCalls('Watch', 'handled');
    for await (const change of registry.watch({ after: start, signal: AbortSignal.timeout(10_000) })) {
      assert.equal(change.type, 'set');
      assert.equal(registry.watchHosts.length, 1, 'the watch is connected while it delivers');
      break;
    }
    assert.deepEqual(registry.watchHosts, []);
    await until('etcd sees the stream end', async () => (await grpcCalls('Watch', 'handled')) === ended + 1, 10_000);
  });
});

describe('EtcdRegistry fenced set', () => {
  it("refuses a fence that is no lock's of this registry with INVALID_OPTION, sending nothing and changing nothing", async () => {
    const registry = open();
    const other = open();
    await registry.set('guarded', Buffer.from('1'));
    const held = await registry.lock('guard', { ttlMs: 5000 });
    const foreign = await other.lock('guard', { ttlMs: 5000 });
    const { header } = await registry.client.kv.range({ key: Buffer.from('revision-probe') });
    const bad: unknown[] = [
      'token',
      held.token,
      { token: held.token },
      { entry: held.fence.entry, token: Number(held.token) },
      { entry: held.fence.entry, token: 'abc' },
      { entry: 'a/b', token: held.token },
      { entry: `${registry.options.keyPrefix}guarded/1`, token: held.token },
      foreign.fence,
    ];
    for (const fence of bad) {
      await assert.rejects(
        registry.set('guarded', Buffer.from('2'), { fence: fence as never }),
        (e: unknown) => isRegistryError(e, 'INVALID_OPTION') && /^fence must be/.test(e.message),
        JSON.stringify(fence),
      );
    }
    const after = await registry.client.kv.range({ key: Buffer.from('revision-probe') });
    assert.equal(after.header.revision, header.revision, 'etcd changed nothing');
    const record = await registry.get('guarded');
    assert.equal(record?.version, 1);
    assert.equal(text(record?.value), '1');
    assert.equal((await registry.set('guarded', Buffer.from('3'), { fence: held.fence })).version, 2);
    await held.release();
    await foreign.release();
  });
});

describe('EtcdRegistry lock and campaign ttlMs', () => {
  it('refuses a ttlMs of 0, below 0, NaN or fractional with INVALID_TTL, and one over ~24.8 days with INVALID_OPTION, granting no lease', async () => {
    const registry = open();
    const leases = (await registry.client.leaseClient.leaseLeases()).leases.length;
    for (const ttlMs of [0, -1, Number.NaN, 1.5]) {
      await assert.rejects(
        registry.lock('ttl', { ttlMs }),
        (e: unknown) => isRegistryError(e, 'INVALID_TTL') && /^ttlMs/.test(e.message),
        String(ttlMs),
      );
    }
    for (const ttlMs of [2_147_483_001, 2 ** 33, 1e13]) {
      await assert.rejects(
        registry.lock('ttl', { ttlMs }),
        (e: unknown) => isRegistryError(e, 'INVALID_OPTION') && /^ttlMs must be at most 2147483000 ms/.test(e.message),
        String(ttlMs),
      );
      await assert.rejects(registry.campaign('ttl', Buffer.from('x'), { ttlMs }), (e: unknown) =>
        isRegistryError(e, 'INVALID_OPTION'),
      );
    }
    assert.equal((await registry.client.leaseClient.leaseLeases()).leases.length, leases, 'no lease granted');
  });
});

describe('EtcdRegistry consistency: serializable', () => {
  let cluster: EtcdClusterHandle;

  before(async () => {
    cluster = await startEtcdCluster(3);
  });

  after(async () => {
    await cluster?.stop();
  });

  it('reads written records from a member cut off from its quorum, where a linearizable read fails', async () => {
    const survivor = cluster.members[2]?.clientUrl as string;
    const keyPrefix = `serializable:${process.pid}:`;
    const writer = new EtcdRegistry({ hosts: [survivor], keyPrefix, timeoutMs: 1000 });
    const reader = new EtcdRegistry({ hosts: [survivor], keyPrefix, consistency: 'serializable', timeoutMs: 1000 });
    try {
      await writer.setMany(['a', 'b', 'c'].map((key) => ({ key, value: Buffer.from(`${key}1`) })));
      // a linearizable read on the survivor: it has applied every write
      assert.equal(text((await writer.get('c'))?.value), 'c1');
      await cluster.members[0]?.kill9();
      await cluster.members[1]?.kill9();
      await assert.rejects(
        writer.get('a'),
        (e: unknown) => isRegistryError(e, 'TIMEOUT') || isRegistryError(e, 'BACKEND_UNAVAILABLE'),
      );
      assert.equal(text((await reader.get('a'))?.value), 'a1');
      assert.deepEqual(
        (await reader.getMany(['c', 'missing', 'b'])).map((r) => text(r?.value)),
        ['c1', undefined, 'b1'],
      );
      const scanned: string[] = [];
      for await (const record of reader.scan()) scanned.push(record.key);
      assert.deepEqual(scanned, ['a', 'b', 'c']);
    } finally {
      await writer.close();
      await reader.close();
    }
  });
});
