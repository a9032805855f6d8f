import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { compareDistance, idToHex, randomId } from '../../../../src/kad/id.js';
import { createMutableItem, immutableTarget, keyPairFromSeed, mutableTarget } from '../../../../src/kad/items.js';
import type { LookupEvent } from '../../../../src/kad/lookup/events.js';
import { createNode, type KadNode } from '../../../../src/kad/node/node.js';
import type { PeerAddress } from '../../../../src/kad/wire/compact.js';
import { buildKadNetwork, type KadTestNetwork } from '../../../helpers/kad-network.js';

const text = (s: string): Uint8Array => new TextEncoder().encode(s);
const hex = (contacts: readonly { id: Uint8Array }[]): string[] => contacts.map((c) => idToHex(c.id));

describe('KadNode DHT operations on a 40-node network', () => {
  let net: KadTestNetwork;
  const node = (i: number): KadNode => net.nodes[i % net.nodes.length] as KadNode;

  before(async () => {
    net = await buildKadNetwork({ size: 40, seed: 3 });
  });
  after(async () => {
    await net.close();
  });

  it('looks up the k closest live nodes to a target, closest first', async () => {
    const target = randomId();
    const result = await net.run(node(1).lookup(target));
    const truth = net.trueClosest(target, 9).filter((c) => idToHex(c.id) !== idToHex(node(1).id));
    assert.deepEqual(hex(result.closest), hex(truth.slice(0, 8)));
    assert.deepEqual(Object.keys(result).sort(), ['closest', 'durationMs', 'queried', 'responded', 'timedOut']);
    assert.ok(result.queried >= 8 && result.responded >= 8);
  });

  it('puts an immutable item on the k closest nodes and gets it from another node', async () => {
    const v = text('put and get');
    const put = await net.run(node(2).put({ v }));
    assert.deepEqual(put.target, immutableTarget(v));
    assert.equal(put.storedOn.length, 8);
    assert.deepEqual(put.failed, []);
    const truth = net.trueClosest(put.target, 9).filter((c) => idToHex(c.id) !== idToHex(node(2).id));
    assert.deepEqual(hex(put.storedOn), hex(truth.slice(0, 8)));
    const got = await net.run(node(20).get(put.target));
    assert.deepEqual(got?.item, { v });
    assert.equal(got?.seq, undefined);
    assert.equal(got?.from.length, 1);
    assert.ok(hex(put.storedOn).includes(idToHex((got?.from[0] as { id: Uint8Array }).id)));
  });

  it('resolves get with undefined when the k closest nodes do not have the item', async () => {
    assert.equal(await net.run(node(3).get(immutableTarget(text('never stored')))), undefined);
  });

  it('puts mutable items with the next seq by default, and get returns the highest seq', async () => {
    const keys = keyPairFromSeed(new Uint8Array(32).fill(7));
    const salt = text('profile');
    const first = await net.run(node(4).putMutable(keys, text('v1'), { salt }));
    assert.equal(first.seq, 1);
    assert.deepEqual(first.target, mutableTarget(keys.publicKey, salt));
    const second = await net.run(node(5).putMutable(keys, text('v2'), { salt }));
    assert.equal(second.seq, 2);
    const got = await net.run(node(30).getMutable(keys.publicKey, { salt }));
    assert.equal(got?.seq, 2);
    assert.deepEqual(got?.item.v, text('v2'));
    assert.ok((got?.from.length ?? 0) >= 1);
    assert.equal(await net.run(node(30).getMutable(keys.publicKey, { salt, seq: 2 })), undefined);
    assert.equal(await net.run(node(30).getMutable(keys.publicKey)), undefined, 'another salt, another target');
  });

  it('refuses a mutable put whose seq is lower than the stored one, or whose cas does not match', async () => {
    const keys = keyPairFromSeed(new Uint8Array(32).fill(8));
    await net.run(node(6).putMutable(keys, text('a'), { seq: 5 }));
    await assert.rejects(net.run(node(7).putMutable(keys, text('b'), { seq: 3 })), { code: 'SEQ_TOO_LOW' });
    await assert.rejects(net.run(node(7).putMutable(keys, text('b'), { seq: 6, cas: 4 })), { code: 'CAS_MISMATCH' });
    const swapped = await net.run(node(7).putMutable(keys, text('b'), { cas: 5 }));
    assert.equal(swapped.seq, 6);
    assert.equal((await net.run(node(8).getMutable(keys.publicKey)))?.seq, 6);
  });

  it('puts a mutable item signed elsewhere with put', async () => {
    const keys = keyPairFromSeed(new Uint8Array(32).fill(9));
    const item = createMutableItem(keys, text('signed elsewhere'), 3);
    const put = await net.run(node(9).put(item));
    assert.equal(put.seq, 3);
    assert.deepEqual((await net.run(node(10).get(put.target)))?.item, item);
  });

  it('refuses a bad item before sending anything', async () => {
    const keys = keyPairFromSeed(new Uint8Array(32).fill(10));
    const before = node(11).stats().rpc.queriesOut;
    await assert.rejects(node(11).put({ v: new Uint8Array(1001) }), { code: 'MESSAGE_TOO_BIG' });
    const forged = { ...createMutableItem(keys, text('x'), 1), sig: new Uint8Array(64) };
    await assert.rejects(node(11).put(forged), { code: 'INVALID_SIGNATURE' });
    await assert.rejects(node(11).put({ v: text('x') }, { cas: 1 }), { code: 'INVALID_OPTION', message: /^cas/ });
    await assert.rejects(node(11).putMutable(keys, text('x'), { salt: new Uint8Array(65) }), { code: 'SALT_TOO_BIG' });
    const wrongPair = { publicKey: keyPairFromSeed(new Uint8Array(32).fill(11)).publicKey, secretKey: keys.secretKey };
    await assert.rejects(node(11).putMutable(wrongPair, text('x')), { code: 'INVALID_KEY' });
    assert.deepEqual(node(11).stats().rpc.queriesOut, before);
  });

  it('announces a peer on the k closest nodes and finds it from another node, once', async () => {
    const infoHash = randomId();
    const announced = await net.run(node(12).announce(infoHash, { port: 51413 }));
    assert.equal(announced.storedOn.length, 8);
    await net.run(node(13).announce(infoHash, { impliedPort: true }));
    const peers = await net.run(node(25).getPeersOf(infoHash));
    const expected: PeerAddress[] = [
      { host: node(12).address().host, port: 51413 },
      { host: node(13).address().host, port: node(13).address().port },
    ];
    const byKey = (a: PeerAddress, b: PeerAddress): number => a.host.localeCompare(b.host) || a.port - b.port;
    assert.deepEqual([...peers].sort(byKey), expected.sort(byKey));
    await assert.rejects(node(12).announce(infoHash, { port: 0 }), { code: 'INVALID_OPTION', message: /^port/ });
  });

  it('yields peers as they arrive from findPeers, and stops the lookup when the loop breaks', async () => {
    const infoHash = randomId();
    await net.run(node(14).announce(infoHash, { port: 6000 }));
    const sentBefore = node(26).stats().rpc.queriesOut.get_peers ?? 0;
    const first = await net.run(
      (async () => {
        for await (const peer of node(26).findPeers(infoHash)) return peer;
        return undefined;
      })(),
    );
    assert.deepEqual(first, { host: node(14).address().host, port: 6000 });
    const sent = (node(26).stats().rpc.queriesOut.get_peers ?? 0) - sentBefore;
    await net.clock.advanceAsync(5000);
    assert.equal((node(26).stats().rpc.queriesOut.get_peers ?? 0) - sentBefore, sent, 'no query after the break');
  });

  it('streams the events of a lookup, each node queried once, ending with done', async () => {
    const target = randomId();
    const events: LookupEvent[] = [];
    await net.run(
      (async () => {
        for await (const event of node(15).query(target, { method: 'find_node' })) events.push(event);
      })(),
    );
    const done = events.at(-1);
    assert.equal(done?.type, 'done');
    const queried = events.flatMap((e) => (e.type === 'query' ? [idToHex(e.to.id)] : []));
    assert.equal(new Set(queried).size, queried.length);
    assert.equal(done?.type === 'done' ? done.queried : -1, queried.length);
    const closest = done?.type === 'done' ? done.closest : [];
    for (let i = 1; i < closest.length; i++) {
      assert.ok(
        compareDistance(target, (closest[i - 1] as { id: Uint8Array }).id, (closest[i] as { id: Uint8Array }).id) < 0,
      );
    }
  });

  it('validates query, get and lookup arguments with messages naming them', () => {
    assert.throws(() => node(1).query(new Uint8Array(3), { method: 'get' }), {
      code: 'INVALID_ID',
      message: /^target/,
    });
    assert.throws(() => node(1).query(randomId(), { method: 'ping' as 'get' }), {
      code: 'INVALID_OPTION',
      message: /^method/,
    });
    assert.throws(() => node(1).query(randomId(), { method: 'get', disjointPaths: 9 }), { message: /^disjointPaths/ });
    assert.throws(() => node(1).query(randomId(), { method: 'get', seq: -1 }), { message: /^seq/ });
    assert.throws(() => node(1).findPeers(new Uint8Array(1)), { code: 'INVALID_ID', message: /^infoHash/ });
  });

  it('rejects with the signal reason when aborted', async () => {
    const controller = new AbortController();
    const reason = new Error('changed my mind');
    const pending = node(16).get(randomId(), { signal: controller.signal });
    net.clock.setTimeout(() => controller.abort(reason), 6);
    await assert.rejects(net.run(pending), (error) => error === reason);
  });
});

describe('KadNode DHT operations without live nodes', () => {
  it('reject with NO_CONTACTS when the routing table is empty or nobody answers', async () => {
    const net = await buildKadNetwork({ size: 3, seed: 4 });
    try {
      const lonely = await createNode({ transport: net.network.createTransport(), clock: net.clock });
      await assert.rejects(net.run(lonely.lookup(randomId())), {
        code: 'NO_CONTACTS',
        message: /routing table is empty/,
      });
      await assert.rejects(net.run(lonely.get(randomId())), { code: 'NO_CONTACTS' });
      await assert.rejects(net.run(lonely.put({ v: text('x') })), { code: 'NO_CONTACTS' });
      await assert.rejects(net.run(lonely.getPeersOf(randomId())), { code: 'NO_CONTACTS' });
      const [first] = net.nodes as [KadNode];
      for (let i = 1; i < net.nodes.length; i++) await net.kill(i);
      await assert.rejects(net.run(first.get(randomId())), { code: 'NO_CONTACTS', message: /none of the 2 nodes/ });
      await lonely.close();
      await assert.rejects(net.run(lonely.lookup(randomId())), { code: 'CLOSED' });
    } finally {
      await net.close();
    }
  });
});
