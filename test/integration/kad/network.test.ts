import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { compareDistance, randomId } from '../../../src/kad/id.js';
import { createMutableItem, keyPairFromSeed, mutableTarget } from '../../../src/kad/items.js';
import type { KadNode } from '../../../src/kad/node/types.js';
import { createTestnet, type MemoryTestnet } from '../../../src/testing/index.js';

const SIZE = 50;

describe('a network of 50 nodes on a MemoryNetwork', () => {
  let net: MemoryTestnet;
  const at = (i: number): KadNode => net.nodes[i % SIZE] as KadNode;

  before(async () => {
    net = await createTestnet({
      nodes: SIZE,
      bootstrap: 'first',
      network: { latencyMs: (p) => 2 + (p.data.length % 7) },
    });
  });

  after(() => net.close());

  it('gives every node a non-empty routing table after bootstrap', () => {
    for (const node of net.nodes) assert.ok(node.stats().contacts >= 1, `node ${node.address().host} has no contact`);
    assert.ok(at(0).stats().contacts >= 8);
  });

  it('has every node answer a ping from every other node', async () => {
    const pings: Promise<unknown>[] = [];
    for (let i = 0; i < SIZE; i++) for (let j = 0; j < SIZE; j++) if (i !== j) pings.push(at(i).ping(at(j).address()));
    const results = await net.settle(Promise.allSettled(pings));
    assert.equal(results.filter((r) => r.status === 'rejected').length, 0);
    const answered = net.nodes.reduce((sum, n) => sum + n.stats().rpc.responsesSent, 0);
    assert.ok(answered >= SIZE * (SIZE - 1));
  });

  it('answers find_node with at most k contacts, closest first', async () => {
    for (let i = 0; i < SIZE; i++) {
      const target = randomId();
      const { nodes: found } = await net.settle(at(i).findNode(at(i + 7).address(), target));
      assert.ok(found.length >= 1 && found.length <= 8);
      for (let j = 1; j < found.length; j++) {
        assert.ok(
          compareDistance(target, (found[j - 1] as { id: Uint8Array }).id, (found[j] as { id: Uint8Array }).id) < 0,
        );
      }
    }
  });

  it('lets one node announce to another and a third find the peer there', async () => {
    const infoHash = randomId();
    const { token } = await net.settle(at(3).getPeers(at(10).address(), infoHash));
    await net.settle(at(3).announcePeer(at(10).address(), infoHash, 51413, token as Uint8Array));
    const { values } = await net.settle(at(20).getPeers(at(10).address(), infoHash));
    assert.deepEqual(values, [{ host: at(3).address().host, port: 51413 }]);
  });

  it('lets one node put a mutable item and another get it back, verified', async () => {
    const keys = keyPairFromSeed(new Uint8Array(32).fill(5));
    const item = createMutableItem(keys, new TextEncoder().encode('across the network'), 1);
    const target = mutableTarget(keys.publicKey);
    const { token } = await net.settle(at(5).getItem(at(30).address(), target));
    await net.settle(at(5).putItem(at(30).address(), item, token as Uint8Array));
    const got = await net.settle(at(40).getItem(at(30).address(), target));
    assert.deepEqual(got.item, item);
  });
});
