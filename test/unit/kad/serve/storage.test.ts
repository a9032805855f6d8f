import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KadStorage } from '../../../../src/kad/serve/storage.js';
import { MemoryRegistry } from '../../../../src/registry/index.js';
import { ManualClock } from '../../../../src/testing/index.js';

const INFO_HASH = new Uint8Array(20).fill(0xab);
const TARGET = new Uint8Array(20).fill(0xcd);
const MINUTE = 60_000;

function peer4(last: number, port = 6881): Uint8Array {
  return Uint8Array.of(10, 0, 0, last, port >> 8, port & 0xff);
}

function peer6(last: number): Uint8Array {
  const p = new Uint8Array(18);
  p[0] = 0xfd;
  p[15] = last;
  p[16] = 0x1a;
  p[17] = 0xe1;
  return p;
}

function mutable(seq: number, value: string) {
  return {
    v: new TextEncoder().encode(`${value.length}:${value}`),
    k: new Uint8Array(32).fill(1),
    sig: new Uint8Array(64).fill(seq & 0xff),
    seq,
    salt: new Uint8Array(0),
  };
}

function setup(options = {}, limits = {}) {
  const clock = new ManualClock();
  const registry = new MemoryRegistry(limits, { clock });
  const storage = new KadStorage(options, { clock, registry });
  return { clock, registry, storage };
}

describe('KadStorage peers', () => {
  it('returns announced peers of the asked family only', async () => {
    const { storage } = setup();
    await storage.announcePeer(INFO_HASH, peer4(1));
    await storage.announcePeer(INFO_HASH, peer6(2));
    assert.deepEqual(await storage.getPeers(INFO_HASH, { family: 4, max: 50 }), [peer4(1)]);
    assert.deepEqual(await storage.getPeers(INFO_HASH, { family: 6, max: 50 }), [peer6(2)]);
    assert.deepEqual(await storage.getPeers(new Uint8Array(20), { family: 4, max: 50 }), []);
  });

  it('keeps one entry per peer when it announces again', async () => {
    const { storage } = setup();
    await storage.announcePeer(INFO_HASH, peer4(1));
    await storage.announcePeer(INFO_HASH, peer4(1));
    assert.equal((await storage.getPeers(INFO_HASH, { family: 4, max: 50 })).length, 1);
  });

  it('forgets a peer 30 minutes after its last announcement', async () => {
    const { clock, storage } = setup();
    await storage.announcePeer(INFO_HASH, peer4(1));
    clock.advance(20 * MINUTE);
    await storage.announcePeer(INFO_HASH, peer4(2));
    clock.advance(10 * MINUTE);
    assert.deepEqual(await storage.getPeers(INFO_HASH, { family: 4, max: 50 }), [peer4(2)]);
    clock.advance(20 * MINUTE);
    assert.deepEqual(await storage.getPeers(INFO_HASH, { family: 4, max: 50 }), []);
  });

  it('caps peers per info-hash, dropping the oldest announcement', async () => {
    const { clock, storage } = setup({ maxPeersPerInfoHash: 3 });
    for (let i = 1; i <= 5; i++) {
      await storage.announcePeer(INFO_HASH, peer4(i));
      clock.advance(1000);
    }
    const peers = await storage.getPeers(INFO_HASH, { family: 4, max: 50 });
    assert.deepEqual(peers.map((p) => p[3]).sort(), [3, 4, 5]);
  });

  it('returns a random subset of at most max peers when more are known', async () => {
    const { storage } = setup();
    for (let i = 1; i <= 100; i++) await storage.announcePeer(INFO_HASH, peer4(i));
    const peers = await storage.getPeers(INFO_HASH, { family: 4, max: 10 });
    assert.equal(peers.length, 10);
    assert.equal(new Set(peers.map((p) => p[3])).size, 10);
  });

  it('does not lose announcements made concurrently', async () => {
    const { storage } = setup();
    await Promise.all(Array.from({ length: 3 }, (_, i) => storage.announcePeer(INFO_HASH, peer4(i + 1))));
    assert.equal((await storage.getPeers(INFO_HASH, { family: 4, max: 50 })).length, 3);
  });

  it('rejects a peer that is not a compact peer', async () => {
    const { storage } = setup();
    await assert.rejects(storage.announcePeer(INFO_HASH, new Uint8Array(7)), { code: 'INVALID_ADDRESS' });
  });
});

describe('KadStorage items', () => {
  it('stores an immutable item and renews it when put again', async () => {
    const { clock, storage } = setup();
    const v = new TextEncoder().encode('5:hello');
    assert.equal(await storage.putImmutable(TARGET, v), 'stored');
    clock.advance(90 * MINUTE);
    assert.equal(await storage.putImmutable(TARGET, v), 'refreshed');
    clock.advance(90 * MINUTE);
    assert.deepEqual(await storage.getItem(TARGET), { mutable: false, v });
  });

  it('expires an item 2 hours after the last put', async () => {
    const { clock, storage } = setup();
    await storage.putImmutable(TARGET, new TextEncoder().encode('1:x'));
    clock.advance(120 * MINUTE);
    assert.equal(await storage.getItem(TARGET), undefined);
  });

  it('stores a mutable item and returns all its fields', async () => {
    const { storage } = setup();
    const item = { ...mutable(1, 'a'), salt: new TextEncoder().encode('salt') };
    assert.equal(await storage.putMutable(TARGET, item), 'stored');
    assert.deepEqual(await storage.getItem(TARGET), { mutable: true, ...item });
  });

  it('replaces a mutable item by a higher seq', async () => {
    const { storage } = setup();
    await storage.putMutable(TARGET, mutable(1, 'a'));
    assert.equal(await storage.putMutable(TARGET, mutable(2, 'b')), 'stored');
    const stored = await storage.getItem(TARGET);
    assert.equal(stored?.mutable === true ? stored.seq : -1, 2);
  });

  it('answers seq-too-low for a lower seq, and for the same seq with another value', async () => {
    const { storage } = setup();
    await storage.putMutable(TARGET, mutable(5, 'a'));
    assert.equal(await storage.putMutable(TARGET, mutable(4, 'z')), 'seq-too-low');
    assert.equal(await storage.putMutable(TARGET, mutable(5, 'b')), 'seq-too-low');
  });

  it('refreshes the timeout for the same seq and value', async () => {
    const { clock, storage } = setup();
    await storage.putMutable(TARGET, mutable(5, 'a'));
    clock.advance(90 * MINUTE);
    assert.equal(await storage.putMutable(TARGET, mutable(5, 'a')), 'refreshed');
    clock.advance(90 * MINUTE);
    assert.notEqual(await storage.getItem(TARGET), undefined);
  });

  it('answers cas-mismatch when cas differs from the stored seq, and stores when it matches', async () => {
    const { storage } = setup();
    await storage.putMutable(TARGET, mutable(5, 'a'));
    assert.equal(await storage.putMutable(TARGET, mutable(6, 'b'), { cas: 4 }), 'cas-mismatch');
    assert.equal(await storage.putMutable(TARGET, mutable(6, 'b'), { cas: 5 }), 'stored');
  });

  it('keeps a 64-bit seq beyond 2^53 exactly, ordered against the seqs next to it', async () => {
    const { storage } = setup();
    const max = 2n ** 63n - 1n;
    assert.equal(await storage.putMutable(TARGET, { ...mutable(1, 'a'), seq: 2n ** 53n + 1n }), 'stored');
    assert.equal(await storage.putMutable(TARGET, { ...mutable(1, 'b'), seq: 2n ** 53n }), 'seq-too-low');
    assert.equal(
      await storage.putMutable(TARGET, { ...mutable(1, 'c'), seq: max }, { cas: 2n ** 53n }),
      'cas-mismatch',
    );
    assert.equal(await storage.putMutable(TARGET, { ...mutable(1, 'c'), seq: max }, { cas: 2n ** 53n + 1n }), 'stored');
    const stored = await storage.getItem(TARGET);
    assert.equal(stored?.mutable === true ? stored.seq : -1, max);
    assert.equal(await storage.putMutable(TARGET, { ...mutable(1, 'c'), seq: max }), 'refreshed');
  });

  it('reads a mutable item stored with a float64 seq by an earlier version', async () => {
    const { storage } = setup();
    const item = mutable(9, 'old');
    const bytes = new Uint8Array(1 + 32 + 64 + 8 + 1 + item.v.length);
    bytes[0] = 1;
    bytes.set(item.k, 1);
    bytes.set(item.sig, 33);
    new DataView(bytes.buffer).setFloat64(97, 9);
    bytes.set(item.v, 106);
    await storage.registry.set(`item:${Buffer.from(TARGET).toString('hex')}`, bytes);
    assert.deepEqual(await storage.getItem(TARGET), { mutable: true, ...item });
    assert.equal(await storage.putMutable(TARGET, mutable(8, 'older')), 'seq-too-low');
  });

  it('rejects with CODEC_ERROR for a corrupt item record, and overwrites it on put', async () => {
    const { registry, storage } = setup();
    await storage.registry.set(`item:${Buffer.from(TARGET).toString('hex')}`, Uint8Array.of(1, 2, 3));
    await assert.rejects(storage.getItem(TARGET), { name: 'RegistryError', code: 'CODEC_ERROR' });
    assert.equal(await storage.putMutable(TARGET, mutable(1, 'fresh')), 'stored');
    assert.equal((await storage.getItem(TARGET))?.mutable, true);
    await registry.close();
  });

  it('keeps one record per info-hash and per item in the registry it is given', async () => {
    const { registry, storage } = setup();
    await storage.announcePeer(INFO_HASH, peer4(1));
    await storage.announcePeer(INFO_HASH, peer4(2));
    await storage.putImmutable(TARGET, new TextEncoder().encode('1:x'));
    assert.equal(await registry.size(), 2);
    await registry.close();
  });

  it('stays within the byte bound of its registry', async () => {
    const { storage } = setup({}, { maxBytes: 4096 });
    for (let i = 0; i < 50; i++) {
      const target = new Uint8Array(20).fill(i);
      await storage.putImmutable(target, new Uint8Array(500).fill(0x61));
    }
    assert.ok((await storage.size()) <= 8);
  });

  it('validates options and names the option', () => {
    const registry = new MemoryRegistry();
    assert.throws(() => new KadStorage({ maxPeersPerInfoHash: 0 }, { registry }), /maxPeersPerInfoHash/);
    assert.throws(() => new KadStorage({ peerTtlMs: -1 }, { registry }), /peerTtlMs/);
    assert.throws(() => new KadStorage({ maxInfoHashes: 0 }, { registry }), /maxInfoHashes must/);
    assert.throws(() => new KadStorage({ maxItems: 1.5 }, { registry }), /maxItems must/);
    assert.throws(() => new KadStorage({ maxPeerBytes: 0 }, { registry }), /maxPeerBytes must/);
    assert.throws(() => new KadStorage({ maxItemBytes: -1 }, { registry }), /maxItemBytes must/);
    assert.throws(() => new KadStorage({}, {} as never), { code: 'INVALID_OPTION', message: /^registry must/ });
  });
});

describe('KadStorage budgets: peers and items apart', () => {
  const hash = (i: number): Uint8Array => {
    const id = new Uint8Array(20);
    new DataView(id.buffer).setUint32(0, i);
    return id;
  };
  // a registry exactly as large as the two budgets together, as a node makes it by default
  const budgets = { maxInfoHashes: 60, maxItems: 40 };
  const limits = { maxEntries: 100 };

  it('keeps an item stored before a flood of announce_peer for new info-hashes', async () => {
    const { storage } = setup(budgets, limits);
    await storage.putImmutable(TARGET, new TextEncoder().encode('4:kept'));
    for (let i = 0; i < 1000; i++) await storage.announcePeer(hash(i), peer4(i & 0xff));
    assert.deepEqual(await storage.getItem(TARGET), { mutable: false, v: new TextEncoder().encode('4:kept') });
    assert.equal(storage.usage().peers.entries, 60);
    // the newest info-hashes stayed, the oldest went
    assert.equal((await storage.getPeers(hash(999), { family: 4, max: 10 })).length, 1);
    assert.equal((await storage.getPeers(hash(0), { family: 4, max: 10 })).length, 0);
  });

  it('keeps peers announced before a flood of put', async () => {
    const { storage } = setup(budgets, limits);
    await storage.announcePeer(INFO_HASH, peer4(1));
    for (let i = 0; i < 1000; i++) await storage.putImmutable(hash(i), new TextEncoder().encode(`i${i}e`));
    assert.deepEqual(await storage.getPeers(INFO_HASH, { family: 4, max: 10 }), [peer4(1)]);
    assert.equal(storage.usage().items.entries, 40);
    assert.notEqual(await storage.getItem(hash(999)), undefined);
    assert.equal(await storage.getItem(hash(0)), undefined);
  });

  it('bounds the bytes of each kind: large items never push out peers', async () => {
    const { storage } = setup({ maxItemBytes: 8 * 1024 }, { maxBytes: 64 * 1024 });
    await storage.announcePeer(INFO_HASH, peer4(1));
    const large = new Uint8Array(1000).fill(0x61);
    for (let i = 0; i < 200; i++) await storage.putImmutable(hash(i), large);
    const { items } = storage.usage();
    assert.ok(items.bytes <= 8 * 1024, `items take ${items.bytes} bytes`);
    assert.equal(items.entries, 7); // 7 × (45 + 1001) bytes
    assert.deepEqual(await storage.getPeers(INFO_HASH, { family: 4, max: 10 }), [peer4(1)]);
  });

  it('counts a record again when it is written again, and forgets one the registry lost', async () => {
    const { registry, storage } = setup(budgets, limits);
    await storage.announcePeer(INFO_HASH, peer4(1));
    await storage.announcePeer(INFO_HASH, peer4(2));
    assert.deepEqual(storage.usage().peers, { entries: 1, bytes: 46 + 2 * 15 });
    await registry.clear();
    assert.deepEqual(await storage.getPeers(INFO_HASH, { family: 4, max: 10 }), []);
    assert.deepEqual(storage.usage().peers, { entries: 0, bytes: 0 });
  });
});
