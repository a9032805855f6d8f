import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isKadError } from '../../../../src/kad/errors.js';
import { idToHex } from '../../../../src/kad/id.js';
import { DEFAULT_MAINTENANCE_OPTIONS } from '../../../../src/kad/node/maintenance-options.js';
import { createNode, type KadNode } from '../../../../src/kad/node/node.js';
import { ManualClock, MemoryNetwork } from '../../../../src/testing/index.js';
import { buildKadNetwork, type KadTestNetwork } from '../../../helpers/kad-network.js';
import { drive } from '../../../helpers/virtual-time.js';

const MINUTE = 60_000;

/** Moves virtual time forward minute by minute, letting every round finish. */
async function minutes(net: { clock: ManualClock }, count: number): Promise<void> {
  for (let i = 0; i < count; i++) await net.clock.advanceAsync(MINUTE);
}

/** Advances minute by minute until `done()` holds, at most `max` minutes; returns the minutes it took. */
async function until(net: { clock: ManualClock }, max: number, done: () => boolean): Promise<number> {
  for (let i = 1; i <= max; i++) {
    await net.clock.advanceAsync(MINUTE);
    if (done()) return i;
  }
  throw new Error(`not done after ${max} virtual minutes`);
}

const ids = (node: KadNode): string[] => node.contacts().map((c) => idToHex(c.id));

describe('KadNode maintenance: liveness', () => {
  it('pings contacts silent for 15 minutes and keeps those that answer', async () => {
    const net = await buildKadNetwork({ size: 16, seed: 21 });
    try {
      const before = net.nodes.map(ids);
      await minutes(net, 20);
      // a contact that queried us meanwhile is fresh without a ping: count over the network
      const pings = net.nodes.reduce((sum, n) => sum + n.stats().maintenance.pings, 0);
      assert.ok(pings >= net.nodes.length, `${pings} pings`);
      for (const [i, node] of net.nodes.entries()) {
        const m = node.stats().maintenance;
        assert.equal(m.pingsFailed, 0);
        assert.equal(m.evicted, 0);
        for (const id of before[i] as string[]) assert.ok(ids(node).includes(id), `node ${i} lost a live contact`);
      }
    } finally {
      await net.close();
    }
  });

  it('evicts a dead contact from every table within 20 minutes while the others answer', async () => {
    const net = await buildKadNetwork({ size: 24, seed: 22 });
    try {
      const dead = idToHex((net.nodes[5] as KadNode).id);
      const holders = net.nodes.filter((n) => ids(n).includes(dead)).length;
      assert.ok(holders > 0);
      await net.kill(5);
      await minutes(net, 20);
      for (const node of net.alive()) assert.ok(!ids(node).includes(dead), 'a dead contact is still in a table');
      const evicted = net.alive().reduce((sum, n) => sum + n.stats().maintenance.evicted, 0);
      assert.ok(evicted >= 1);
      assert.ok(net.alive().every((n) => !n.stats().maintenance.offline));
    } finally {
      await net.close();
    }
  });

  it('keeps its table and says network:lost when every ping fails, then probes with backoff until network:restored', async () => {
    const net = await buildKadNetwork({ size: 14, seed: 23 });
    try {
      const node = net.nodes[4] as KadNode;
      const host = node.address().host;
      const lost: unknown[] = [];
      const restored: { offlineMs: number; attempts: number }[] = [];
      const retries: unknown[] = [];
      node.on('network:lost', (e) => lost.push(e));
      node.on('network:restored', (e) => restored.push(e));
      node.on('bootstrap:retry', (e) => retries.push(e));
      const size = node.stats().contacts;
      net.network.setDropFilter((p) => p.from.host === host || p.to.host === host);
      await until(net, 40, () => lost.length > 0);
      assert.equal(node.stats().maintenance.offline, true);
      // its contacts failed their pings (bad, left out of lookups) but stay in the table
      assert.equal(node.stats().contacts, size, 'the table was kept');
      const requests = node.stats().maintenance.requests;
      await minutes(net, 10);
      // probes back off to one attempt a minute (bootstrapRetryMaxMs): a few pings each
      assert.ok(node.stats().maintenance.requests - requests <= 10 * 3 + 3 * 8);
      assert.ok(retries.length >= 1, 'it joins again through its bootstrap nodes meanwhile');
      net.network.setDropFilter(undefined);
      await until(net, 3, () => restored.length > 0);
      assert.equal(lost.length, 1);
      assert.equal(restored.length, 1);
      assert.ok((restored[0]?.offlineMs ?? 0) >= 10 * MINUTE);
      assert.ok((restored[0]?.attempts ?? 0) >= 2);
      assert.equal(node.stats().maintenance.offline, false);
      await minutes(net, 3);
      assert.equal(node.stats().contacts, size);
      const result = await net.run(node.lookup(node.id));
      assert.ok(result.closest.length >= 8);
    } finally {
      await net.close();
    }
  });

  it('spends at most requestsPerMinute on liveness pings, leaving the rest for later ticks', async () => {
    const net = await buildKadNetwork({
      size: 40,
      seed: 24,
      node: { maintenance: { requestsPerMinute: 2, refreshMs: 600 * MINUTE, selfLookupMs: 600 * MINUTE } },
    });
    try {
      // every contact was seen while the network formed: they all turn questionable around minute 15
      await minutes(net, 13);
      const start = net.nodes.map((n) => n.stats().maintenance.requests);
      await minutes(net, 6);
      for (const [i, node] of net.nodes.entries()) {
        const spent = node.stats().maintenance.requests - (start[i] as number);
        assert.ok(spent <= 2 * 6 + 2, `node ${i} sent ${spent} upkeep requests in 6 minutes`);
      }
      const deferred = net.nodes.filter((n) => n.stats().maintenance.deferred > 0).length;
      assert.ok(deferred >= net.nodes.length / 2, `${deferred} nodes deferred work`);
    } finally {
      await net.close();
    }
  });
});

describe('KadNode maintenance: refresh', () => {
  /**
   * A, with an id of zeros, knows one node in bucket 0, eight in bucket 2 and one in bucket 3:
   * more than k from bucket 2 down, so (as in BEP 5's splitting table) buckets 0, 1 and 2 each
   * cover a range of their own, and bucket 1's is empty.
   */
  async function gapped(): Promise<{ net: { clock: ManualClock }; a: KadNode; close: () => Promise<void> }> {
    const clock = new ManualClock();
    const network = new MemoryNetwork({ latencyMs: 5 }, { clock });
    const id = (first: number): Uint8Array => Uint8Array.of(first, ...new Array<number>(19).fill(1));
    const a = await createNode({ id: new Uint8Array(20), transport: network.createTransport(), clock });
    const firsts = [0x80, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x10];
    const others: KadNode[] = [];
    for (const first of firsts) {
      const node = await createNode({ id: id(first), transport: network.createTransport(), clock });
      others.push(node);
      await drive(clock, a.ping(node.address()));
    }
    return {
      net: { clock },
      a,
      close: async () => {
        await Promise.all([a, ...others].map((n) => n.close()));
        await network.close();
      },
    };
  }

  it('looks up a random id in the range of a bucket idle for 15 minutes', async () => {
    const { net, a, close } = await gapped();
    try {
      await minutes(net, 14);
      assert.equal(a.stats().maintenance.refreshLookups, 0);
      const findNodes = a.stats().rpc.queriesOut.find_node;
      await minutes(net, 3);
      assert.ok(a.stats().maintenance.refreshLookups >= 1, 'the empty bucket 1');
      assert.ok(a.stats().rpc.queriesOut.find_node > findNodes);
    } finally {
      await close();
    }
  });

  it('refreshes a range where no node is found less and less often', async () => {
    const { net, a, close } = await gapped();
    try {
      await minutes(net, 3 * 60);
      // every 15 minutes would be 12 lookups in 3 hours; backing off: after 15, 30, 60 min…
      const lookups = a.stats().maintenance.refreshLookups;
      assert.ok(lookups >= 2 && lookups <= 5, `${lookups} refresh lookups`);
    } finally {
      await close();
    }
  });

  it('looks up its own id every selfLookupMs', async () => {
    const net = await buildKadNetwork({ size: 12, seed: 25, node: { maintenance: { selfLookupMs: 10 * MINUTE } } });
    try {
      await minutes(net, 31);
      for (const node of net.nodes) assert.ok(node.stats().maintenance.selfLookups >= 2);
    } finally {
      await net.close();
    }
  });
});

describe('KadNode maintenance options', () => {
  it('has frozen defaults with the documented values', () => {
    assert.ok(Object.isFrozen(DEFAULT_MAINTENANCE_OPTIONS));
    assert.deepEqual(DEFAULT_MAINTENANCE_OPTIONS, {
      republishMs: 3_600_000,
      reannounceMs: 1_500_000,
      enabled: true,
      tickMs: 60_000,
      refreshMs: 900_000,
      selfLookupMs: 1_800_000,
      requestsPerMinute: 60,
      replicate: true,
      replicateRequestsPerMinute: 60,
      firewallCheckMs: 1_800_000,
    });
  });

  it('names the option of a bad value', async () => {
    const cases: [unknown, RegExp][] = [
      [{ maintenance: 3 }, /^maintenance must be an object/],
      [{ maintenance: { tickMs: 0 } }, /^maintenance\.tickMs must be an integer >= 1/],
      [{ maintenance: { republishMs: 1.5 } }, /^maintenance\.republishMs must be an integer >= 1/],
      [{ maintenance: { requestsPerMinute: -1 } }, /^maintenance\.requestsPerMinute must be a positive number/],
      [{ maintenance: { replicate: 'yes' } }, /^maintenance\.replicate must be a boolean/],
      [{ maintenance: { firewallCheckMs: Number.NaN } }, /^maintenance\.firewallCheckMs must be an integer >= 1/],
      [{ readOnly: 'sometimes' }, /^readOnly must be a boolean or "auto"/],
    ];
    for (const [options, message] of cases) {
      await assert.rejects(
        createNode(options as Parameters<typeof createNode>[0]),
        (e: unknown) => isKadError(e, 'INVALID_OPTION') && message.test((e as Error).message),
      );
    }
  });

  it('sends nothing of its own with enabled: false', async () => {
    const net: KadTestNetwork = await buildKadNetwork({
      size: 10,
      seed: 26,
      node: { maintenance: { enabled: false } },
    });
    try {
      const sent = net.nodes.map((n) => n.stats().rpc.queriesSent);
      await minutes(net, 2 * 60);
      for (const [i, node] of net.nodes.entries()) {
        assert.equal(node.stats().rpc.queriesSent, sent[i]);
        assert.equal(node.stats().maintenance.requests, 0);
      }
    } finally {
      await net.close();
    }
  });

  it('leaves no timer behind once closed', async () => {
    const clock = new ManualClock();
    const network = new MemoryNetwork({}, { clock });
    const node = await createNode({ transport: network.createTransport(), clock });
    assert.ok(clock.pendingTimers > 0);
    await node.close();
    await network.close();
    await clock.advanceAsync(2 * MINUTE);
    assert.equal(clock.pendingTimers, 0);
  });
});
