/**
 * A signed registry record is a BEP 44 mutable item, both ways, against `bittorrent-dht` over
 * real UDP on 127.0.0.1: a record published by a Nautilus node reads back and verifies in
 * bittorrent-dht, and an item bittorrent-dht put is stored as a signed record without re-signing;
 * an audit log's checkpoint is a BEP 44 item too.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import DHT, { type GetResult } from 'bittorrent-dht';
import { generateEd25519KeyPair } from '../../src/core/ed25519.js';
import { mutableTarget } from '../../src/kad/items.js';
import { createNode, type KadNode } from '../../src/kad/node/node.js';
import { AuditedRegistry } from '../../src/registry/audited/audited-registry.js';
import { checkpointItem } from '../../src/registry/audited/chain.js';
import { FileAuditSink } from '../../src/registry/audited/file-sink.js';
import { verifyAuditLog } from '../../src/registry/audited/verify.js';
import { MemoryRegistry } from '../../src/registry/index.js';
import { SignedRegistry } from '../../src/registry/signed/signed-registry.js';
import { call, WAIT_MS } from '../helpers/callback.js';
import { ed25519Signer, ed25519Verify } from '../helpers/ed25519.js';

const LOOPBACK = '127.0.0.1';
const encoder = new TextEncoder();

describe('signed registry records as BEP 44 items, with bittorrent-dht on 127.0.0.1', () => {
  let node: KadNode;
  let dht: DHT;
  /** A second Nautilus node: it reads from the DHT what bittorrent-dht put on the first one. */
  let reader: KadNode;
  const signal = (): AbortSignal => AbortSignal.timeout(WAIT_MS);
  const dhtGet = (publicKey: Uint8Array, salt: Uint8Array) =>
    call<GetResult | null>((done) =>
      dht.get(
        Buffer.from(mutableTarget(publicKey, salt)),
        { cache: false, salt: Buffer.from(salt), verify: ed25519Verify },
        done,
      ),
    );

  before(async () => {
    dht = new DHT({ bootstrap: false, host: LOOPBACK, verify: ed25519Verify });
    await call<undefined>((done) => dht.listen(0, LOOPBACK, () => done(null, undefined)));
    const anchor = { host: LOOPBACK, port: dht.address().port };
    node = await createNode({ host: LOOPBACK, port: 0, bootstrap: [anchor], signal: signal() });
    await node.bootstrapped;
    reader = await createNode({ host: LOOPBACK, port: 0, bootstrap: [anchor], signal: signal() });
    await reader.bootstrapped;
    dht.addNode({ host: LOOPBACK, port: node.address().port, id: Buffer.from(node.id) });
  });

  after(async () => {
    await node.close();
    await reader.close();
    await new Promise<void>((resolve) => dht.destroy(() => resolve()));
  });

  it('publishes a signed record with putMutable, and bittorrent-dht reads it back verified with the same signature', async () => {
    const keyPair = generateEd25519KeyPair();
    const registry = new SignedRegistry(new MemoryRegistry(), { keyPair });
    const key = `profile-${randomBytes(4).toString('hex')}`;
    await registry.set(key, encoder.encode('hello from the registry'));
    const signed = await registry.getSigned(key);
    assert.ok(signed);
    const put = await node.putMutable(keyPair, signed.record.value, {
      salt: signed.item.salt,
      seq: signed.item.seq,
      signal: signal(),
    });
    assert.ok(put.storedOn.length >= 1);
    const got = await dhtGet(keyPair.publicKey, signed.item.salt);
    assert.ok(got);
    assert.equal(got.v.toString(), 'hello from the registry');
    assert.equal(got.seq, 1);
    assert.deepEqual(new Uint8Array(got.sig as Buffer), signed.item.sig);
  });

  it('publishes the next version as the stored item itself with put, no secret key needed', async () => {
    const keyPair = generateEd25519KeyPair();
    const registry = new SignedRegistry(new MemoryRegistry(), { keyPair });
    const key = `status-${randomBytes(4).toString('hex')}`;
    await registry.set(key, encoder.encode('one'));
    await registry.set(key, encoder.encode('two'));
    const signed = await registry.getSigned(key);
    assert.ok(signed);
    await node.put(signed.item, { signal: signal() });
    const got = await dhtGet(keyPair.publicKey, signed.item.salt);
    assert.deepEqual([got?.v.toString(), got?.seq], ['two', 2]);
  });

  it('publishes an audit checkpoint that bittorrent-dht serves back, against which the log verifies', async () => {
    const keyPair = generateEd25519KeyPair();
    const logId = `log-${randomBytes(4).toString('hex')}`;
    const dir = mkdtempSync(join(tmpdir(), 'nautilus-checkpoint-'));
    try {
      const path = join(dir, 'audit.jsonl');
      const sink = await FileAuditSink.open({ path, fsync: 'never', checkpoint: { keyPair, logId, every: 0 } });
      const audited = new AuditedRegistry(new MemoryRegistry(), { sink });
      await audited.set('a', encoder.encode('1'));
      await audited.set('b', encoder.encode('2'));
      await audited.checkpoint();
      await audited.close();
      const text = readFileSync(path, 'utf8');
      const line = text.trimEnd().split('\n').at(-1) as string;
      await node.put(checkpointItem(JSON.parse(line) as Parameters<typeof checkpointItem>[0]), { signal: signal() });
      const got = await dhtGet(keyPair.publicKey, encoder.encode(logId));
      assert.ok(got);
      const seen = { seq: got.seq as number, head: new Uint8Array(got.v) };
      assert.equal(verifyAuditLog(text, { checkpoint: seen, publicKey: keyPair.publicKey }).ok, true);
      const edited = text.replace('"registry"', '"someone"');
      assert.equal(verifyAuditLog(edited, { checkpoint: seen }).ok, false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('stores an item bittorrent-dht put as a signed record without re-signing, and reads it verified', async () => {
    const writer = generateEd25519KeyPair();
    const salt = encoder.encode(`from-dht-${randomBytes(4).toString('hex')}`);
    const stored = await call<number>((done) =>
      dht.put(
        {
          k: Buffer.from(writer.publicKey),
          salt: Buffer.from(salt),
          seq: 7,
          v: Buffer.from('written by bittorrent-dht'),
          sign: ed25519Signer(writer.secretKey, writer.publicKey),
        },
        (error, _hash, count) => done(error, count),
      ),
    );
    assert.ok(stored >= 1);
    const found = await reader.getMutable(writer.publicKey, { salt, signal: signal() });
    assert.ok(found && 'k' in found.item);
    const item = found.item;
    assert.ok(item.v instanceof Uint8Array);
    // a registry with no key pair of its own: it stores what it did not sign
    const registry = new SignedRegistry(new MemoryRegistry());
    const key = new TextDecoder().decode(salt);
    await registry.importItem({ v: item.v, k: item.k, sig: item.sig, seq: item.seq, salt });
    assert.equal(new TextDecoder().decode((await registry.get(key))?.value), 'written by bittorrent-dht');
    const signed = await registry.getSigned(key);
    assert.deepEqual(signed?.item.sig, item.sig);
    assert.deepEqual(signed?.item.k, writer.publicKey);
    assert.equal(signed?.item.seq, 7);
  });
});
