/**
 * Every reply fits one 1500-byte datagram: the largest legal BEP 44 items (a 1000-byte `v`, a
 * 64-byte salt, the largest seq) are served by nodes with full routing tables, in every family
 * and `want` mix, to a querier with the longest transaction id accepted (16 bytes).
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import type { BencodeDict, BencodeValue } from '../../../../src/kad/wire/bencode.js';
import { decodeNodes } from '../../../../src/kad/wire/compact.js';
import { decodeMessage, encodeMessage, type KrpcMessage } from '../../../../src/kad/wire/krpc.js';
import {
  createMutableItem,
  immutableTarget,
  keyPairFromSeed,
  MAX_SALT_BYTES,
  MAX_SEQ,
  type MutableItem,
  mutableTarget,
} from '../../../../src/kad/items.js';
import type { KadNode } from '../../../../src/kad/node/node.js';
import type { AddressFamily } from '../../../../src/kad/wire/compact.js';
import type { RemoteInfo } from '../../../../src/kad/transport/transport.js';
import { nodeWorld, type NodeWorld, rawDict } from '../../../helpers/node-world.js';
import { drive } from '../../../helpers/virtual-time.js';

const QUERIER = new Uint8Array(20).fill(0x24);
const LONGEST_T = new Uint8Array(16).fill(0x74);
// a byte string of 996 bytes bencodes to exactly 1000 ("996:" + 996)
const LARGEST_V = new Uint8Array(996).fill(0x76);
const keys = keyPairFromSeed(new Uint8Array(32).fill(3));

let cleanup: (() => Promise<void>) | undefined;
afterEach(async () => {
  await cleanup?.();
  cleanup = undefined;
});

/** A server of `families` whose routing table of each family holds at least k = 8 contacts. */
async function fullServer(w: NodeWorld, families: readonly AddressFamily[]): Promise<KadNode> {
  const server = await w.spawn({ family: families.length > 1 ? 'dual' : (families[0] ?? 4) });
  for (const family of families) {
    const address = server.addresses().find((a) => a.family === family) as RemoteInfo;
    for (let i = 0; i < 24 && server.contacts(undefined, undefined, { family }).length < 12; i++) {
      const pinger = await w.spawn({ family });
      await drive(w.clock, pinger.ping(address));
    }
    assert.ok(server.contacts(undefined, undefined, { family }).length >= 8, `IPv${family} table not full`);
  }
  return server;
}

/** Sends one query with a 16-byte `t` from a bare transport of `family`; returns the reply and its size. */
async function rawAsk(
  w: NodeWorld,
  to: RemoteInfo,
  q: string,
  a: Record<string, BencodeValue>,
): Promise<{ message: KrpcMessage; bytes: number }> {
  const raw = w.network.createTransport({ family: to.family });
  const replies: { message: KrpcMessage; bytes: number }[] = [];
  raw.on('message', ({ data }) => replies.push({ message: decodeMessage(data), bytes: data.byteLength }));
  const args = rawDict({ id: QUERIER, ...a });
  raw.send(encodeMessage({ y: 'q', t: LONGEST_T, q, a: args }), to);
  await w.clock.advanceAsync(50);
  await raw.close();
  assert.equal(replies.length, 1, `no reply to ${q}`);
  return replies[0] as { message: KrpcMessage; bytes: number };
}

const immutableItem = { v: LARGEST_V };
const mutableItem: MutableItem = createMutableItem(keys, LARGEST_V, MAX_SEQ, new Uint8Array(MAX_SALT_BYTES).fill(1));

const mixes: { name: string; families: AddressFamily[]; over: AddressFamily; want?: ('n4' | 'n6')[] }[] = [
  { name: 'an IPv4 node', families: [4], over: 4 },
  { name: 'an IPv6 node', families: [6], over: 6 },
  { name: 'a dual-stack node asked over IPv4 with want n4+n6', families: [4, 6], over: 4, want: ['n4', 'n6'] },
  { name: 'a dual-stack node asked over IPv6 with want n4+n6', families: [4, 6], over: 6, want: ['n4', 'n6'] },
];

describe('KadNode replies with the largest legal items', () => {
  for (const mix of mixes) {
    for (const kind of ['immutable', 'mutable'] as const) {
      it(`serves a 1000-byte ${kind} item from ${mix.name} in one datagram, with the closest nodes that fit`, async () => {
        const w = nodeWorld();
        cleanup = w.close;
        const server = await fullServer(w, mix.families);
        const to = server.addresses().find((a) => a.family === mix.over) as RemoteInfo;
        const client = await w.spawn({ family: mix.over });
        const item = kind === 'immutable' ? immutableItem : mutableItem;
        const target =
          kind === 'immutable' ? immutableTarget(LARGEST_V) : mutableTarget(keys.publicKey, mutableItem.salt);
        const want = mix.want === undefined ? {} : { want: mix.want };
        const { token } = await drive(w.clock, client.getItem(to, target, want));
        await drive(w.clock, client.putItem(to, item, token!));

        // the closest contacts as the server knows them now (the raw querier joins its table after)
        const closest = (family: AddressFamily): Uint8Array[] =>
          server.contacts(target, 8, { family }).map((c) => c.id);
        const before = { 4: closest(4), 6: closest(6) };
        const { message, bytes } = await rawAsk(w, to, 'get', {
          target,
          ...(mix.want === undefined ? {} : { want: mix.want.map((x) => new TextEncoder().encode(x)) }),
        });
        assert.equal(message.y, 'r', message.y === 'e' ? `error ${message.e.join(' ')}` : '');
        assert.ok(bytes <= 1500);
        const r = (message as { r: BencodeDict }).r;
        assert.deepEqual(r['v'], LARGEST_V);
        if (kind === 'mutable') {
          assert.equal(r['seq'], MAX_SEQ);
          assert.deepEqual(r['sig'], mutableItem.sig);
        }
        // the node lists shrink, but each wanted family keeps its closest contacts
        const wanted = mix.want === undefined ? [mix.over] : mix.want.map((x) => (x === 'n4' ? 4 : 6));
        for (const family of wanted) {
          const list = r[family === 4 ? 'nodes' : 'nodes6'];
          assert.ok(list instanceof Uint8Array, `no ${family === 4 ? 'nodes' : 'nodes6'}`);
          const nodes = decodeNodes(list, family);
          assert.ok(nodes.length >= 1 && nodes.length <= 8);
          assert.deepEqual(
            nodes.map((n) => n.id),
            before[family].slice(0, nodes.length),
          );
        }
        const got = await drive(
          w.clock,
          client.getItem(to, target, { ...want, ...(kind === 'mutable' ? { salt: mutableItem.salt } : {}) }),
        );
        assert.deepEqual(got.item, item);
      });
    }
  }

  it('still sends k = 8 contacts per family when the reply has room for them', async () => {
    const w = nodeWorld();
    cleanup = w.close;
    const server = await fullServer(w, [4, 6]);
    const to = server.addresses()[0] as RemoteInfo;
    const { message } = await rawAsk(w, to, 'get', {
      target: immutableTarget(LARGEST_V),
      want: [new TextEncoder().encode('n4'), new TextEncoder().encode('n6')],
    });
    const r = (message as { r: BencodeDict }).r;
    assert.equal(decodeNodes(r['nodes'] as Uint8Array, 4).length, 8);
    assert.equal(decodeNodes(r['nodes6'] as Uint8Array, 6).length, 8);
  });
});
