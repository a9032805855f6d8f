import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { idToHex } from '../../../../src/kad/id.js';
import { MAINLINE_BOOTSTRAP } from '../../../../src/kad/node/bootstrap-entries.js';
import { createNode, type KadNode } from '../../../../src/kad/node/node.js';
import type { KadNodeOptions } from '../../../../src/kad/node/options.js';
import type { BootstrapRetryEvent } from '../../../../src/kad/node/operation-types.js';
import { ManualClock, MemoryNetwork } from '../../../../src/testing/index.js';
import { buildKadNetwork } from '../../../helpers/kad-network.js';
import { drive } from '../../../helpers/virtual-time.js';

function world() {
  const clock = new ManualClock();
  const network = new MemoryNetwork({ latencyMs: 5 }, { clock });
  const nodes: KadNode[] = [];
  const spawn = async (options: KadNodeOptions = {}, host?: string): Promise<KadNode> => {
    const transport = network.createTransport(host === undefined ? {} : { host, port: 6881 });
    const node = await createNode({ transport, clock, ...options });
    nodes.push(node);
    return node;
  };
  const close = async (): Promise<void> => {
    await Promise.all(nodes.map((n) => n.close()));
    await network.close();
  };
  return { clock, network, spawn, close };
}

describe('joining the network', () => {
  it('is ready at once without bootstrap contacts, having sent nothing', async () => {
    const w = world();
    try {
      const node = await w.spawn();
      await node.ready;
      assert.equal(await node.bootstrapped, 0);
      assert.equal(node.stats().transport.datagramsSent, 0);
    } finally {
      await w.close();
    }
  });

  it('accepts host:port strings: IPv4 literals, and DNS names through the resolver, both families', async () => {
    const w = world();
    try {
      const seed4 = await w.spawn({}, '10.9.0.1');
      const seed6 = await w.spawn({}, 'fd09::1');
      const asked: string[] = [];
      const resolver = async (name: string): Promise<string[]> => {
        asked.push(name);
        return ['fd09::1', 'not an address'];
      };
      const dual = await createNode({
        transport: w.network.createTransport(),
        transport6: w.network.createTransport({ family: 6 }),
        clock: w.clock,
        bootstrap: ['10.9.0.1:6881', 'seed.example:6881'],
        resolver,
      });
      try {
        await drive(w.clock, dual.ready);
        assert.deepEqual(asked, ['seed.example']);
        const ids = dual.contacts().map((c) => idToHex(c.id));
        assert.ok(ids.includes(idToHex(seed4.id)) && ids.includes(idToHex(seed6.id)));
      } finally {
        await dual.close();
      }
    } finally {
      await w.close();
    }
  });

  it("resolves 'localhost' with the system resolver and bracketed IPv6 literals as they are", async () => {
    const w = world();
    try {
      const seed4 = await w.spawn({}, '127.0.0.1');
      const seed6 = await w.spawn({}, '::1');
      const node = await w.spawn({ bootstrap: ['localhost:6881'] });
      await drive(w.clock, node.ready);
      assert.deepEqual(
        node.contacts().map((c) => idToHex(c.id)),
        [idToHex(seed4.id)],
      );
      const node6 = await createNode({
        transport: w.network.createTransport({ family: 6 }),
        clock: w.clock,
        bootstrap: ['[::1]:6881'],
      });
      try {
        await drive(w.clock, node6.ready);
        assert.deepEqual(
          node6.contacts().map((c) => idToHex(c.id)),
          [idToHex(seed6.id)],
        );
      } finally {
        await node6.close();
      }
    } finally {
      await w.close();
    }
  });

  it('fills the table with the nodes closest to its id, and they learn of it', async () => {
    const net = await buildKadNetwork({ size: 60, seed: 8 });
    try {
      const [first] = net.nodes as [KadNode];
      const late = await createNode({
        transport: net.network.createTransport(),
        clock: net.clock,
        bootstrap: [first.address()],
      });
      try {
        await net.run(late.ready);
        const closest = net.trueClosest(late.id, 8).map((c) => idToHex(c.id));
        const known = late.contacts().map((c) => idToHex(c.id));
        for (const id of closest) assert.ok(known.includes(id), `${id.slice(0, 8)} not in the new node's table`);
        const byId = new Map(net.nodes.map((n) => [idToHex(n.id), n]));
        for (const id of closest) {
          const peer = byId.get(id) as KadNode;
          assert.ok(
            peer.contacts().some((c) => idToHex(c.id) === idToHex(late.id)),
            'a close node does not know it',
          );
        }
      } finally {
        await late.close();
      }
    } finally {
      await net.close();
    }
  });

  it('retries with a doubling, capped delay on its clock while nothing answers, then becomes ready', async () => {
    const w = world();
    try {
      const retries: BootstrapRetryEvent[] = [];
      const node = await w.spawn({
        bootstrap: ['10.7.0.1:6881'],
        bootstrapTimeoutMs: 500,
        bootstrapRetryMs: 1000,
        bootstrapRetryMaxMs: 4000,
      });
      node.on('bootstrap:retry', (event) => retries.push(event));
      let ready = false;
      void node.ready.then(() => {
        ready = true;
      });
      assert.equal(await drive(w.clock, node.bootstrapped), 0);
      // attempts of 500 ms each, separated by 1, 2, 4, 4 s
      await w.clock.advanceAsync(500 + 1000 + 500 + 2000 + 500 + 4000 + 500 + 100);
      assert.deepEqual(
        retries.map((r) => [r.attempt, r.delayMs, r.reason.code]),
        [
          [1, 1000, 'NO_CONTACTS'],
          [2, 2000, 'NO_CONTACTS'],
          [3, 4000, 'NO_CONTACTS'],
          [4, 4000, 'NO_CONTACTS'],
        ],
      );
      assert.equal(ready, false);
      const seed = await w.spawn({}, '10.7.0.1');
      await drive(w.clock, node.ready);
      assert.equal(retries.length, 4);
      assert.deepEqual(
        node.contacts().map((c) => idToHex(c.id)),
        [idToHex(seed.id)],
      );
      await w.clock.advanceAsync(60_000);
      assert.equal(retries.length, 4, 'no retry once ready');
    } finally {
      await w.close();
    }
  });

  it('becomes ready through a node that reached it while its bootstrap node stays silent', async () => {
    const w = world();
    try {
      const node = await w.spawn({ bootstrap: ['10.6.0.1:6881'], bootstrapTimeoutMs: 500, bootstrapRetryMs: 1000 });
      const retries: number[] = [];
      node.on('bootstrap:retry', ({ attempt }) => retries.push(attempt));
      await drive(w.clock, node.bootstrapped);
      const visitor = await w.spawn();
      await drive(w.clock, visitor.ping(node.address()));
      await drive(w.clock, node.ready);
      assert.deepEqual(retries, [1]);
      assert.deepEqual(
        node.contacts().map((c) => idToHex(c.id)),
        [idToHex(visitor.id)],
      );
    } finally {
      await w.close();
    }
  });

  it('rejects ready with CLOSED when closed before joining, and resolves bootstrapped', async () => {
    const w = world();
    try {
      const node = await w.spawn({ bootstrap: [{ host: '10.8.0.1', port: 6881 }] });
      await node.close();
      await assert.rejects(drive(w.clock, node.ready), { code: 'CLOSED' });
      assert.equal(await drive(w.clock, node.bootstrapped), 0);
      assert.equal(w.clock.pendingTimers, 0);
    } finally {
      await w.close();
    }
  });

  it('rejects bad bootstrap entries and join options, naming the option', async () => {
    for (const entry of ['nope', '10.0.0.1:0', '10.0.0.1:70000', '::1:6881', '[10.0.0.1]:1', 'a b:1', ':6881']) {
      await assert.rejects(
        createNode({ bootstrap: [entry] }),
        { code: 'INVALID_OPTION', message: /^bootstrap/ },
        entry,
      );
    }
    await assert.rejects(createNode({ resolver: 'dns' as never }), { message: /^resolver/ });
    await assert.rejects(createNode({ bootstrapRetryMs: 0 }), { message: /^bootstrapRetryMs/ });
    await assert.rejects(createNode({ lookup: { alpha: 0 } }), { message: /^lookup\.alpha/ });
  });

  it('exports the well-known Mainline routers, frozen', () => {
    assert.deepEqual(
      [...MAINLINE_BOOTSTRAP],
      [
        'router.bittorrent.com:6881',
        'dht.transmissionbt.com:6881',
        'router.utorrent.com:6881',
        'dht.libtorrent.org:25401',
      ],
    );
    assert.ok(Object.isFrozen(MAINLINE_BOOTSTRAP));
  });
});
