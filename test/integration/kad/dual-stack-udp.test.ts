/**
 * A dual-stack node (BEP 32) on real UDP sockets, 127.0.0.1 and ::1, queried from single-family
 * nodes of each family. Every wait is bounded; nothing leaves loopback.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { immutableTarget } from '../../../src/kad/items.js';
import { createNode, type KadNode } from '../../../src/kad/node/node.js';
import type { RemoteInfo } from '../../../src/kad/transport/transport.js';

const WAIT_MS = 5000;
const TARGET = new Uint8Array(20).fill(0x5a);
const signal = (): AbortSignal => AbortSignal.timeout(WAIT_MS);

describe('dual-stack node on 127.0.0.1 and ::1', () => {
  let dual: KadNode;
  let v4: KadNode;
  let v6: KadNode;
  let address4: RemoteInfo;
  let address6: RemoteInfo;

  before(async () => {
    dual = await createNode({ host: '127.0.0.1', port: 0, host6: '::1', port6: 0, signal: signal() });
    [address4, address6] = dual.addresses() as [RemoteInfo, RemoteInfo];
    v4 = await createNode({ host: '127.0.0.1', port: 0, signal: signal() });
    v6 = await createNode({ host: '::1', port: 0, signal: signal() });
  });

  after(async () => {
    await Promise.all([dual, v4, v6].map((node) => node?.close()));
  });

  it('binds one UDP socket per family', () => {
    assert.equal(address4.host, '127.0.0.1');
    assert.equal(address4.family, 4);
    assert.equal(address6.host, '::1');
    assert.equal(address6.family, 6);
    assert.notEqual(address4.port, 0);
    assert.notEqual(address6.port, 0);
    assert.deepEqual(dual.address(), address4);
  });

  it('answers a ping over each family and puts each querier in the table of its family', async () => {
    assert.deepEqual((await v4.ping(address4, { signal: signal() })).id, dual.id);
    assert.deepEqual((await v6.ping(address6, { signal: signal() })).id, dual.id);
    assert.deepEqual(
      dual.contacts(undefined, undefined, { family: 4 }).map((c) => c.id),
      [v4.id],
    );
    assert.deepEqual(
      dual.contacts(undefined, undefined, { family: 6 }).map((c) => c.id),
      [v6.id],
    );
  });

  it('answers find_node from either family with nodes, nodes6 or both as want asks', async () => {
    const plain4 = await v4.findNode(address4, TARGET, { signal: signal() });
    assert.deepEqual([plain4.nodes.length, plain4.nodes6.length], [1, 0]);
    const plain6 = await v6.findNode(address6, TARGET, { signal: signal() });
    assert.deepEqual([plain6.nodes.length, plain6.nodes6.length], [0, 1]);
    const both = await v4.findNode(address4, TARGET, { want: ['n4', 'n6'], signal: signal() });
    assert.deepEqual(
      both.nodes.map((c) => c.port),
      [v4.address().port],
    );
    assert.deepEqual(both.nodes6, [{ id: v6.id, host: '::1', port: v6.address().port }]);
    const only4 = await v6.findNode(address6, TARGET, { want: ['n4'], signal: signal() });
    assert.deepEqual(only4.nodes, [{ id: v4.id, host: '127.0.0.1', port: v4.address().port }]);
  });

  it('serves one store to both families: an item put over IPv6 is got over IPv4', async () => {
    const v = new TextEncoder().encode('put over ::1');
    const { token } = await v6.getItem(address6, immutableTarget(v), { signal: signal() });
    await v6.putItem(address6, { v }, token as Uint8Array, { signal: signal() });
    const { item } = await v4.getItem(address4, immutableTarget(v), { signal: signal() });
    assert.deepEqual(item, { v });
  });

  it('sends its own queries over the socket of the destination family and learns both external addresses', async () => {
    await dual.ping(v6.address(), { signal: signal() });
    await dual.ping(v4.address(), { signal: signal() });
    const stats = dual.stats();
    assert.equal(stats.families[4]?.rpc.queriesOut.ping, 1);
    assert.equal(stats.families[6]?.rpc.queriesOut.ping, 1);
    assert.deepEqual(dual.externalAddress(4), address4);
    assert.deepEqual(dual.externalAddress(6), address6);
  });

  it('bootstraps a new dual-stack node from the IPv4 address alone into both tables', async () => {
    const fresh = await createNode({
      host: '127.0.0.1',
      host6: '::1',
      bootstrap: [address4],
      bootstrapTimeoutMs: WAIT_MS,
    });
    try {
      assert.ok((await fresh.bootstrapped) >= 3);
      const stats = fresh.stats();
      assert.ok((stats.families[4]?.contacts ?? 0) >= 2); // the dual node and v4
      assert.ok((stats.families[6]?.contacts ?? 0) >= 1); // v6, learned from nodes6
    } finally {
      await fresh.close();
    }
  });
});
