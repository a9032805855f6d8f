/**
 * BEP 44 items at the edges of what the protocol allows, sent by well-behaved and hostile peers
 * over a MemoryNetwork: 64-bit sequence numbers, large integers, weak ed25519 keys, floods of
 * one kind of record.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import type { BencodeDict, BencodeValue } from '../../../../src/kad/wire/bencode.js';
import { decodeMessage, encodeMessage, type KrpcMessage } from '../../../../src/kad/wire/krpc.js';
import {
  createMutableItem,
  immutableTarget,
  keyPairFromSeed,
  MAX_SEQ,
  mutableTarget,
} from '../../../../src/kad/items.js';
import type { KadNode } from '../../../../src/kad/node/node.js';
import type { MemoryTransport } from '../../../../src/testing/index.js';
import { nodeWorld, type NodeWorld, rawDict } from '../../../helpers/node-world.js';
import { drive } from '../../../helpers/virtual-time.js';

const text = (s: string): Uint8Array => new TextEncoder().encode(s);
const QUERIER = new Uint8Array(20).fill(0x24);
const keys = keyPairFromSeed(new Uint8Array(32).fill(5));

/** A bare transport that sends hand-made queries to `server` and collects the replies. */
function rawClient(w: NodeWorld, server: KadNode) {
  const raw: MemoryTransport = w.network.createTransport();
  const replies: KrpcMessage[] = [];
  raw.on('message', ({ data }) => replies.push(decodeMessage(data)));
  let t = 0;
  const ask = async (q: string, a: Record<string, BencodeValue>): Promise<KrpcMessage | undefined> => {
    const before = replies.length;
    raw.send(encodeMessage({ y: 'q', t: Uint8Array.of(++t), q, a: rawDict({ id: QUERIER, ...a }) }), server.address());
    await w.clock.advanceAsync(50);
    return replies.length > before ? replies[replies.length - 1] : undefined;
  };
  const token = async (target: Uint8Array): Promise<Uint8Array> => {
    const reply = await ask('get', { target });
    assert.equal(reply?.y, 'r');
    return (reply as { r: BencodeDict }).r['token'] as Uint8Array;
  };
  return { ask, token };
}

let cleanup: (() => Promise<void>) | undefined;
afterEach(async () => {
  await cleanup?.();
  cleanup = undefined;
});

describe('KadNode BEP 44 sequence numbers and integers', () => {
  it('answers a put whose seq is 2^63 with 203 instead of leaving it unanswered', async () => {
    const w = nodeWorld();
    cleanup = w.close;
    const server = await w.spawn();
    const client = rawClient(w, server);
    const target = mutableTarget(keys.publicKey);
    const token = await client.token(target);
    const reply = await client.ask('put', {
      token,
      v: text('x'),
      k: keys.publicKey,
      sig: new Uint8Array(64),
      seq: 2n ** 63n,
    });
    assert.equal(reply?.y, 'e');
    assert.equal(reply.y === 'e' && reply.e[0], 203);
    assert.match(reply.y === 'e' ? reply.e[1] : '', /"seq"/);
  });

  it('answers a query carrying a huge integer in an unknown field instead of dropping it', async () => {
    const w = nodeWorld();
    cleanup = w.close;
    const server = await w.spawn();
    const reply = await rawClient(w, server).ask('ping', { extension: BigInt(`1${'0'.repeat(400)}`) });
    assert.equal(reply?.y, 'r');
  });

  it('stores and serves a mutable item whose seq is 2^63 − 1, and refuses a lower one with 302', async () => {
    const w = nodeWorld();
    cleanup = w.close;
    const [server, client] = [await w.spawn(), await w.spawn()];
    const item = createMutableItem(keys, text('last'), MAX_SEQ);
    const target = mutableTarget(keys.publicKey);
    const { token } = await drive(w.clock, client.getItem(server.address(), target));
    await drive(w.clock, client.putItem(server.address(), item, token!));
    const got = await drive(w.clock, client.getItem(server.address(), target));
    assert.equal(got.seq, MAX_SEQ);
    assert.deepEqual(got.item, item);
    const withheld = await drive(w.clock, client.getItem(server.address(), target, { seq: MAX_SEQ }));
    assert.equal(withheld.item, undefined);
    const older = createMutableItem(keys, text('older'), MAX_SEQ - 1n);
    await assert.rejects(drive(w.clock, client.putItem(server.address(), older, token!)), {
      code: 'REMOTE_ERROR',
      wireCode: 302,
    });
  });

  it('stores and serves an immutable item holding integers beyond 2^53 under its exact target', async () => {
    const w = nodeWorld();
    cleanup = w.close;
    const [server, client] = [await w.spawn(), await w.spawn()];
    const v: BencodeValue = [2n ** 64n + 1n, -(2n ** 70n), text('big')];
    const target = immutableTarget(v);
    const { token } = await drive(w.clock, client.getItem(server.address(), target));
    await drive(w.clock, client.putItem(server.address(), { v }, token!));
    const got = await drive(w.clock, client.getItem(server.address(), target));
    assert.deepEqual(got.item, { v });
  });
});

describe('KadNode BEP 44 signatures from weak keys', () => {
  const identity = Uint8Array.from({ length: 32 }, (_, i) => (i === 0 ? 1 : 0));
  const forgedSig = Uint8Array.from([...identity, ...new Uint8Array(32)]); // R = identity, S = 0

  it('answers 206 to a put signed by the small-order identity key', async () => {
    const w = nodeWorld();
    cleanup = w.close;
    const [server, client] = [await w.spawn(), await w.spawn()];
    const target = mutableTarget(identity);
    const { token } = await drive(w.clock, client.getItem(server.address(), target));
    const forged = { v: text('overwritten'), k: identity, sig: forgedSig, seq: 1 };
    await assert.rejects(drive(w.clock, client.putItem(server.address(), forged, token!)), {
      code: 'REMOTE_ERROR',
      wireCode: 206,
    });
    assert.equal((await drive(w.clock, client.getItem(server.address(), target))).item, undefined);
  });

  it('drops an item signed by a small-order key from a get response', async () => {
    const w = nodeWorld();
    cleanup = w.close;
    const client = await w.spawn();
    const liar = w.network.createTransport();
    liar.on('message', ({ data, from }) => {
      const query = decodeMessage(data);
      if (query.y !== 'q') return;
      const r = rawDict({ id: QUERIER, token: text('tk'), v: text('forged'), k: identity, sig: forgedSig, seq: 7 });
      liar.send(encodeMessage({ y: 'r', t: query.t, r }), from);
    });
    const got = await drive(w.clock, client.getItem(liar.address(), mutableTarget(identity)));
    assert.equal(got.seq, 7);
    assert.equal(got.item, undefined);
  });
});

describe('KadNode storage budgets', () => {
  it('keeps an item through a flood of announce_peer for new info-hashes', async () => {
    const w = nodeWorld();
    cleanup = w.close;
    const storage = { maxEntries: 300, maxInfoHashes: 200, maxItems: 100 };
    const [server, client] = [await w.spawn({ storage }), await w.spawn()];
    const v = text('stored before the flood');
    const target = immutableTarget(v);
    const { token } = await drive(w.clock, client.getItem(server.address(), target));
    await drive(w.clock, client.putItem(server.address(), { v }, token!));
    // a loopback flooder: exempt from the inbound rate limit
    const flooder = w.network.createTransport({ host: '127.0.0.1' });
    const replies: KrpcMessage[] = [];
    flooder.on('message', ({ data }) => replies.push(decodeMessage(data)));
    const query = (i: number, q: string, a: Record<string, BencodeValue>): void =>
      flooder.send(
        encodeMessage({ y: 'q', t: Uint8Array.of(i >> 8, i & 0xff), q, a: rawDict({ id: QUERIER, ...a }) }),
        server.address(),
      );
    const infoHash = (i: number): Uint8Array =>
      Uint8Array.from({ length: 20 }, (_, j) => (j < 2 ? (i >> (8 * j)) & 0xff : 7));
    query(0, 'get_peers', { info_hash: infoHash(0) });
    await w.clock.advanceAsync(20);
    const floodToken = (replies[0] as { r: BencodeDict }).r['token'] as Uint8Array;
    for (let i = 1; i <= 3000; i++) {
      query(i, 'announce_peer', { info_hash: infoHash(i), port: 6881, token: floodToken });
      if (i % 500 === 0) await w.clock.advanceAsync(20);
    }
    await w.clock.advanceAsync(20);
    assert.equal(replies.filter((m) => m.y === 'r').length, 3001);
    const got = await drive(w.clock, client.getItem(server.address(), target));
    assert.deepEqual(got.item, { v });
    const last = await drive(w.clock, client.getPeers(server.address(), infoHash(3000)));
    assert.equal(last.values.length, 1);
  });
});
