/**
 * What a join waits for and what it costs: the self-lookup starts at the first bootstrap answer,
 * and the refresh of empty buckets that ends a join is bounded.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bucketIndex, idToHex } from '../../../../src/kad/id.js';
import { JOIN_REFRESH_BUCKETS, JOIN_REFRESH_REQUESTS } from '../../../../src/kad/node/dht-operations.js';
import { createNode, type KadNode } from '../../../../src/kad/node/node.js';
import { decodeMessage } from '../../../../src/kad/wire/krpc.js';
import { buildKadNetwork } from '../../../helpers/kad-network.js';

describe('the cost of a join', () => {
  it('is ready before a slow bootstrap node answers, and takes that node in when it does', async () => {
    let slow = '';
    const net = await buildKadNetwork({
      size: 40,
      seed: 5,
      // 2 s each way to and from the slow node (once it is chosen), 5 ms elsewhere
      latencyMs: (packet) => (packet.to.host === slow || packet.from.host === slow ? 2000 : 5),
    });
    try {
      const [, slowNode, quick] = net.nodes as [KadNode, KadNode, KadNode];
      slow = slowNode.address().host;
      // the id farthest from the slow node's: it is not one of the k closest the self-lookup waits for
      const id = Uint8Array.from(slowNode.id);
      id[0] = (id[0] as number) ^ 0x80;
      const node = await createNode({
        id,
        transport: net.network.createTransport(),
        clock: net.clock,
        bootstrap: [slowNode.address(), quick.address()],
      });
      try {
        const start = net.clock.now();
        await net.run(node.ready);
        assert.ok(net.clock.now() - start < 1000, `ready after ${net.clock.now() - start} ms`);
        assert.ok(!node.contacts().some((c) => idToHex(c.id) === idToHex(slowNode.id)));
        await net.clock.advanceAsync(5000);
        assert.ok(
          node.contacts().some((c) => idToHex(c.id) === idToHex(slowNode.id)),
          'the slow node joined late',
        );
      } finally {
        await node.close();
      }
    } finally {
      await net.close();
    }
  });

  it('refreshes a few empty buckets short of the k closest, each within a few requests', async () => {
    const net = await buildKadNetwork({ size: 150, seed: 6 });
    try {
      const transport = net.network.createTransport();
      const targets = new Map<string, number>();
      net.network.setDropFilter((packet) => {
        if (packet.from.host !== transport.address().host) return false;
        const message = decodeMessage(packet.data);
        if (message.y === 'q' && message.q === 'find_node') {
          const target = idToHex(message.a['target'] as Uint8Array);
          targets.set(target, (targets.get(target) ?? 0) + 1);
        }
        return false;
      });
      const node = await createNode({ transport, clock: net.clock, bootstrap: [(net.nodes[0] as KadNode).address()] });
      try {
        await net.run(node.ready);
        net.network.setDropFilter(undefined);
        targets.delete(idToHex(node.id));
        const kth = net.trueClosest(node.id, 8)[7];
        assert.ok(kth !== undefined);
        const reach = bucketIndex(node.id, kth.id);
        assert.ok(targets.size > 0, 'some bucket was refreshed');
        assert.ok(targets.size <= JOIN_REFRESH_BUCKETS, `${targets.size} buckets refreshed`);
        for (const [target, queries] of targets) {
          assert.ok(queries <= JOIN_REFRESH_REQUESTS, `${queries} queries to refresh one bucket`);
          const bucket = bucketIndex(node.id, Uint8Array.from(Buffer.from(target, 'hex')));
          assert.ok(bucket < reach, `bucket ${bucket} is within the self-lookup's reach (${reach})`);
          assert.ok(
            node.contacts().some((c) => bucketIndex(node.id, c.id) === bucket),
            `bucket ${bucket} still empty`,
          );
        }
      } finally {
        await node.close();
      }
    } finally {
      await net.close();
    }
  });
});
