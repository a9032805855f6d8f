import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { afterEach, describe, it } from 'node:test';
import type { KadNode } from '../../../src/kad/node/types.js';
import type { Endpoint } from '../../../src/kad/transport/transport.js';
import { createTestnet, ManualClock, MemoryNetwork, type Testnet } from '../../../src/testing/index.js';

let cleanup: Testnet | undefined;
afterEach(async () => {
  await cleanup?.close();
  cleanup = undefined;
});

const key = (node: KadNode): string => `${node.address().host}:${node.address().port}`;

/**
 * A network that records each host's bootstrap round: the endpoints it sent datagrams to before
 * any datagram was sent to it (answers, and the join's lookup, come after).
 */
function recorded(): { network: MemoryNetwork; clock: ManualClock; rounds: Map<string, string[]> } {
  const clock = new ManualClock();
  const network = new MemoryNetwork({}, { clock });
  const rounds = new Map<string, string[]>();
  const contacted = new Set<string>();
  network.setDropFilter(({ from, to }) => {
    const [source, target] = [`${from.host}:${from.port}`, `${to.host}:${to.port}`];
    contacted.add(target);
    if (!contacted.has(source)) rounds.set(source, [...(rounds.get(source) ?? []), target]);
    return false;
  });
  return { network, clock, rounds };
}

async function bindable(port: number, host: string): Promise<boolean> {
  const socket = createSocket(host.includes(':') ? 'udp6' : 'udp4');
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(port, host, () => resolve());
    });
    return true;
  } catch {
    return false;
  } finally {
    await new Promise<void>((resolve) => {
      try {
        socket.close(() => resolve());
      } catch {
        resolve(); // never bound
      }
    });
  }
}

describe('createTestnet on a MemoryNetwork', () => {
  it('starts the given number of nodes, each bootstrapped from node 0 and up to two other earlier ones', async () => {
    const { network, clock, rounds } = recorded();
    const net = (cleanup = await createTestnet({ nodes: 12, network, clock }));
    assert.equal(net.nodes.length, 12);
    assert.equal(network.size, 12);
    const keys = net.nodes.map(key);
    assert.equal(rounds.get(keys[0] as string), undefined); // node 0 knows no one
    net.nodes.slice(1).forEach((node, i) => {
      const round = rounds.get(key(node)) ?? [];
      assert.equal(round[0], keys[0]);
      assert.equal(round.length, 1 + Math.min(i, 2));
      assert.equal(new Set(round).size, round.length);
      for (const to of round) assert.ok(keys.indexOf(to) < i + 1, `node ${i + 1} bootstraps from a later node`);
    });
  });

  it("bootstraps every node from node 0 alone with 'first'", async () => {
    const { network, clock, rounds } = recorded();
    const net = (cleanup = await createTestnet({ nodes: 6, network, clock, bootstrap: 'first' }));
    const first = key(net.nodes[0] as KadNode);
    for (const node of net.nodes.slice(1)) assert.deepEqual(rounds.get(key(node)), [first]);
    assert.equal(net.nodes[0]?.stats().contacts, 5);
  });

  it("leaves every routing table empty with 'none'", async () => {
    const net = (cleanup = await createTestnet({ nodes: 4, bootstrap: 'none' }));
    for (const node of net.nodes) assert.equal(node.stats().contacts, 0);
  });

  it('asks a bootstrap function for the endpoints of each node, with its index and the earlier nodes', async () => {
    const { network, clock, rounds } = recorded();
    const calls: [number, number][] = [];
    const net = (cleanup = await createTestnet({
      nodes: 4,
      network,
      clock,
      bootstrap: (index, earlier) => {
        calls.push([index, earlier.length]);
        return earlier.slice(-1).map((node) => node.address());
      },
    }));
    assert.deepEqual(calls, [
      [0, 0],
      [1, 1],
      [2, 2],
      [3, 3],
    ]);
    for (let i = 1; i < 4; i++)
      assert.deepEqual(rounds.get(key(net.nodes[i] as KadNode)), [key(net.nodes[i - 1] as KadNode)]);
  });

  it('makes dual-stack nodes with one transport per family and fills both routing tables', async () => {
    const net = (cleanup = await createTestnet({ nodes: 5, family: 'dual' }));
    for (const node of net.nodes) {
      assert.deepEqual(
        node.addresses().map((a) => a.family),
        [4, 6],
      );
    }
    const last = net.nodes.at(-1) as KadNode;
    assert.ok((last.stats().families[4]?.contacts ?? 0) >= 1);
    assert.ok((last.stats().families[6]?.contacts ?? 0) >= 1);
    assert.equal(net.network.size, 10);
  });

  it('bootstraps an IPv6-only node from the IPv6 address of a dual-stack one', async () => {
    const net = (cleanup = await createTestnet({ nodes: 1, family: 'dual' }));
    const v6 = await net.add({ family: 6 });
    assert.equal(v6.address().family, 6);
    assert.equal(v6.stats().contacts, 1);
  });

  it('applies per-node options, by index, over its own', async () => {
    const ids = [1, 2, 3].map((b) => new Uint8Array(20).fill(b));
    const net = (cleanup = await createTestnet({
      nodes: 3,
      node: (index) => ({ id: ids[index] as Uint8Array, k: 4 + index }),
    }));
    assert.deepEqual(
      net.nodes.map((node) => node.id),
      ids,
    );
  });

  it('runs on a given network and clock, and closes only the transports it made', async () => {
    const clock = new ManualClock();
    const network = new MemoryNetwork({ latencyMs: 3 }, { clock });
    const bystander = network.createTransport();
    const net = await createTestnet({ nodes: 3, network, clock });
    assert.equal(net.clock, clock);
    assert.equal(net.network, network);
    assert.equal(network.size, 4);
    await net.close();
    assert.equal(network.size, 1);
    assert.equal(bystander.closed, false);
    await network.close();
  });

  it('closes every node: calls after close() reject with CLOSED, and close() is idempotent', async () => {
    const net = await createTestnet({ nodes: 3 });
    const [a, b] = net.nodes as [KadNode, KadNode];
    await net.close();
    await net.close();
    await assert.rejects(a.ping(b.address()), { code: 'CLOSED' });
    assert.equal(net.network.size, 0);
    await assert.rejects(net.add(), { code: 'CLOSED' });
  });

  it('closes what it started when a node fails to start, and rejects with its error', async () => {
    const clock = new ManualClock();
    const network = new MemoryNetwork({}, { clock });
    await assert.rejects(createTestnet({ nodes: 4, network, clock, node: (i) => (i === 2 ? { k: 0 } : {}) }), {
      code: 'INVALID_OPTION',
      message: /^k must/,
    });
    assert.equal(network.size, 0);
  });

  it('settles a promise by advancing virtual time, and gives up with TIMEOUT after maxMs', async () => {
    const net = (cleanup = await createTestnet({ nodes: 2, network: { latencyMs: 40 } }));
    const before = net.clock.now();
    const [a, b] = net.nodes as [KadNode, KadNode];
    const contact = await net.settle(a.ping(b.address()));
    assert.deepEqual(contact.id, b.id);
    assert.ok(net.clock.now() - before >= 80); // a round trip on the virtual clock
    await assert.rejects(net.settle(new Promise(() => undefined), { maxMs: 100 }), { code: 'TIMEOUT' });
  });

  it('rejects bad options with a message that names the option', async () => {
    await assert.rejects(createTestnet({ nodes: -1 }), { code: 'INVALID_OPTION', message: /^nodes must/ });
    await assert.rejects(createTestnet({ nodes: 1.5 }), { code: 'INVALID_OPTION', message: /^nodes must/ });
    await assert.rejects(createTestnet({ bootstrap: { random: -1 } }), {
      code: 'INVALID_OPTION',
      message: /^bootstrap\.random must/,
    });
    const network = new MemoryNetwork({}, { clock: new ManualClock() });
    await assert.rejects(createTestnet({ network }), { code: 'INVALID_OPTION', message: /^clock must/ });
  });
});

describe('createTestnet on UDP', () => {
  it('starts nodes on 127.0.0.1 sockets and releases every port on close()', async () => {
    const net = await createTestnet({ transport: 'udp', nodes: 3 });
    const ports = net.nodes.map((node) => node.address().port);
    for (const node of net.nodes) assert.equal(node.address().host, '127.0.0.1');
    assert.ok((net.nodes[2]?.stats().contacts ?? 0) >= 1);
    await net.close();
    for (const port of ports) assert.equal(await bindable(port, '127.0.0.1'), true, `port ${port} still bound`);
  });

  it('makes dual-stack nodes on 127.0.0.1 and ::1', async () => {
    const net = (cleanup = await createTestnet({ transport: 'udp', nodes: 2, family: 'dual' }));
    const hosts = net.nodes[1]?.addresses().map((a: Endpoint) => a.host);
    assert.deepEqual(hosts, ['127.0.0.1', '::1']);
  });

  it('refuses hosts that are not loopback, naming the option', async () => {
    await assert.rejects(createTestnet({ transport: 'udp', host: '0.0.0.0' }), {
      code: 'INVALID_OPTION',
      message: /^host must be a loopback address/,
    });
    await assert.rejects(createTestnet({ transport: 'udp', nodes: 1, node: { host6: '::' }, family: 'dual' }), {
      code: 'INVALID_OPTION',
      message: /^host6 must be a loopback address/,
    });
  });
});
