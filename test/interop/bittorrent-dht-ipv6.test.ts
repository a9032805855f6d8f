/**
 * bittorrent-dht over IPv6 loopback (::1) against a dual-stack Nautilus node.
 *
 * bittorrent-dht 11 has no IPv6 support of its own: k-rpc-socket creates a `udp4` socket unless
 * one is injected (its documented `socket` option, reached through the DHT's options), and its
 * compact codecs are IPv4-only (26-byte `nodes`, 6-byte peers; no `nodes6`, no `want`, BEP 32 is
 * not implemented). So this file checks only what it can do on an injected `udp6` socket: KRPC
 * queries and BEP 44 items, both ways, over ::1. Node and peer lists of IPv6 contacts are not
 * exchanged with it (it would encode them as 0.0.0.0); the BEP 32 `nodes6`/`want` handling is
 * covered against Nautilus nodes in test/integration/kad/dual-stack-udp.test.ts.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { after, before, describe, it } from 'node:test';
import DHT, { type GetResult, type KrpcReply } from 'bittorrent-dht';
import { decodeNodes } from '../../src/kad/wire/compact.js';
import { immutableTarget } from '../../src/kad/items.js';
import { createNode, type KadNode } from '../../src/kad/node/node.js';
import type { RemoteInfo } from '../../src/kad/transport/transport.js';
import { call, WAIT_MS } from '../helpers/callback.js';

describe('interop with bittorrent-dht on ::1 (injected udp6 socket)', () => {
  let node: KadNode;
  let dht: DHT;
  let nautilus6: RemoteInfo;
  let anchor: { host: string; port: number };

  before(async () => {
    node = await createNode({ host: '127.0.0.1', host6: '::1', bootstrap: [], signal: AbortSignal.timeout(WAIT_MS) });
    nautilus6 = node.addresses()[1] as RemoteInfo;
    dht = new DHT({ bootstrap: false, host: '::1', socket: createSocket({ type: 'udp6', ipv6Only: true }) });
    await call<undefined>((done) => dht.listen(0, '::1', () => done(null, undefined)));
    anchor = { host: '::1', port: dht.address().port };
  });

  after(async () => {
    await node.close();
    await new Promise<void>((resolve) => dht.destroy(() => resolve()));
  });

  const query = (q: string, a: Record<string, unknown>) =>
    call<KrpcReply>((done) =>
      dht._rpc.query(nautilus6, { q, a: { id: dht.nodeId, ...a } }, (error, reply) => done(error, reply as KrpcReply)),
    );

  it('is answered over IPv6, with its IPv6 address in ip, and lands in the IPv6 table only', async () => {
    const reply = await query('ping', {});
    assert.deepEqual(new Uint8Array(reply.r?.['id'] as Buffer), node.id);
    assert.equal((reply as unknown as { ip: Buffer }).ip.length, 18);
    assert.ok(node.contacts(undefined, undefined, { family: 6 }).some((c) => Buffer.from(c.id).equals(dht.nodeId)));
    assert.equal(node.stats().families[4]?.contacts, 0);
  });

  it('gets nodes6 for a find_node over IPv6 without want, as BEP 32 asks', async () => {
    const reply = await query('find_node', { target: randomBytes(20) });
    assert.equal(reply.r?.['nodes'], undefined);
    const nodes6 = decodeNodes(new Uint8Array(reply.r?.['nodes6'] as Buffer), 6);
    assert.ok(nodes6.some((c) => c.host === '::1' && c.port === anchor.port));
  });

  it('puts and gets an immutable item through Nautilus over IPv6 (BEP 44)', async () => {
    dht.addNode({ host: nautilus6.host, port: nautilus6.port, id: Buffer.from(node.id) });
    const v = Buffer.from(`over ::1 ${randomBytes(4).toString('hex')}`);
    const [hash, count] = await call<[Buffer, number]>((done) => dht.put({ v }, (e, h, n) => done(e, [h, n])));
    assert.equal(count, 1);
    assert.deepEqual(new Uint8Array(hash), immutableTarget(new Uint8Array(v)));
    const got = await call<GetResult | null>((done) => dht.get(hash, { cache: false }, done));
    assert.deepEqual(got?.v, v);
  });

  it('is pinged by Nautilus over the IPv6 socket (it sends no ip field, so no external address is learned)', async () => {
    const contact = await node.ping(anchor, { signal: AbortSignal.timeout(WAIT_MS) });
    assert.deepEqual(contact.id, new Uint8Array(dht.nodeId));
    assert.equal(node.stats().families[6]?.rpc.queriesOut.ping, 1);
    assert.equal(node.externalAddress(6), undefined);
  });

  it('stores an immutable item that Nautilus puts over IPv6, and gives it back', async () => {
    const v = new TextEncoder().encode(`from Nautilus over ::1 ${randomBytes(4).toString('hex')}`);
    const target = immutableTarget(v);
    const signal = AbortSignal.timeout(WAIT_MS);
    const { token } = await node.getItem(anchor, target, { signal });
    await node.putItem(anchor, { v }, token as Uint8Array, { signal });
    const { item } = await node.getItem(anchor, target, { signal });
    assert.deepEqual(item, { v });
  });
});
