import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { idToHex, type NodeId } from '../../../../src/kad/id.js';
import { createNode, type KadNode } from '../../../../src/kad/node/node.js';
import { endpointKey } from '../../../../src/kad/transport/transport.js';
import type { KadNodeOptions } from '../../../../src/kad/node/options.js';
import { buildKadNetwork, type KadTestNetwork } from '../../../helpers/kad-network.js';

const MINUTE = 60_000;
const text = (s: string): Uint8Array => new TextEncoder().encode(s);
/** Republishing far away, so that only replication moves items in these tests. */
const NO_REPUBLISH = { republishMs: 100 * 60 * MINUTE, reannounceMs: 100 * 60 * MINUTE };

async function advance(net: KadTestNetwork, minutes: number): Promise<void> {
  for (let i = 0; i < minutes; i++) await net.clock.advanceAsync(MINUTE);
}

/** Whether `holder` answers a direct `get` of `target` with the item. */
async function holds(net: KadTestNetwork, holder: KadNode, target: NodeId): Promise<boolean> {
  const asker = net.alive().find((n) => n !== holder) as KadNode;
  return (await net.run(asker.getItem(holder.address(), target))).item !== undefined;
}

/** A node joining with the id closest to `target` there can be (all bits equal but the last). */
async function joinNextTo(net: KadTestNetwork, target: NodeId, options: KadNodeOptions = {}): Promise<KadNode> {
  const id = Uint8Array.from(target);
  id[19] = (id[19] as number) ^ 1;
  const node = await createNode({
    ...options,
    id,
    transport: net.network.createTransport(),
    clock: net.clock,
    bootstrap: [(net.alive()[0] as KadNode).address()],
  });
  net.nodes.push(node);
  await net.run(node.ready);
  return node;
}

/**
 * Kills up to three nodes of each item's `storedOn`, at once, as long as every item keeps at
 * least four live holders (items whose targets are near share their holders).
 */
async function killSome(net: KadTestNetwork, puts: readonly { storedOn: readonly { id: NodeId }[] }[]): Promise<void> {
  const doomed = new Set<string>();
  const live = (put: (typeof puts)[number]): number => put.storedOn.filter((c) => !doomed.has(idToHex(c.id))).length;
  for (const put of puts) {
    let killed = 0;
    for (const contact of put.storedOn) {
      const key = idToHex(contact.id);
      if (killed === 3 || doomed.has(key)) continue;
      doomed.add(key);
      if (puts.every((p) => live(p) >= 4)) killed++;
      else doomed.delete(key);
    }
  }
  assert.ok(doomed.size >= puts.length);
  for (const [i, node] of net.nodes.entries()) if (doomed.has(idToHex(node.id))) await net.kill(i);
}

const byId = (net: KadTestNetwork, id: NodeId): KadNode =>
  net.nodes.find((n) => idToHex(n.id) === idToHex(id)) as KadNode;

describe('KadNode replication of the items it stores for others', () => {
  it('puts a stored item on a node that joins closer to its target than the k-th closest', async () => {
    const net = await buildKadNetwork({ size: 30, seed: 41, node: { maintenance: NO_REPUBLISH } });
    try {
      const put = await net.run((net.nodes[1] as KadNode).put({ v: text('handed over') }));
      const newcomer = await joinNextTo(net, put.target, { maintenance: NO_REPUBLISH });
      assert.equal(await holds(net, newcomer, put.target), false);
      await advance(net, 3);
      assert.equal(await holds(net, newcomer, put.target), true);
      const replicated = net.nodes.reduce((sum, n) => sum + n.stats().maintenance.replicated, 0);
      // the closest holder puts it on all k closest (renewing copies of unknown age); the others
      // ask first and put only where it is missing: at most every holder once more
      assert.ok(replicated >= 1 && replicated <= 2 * 8, `${replicated} puts`);
    } finally {
      await net.close();
    }
  });

  it('puts stored items on the nodes that became their k closest when some of the k closest die', async () => {
    const net = await buildKadNetwork({ size: 40, seed: 42, node: { maintenance: NO_REPUBLISH } });
    try {
      const puts = [];
      for (let i = 0; i < 4; i++) puts.push(await net.run((net.nodes[i] as KadNode).put({ v: text(`item ${i}`) })));
      // up to three of the k closest of each item die at once
      await killSome(net, puts);
      await advance(net, 25);
      for (const put of puts) {
        for (const contact of net.trueClosest(put.target, 8)) {
          assert.ok(await holds(net, byId(net, contact.id), put.target), 'one of the k closest live nodes lacks it');
        }
      }
    } finally {
      await net.close();
    }
  });

  it('renews the old copy of a node that moved into the k closest as one of them died, where the closest node cannot reach it', async () => {
    const net = await buildKadNetwork({ size: 40, seed: 44, node: { maintenance: NO_REPUBLISH } });
    try {
      const v = text('moved up');
      const put = await net.run((net.nodes[1] as KadNode).put({ v }));
      // each of the k closest replicates to the k closest others: the ninth too gets copies, the tenth none
      const ranked = net.trueClosest(put.target, 10).map((c) => byId(net, c.id));
      const [closest, doomed] = ranked as [KadNode, KadNode];
      const tenth = ranked[9] as KadNode;
      const asker = net.alive().find((n) => !ranked.includes(n)) as KadNode;
      // the closest node (which renews every copy it knows of) and the tenth never hear from each other
      const pair = new Set([endpointKey(closest.address()), endpointKey(tenth.address())]);
      net.network.setDropFilter((p) => pair.has(endpointKey(p.from)) && pair.has(endpointKey(p.to)));
      // the tenth gets a copy at the start, which nobody renews while it is not one of the k closest
      const { token } = await net.run(asker.getItem(tenth.address(), put.target));
      assert.ok(token !== undefined);
      await net.run(asker.putItem(tenth.address(), { v }, token));
      await advance(net, 90);
      // its publisher puts it again: the k closest get fresh copies, the tenth keeps its old one
      const again = await net.run((net.nodes[1] as KadNode).put({ v }));
      assert.ok(!again.storedOn.some((c) => idToHex(c.id) === idToHex(tenth.id)));
      await advance(net, 5);
      assert.equal(await holds(net, tenth, put.target), true);
      // one of the k closest dies: the tenth moves up, holding a copy 25 minutes from its expiry
      await net.kill(net.nodes.indexOf(doomed));
      await advance(net, 30);
      assert.equal(await holds(net, tenth, put.target), true, 'its copy expired, not renewed');
    } finally {
      await net.close();
    }
  });

  it('asks again on the next tick a node whose get or put went unanswered, though the tables did not change', async () => {
    const net = await buildKadNetwork({ size: 30, seed: 43, node: { maintenance: NO_REPUBLISH } });
    try {
      const put = await net.run((net.nodes[1] as KadNode).put({ v: text('lost once') }));
      // every get and put of the item's target is lost for the first minutes after the newcomer
      // joined, the replication round's among them; pings and find_node go through, so the
      // newcomer stays in every table and no table changes after it joined
      let cut = true;
      const target = Buffer.from(put.target);
      const aboutItem = (data: Uint8Array): boolean =>
        Buffer.from(data).includes(target) && ['1:q3:get', '1:q3:put'].some((q) => Buffer.from(data).includes(q));
      net.network.setDropFilter((p) => cut && aboutItem(p.data));
      const newcomer = await joinNextTo(net, put.target, { maintenance: NO_REPUBLISH });
      await advance(net, 2);
      cut = false;
      assert.equal(await holds(net, newcomer, put.target), false);
      await advance(net, 2);
      assert.equal(await holds(net, newcomer, put.target), true);
    } finally {
      await net.close();
    }
  });

  it('spends at most replicateRequestsPerMinute, and catches up later', async () => {
    const maintenance = { ...NO_REPUBLISH, replicateRequestsPerMinute: 2 };
    const net = await buildKadNetwork({ size: 40, seed: 43, node: { maintenance } });
    try {
      const puts = [];
      for (let i = 0; i < 6; i++) puts.push(await net.run((net.nodes[i] as KadNode).put({ v: text(`slow ${i}`) })));
      await killSome(net, puts);
      // requests of every live node, minute by minute: no 5-minute window over 2 × 5 (+ the bucket's 2)
      const series = net.alive().map(() => [] as number[]);
      for (let minute = 0; minute < 30; minute++) {
        await advance(net, 1);
        net.alive().forEach((node, i) => series[i]?.push(node.stats().maintenance.replicationRequests));
      }
      for (const counts of series) {
        for (let from = 0; from + 5 < counts.length; from++) {
          const spent = (counts[from + 5] as number) - (counts[from] as number);
          assert.ok(spent <= 2 * 5 + 2, `a node sent ${spent} replication requests in 5 minutes`);
        }
      }
      await advance(net, 20);
      for (const put of puts) {
        for (const contact of net.trueClosest(put.target, 8)) {
          assert.ok(await holds(net, byId(net, contact.id), put.target));
        }
      }
    } finally {
      await net.close();
    }
  });

  it('lets an item expire within three lifetimes once its publisher stops re-putting it, where no node joins', async () => {
    const net = await buildKadNetwork({ size: 30, seed: 44, node: { maintenance: NO_REPUBLISH } });
    try {
      const publisher = net.nodes[2] as KadNode;
      const put = await net.run(publisher.put({ v: text('abandoned') }));
      publisher.unpublish(put.target);
      await advance(net, 3 * 120); // three 2-hour item lifetimes
      for (const node of net.alive()) assert.equal(await holds(net, node, put.target), false);
    } finally {
      await net.close();
    }
  });

  it('replicates an item but not an announcement of the same target', async () => {
    const net = await buildKadNetwork({ size: 30, seed: 45, node: { maintenance: NO_REPUBLISH } });
    try {
      const put = await net.run((net.nodes[1] as KadNode).put({ v: text('item, not peer') }));
      await net.run((net.nodes[2] as KadNode).announce(put.target, { port: 9000 }));
      const newcomer = await joinNextTo(net, put.target, { maintenance: NO_REPUBLISH });
      await advance(net, 5);
      assert.equal(await holds(net, newcomer, put.target), true);
      const peers = await net.run((net.nodes[3] as KadNode).getPeers(newcomer.address(), put.target));
      assert.deepEqual(peers.values, []);
    } finally {
      await net.close();
    }
  });

  it('replicates nothing with replicate: false', async () => {
    const off = { ...NO_REPUBLISH, replicate: false };
    const net = await buildKadNetwork({ size: 30, seed: 46, node: { maintenance: off } });
    try {
      const put = await net.run((net.nodes[1] as KadNode).put({ v: text('stays put') }));
      const newcomer = await joinNextTo(net, put.target, { maintenance: off });
      await advance(net, 5);
      assert.equal(await holds(net, newcomer, put.target), false);
      assert.equal(
        net.nodes.reduce((sum, n) => sum + n.stats().maintenance.replicationRequests, 0),
        0,
      );
    } finally {
      await net.close();
    }
  });
});
