import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { immutableTarget } from '../../../../src/kad/items.js';
import { createNode } from '../../../../src/kad/node/node.js';
import type { KadNode } from '../../../../src/kad/node/types.js';
import type { RemoteInfo } from '../../../../src/kad/transport/transport.js';
import { ManualClock, MemoryNetwork } from '../../../../src/testing/index.js';
import { nodeWorld, type NodeWorld } from '../../../helpers/node-world.js';
import { drive } from '../../../helpers/virtual-time.js';

const INFO_HASH = new Uint8Array(20).fill(0x42);
const text = (s: string): Uint8Array => new TextEncoder().encode(s);

let cleanup: (() => Promise<void>) | undefined;
afterEach(async () => {
  await cleanup?.();
  cleanup = undefined;
});

/** A dual-stack node that knows three IPv4 and two IPv6 contacts (they pinged it). */
async function populated(w: NodeWorld) {
  const dual = await w.spawnDual();
  const [address4, address6] = dual.addresses() as [RemoteInfo, RemoteInfo];
  const v4 = [await w.spawn(), await w.spawn(), await w.spawn()];
  const v6 = [await w.spawn6(), await w.spawn6()];
  for (const n of v4) await drive(w.clock, n.ping(address4));
  for (const n of v6) await drive(w.clock, n.ping(address6));
  return { dual, address4, address6, v4, v6 };
}

const ids = (contacts: readonly { id: Uint8Array }[]): string[] =>
  contacts.map((c) => Buffer.from(c.id).toString('hex')).sort();

describe('dual-stack KadNode (BEP 32) on a MemoryNetwork', () => {
  it('listens on both families and keeps address() as the first one', async () => {
    const w = nodeWorld();
    cleanup = w.close;
    const dual = await w.spawnDual();
    const [first, second] = dual.addresses();
    assert.equal(first?.family, 4);
    assert.equal(second?.family, 6);
    assert.deepEqual(dual.address(), first);
    const single = await w.spawn();
    assert.deepEqual(single.addresses(), [single.address()]);
  });

  it('keeps one routing table per family and reports stats per family', async () => {
    const w = nodeWorld();
    cleanup = w.close;
    const { dual, v4, v6 } = await populated(w);
    assert.deepEqual(ids(dual.contacts(undefined, undefined, { family: 4 })), ids(v4.map((n) => ({ id: n.id }))));
    assert.deepEqual(ids(dual.contacts(undefined, undefined, { family: 6 })), ids(v6.map((n) => ({ id: n.id }))));
    assert.equal(dual.contacts().length, 5);
    const stats = dual.stats();
    assert.equal(stats.contacts, 5);
    assert.equal(stats.families[4]?.contacts, 3);
    assert.equal(stats.families[6]?.contacts, 2);
    assert.equal(stats.families[4]?.rpc.queriesIn.ping, 3);
    assert.equal(stats.families[6]?.rpc.queriesIn.ping, 2);
    assert.equal(stats.rpc.queriesIn.ping, 5);
    assert.equal(stats.transport.datagramsReceived, 5);
  });

  it('answers find_node over IPv4 with nodes by default, nodes6 for want n6, and both for n4 and n6', async () => {
    const w = nodeWorld();
    cleanup = w.close;
    const { address4, v4, v6 } = await populated(w);
    const querier = v4[0] as KadNode;
    const plain = await drive(w.clock, querier.findNode(address4, INFO_HASH));
    assert.equal(plain.nodes.length, 3);
    assert.deepEqual(plain.nodes6, []);
    const only6 = await drive(w.clock, querier.findNode(address4, INFO_HASH, { want: ['n6'] }));
    assert.deepEqual(only6.nodes, []);
    assert.deepEqual(ids(only6.nodes6), ids(v6.map((n) => ({ id: n.id }))));
    assert.ok(only6.nodes6.every((c) => c.host.includes(':')));
    const both = await drive(w.clock, querier.findNode(address4, INFO_HASH, { want: ['n4', 'n6'] }));
    assert.equal(both.nodes.length, 3);
    assert.equal(both.nodes6.length, 2);
  });

  it('answers find_node over IPv6 with nodes6 by default and nodes for want n4', async () => {
    const w = nodeWorld();
    cleanup = w.close;
    const { address6, v6 } = await populated(w);
    const querier = v6[0] as KadNode;
    const plain = await drive(w.clock, querier.findNode(address6, INFO_HASH));
    assert.deepEqual(plain.nodes, []);
    assert.equal(plain.nodes6.length, 2);
    const only4 = await drive(w.clock, querier.findNode(address6, INFO_HASH, { want: ['n4'] }));
    assert.equal(only4.nodes.length, 3);
    assert.deepEqual(only4.nodes6, []);
  });

  it('still answers an empty nodes6 from a single-family IPv4 node asked for n6', async () => {
    const w = nodeWorld();
    cleanup = w.close;
    const [a, b] = [await w.spawn(), await w.spawn()];
    await drive(w.clock, a.ping(b.address()));
    const result = await drive(w.clock, a.findNode(b.address(), INFO_HASH, { want: ['n4', 'n6'] }));
    assert.deepEqual(
      result.nodes.map((c) => c.id),
      [a.id],
    );
    assert.deepEqual(result.nodes6, []);
  });

  it('sends each client call over the transport of the destination family', async () => {
    const w = nodeWorld();
    cleanup = w.close;
    const dual = await w.spawnDual();
    const [p4, p6] = [await w.spawn(), await w.spawn6()];
    assert.deepEqual((await drive(w.clock, dual.ping(p6.address()))).id, p6.id);
    assert.deepEqual((await drive(w.clock, dual.ping(p4.address()))).id, p4.id);
    const stats = dual.stats();
    assert.equal(stats.families[4]?.rpc.queriesOut.ping, 1);
    assert.equal(stats.families[6]?.rpc.queriesOut.ping, 1);
    assert.equal(stats.families[6]?.contacts, 1);
  });

  it('rejects a destination of a family the node does not run with INVALID_ADDRESS at once', async () => {
    const w = nodeWorld();
    cleanup = w.close;
    const [v4only, v6only] = [await w.spawn(), await w.spawn6()];
    await assert.rejects(v4only.ping({ host: 'fd00::1', port: 6881 }), { code: 'INVALID_ADDRESS' });
    await assert.rejects(v6only.ping({ host: '10.9.9.9', port: 6881 }), { code: 'INVALID_ADDRESS' });
    assert.equal(v4only.stats().rpc.queriesSent, 0);
  });

  it('shares storage and tokens between families: an item put over IPv4 is got over IPv6', async () => {
    const w = nodeWorld();
    cleanup = w.close;
    const dual = await w.spawnDual();
    const [address4, address6] = dual.addresses() as [RemoteInfo, RemoteInfo];
    const [writer, reader] = [await w.spawn(), await w.spawn6()];
    const v = text('both families');
    const { token } = await drive(w.clock, writer.getItem(address4, immutableTarget(v)));
    await drive(w.clock, writer.putItem(address4, { v }, token as Uint8Array));
    const got = await drive(w.clock, reader.getItem(address6, immutableTarget(v)));
    assert.deepEqual(got.item, { v });
  });

  it('answers get_peers values of the query family by default, and of both families when want asks', async () => {
    const w = nodeWorld();
    cleanup = w.close;
    const dual = await w.spawnDual();
    const [address4, address6] = dual.addresses() as [RemoteInfo, RemoteInfo];
    const [a4, a6] = [await w.spawn(), await w.spawn6()];
    for (const [node, to, port] of [
      [a4, address4, 6001],
      [a6, address6, 6002],
    ] as const) {
      const { token } = await drive(w.clock, node.getPeers(to, INFO_HASH));
      await drive(w.clock, node.announcePeer(to, INFO_HASH, port, token as Uint8Array));
    }
    const peer4 = { host: a4.address().host, port: 6001 };
    const peer6 = { host: a6.address().host, port: 6002 };
    assert.deepEqual((await drive(w.clock, a4.getPeers(address4, INFO_HASH))).values, [peer4]);
    assert.deepEqual((await drive(w.clock, a6.getPeers(address6, INFO_HASH))).values, [peer6]);
    const both = await drive(w.clock, a4.getPeers(address4, INFO_HASH, { want: ['n4', 'n6'] }));
    assert.deepEqual(both.values, [peer4, peer6]);
    const other = await drive(w.clock, a6.getPeers(address6, INFO_HASH, { want: ['n4'] }));
    assert.deepEqual(other.values, [peer4]);
  });

  it('answers get with nodes6 for want n6 over IPv4', async () => {
    const w = nodeWorld();
    cleanup = w.close;
    const { address4, v4 } = await populated(w);
    const result = await drive(w.clock, (v4[0] as KadNode).getItem(address4, INFO_HASH, { want: ['n6'] }));
    assert.equal(result.nodes6.length, 2);
    assert.deepEqual(result.nodes, []);
  });

  it('bootstraps both tables from contacts of both families, asking for n4 and n6', async () => {
    const w = nodeWorld();
    cleanup = w.close;
    const { dual: seed, address6 } = await populated(w);
    const late = await w.spawnDual({ bootstrap: [seed.address()] });
    assert.equal(await drive(w.clock, late.bootstrapped), 7);
    assert.equal(late.stats().families[4]?.contacts, 4); // the seed and its three IPv4 contacts
    // the seed's two IPv6 contacts, and the seed itself over IPv6: they return it to the lookup of late's id
    assert.equal(late.stats().families[6]?.contacts, 3);
    const from6 = await w.spawnDual({ bootstrap: [address6] });
    assert.ok((await drive(w.clock, from6.bootstrapped)) >= 4);
    assert.ok((from6.stats().families[6]?.contacts ?? 0) >= 3);
  });

  it('skips bootstrap contacts of a family a single-family node does not run', async () => {
    const w = nodeWorld();
    cleanup = w.close;
    const seed6 = await w.spawn6();
    const seed4 = await w.spawn();
    const node = await w.spawn({ bootstrap: [seed6.address(), seed4.address()] });
    assert.equal(await drive(w.clock, node.bootstrapped), 1);
    assert.equal(node.stats().rpc.queriesOut.find_node, 1);
  });

  it('closes both stacks and leaves injected transports open', async () => {
    const w = nodeWorld();
    cleanup = w.close;
    const transport6 = w.network.createTransport({ family: 6 });
    const dual = await w.spawnDual({ transport6 });
    const peer = await w.spawn6();
    await dual.close();
    await assert.rejects(dual.ping(peer.address()), { code: 'CLOSED' });
    assert.equal(transport6.closed, false);
  });
});

describe('createNode dual-stack options', () => {
  it('rejects options that cannot make a dual-stack node, naming the option', async () => {
    const clock = new ManualClock();
    const network = new MemoryNetwork({}, { clock });
    await assert.rejects(createNode({ host6: '127.0.0.1' }), { code: 'INVALID_OPTION', message: /^host6 must/ });
    await assert.rejects(createNode({ port6: -1 }), { code: 'INVALID_OPTION', message: /^port6 must/ });
    await assert.rejects(createNode({ host: '::1', host6: '::1' }), { code: 'INVALID_OPTION', message: /IPv4 host/ });
    await assert.rejects(createNode({ transport6: {} as never }), {
      code: 'INVALID_OPTION',
      message: /^transport6 must/,
    });
    const v4 = network.createTransport();
    await assert.rejects(createNode({ transport: network.createTransport(), transport6: v4, clock }), {
      code: 'INVALID_OPTION',
      message: /^transport6 must be an IPv6 transport/,
    });
    await assert.rejects(
      createNode({
        transport: network.createTransport({ family: 6 }),
        transport6: network.createTransport({ family: 6 }),
        clock,
      }),
      { code: 'INVALID_OPTION', message: /IPv4 first transport/ },
    );
    await network.close();
  });
});
