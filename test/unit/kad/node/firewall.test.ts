import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { idToHex } from '../../../../src/kad/id.js';
import type { FirewallChangedEvent } from '../../../../src/kad/node/maintenance-types.js';
import { createNode, type KadNode } from '../../../../src/kad/node/node.js';
import type { KadNodeOptions } from '../../../../src/kad/node/options.js';
import type { Packet } from '../../../../src/testing/index.js';
import { buildKadNetwork, type KadTestNetwork } from '../../../helpers/kad-network.js';

const MINUTE = 60_000;
const CHECK_MS = 30 * MINUTE;

/** A query datagram (`…1:y1:qe`), and whether it is marked read-only (`2:roi1e`, BEP 43). */
function query(packet: Packet): { readOnly: boolean } | undefined {
  const text = Buffer.from(packet.data).toString('latin1');
  return text.endsWith('1:y1:qe') ? { readOnly: text.includes('2:roi1e') } : undefined;
}

interface Behind {
  readonly node: KadNode;
  readonly events: FirewallChangedEvent[];
  /** Queries the node sent to each host, read-only or not. */
  readonly sent: Map<string, { readOnly: number; writable: number }>;
  /** Puts the node behind a NAT: only hosts it sent to within the last minute reach it. */
  nat(): void;
  /** Takes the NAT away. */
  open(): void;
}

/** A 20-node network and one more node, which the test can put behind a NAT. */
async function setUp(options: KadNodeOptions): Promise<{ net: KadTestNetwork; behind: Behind }> {
  const net = await buildKadNetwork({ size: 20, seed: 51, node: { maintenance: { firewallCheckMs: CHECK_MS } } });
  const node = await createNode({
    ...options,
    transport: net.network.createTransport(),
    clock: net.clock,
    bootstrap: [(net.nodes[0] as KadNode).address()],
    maintenance: { firewallCheckMs: CHECK_MS, ...options.maintenance },
  });
  net.nodes.push(node);
  await net.run(node.ready);
  const host = node.address().host;
  const events: FirewallChangedEvent[] = [];
  node.on('firewall:changed', (e) => events.push(e));
  const sent = new Map<string, { readOnly: number; writable: number }>();
  const lastSent = new Map<string, number>();
  let behindNat = false;
  net.network.setDropFilter((packet) => {
    const now = net.clock.now();
    if (packet.from.host === host) {
      lastSent.set(packet.to.host, now);
      const q = query(packet);
      if (q !== undefined) {
        const counts = sent.get(packet.to.host) ?? { readOnly: 0, writable: 0 };
        counts[q.readOnly ? 'readOnly' : 'writable']++;
        sent.set(packet.to.host, counts);
      }
      return false;
    }
    if (!behindNat || packet.to.host !== host) return false;
    const at = lastSent.get(packet.from.host);
    return at === undefined || now - at > MINUTE;
  });
  const behind: Behind = {
    node,
    events,
    sent,
    nat: () => {
      behindNat = true;
    },
    open: () => {
      behindNat = false;
    },
  };
  return { net, behind };
}

async function advance(net: KadTestNetwork, minutes: number): Promise<void> {
  for (let i = 0; i < minutes; i++) await net.clock.advanceAsync(MINUTE);
}

async function until(net: KadTestNetwork, maxMinutes: number, done: () => boolean): Promise<void> {
  for (let i = 0; i < maxMinutes && !done(); i++) await net.clock.advanceAsync(MINUTE);
  assert.ok(done(), `not done within ${maxMinutes} virtual minutes`);
}

describe('KadNode firewall awareness (BEP 43)', () => {
  it('with readOnly: false flips to firewalled when the network drops its unsolicited inbound, stays writable, and flips back once reachable', async () => {
    const { net, behind } = await setUp({ readOnly: false });
    try {
      await advance(net, 90);
      assert.deepEqual(behind.events, [], 'a reachable node is not firewalled');
      behind.nat();
      await until(net, CHECK_MS / MINUTE + 2, () => behind.events.length > 0);
      assert.deepEqual(behind.events, [{ firewalled: true, readOnly: false }]);
      assert.equal(behind.node.stats().maintenance.firewalled, true);
      assert.equal(behind.node.stats().maintenance.readOnly, false);
      behind.open();
      await until(net, 60, () => behind.events.length > 1);
      assert.deepEqual(behind.events[1], { firewalled: false, readOnly: false });
      assert.equal(behind.node.stats().maintenance.firewalled, false);
    } finally {
      await net.close();
    }
  });

  it("with readOnly: 'auto' runs read-only while firewalled, kept out of new tables, and writable again once reachable", async () => {
    const { net, behind } = await setUp({ readOnly: 'auto' });
    try {
      behind.nat();
      await until(net, CHECK_MS / MINUTE + 2, () => behind.events.length > 0);
      assert.deepEqual(behind.events, [{ firewalled: true, readOnly: true }]);
      assert.equal(behind.node.stats().maintenance.readOnly, true);
      // a node that never heard of it does not add it for a read-only query
      const stranger = await createNode({ transport: net.network.createTransport(), clock: net.clock });
      net.nodes.push(stranger);
      const to = stranger.address().host;
      await net.run(behind.node.findNode(stranger.address(), behind.node.id));
      assert.deepEqual(behind.sent.get(to), { readOnly: 1, writable: 0 });
      assert.ok(!stranger.contacts().some((c) => idToHex(c.id) === idToHex(behind.node.id)));
      behind.open();
      await until(net, 60, () => behind.events.length > 1);
      assert.deepEqual(behind.events[1], { firewalled: false, readOnly: false });
      behind.sent.delete(to);
      await net.run(behind.node.findNode(stranger.address(), behind.node.id));
      assert.deepEqual(behind.sent.get(to), { readOnly: 0, writable: 1 });
      assert.ok(stranger.contacts().some((c) => idToHex(c.id) === idToHex(behind.node.id)));
    } finally {
      await net.close();
    }
  });

  it('never calls a node firewalled with firewallCheckMs: Infinity', async () => {
    const { net, behind } = await setUp({ maintenance: { firewallCheckMs: Number.POSITIVE_INFINITY } });
    try {
      behind.nat();
      await advance(net, 30);
      assert.deepEqual(behind.events, []);
      assert.equal(behind.node.stats().maintenance.firewalled, false);
    } finally {
      await net.close();
    }
  });
});
