/**
 * Mixed networks on 127.0.0.1: Nautilus and bittorrent-dht nodes (50 of each) in one DHT, and one
 * Nautilus node in a network made only of bittorrent-dht nodes. What one implementation stores
 * (BEP 44 items, BEP 5 announcements) the other finds through its own lookups. Every node has
 * its own UDP socket; every wait is bounded; every node is closed after the suite.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type DHT from 'bittorrent-dht';
import type { GetResult } from 'bittorrent-dht';
import { compareDistance } from '../../src/kad/id.js';
import { immutableTarget, keyPairFromSeed, mutableTarget } from '../../src/kad/items.js';
import type { KadNode } from '../../src/kad/node/node.js';
import type { PeerAddress } from '../../src/kad/wire/compact.js';
import { type Endpoint, endpointKey } from '../../src/kad/transport/transport.js';
import { seededRandom } from '../../src/testing/seeded-random.js';
import { createTestnet, type Testnet } from '../../src/testing/testnet.js';
import { destroyDht, dhtEndpoint, LOOPBACK, startDhtNode, startDhtSwarm } from '../helpers/bittorrent-dht-swarm.js';
import { call, WAIT_MS } from '../helpers/callback.js';
import { ed25519Signer, ed25519Verify } from '../helpers/ed25519.js';
import { raceAbort } from '../../src/core/abort.js';
import { nautilusEndpoint, startNautilusNode } from '../helpers/nautilus-udp.js';

const EACH = 50;
/** Bounds the start of a whole network (about a second on loopback). */
const START_MS = 30_000;
const signal = (): AbortSignal => AbortSignal.timeout(WAIT_MS);
const text = (s: string): Uint8Array => new TextEncoder().encode(s);
const random = seededRandom(12);

/** `count` distinct elements of `list`, in a seeded order, none of them in `except`. */
function some<T>(list: readonly T[], count: number, except: (t: T) => boolean = () => false): T[] {
  const pool = list.filter((t) => !except(t));
  for (let i = pool.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [pool[i], pool[j]] = [pool[j] as T, pool[i] as T];
  }
  return pool.slice(0, count);
}

const dhtGet = (dht: DHT, target: Uint8Array, salt?: Uint8Array) =>
  call<GetResult | null>((done) =>
    dht.get(
      Buffer.from(target),
      { cache: false, verify: ed25519Verify, ...(salt === undefined ? {} : { salt: Buffer.from(salt) }) },
      done,
    ),
  );

/** The distinct peers a bittorrent-dht `get_peers` lookup for `infoHash` reports (once per responder), once it is over. */
function dhtPeers(dht: DHT, infoHash: Uint8Array): Promise<PeerAddress[]> {
  const key = Buffer.from(infoHash);
  const found: PeerAddress[] = [];
  const onPeer = (peer: PeerAddress, hash: Buffer): void => {
    if (hash.equals(key) && !found.some((p) => endpointKey(p) === endpointKey(peer))) {
      found.push({ host: peer.host, port: peer.port });
    }
  };
  dht.on('peer', onPeer);
  return call<PeerAddress[]>((done) => dht.lookup(key, (error) => done(error, found))).finally(() =>
    dht.off('peer', onPeer),
  );
}

describe(`a network of ${EACH} Nautilus and ${EACH} bittorrent-dht nodes on 127.0.0.1`, () => {
  let testnet: Testnet | undefined;
  let nautilus: readonly KadNode[] = [];
  let dhts: DHT[] = [];
  const isDhtHolder = (target: Uint8Array) => (dht: DHT) =>
    dht._values.get(Buffer.from(target).toString('hex')) !== undefined;

  before(async () => {
    const start = AbortSignal.timeout(START_MS);
    // the first Nautilus node alone, the first bittorrent-dht node through it, every other node through both
    const entries: Endpoint[] = [];
    testnet = await createTestnet({ transport: 'udp', nodes: 1, bootstrap: () => entries, signal: start });
    const net = testnet;
    nautilus = net.nodes;
    const first = net.nodes[0] as KadNode;
    dhts.push(await startDhtNode({ bootstrap: [nautilusEndpoint(first)], signal: start }));
    entries.push(nautilusEndpoint(first), dhtEndpoint(dhts[0] as DHT));
    const joinNautilus = async (): Promise<void> => {
      for (let i = 1; i < EACH; i++) await net.add();
      await raceAbort(Promise.all(net.nodes.map((node) => node.ready)), start);
    };
    // both kinds join at the same time, so each one's tables hold the other's nodes
    const [joined, moreDhts] = await Promise.allSettled([
      joinNautilus(),
      startDhtSwarm({ count: EACH - 1, bootstrap: entries, signal: start }),
    ]);
    if (moreDhts.status === 'fulfilled') dhts.push(...moreDhts.value);
    if (joined.status === 'rejected') throw joined.reason;
    if (moreDhts.status === 'rejected') throw moreDhts.reason;
  });

  after(async () => {
    await Promise.all([testnet?.close(), ...dhts.map(destroyDht)]);
    nautilus = [];
    dhts = [];
  });

  it('a value put by a Nautilus node is got by bittorrent-dht nodes that do not hold it', async () => {
    const v = new Uint8Array(randomBytes(32));
    const put = await (nautilus[1] as KadNode).put({ v }, { signal: signal() });
    assert.deepEqual(put.target, immutableTarget(v));
    assert.ok(put.storedOn.length > 0);
    for (const dht of some(dhts, 5, isDhtHolder(put.target))) {
      const got = await dhtGet(dht, put.target);
      assert.deepEqual(got?.v, Buffer.from(v));
    }
  });

  it('a value put by a bittorrent-dht node is got by Nautilus nodes', async () => {
    const v = Buffer.from(randomBytes(32));
    const [hash, count] = await call<[Buffer, number]>((done) =>
      (dhts[1] as DHT).put({ v }, (error, h, n) => done(error, [h, n])),
    );
    assert.ok(count > 0);
    for (const node of some(nautilus, 5)) {
      const got = await node.get(new Uint8Array(hash), { signal: signal() });
      assert.deepEqual(got?.item, { v: new Uint8Array(v) });
    }
  });

  it('a salted mutable item put by Nautilus, then updated with cas, is read by bittorrent-dht at each seq; a stale cas is refused', async () => {
    const keys = keyPairFromSeed(randomBytes(32));
    const salt = text('nautilus→bittorrent-dht');
    const target = mutableTarget(keys.publicKey, salt);
    const writer = nautilus[2] as KadNode;
    await writer.putMutable(keys, text('one'), { salt, seq: 1, signal: signal() });
    const readers = some(dhts, 3);
    for (const dht of readers) {
      const got = await dhtGet(dht, target, salt);
      assert.deepEqual([got?.v.toString(), got?.seq], ['one', 1]);
    }
    const second = await writer.putMutable(keys, text('two'), { salt, cas: 1, signal: signal() });
    assert.equal(second.seq, 2);
    for (const dht of readers) {
      const got = await dhtGet(dht, target, salt);
      assert.deepEqual([got?.v.toString(), got?.seq], ['two', 2]);
    }
    await assert.rejects(writer.putMutable(keys, text('three'), { salt, cas: 1, signal: signal() }), {
      code: 'CAS_MISMATCH',
    });
  });

  it('a salted mutable item put by bittorrent-dht is read by Nautilus, and a stale cas is refused with 301', async () => {
    const keys = keyPairFromSeed(randomBytes(32));
    const salt = Buffer.from('bittorrent-dht→nautilus');
    const k = Buffer.from(keys.publicKey);
    const sign = ed25519Signer(keys.secretKey, keys.publicKey);
    const writer = dhts[2] as DHT;
    const put = (seq: number, v: string, cas?: number) =>
      call<number>((done) =>
        writer.put({ k, salt, seq, v: Buffer.from(v), sign, ...(cas === undefined ? {} : { cas }) }, (e, _h, n) =>
          done(e, n),
        ),
      );
    assert.ok((await put(5, 'five')) > 0);
    const readers = some(nautilus, 3);
    for (const node of readers) {
      const got = await node.getMutable(keys.publicKey, { salt, signal: signal() });
      assert.deepEqual([got?.seq, got?.item.v], [5, text('five')]);
    }
    assert.ok((await put(6, 'six', 5)) > 0);
    for (const node of readers) {
      const got = await node.getMutable(keys.publicKey, { salt, signal: signal() });
      assert.deepEqual([got?.seq, got?.item.v], [6, text('six')]);
    }
    await assert.rejects(put(7, 'seven', 5), { code: 301 });
  });

  it('a peer announced by a Nautilus node is found by bittorrent-dht lookups', async () => {
    const infoHash = new Uint8Array(randomBytes(20));
    const announced = await (nautilus[3] as KadNode).announce(infoHash, { port: 6881, signal: signal() });
    assert.ok(announced.storedOn.length > 0);
    for (const dht of some(dhts, 3)) {
      assert.deepEqual(await dhtPeers(dht, infoHash), [{ host: LOOPBACK, port: 6881 }]);
    }
  });

  it('a peer announced by a bittorrent-dht node is found by Nautilus nodes', async () => {
    const infoHash = Buffer.from(randomBytes(20));
    await call<undefined>((done) => (dhts[3] as DHT).announce(infoHash, 6882, (error) => done(error, undefined)));
    for (const node of some(nautilus, 3)) {
      assert.deepEqual(await node.getPeersOf(new Uint8Array(infoHash), { signal: signal() }), [
        { host: LOOPBACK, port: 6882 },
      ]);
    }
  });
});

describe('one Nautilus node in a network of 60 bittorrent-dht nodes on 127.0.0.1', () => {
  let dhts: DHT[] = [];
  let node: KadNode | undefined;

  before(async () => {
    const start = AbortSignal.timeout(START_MS);
    dhts = await startDhtSwarm({ count: 60, signal: start });
    node = await startNautilusNode({ bootstrap: [dhtEndpoint(dhts[0] as DHT)], signal: start });
  });

  after(async () => {
    await Promise.all([node?.close(), ...dhts.map(destroyDht)]);
    dhts = [];
  });

  it('finds the true 8 closest bittorrent-dht nodes of random targets', async () => {
    for (let i = 0; i < 5; i++) {
      const target = new Uint8Array(randomBytes(20));
      const truth = dhts
        .map((dht) => ({ id: new Uint8Array(dht.nodeId), port: dht.address().port }))
        .sort((a, b) => compareDistance(target, a.id, b.id))
        .slice(0, 8)
        .map((c) => endpointKey({ host: LOOPBACK, port: c.port }));
      const { closest } = await (node as KadNode).lookup(target, { signal: signal() });
      assert.deepEqual(closest.map(endpointKey), truth);
    }
  });

  it('gets a value a bittorrent-dht node put, and puts one that bittorrent-dht nodes get', async () => {
    const v = Buffer.from(randomBytes(32));
    const [hash] = await call<[Buffer, number]>((done) => (dhts[5] as DHT).put({ v }, (e, h, n) => done(e, [h, n])));
    const got = await (node as KadNode).get(new Uint8Array(hash), { signal: signal() });
    assert.deepEqual(got?.item, { v: new Uint8Array(v) });

    const mine = new Uint8Array(randomBytes(32));
    const put = await (node as KadNode).put({ v: mine }, { signal: signal() });
    assert.equal(put.storedOn.length, 8);
    for (const dht of some(dhts, 3, (d) => d._values.get(Buffer.from(put.target).toString('hex')) !== undefined)) {
      assert.deepEqual((await dhtGet(dht, put.target))?.v, Buffer.from(mine));
    }
  });
});
