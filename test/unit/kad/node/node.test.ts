import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { afterEach, describe, it } from 'node:test';
import type { BencodeValue } from '../../../../src/kad/wire/bencode.js';
import { decodeMessage, encodeMessage, type KrpcMessage } from '../../../../src/kad/wire/krpc.js';
import { createMutableItem, immutableTarget, keyPairFromSeed, mutableTarget } from '../../../../src/kad/items.js';
import { createNode } from '../../../../src/kad/node/node.js';
import type { KadNodeOptions } from '../../../../src/kad/node/options.js';
import { MemoryRegistry } from '../../../../src/registry/index.js';
import { nodeWorld, rawDict } from '../../../helpers/node-world.js';
import { drive } from '../../../helpers/virtual-time.js';

const text = (s: string): Uint8Array => new TextEncoder().encode(s);
const INFO_HASH = new Uint8Array(20).fill(0x42);
const QUERIER = new Uint8Array(20).fill(0x24);

/** Binds a UDP socket on 127.0.0.1:`port`, reads `read` from it and closes it; rejects when the port is taken. */
async function bindUdp<T>(port: number, read: (socket: Socket) => T): Promise<T> {
  const socket = createSocket('udp4');
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(port, '127.0.0.1', () => resolve());
    });
    return read(socket);
  } finally {
    try {
      socket.close();
    } catch {
      // never bound: nothing to close
    }
  }
}

let cleanup: (() => Promise<void>) | undefined;
afterEach(async () => {
  await cleanup?.();
  cleanup = undefined;
});

describe('createNode', () => {
  it('rejects bad options with a message that names the option', async () => {
    await assert.rejects(createNode({ k: 0 }), { code: 'INVALID_OPTION', message: /^k must/ });
    await assert.rejects(createNode({ host: 'localhost' }), { code: 'INVALID_OPTION', message: /^host must/ });
    await assert.rejects(createNode({ port: 70000 }), { code: 'INVALID_OPTION', message: /^port must/ });
    await assert.rejects(createNode({ id: new Uint8Array(3) }), { code: 'INVALID_OPTION', message: /^id must/ });
    await assert.rejects(createNode({ bootstrap: [{ host: 'x', port: 1 }] }), {
      code: 'INVALID_OPTION',
      message: /^bootstrap/,
    });
    await assert.rejects(createNode({ maxStorageWaiting: 0 }), {
      code: 'INVALID_OPTION',
      message: /^maxStorageWaiting must/,
    });
    await assert.rejects(createNode({ storageTimeoutMs: Number.NaN }), {
      code: 'INVALID_OPTION',
      message: /^storageTimeoutMs must/,
    });
  });

  it('rejects a bad nested option and releases the socket it opened', async () => {
    // nested options are checked once the socket is bound: its port must be free again afterwards
    const cases: [KadNodeOptions, RegExp][] = [
      [{ rpc: { retries: -1 } }, /retries/],
      [{ storage: { maxEntries: 0 } }, /maxEntries/],
    ];
    for (const [options, message] of cases) {
      const port = await bindUdp(0, (socket) => socket.address().port);
      await assert.rejects(createNode({ host: '127.0.0.1', port, ...options }), { code: 'INVALID_OPTION', message });
      assert.equal(await bindUdp(port, (socket) => socket.address().port), port);
    }
  });

  it('listens on an injected transport and keeps the given id', async () => {
    const w = nodeWorld();
    cleanup = w.close;
    const id = new Uint8Array(20).fill(9);
    const node = await w.spawn({ id });
    assert.deepEqual(node.id, id);
    assert.equal(node.address().family, 4);
  });
});

describe('KadNode', () => {
  it('answers ping and adds the querier to its routing table', async () => {
    const w = nodeWorld();
    cleanup = w.close;
    const [a, b] = [await w.spawn(), await w.spawn()];
    const contact = await drive(w.clock, a.ping(b.address()));
    assert.deepEqual(contact.id, b.id);
    assert.deepEqual(
      b.contacts().map((c) => c.id),
      [a.id],
    );
    assert.deepEqual(
      a.contacts().map((c) => c.id),
      [b.id],
    );
  });

  it('adds a querier only once its query validated: not for 203 or 204, yes for a valid query', async () => {
    const w = nodeWorld();
    cleanup = w.close;
    const server = await w.spawn();
    const raw = w.network.createTransport();
    const replies: KrpcMessage[] = [];
    raw.on('message', ({ data }) => replies.push(decodeMessage(data)));
    const send = (q: string, a: Record<string, BencodeValue>): void =>
      raw.send(
        encodeMessage({ y: 'q', t: Uint8Array.of(replies.length + 1), q, a: rawDict({ id: QUERIER, ...a }) }),
        server.address(),
      );
    send('find_node', {}); // no target: 203
    send('announce_peer', { info_hash: INFO_HASH, port: 1, token: new Uint8Array(8) }); // bad token: 203
    send('sample_infohashes', { target: INFO_HASH }); // 204
    await w.clock.advanceAsync(50);
    assert.deepEqual(
      replies.map((m) => (m.y === 'e' ? m.e[0] : 'r')),
      [203, 203, 204],
    );
    assert.equal(server.stats().contacts, 0);
    send('find_node', { target: INFO_HASH });
    await w.clock.advanceAsync(50);
    assert.equal(replies[3]?.y, 'r');
    assert.deepEqual(
      server.contacts().map((c) => c.id),
      [QUERIER],
    );
  });

  it('does not add a read-only querier, and a read-only node answers nothing', async () => {
    const w = nodeWorld();
    cleanup = w.close;
    const server = await w.spawn();
    const reader = await w.spawn({ readOnly: true, rpc: { retries: 0 } });
    await drive(w.clock, reader.ping(server.address()));
    assert.equal(server.stats().contacts, 0);
    await assert.rejects(drive(w.clock, server.ping(reader.address())), { code: 'TIMEOUT' });
  });

  it('keeps a live contact when its bucket is full, and replaces one that fails the ping', async () => {
    const w = nodeWorld();
    cleanup = w.close;
    const idAt = (last: number): Uint8Array =>
      Uint8Array.from({ length: 20 }, (_, i) => (i === 0 ? 0x80 : i === 19 ? last : 0));
    const server = await w.spawn({ id: new Uint8Array(20), k: 1 });
    const [a, b, c] = [await w.spawn({ id: idAt(1) }), await w.spawn({ id: idAt(2) }), await w.spawn({ id: idAt(3) })];
    await drive(w.clock, a.ping(server.address()));
    await drive(w.clock, b.ping(server.address()));
    await w.clock.advanceAsync(1000);
    assert.deepEqual(
      server.contacts().map((x) => x.id),
      [a.id],
    );
    await a.close();
    await drive(w.clock, c.ping(server.address()));
    for (let t = 0; t < 30_000 && server.contacts()[0]?.id[19] !== 3; t += 100) await w.clock.advanceAsync(100);
    assert.deepEqual(
      server.contacts().map((x) => x.id),
      [c.id],
    );
  });

  it('bootstraps from the given nodes and learns the contacts they return', async () => {
    const w = nodeWorld();
    cleanup = w.close;
    const seed = await w.spawn();
    const others = [await w.spawn(), await w.spawn(), await w.spawn()];
    for (const o of others) await drive(w.clock, o.ping(seed.address()));
    const late = await w.spawn({ bootstrap: [seed.address()] });
    const size = await drive(w.clock, late.bootstrapped);
    assert.equal(size, 4);
  });

  it('announces and finds a peer through get_peers / announce_peer', async () => {
    const w = nodeWorld();
    cleanup = w.close;
    const [a, b] = [await w.spawn(), await w.spawn()];
    const first = await drive(w.clock, a.getPeers(b.address(), INFO_HASH));
    assert.deepEqual(first.values, []);
    assert.ok(first.token !== undefined);
    await drive(w.clock, a.announcePeer(b.address(), INFO_HASH, 6881, first.token));
    const second = await drive(w.clock, a.getPeers(b.address(), INFO_HASH));
    assert.deepEqual(second.values, [{ host: a.address().host, port: 6881 }]);
  });

  it('puts and gets immutable and mutable items, checked against their target', async () => {
    const w = nodeWorld();
    cleanup = w.close;
    const [a, b] = [await w.spawn(), await w.spawn()];
    const v = text('hello');
    const { token } = await drive(w.clock, a.getItem(b.address(), immutableTarget(v)));
    assert.ok(token !== undefined);
    await drive(w.clock, a.putItem(b.address(), { v }, token));
    assert.deepEqual((await drive(w.clock, a.getItem(b.address(), immutableTarget(v)))).item, { v });

    const keys = keyPairFromSeed(new Uint8Array(32).fill(3));
    const salt = text('salt');
    const item = createMutableItem(keys, text('mutable'), 4, salt);
    await drive(w.clock, a.putItem(b.address(), item, token));
    const got = await drive(w.clock, a.getItem(b.address(), mutableTarget(keys.publicKey, salt), { salt }));
    assert.deepEqual(got.item, item);
    assert.equal(got.seq, 4);
  });

  it('rejects with REMOTE_ERROR and the wire code when the remote refuses', async () => {
    const w = nodeWorld();
    cleanup = w.close;
    const [a, b] = [await w.spawn(), await w.spawn()];
    await assert.rejects(drive(w.clock, a.putItem(b.address(), { v: text('x') }, new Uint8Array(20))), {
      code: 'REMOTE_ERROR',
      wireCode: 203,
    });
  });

  it('keeps stored items in an injected registry', async () => {
    const w = nodeWorld();
    cleanup = w.close;
    const registry = new MemoryRegistry({}, { clock: w.clock });
    const [a, b] = [await w.spawn(), await w.spawn({ registry })];
    const { token } = await drive(w.clock, a.getItem(b.address(), INFO_HASH));
    await drive(w.clock, a.putItem(b.address(), { v: text('kept') }, token as Uint8Array));
    assert.equal(await registry.size(), 1);
    await b.close();
    assert.equal(await registry.size(), 1);
    await registry.close();
  });

  it('aborts a call with the signal reason and rejects calls after close', async () => {
    const w = nodeWorld();
    cleanup = w.close;
    const [a, b] = [await w.spawn(), await w.spawn()];
    const controller = new AbortController();
    const pending = a.ping(b.address(), { signal: controller.signal });
    controller.abort(new Error('stop'));
    await assert.rejects(pending, { message: 'stop' });
    await a.close();
    await a.close();
    await assert.rejects(a.ping(b.address()), { code: 'CLOSED' });
  });
});
