/**
 * Interop with `bittorrent-dht` (the WebTorrent DHT, pure JS) over real UDP on 127.0.0.1: every
 * query and BEP 44 put/get, in both directions. Every wait is bounded; nothing leaves loopback.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import DHT, { type GetResult, type KrpcReply } from 'bittorrent-dht';
import { decodeNodes, decodePeer } from '../../src/kad/wire/compact.js';
import { createMutableItem, immutableTarget, keyPairFromSeed, mutableTarget } from '../../src/kad/items.js';
import { createNode, type KadNode } from '../../src/kad/node/node.js';
import { call, WAIT_MS } from '../helpers/callback.js';
import { ed25519Signer, ed25519Verify } from '../helpers/ed25519.js';

const LOOPBACK = '127.0.0.1';
const keys = keyPairFromSeed(randomBytes(32));

describe('interop with bittorrent-dht on 127.0.0.1', () => {
  let node: KadNode;
  let dht: DHT;
  let nautilus: { host: string; port: number };
  let anchor: { host: string; port: number };

  before(async () => {
    node = await createNode({ host: LOOPBACK, port: 0, bootstrap: [], signal: AbortSignal.timeout(WAIT_MS) });
    nautilus = { host: LOOPBACK, port: node.address().port };
    dht = new DHT({ bootstrap: false, host: LOOPBACK, verify: ed25519Verify });
    await call<undefined>((done) => dht.listen(0, LOOPBACK, () => done(null, undefined)));
    anchor = { host: LOOPBACK, port: dht.address().port };
  });

  after(async () => {
    await node.close();
    await new Promise<void>((resolve) => dht.destroy(() => resolve()));
  });

  describe('bittorrent-dht querying Nautilus', () => {
    const query = (q: string, a: Record<string, unknown>) =>
      call<KrpcReply>((done) =>
        dht._rpc.query(nautilus, { q, a: { id: dht.nodeId, ...a } }, (error, reply) => done(error, reply as KrpcReply)),
      );

    it('gets a pong carrying the Nautilus id', async () => {
      const reply = await query('ping', {});
      assert.deepEqual(new Uint8Array(reply.r?.['id'] as Buffer), node.id);
    });

    it('gets compact nodes for find_node, and is now in the Nautilus table', async () => {
      const reply = await query('find_node', { target: randomBytes(20) });
      const nodes = decodeNodes(new Uint8Array(reply.r?.['nodes'] as Buffer), 4);
      assert.ok(nodes.some((c) => c.port === anchor.port && Buffer.from(c.id).equals(dht.nodeId)));
    });

    it('announces through get_peers / announce_peer and finds itself in values', async () => {
      const infoHash = randomBytes(20);
      dht.addNode({ host: nautilus.host, port: nautilus.port, id: Buffer.from(node.id) });
      await call<undefined>((done) => dht.announce(infoHash, 6999, (error) => done(error, undefined)));
      const reply = await query('get_peers', { info_hash: infoHash });
      const values = (reply.r?.['values'] as Buffer[]).map((p) => decodePeer(new Uint8Array(p)));
      assert.deepEqual(values, [{ host: LOOPBACK, port: 6999 }]);
    });

    it('gets a bad-token error (203) for an announce with a forged token', async () => {
      await assert.rejects(query('announce_peer', { info_hash: randomBytes(20), port: 1, token: randomBytes(20) }), {
        code: 203,
      });
    });

    it('puts and gets an immutable item (BEP 44)', async () => {
      const v = Buffer.from(`immutable from bittorrent-dht ${randomBytes(4).toString('hex')}`);
      const [hash, count] = await call<[Buffer, number]>((done) => dht.put({ v }, (e, h, n) => done(e, [h, n])));
      assert.equal(count, 1);
      assert.deepEqual(new Uint8Array(hash), immutableTarget(new Uint8Array(v)));
      const got = await call<GetResult | null>((done) => dht.get(hash, { cache: false }, done));
      assert.deepEqual(got?.v, v);
    });

    it('gets an invalid-signature error (206) for a mutable put with a bad signature, not silence', async () => {
      const item = createMutableItem(keys, new TextEncoder().encode('forged'), 9);
      const sig = Buffer.from(item.sig);
      sig[0] = (sig[0] ?? 0) ^ 0xff;
      const get = await query('get', { target: randomBytes(20) });
      const token = get.r?.['token'] as Buffer;
      await assert.rejects(
        query('put', { token, v: Buffer.from(item.v as Uint8Array), k: Buffer.from(item.k), sig, seq: 9 }),
        {
          code: 206,
        },
      );
    });

    it('puts and gets a salted mutable item, then is refused a lower seq with 302', async () => {
      const salt = Buffer.from('bittorrent-dht');
      const k = Buffer.from(keys.publicKey);
      const signer = ed25519Signer(keys.secretKey, keys.publicKey);
      const put = (seq: number, text: string) =>
        call<number>((done) => dht.put({ k, salt, seq, v: Buffer.from(text), sign: signer }, (e, _h, n) => done(e, n)));
      assert.equal(await put(2, 'second'), 1);
      const target = Buffer.from(mutableTarget(keys.publicKey, salt));
      const got = await call<GetResult | null>((done) =>
        dht.get(target, { cache: false, salt, verify: ed25519Verify }, done),
      );
      assert.deepEqual([got?.v.toString(), got?.seq], ['second', 2]);
      await assert.rejects(put(1, 'first'), { code: 302 });
    });
  });

  describe('Nautilus querying bittorrent-dht', () => {
    const signal = () => AbortSignal.timeout(WAIT_MS);

    it('pings it and learns its id', async () => {
      const contact = await node.ping(anchor, { signal: signal() });
      assert.deepEqual(contact.id, new Uint8Array(dht.nodeId));
    });

    it('bootstraps a new node from it', async () => {
      const fresh = await createNode({ host: LOOPBACK, port: 0, bootstrap: [anchor], bootstrapTimeoutMs: WAIT_MS });
      try {
        assert.ok((await fresh.bootstrapped) >= 1);
        assert.ok(fresh.contacts().some((c) => Buffer.from(c.id).equals(dht.nodeId)));
      } finally {
        await fresh.close();
      }
    });

    it('gets compact nodes for find_node', async () => {
      const result = await node.findNode(anchor, new Uint8Array(randomBytes(20)), { signal: signal() });
      assert.deepEqual(result.id, new Uint8Array(dht.nodeId));
      assert.ok(result.nodes.some((c) => Buffer.from(c.id).equals(Buffer.from(node.id))));
    });

    it('announces with the token from get_peers and finds the peer', async () => {
      const infoHash = new Uint8Array(randomBytes(20));
      const first = await node.getPeers(anchor, infoHash, { signal: signal() });
      assert.ok(first.token !== undefined);
      await node.announcePeer(anchor, infoHash, 7001, first.token, { signal: signal() });
      const second = await node.getPeers(anchor, infoHash, { signal: signal() });
      assert.deepEqual(second.values, [{ host: LOOPBACK, port: 7001 }]);
    });

    it('announces with implied_port and is stored under its UDP source port', async () => {
      const infoHash = new Uint8Array(randomBytes(20));
      const { token } = await node.getPeers(anchor, infoHash, { signal: signal() });
      await node.announcePeer(anchor, infoHash, 0, token as Uint8Array, { impliedPort: true, signal: signal() });
      const { values } = await node.getPeers(anchor, infoHash, { signal: signal() });
      assert.deepEqual(values, [{ host: LOOPBACK, port: nautilus.port }]);
    });

    it('puts and gets an immutable item (BEP 44)', async () => {
      const v = new TextEncoder().encode(`immutable from Nautilus ${randomBytes(4).toString('hex')}`);
      const target = immutableTarget(v);
      const { token } = await node.getItem(anchor, target, { signal: signal() });
      await node.putItem(anchor, { v }, token as Uint8Array, { signal: signal() });
      const { item } = await node.getItem(anchor, target, { signal: signal() });
      assert.deepEqual(item, { v });
    });

    it('puts and gets a salted mutable item, with cas, and is refused a stale cas with 301', async () => {
      const salt = new TextEncoder().encode('nautilus');
      const target = mutableTarget(keys.publicKey, salt);
      const { token } = await node.getItem(anchor, target, { signal: signal() });
      const first = createMutableItem(keys, new TextEncoder().encode('one'), 1, salt);
      await node.putItem(anchor, first, token as Uint8Array, { signal: signal() });
      const second = createMutableItem(keys, new TextEncoder().encode('two'), 2, salt);
      await node.putItem(anchor, second, token as Uint8Array, { cas: 1, signal: signal() });
      const got = await node.getItem(anchor, target, { salt, signal: signal() });
      assert.deepEqual(got.item, second);
      const third = createMutableItem(keys, new TextEncoder().encode('three'), 3, salt);
      await assert.rejects(node.putItem(anchor, third, token as Uint8Array, { cas: 1, signal: signal() }), {
        code: 'REMOTE_ERROR',
        wireCode: 301,
      });
    });
  });
});
