import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { idToHex, randomId } from '../../../../src/kad/id.js';
import { keyPairFromSeed, type MutableItem } from '../../../../src/kad/items.js';
import { createNode, type KadNode } from '../../../../src/kad/node/node.js';
import type { RepublishFailedEvent } from '../../../../src/kad/node/maintenance-types.js';
import { buildKadNetwork, type KadTestNetwork } from '../../../helpers/kad-network.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const text = (s: string): Uint8Array => new TextEncoder().encode(s);

async function advance(net: KadTestNetwork, ms: number): Promise<void> {
  for (let t = 0; t < ms; t += MINUTE) await net.clock.advanceAsync(MINUTE);
}

/** What `node` holds under `target`, asked directly (no lookup). */
async function heldBy(net: KadTestNetwork, asker: KadNode, holder: KadNode, target: Uint8Array, salt?: Uint8Array) {
  return (await net.run(asker.getItem(holder.address(), target, salt === undefined ? {} : { salt }))).item;
}

describe('KadNode republishing what it published', () => {
  it('puts an item again every hour, so it outlives the 2-hour item lifetime; unpublish ends that', async () => {
    // replication off: only the publisher keeps the items alive here
    const net = await buildKadNetwork({ size: 20, seed: 31, node: { maintenance: { replicate: false } } });
    try {
      const publisher = net.nodes[3] as KadNode;
      const kept = await net.run(publisher.put({ v: text('kept alive') }));
      const dropped = await net.run(publisher.put({ v: text('let go') }));
      assert.equal(publisher.unpublish(dropped.target), true);
      await advance(net, 3 * HOUR + 2 * MINUTE);
      const reader = net.nodes[15] as KadNode;
      assert.deepEqual((await net.run(reader.get(kept.target)))?.item, { v: text('kept alive') });
      assert.equal(await net.run(reader.get(dropped.target)), undefined);
      const m = publisher.stats().maintenance;
      assert.equal(m.republished, 3, 'one republish an hour');
      assert.ok(m.republishRequests > 0);
    } finally {
      await net.close();
    }
  });

  it('republishes a mutable item with its seq and signature, onto a node that joined closer to it', async () => {
    const net = await buildKadNetwork({ size: 20, seed: 32, node: { maintenance: { replicate: false } } });
    try {
      const publisher = net.nodes[2] as KadNode;
      const keys = keyPairFromSeed(new Uint8Array(32).fill(5));
      const put = await net.run(publisher.putMutable(keys, text('signed once'), { salt: text('s') }));
      const item = put.item as MutableItem;
      // a node whose id is the target but for its last bit: the closest there can be
      const id = Uint8Array.from(put.target);
      id[19] = (id[19] as number) ^ 1;
      const newcomer = await createNode({
        id,
        transport: net.network.createTransport(),
        clock: net.clock,
        bootstrap: [(net.nodes[0] as KadNode).address()],
        maintenance: { replicate: false },
      });
      net.nodes.push(newcomer);
      await net.run(newcomer.ready);
      assert.equal(await heldBy(net, publisher, newcomer, put.target, text('s')), undefined);
      await advance(net, HOUR + 2 * MINUTE);
      const held = (await heldBy(net, publisher, newcomer, put.target, text('s'))) as MutableItem | undefined;
      assert.ok(held !== undefined, 'the republish reached the new closest node');
      assert.equal(held.seq, item.seq);
      assert.deepEqual(held.sig, item.sig);
      assert.deepEqual(held.v, text('signed once'));
    } finally {
      await net.close();
    }
  });

  it('announces again every 25 minutes, so the peer outlives the 30-minute peer lifetime; stopAnnouncing ends it', async () => {
    const net = await buildKadNetwork({ size: 20, seed: 33 });
    try {
      const peer = net.nodes[4] as KadNode;
      const infoHash = randomId();
      await net.run(peer.announce(infoHash, { port: 7000 }));
      await advance(net, 2 * HOUR);
      const reader = net.nodes[12] as KadNode;
      assert.deepEqual(
        (await net.run(reader.getPeersOf(infoHash))).map((p) => p.port),
        [7000],
      );
      assert.ok(peer.stats().maintenance.reannounced >= 4);
      assert.equal(peer.stopAnnouncing(infoHash), true);
      await advance(net, 35 * MINUTE);
      assert.deepEqual(await net.run(reader.getPeersOf(infoHash)), []);
    } finally {
      await net.close();
    }
  });

  it('stops republishing a mutable item once the nodes hold a newer seq of its key', async () => {
    const net = await buildKadNetwork({ size: 16, seed: 34 });
    try {
      const keys = keyPairFromSeed(new Uint8Array(32).fill(6));
      const older = net.nodes[1] as KadNode;
      const newer = net.nodes[9] as KadNode;
      const events: RepublishFailedEvent[] = [];
      older.on('republish:failed', (e) => events.push(e));
      const first = await net.run(older.putMutable(keys, text('v1'), { seq: 1 }));
      await net.run(newer.putMutable(keys, text('v2'), { seq: 2 }));
      await advance(net, HOUR + 2 * MINUTE);
      assert.equal(events.length, 1);
      assert.equal(events[0]?.outcome, 'dropped');
      assert.equal(events[0]?.error.code, 'SEQ_TOO_LOW');
      assert.deepEqual(older.published(), []);
      const [kept] = newer.published();
      assert.ok(kept?.kind === 'item');
      assert.equal(idToHex(kept.target), idToHex(first.target));
      assert.equal((await net.run(older.getMutable(keys.publicKey)))?.seq, 2);
    } finally {
      await net.close();
    }
  });

  it('postpones a republish that found no node, and republishes once the network is back', async () => {
    const net = await buildKadNetwork({ size: 12, seed: 35 });
    try {
      const publisher = net.nodes[5] as KadNode;
      const events: RepublishFailedEvent[] = [];
      publisher.on('republish:failed', (e) => events.push(e));
      const put = await net.run(publisher.put({ v: text('patient') }));
      await advance(net, 55 * MINUTE);
      const host = publisher.address().host;
      // only the publisher's puts are lost: its lookups still work
      net.network.setDropFilter((p) => p.from.host === host && isPut(p.data));
      await advance(net, 10 * MINUTE);
      assert.ok(events.length >= 1 && events.every((e) => e.outcome === 'postponed'));
      assert.equal(publisher.published().length, 1);
      net.network.setDropFilter(undefined);
      await advance(net, 10 * MINUTE);
      assert.ok(publisher.stats().maintenance.republished >= 1);
      const entry = publisher.published()[0];
      assert.ok(entry !== undefined && entry.nextDueAt > net.clock.now() + 45 * MINUTE);
      assert.deepEqual((await net.run((net.nodes[0] as KadNode).get(put.target)))?.item, { v: text('patient') });
    } finally {
      await net.close();
    }
  });
});

/** Whether a datagram is a KRPC `put` query (`1:q3:put`). */
function isPut(data: Uint8Array): boolean {
  return Buffer.from(data).includes('1:q3:put');
}
