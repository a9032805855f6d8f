import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createHash } from 'node:crypto';
import { idToHex, randomId } from '../../../../src/kad/id.js';
import { keyPairFromSeed } from '../../../../src/kad/items.js';
import { createNode, type KadNode } from '../../../../src/kad/node/node.js';
import type { KadNodeOptions } from '../../../../src/kad/node/options.js';
import type {
  StateDiscardedEvent,
  StateErrorEvent,
  StateRestoredEvent,
} from '../../../../src/kad/node/operation-types.js';
import type { StateStore } from '../../../../src/kad/node/state-store.js';
import type { Endpoint, RemoteInfo } from '../../../../src/kad/transport/transport.js';
import { MemoryStateStore } from '../../../../src/testing/index.js';
import type { MemoryTransport } from '../../../../src/testing/memory-network.js';
import { buildKadNetwork, type KadTestNetwork } from '../../../helpers/kad-network.js';

const text = (s: string): Uint8Array => new TextEncoder().encode(s);

/** A host:port on the network that records every datagram sent to it and never answers. */
function recorder(net: KadTestNetwork, host: string): { address: Endpoint; received: () => number } {
  const transport = net.network.createTransport({ host, port: 6881 });
  let count = 0;
  transport.on('message', () => {
    count++;
  });
  return { address: transport.address(), received: () => count };
}

/** A node on `net` at `address` (a fresh one when omitted), with its transport. */
async function start(
  net: KadTestNetwork,
  options: KadNodeOptions,
  address?: Endpoint,
): Promise<{ node: KadNode; transport: MemoryTransport }> {
  const transport = net.network.createTransport(address ?? {});
  const node = await createNode({ transport, clock: net.clock, ...options });
  return { node, transport };
}

/** A node saving to `store` that joined `net` through its first node. */
async function joined(
  net: KadTestNetwork,
  store: MemoryStateStore,
): Promise<{ node: KadNode; transport: MemoryTransport }> {
  const running = await start(net, { stateStore: store, bootstrap: [(net.nodes[0] as KadNode).address()] });
  await net.run(running.node.ready);
  return running;
}

async function stop(running: { node: KadNode; transport: MemoryTransport }): Promise<void> {
  await running.node.close();
  await running.transport.close();
}

function saved(store: MemoryStateStore): {
  body: { id: string; contacts: Record<string, { id: string; lastSeen: number }[]> };
} {
  return JSON.parse(store.text() ?? assert.fail('nothing saved')) as ReturnType<typeof saved>;
}

describe('a node with saved state', () => {
  it('restarts ready within 2 s from its saved table, with its id, sending nothing to its bootstrap hosts', async () => {
    const net = await buildKadNetwork({ size: 40, seed: 3 });
    try {
      const store = new MemoryStateStore();
      const first = await joined(net, store);
      const id = idToHex(first.node.id);
      const address = first.transport.address();
      const known = first.node.contacts().map((c) => idToHex(c.id));
      await stop(first);
      assert.ok(known.length >= 8, `only ${known.length} contacts to save`);
      assert.equal(saved(store).body.id, id);

      const hosts = [recorder(net, '10.200.0.1'), recorder(net, '10.200.0.2')];
      const restored: StateRestoredEvent[] = [];
      const retries: number[] = [];
      const again = await start(net, { stateStore: store, bootstrap: hosts.map((h) => h.address) }, address);
      again.node.on('state:restored', (event) => restored.push(event));
      again.node.on('bootstrap:retry', ({ attempt }) => retries.push(attempt));
      const startedAt = net.clock.now();
      await net.run(again.node.ready);
      const readyAfterMs = net.clock.now() - startedAt;
      try {
        assert.equal(idToHex(again.node.id), id);
        assert.ok(readyAfterMs < 2000, `ready after ${readyAfterMs} ms of virtual time`);
        assert.deepEqual(
          hosts.map((h) => h.received()),
          [0, 0],
        );
        assert.deepEqual(retries, []);
        assert.equal(restored.length, 1);
        assert.equal(restored[0]?.contacts, known.length);
        const now = again.node.contacts().map((c) => idToHex(c.id));
        for (const contact of known) assert.ok(now.includes(contact), `${contact.slice(0, 8)} lost`);
      } finally {
        await stop(again);
      }
    } finally {
      await net.close();
    }
  });

  it('is ready at the first answer of a saved contact, not held by the saved contacts that are gone', async () => {
    const net = await buildKadNetwork({ size: 40, seed: 4 });
    try {
      const store = new MemoryStateStore();
      const first = await joined(net, store);
      const address = first.transport.address();
      // the closest half of what it knows leaves while it is down
      const gone = new Set(
        first.node
          .contacts()
          .slice(0, 8)
          .map((c) => idToHex(c.id)),
      );
      await stop(first);
      for (const [i, node] of net.nodes.entries()) if (gone.has(idToHex(node.id))) await net.kill(i);

      const again = await start(net, { stateStore: store }, address);
      const startedAt = net.clock.now();
      try {
        await net.run(again.node.ready);
        // a silent node is declared dead after 1500 ms (the first RPC timeout): ready came sooner
        assert.ok(net.clock.now() - startedAt < 1500, `ready after ${net.clock.now() - startedAt} ms`);
        assert.equal(await again.node.bootstrapped, again.node.stats().contacts);
      } finally {
        await stop(again);
      }
    } finally {
      await net.close();
    }
  });

  it('pings its saved contacts first and starts the lookup of its own id at the first answer', async () => {
    const net = await buildKadNetwork({ size: 40, seed: 5 });
    try {
      const store = new MemoryStateStore();
      const first = await joined(net, store);
      const address = first.transport.address();
      await stop(first);

      const transport = net.network.createTransport(address);
      let received = 0;
      transport.on('message', () => {
        received++;
      });
      // the method of each query sent, and how many datagrams had come in by then
      const sent: { method: string; received: number }[] = [];
      const send = transport.send.bind(transport);
      transport.send = (datagram, to) => {
        const method = /1:q(\d+):([a-z_]+)/.exec(Buffer.from(datagram).toString('latin1'));
        if (method !== null) sent.push({ method: method[2] as string, received });
        send(datagram, to);
      };
      const node = await createNode({ transport, clock: net.clock, stateStore: store });
      try {
        await net.run(node.ready);
        // a second of virtual time for the lookup that goes on in the background
        await net.run(new Promise<void>((resolve) => net.clock.setTimeout(resolve, 1000)));
        const beforeAnswer = sent.filter((s) => s.received === 0);
        assert.ok(beforeAnswer.length > 0, 'nothing sent before the first answer');
        assert.deepEqual(
          beforeAnswer.map((s) => s.method),
          beforeAnswer.map(() => 'ping'),
        );
        assert.ok(
          sent.some((s) => s.method === 'find_node' && s.received > 0),
          'no find_node after the first answer',
        );
      } finally {
        await node.close();
        await transport.close();
      }
    } finally {
      await net.close();
    }
  });

  it('joins through its bootstrap nodes when none of its saved contacts answers', async () => {
    const net = await buildKadNetwork({ size: 12, seed: 5 });
    try {
      const store = new MemoryStateStore();
      const first = await joined(net, store);
      const address = first.transport.address();
      await stop(first);
      for (let i = 0; i < net.nodes.length; i++) await net.kill(i);

      const seed = await start(net, {}, { host: '10.201.0.1', port: 6881 });
      const again = await start(net, { stateStore: store, bootstrap: [seed.node.address()] }, address);
      try {
        await net.run(again.node.ready);
        assert.deepEqual(
          again.node.contacts().map((c) => idToHex(c.id)),
          [idToHex(seed.node.id)],
        );
        assert.ok(seed.node.stats().transport.datagramsReceived > 0);
      } finally {
        await stop(again);
        await stop(seed);
      }
    } finally {
      await net.close();
    }
  });

  it('is ready after the lookup through its saved contacts when they are gone and it has no bootstrap nodes', async () => {
    const net = await buildKadNetwork({ size: 6, seed: 6 });
    try {
      const store = new MemoryStateStore();
      const first = await joined(net, store);
      await stop(first);
      for (let i = 0; i < net.nodes.length; i++) await net.kill(i);
      const again = await start(net, { stateStore: store });
      try {
        await net.run(again.node.ready);
        assert.ok(again.node.stats().transport.datagramsSent > 0, 'it tried its saved contacts');
      } finally {
        await stop(again);
      }
    } finally {
      await net.close();
    }
  });

  it('writes id and contacts once joined, every stateSaveIntervalMs, and on close', async () => {
    const net = await buildKadNetwork({ size: 10, seed: 7 });
    try {
      const store = new MemoryStateStore();
      const running = await start(net, {
        stateStore: store,
        stateSaveIntervalMs: 30_000,
        bootstrap: [(net.nodes[0] as KadNode).address()],
      });
      await net.run(running.node.ready);
      await net.clock.advanceAsync(10);
      assert.equal(store.writes, 1, 'written once joined');
      const body = saved(store).body;
      assert.equal(body.id, idToHex(running.node.id));
      assert.deepEqual(
        body.contacts['4']?.map((c) => c.id).sort(),
        running.node
          .contacts()
          .map((c) => idToHex(c.id))
          .sort(),
      );
      const seen = body.contacts['4']?.map((c) => c.lastSeen) ?? [];
      assert.deepEqual(
        seen,
        [...seen].sort((a, b) => a - b),
        'least recently seen first',
      );
      await net.clock.advanceAsync(30_000);
      assert.equal(store.writes, 2);
      await net.clock.advanceAsync(30_000);
      assert.equal(store.writes, 3);
      // a node that contacts it after the last write is in the state written on close
      const visitor = await start(net, {});
      await net.run(visitor.node.ping(running.transport.address()));
      await stop(running);
      assert.equal(store.writes, 4);
      assert.ok(saved(store).body.contacts['4']?.some((c) => c.id === idToHex(visitor.node.id)));
      await stop(visitor);
    } finally {
      await net.close();
    }
  });

  it('saves and restores the contacts of both families of a dual-stack node', async () => {
    const net = await buildKadNetwork({ size: 2, seed: 8 });
    try {
      const seed4 = net.network.createTransport({ host: '10.202.0.1', port: 6881 });
      const seed6 = net.network.createTransport({ host: 'fd02::1', port: 6881 });
      const seed = await createNode({ transport: seed4, transport6: seed6, clock: net.clock });
      const store = new MemoryStateStore();
      const boot = [seed4.address(), seed6.address()];
      const dual = (t4?: Endpoint, t6?: Endpoint) =>
        createNode({
          transport: net.network.createTransport(t4 ?? {}),
          transport6: net.network.createTransport(t6 ?? { family: 6 }),
          clock: net.clock,
          stateStore: store,
          bootstrap: boot,
        });
      const first = await dual();
      await net.run(first.ready);
      const [a4, a6] = first.addresses() as [RemoteInfo, RemoteInfo];
      await first.close();
      await net.network.transportAt(a4)?.close();
      await net.network.transportAt(a6)?.close();
      assert.deepEqual(Object.keys(saved(store).body.contacts).sort(), ['4', '6']);
      const again = await dual(a4, a6);
      const restored: number[] = [];
      again.on('state:restored', ({ contacts }) => restored.push(contacts));
      try {
        await net.run(again.ready);
        assert.deepEqual(restored, [2]);
        for (const family of [4, 6] as const) {
          assert.deepEqual(
            again.contacts(again.id, 8, { family }).map((c) => idToHex(c.id)),
            [idToHex(seed.id)],
          );
        }
      } finally {
        await again.close();
        await seed.close();
      }
    } finally {
      await net.close();
    }
  });
});

describe('what a restarted node publishes', () => {
  it('carries on with the items and announcements it published, their next due times unchanged', async () => {
    const net = await buildKadNetwork({ size: 12, seed: 10 });
    try {
      const store = new MemoryStateStore();
      const first = await joined(net, store);
      const keys = keyPairFromSeed(new Uint8Array(32).fill(4));
      await net.run(first.node.put({ v: text('kept') }));
      await net.run(first.node.putMutable(keys, text('signed'), { salt: text('s') }));
      await net.run(first.node.announce(randomId(), { port: 6881 }));
      const before = first.node.published();
      const address = first.transport.address();
      await stop(first);

      const restored: StateRestoredEvent[] = [];
      const again = await start(net, { stateStore: store }, address);
      again.node.on('state:restored', (event) => restored.push(event));
      try {
        await net.run(again.node.ready);
        assert.deepEqual(again.node.published(), before);
        assert.equal(restored[0]?.publications, 3);
      } finally {
        await stop(again);
      }
    } finally {
      await net.close();
    }
  });

  it('discards a state whose saved mutable item no longer verifies, as corrupt', async () => {
    const net = await buildKadNetwork({ size: 6, seed: 11 });
    try {
      const store = new MemoryStateStore();
      const first = await joined(net, store);
      await net.run(first.node.putMutable(keyPairFromSeed(new Uint8Array(32).fill(5)), text('signed')));
      await stop(first);
      // a forged signature under a checksum made for it: only the item check can tell
      const file = JSON.parse(store.text() ?? '') as {
        sha256: string;
        body: { publications: { items: { sig: string }[] } };
      };
      const item = file.body.publications.items[0] ?? assert.fail('no item saved');
      item.sig = `${item.sig.startsWith('0') ? '1' : '0'}${item.sig.slice(1)}`;
      file.sha256 = createHash('sha256').update(JSON.stringify(file.body)).digest('hex');
      store.data = text(JSON.stringify(file));

      const events: StateDiscardedEvent[] = [];
      const again = await start(net, { stateStore: store });
      again.node.on('state:discarded', (event) => events.push(event));
      await net.clock.advanceAsync(0);
      assert.deepEqual(
        events.map((e) => e.reason),
        ['corrupt'],
      );
      assert.match(events[0]?.detail ?? '', /signature/);
      assert.deepEqual(again.node.published(), []);
      await stop(again);
    } finally {
      await net.close();
    }
  });
});

describe('a node whose saved state is unusable', () => {
  const cases: { name: string; reason: StateDiscardedEvent['reason']; damage: (bytes: Uint8Array) => Uint8Array }[] = [
    { name: 'truncated', reason: 'corrupt', damage: (b) => b.subarray(0, b.length >> 1) },
    { name: 'not JSON', reason: 'corrupt', damage: () => Uint8Array.of(0xff, 0x00, 0x7b) },
    {
      name: 'altered (checksum)',
      reason: 'corrupt',
      damage: (b) => new TextEncoder().encode(new TextDecoder().decode(b).replace(/"port":(\d)/, '"port":9$1')),
    },
    {
      name: 'of another version',
      reason: 'version',
      damage: (b) => new TextEncoder().encode(new TextDecoder().decode(b).replace('"version":1', '"version":99')),
    },
  ];
  for (const { name, reason, damage } of cases) {
    it(`starts afresh with a state:discarded event (${reason}) when it is ${name}, keeping the bad bytes aside`, async () => {
      const net = await buildKadNetwork({ size: 3, seed: 9 });
      try {
        const store = new MemoryStateStore();
        const first = await joined(net, store);
        const oldId = idToHex(first.node.id);
        await stop(first);
        const bad = damage(store.data ?? assert.fail('nothing saved'));
        store.data = bad;

        const events: StateDiscardedEvent[] = [];
        const again = await start(net, { stateStore: store, bootstrap: [(net.nodes[1] as KadNode).address()] });
        again.node.on('state:discarded', (event) => events.push(event));
        await net.run(again.node.ready);
        assert.equal(events.length, 1);
        assert.equal(events[0]?.reason, reason);
        assert.ok((events[0]?.detail.length ?? 0) > 0);
        assert.equal(store.asides.size, 1);
        const [[tag, kept]] = [...store.asides] as [[string, Uint8Array]];
        assert.equal(events[0]?.keptAs, `memory:${tag}`);
        assert.ok(tag.startsWith(`${reason}-`));
        assert.deepEqual(kept, bad);
        assert.notEqual(idToHex(again.node.id), oldId, 'a fresh id');
        assert.ok(again.node.contacts().length > 0, 'joined through its bootstrap node');
        await stop(again);
        assert.equal(saved(store).body.id, idToHex(again.node.id), 'a new state written');
      } finally {
        await net.close();
      }
    });
  }

  it('sets aside a state saved under another id than the id option asks for', async () => {
    const net = await buildKadNetwork({ size: 1 });
    try {
      const store = new MemoryStateStore();
      await stop(await start(net, { stateStore: store }));
      const wanted = randomId();
      const events: StateDiscardedEvent[] = [];
      const again = await start(net, { stateStore: store, id: wanted });
      again.node.on('state:discarded', (event) => events.push(event));
      await net.clock.advanceAsync(0);
      assert.deepEqual(
        events.map((e) => e.reason),
        ['other-id'],
      );
      assert.match(events[0]?.detail ?? '', new RegExp(idToHex(wanted)));
      assert.equal(idToHex(again.node.id), idToHex(wanted));
      await stop(again);
      assert.equal(saved(store).body.id, idToHex(wanted));
    } finally {
      await net.close();
    }
  });

  it('survives a store that fails: unreadable at start, state:error on each failed write, close resolves', async () => {
    const net = await buildKadNetwork({ size: 1 });
    try {
      const store = new MemoryStateStore(new TextEncoder().encode('{}'));
      store.failWith = new Error('EIO: disk on fire');
      const discarded: StateDiscardedEvent[] = [];
      const errors: StateErrorEvent[] = [];
      const running = await start(net, { stateStore: store, stateSaveIntervalMs: 1000 });
      running.node.on('state:discarded', (event) => discarded.push(event));
      running.node.on('state:error', (event) => errors.push(event));
      await net.clock.advanceAsync(2500);
      assert.deepEqual(
        discarded.map((e) => [e.reason, e.keptAs]),
        [['unreadable', undefined]],
      );
      assert.match(discarded[0]?.detail ?? '', /disk on fire.*could not set it aside/);
      // once joined (at once without bootstrap), then at 1 s and 2 s
      assert.equal(errors.length, 3);
      store.failWith = undefined;
      await stop(running);
      assert.equal(errors.length, 3);
      assert.equal(saved(store).body.id, idToHex(running.node.id));
    } finally {
      await net.close();
    }
  });

  it('rejects createNode with the reason when its signal aborts while the state is read', async () => {
    const net = await buildKadNetwork({ size: 1 });
    try {
      const reading: StateStore = {
        read: ({ signal } = {}) =>
          new Promise((_, reject) => signal?.addEventListener('abort', () => reject(signal.reason as Error))),
        write: async () => undefined,
        setAside: async () => undefined,
      };
      const controller = new AbortController();
      const reason = new Error('stop');
      const pending = createNode({
        transport: net.network.createTransport(),
        clock: net.clock,
        stateStore: reading,
        signal: controller.signal,
      });
      controller.abort(reason);
      await assert.rejects(pending, reason);
    } finally {
      await net.close();
    }
  });
});

describe('state options', () => {
  for (const [options, message] of [
    [{ stateDir: '' }, /stateDir must be a non-empty directory path/],
    [{ stateDir: 42 }, /stateDir must be a non-empty directory path/],
    [{ stateStore: {} }, /stateStore must be a StateStore/],
    [{ stateStore: new MemoryStateStore(), stateDir: '/tmp/x' }, /stateStore must be absent when stateDir is given/],
    [{ stateSaveIntervalMs: 0 }, /stateSaveIntervalMs must be/],
    [{ stateSaveIntervalMs: 1.5 }, /stateSaveIntervalMs must be/],
  ] as const) {
    it(`refuses ${JSON.stringify(options)} with INVALID_OPTION naming it`, async () => {
      await assert.rejects(createNode(options as unknown as KadNodeOptions), { code: 'INVALID_OPTION', message });
    });
  }
});
