import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { generateEd25519KeyPair } from '../../../../src/core/ed25519.js';
import { createMutableItem, verifyMutable } from '../../../../src/kad/items.js';
import { MemoryRegistry, RegistryError, type RegistryErrorCode } from '../../../../src/registry/index.js';
import { ENVELOPE_OVERHEAD_BYTES } from '../../../../src/registry/signed/envelope.js';
import { SignedRegistry } from '../../../../src/registry/signed/signed-registry.js';

const alice = generateEd25519KeyPair();
const bob = generateEd25519KeyPair();
const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const text = (value: Uint8Array | undefined): string | undefined =>
  value === undefined ? undefined : new TextDecoder().decode(value);

async function rejectsWith(promise: Promise<unknown>, code: RegistryErrorCode): Promise<void> {
  await assert.rejects(promise, (error: unknown) => error instanceof RegistryError && error.code === code);
}

function setup(): { backend: MemoryRegistry; signed: SignedRegistry } {
  const backend = new MemoryRegistry();
  return { backend, signed: new SignedRegistry(backend, { keyPair: alice }) };
}

/** Overwrites the stored bytes of `key` in `backend`, flipping one bit at `offset`. */
async function tamper(backend: MemoryRegistry, key: string, offset: number): Promise<void> {
  const stored = await backend.get(key);
  assert.ok(stored);
  const changed = stored.value.slice();
  changed[offset] = (changed[offset] ?? 0) ^ 1;
  await backend.set(key, changed);
}

describe('SignedRegistry', () => {
  it('stores the value behind a public key, signature and seq, and reads it back verified', async () => {
    const { backend, signed } = setup();
    await signed.set('name', bytes('hello'));
    assert.equal(text((await signed.get('name'))?.value), 'hello');
    assert.equal((await backend.get('name'))?.value.length, ENVELOPE_OVERHEAD_BYTES + 5);
  });

  for (const [what, offset] of [
    ['the value', ENVELOPE_OVERHEAD_BYTES + 1],
    ['the signature', 40],
    ['the seq', ENVELOPE_OVERHEAD_BYTES - 1],
    ['the public key', 3],
  ] as const) {
    it(`rejects get, getMany and scan with INVALID_SIGNATURE when ${what} was changed in the backend`, async () => {
      const { backend, signed } = setup();
      await signed.set('name', bytes('hello'));
      await tamper(backend, 'name', offset);
      await rejectsWith(signed.get('name'), 'INVALID_SIGNATURE');
      await rejectsWith(signed.getMany(['name']), 'INVALID_SIGNATURE');
      await rejectsWith(signed.scan().next(), 'INVALID_SIGNATURE');
      await rejectsWith(signed.set('name', bytes('again')), 'INVALID_SIGNATURE');
    });
  }

  it('rejects with INVALID_SIGNATURE a record copied under another key (the key is the signed salt)', async () => {
    const { backend, signed } = setup();
    await signed.set('a', bytes('hello'));
    await backend.set('b', (await backend.get('a'))?.value ?? new Uint8Array());
    await rejectsWith(signed.get('b'), 'INVALID_SIGNATURE');
  });

  it('rejects with INVALID_SIGNATURE bytes that were never signed', async () => {
    const { backend, signed } = setup();
    await backend.set('plain', bytes('not a signed record'));
    await rejectsWith(signed.get('plain'), 'INVALID_SIGNATURE');
  });

  it('lets only the first writer replace a key, NOT_OWNER for another key pair until it is deleted', async () => {
    const { signed } = setup();
    await signed.set('name', bytes('alice'));
    await rejectsWith(signed.set('name', bytes('bob'), { keyPair: bob }), 'NOT_OWNER');
    await rejectsWith(signed.setMany([{ key: 'name', value: bytes('bob') }], { keyPair: bob }), 'NOT_OWNER');
    assert.equal(text((await signed.get('name'))?.value), 'alice');
    await signed.delete('name');
    assert.equal(text((await signed.set('name', bytes('bob'), { keyPair: bob })).value), 'bob');
  });

  it('raises seq by one per write, and takes an explicit seq only above the stored one', async () => {
    const { signed } = setup();
    await signed.set('name', bytes('1'));
    await signed.set('name', bytes('2'));
    assert.equal((await signed.getSigned('name'))?.item.seq, 2);
    await signed.set('name', bytes('10'), { seq: 10 });
    await rejectsWith(signed.set('name', bytes('low'), { seq: 10 }), 'SEQUENCE_TOO_LOW');
    await signed.setMany([{ key: 'name', value: bytes('11') }]);
    assert.equal((await signed.getSigned('name'))?.item.seq, 11);
    assert.equal(text((await signed.get('name'))?.value), '11');
  });

  it('gives an item that verifies as a BEP 44 mutable item with salt = key', async () => {
    const { signed } = setup();
    await signed.set('a/name', bytes('hello'));
    const got = await signed.getSigned('a/name');
    assert.ok(got);
    assert.equal(verifyMutable(got.item), true);
    assert.deepEqual(got.item.salt, bytes('a/name'));
    // ed25519 is deterministic: kad signing the same value, seq and salt gives the same signature
    assert.deepEqual(createMutableItem(alice, bytes('hello'), 1, bytes('a/name')).sig, got.item.sig);
  });

  it('imports a BEP 44 item without re-signing, and refuses a forged, older or foreign one', async () => {
    const { signed } = setup();
    const item = createMutableItem(alice, bytes('from the dht'), 5, bytes('name'));
    const record = await signed.importItem({ ...item, v: bytes('from the dht'), salt: bytes('name') });
    assert.equal(record.version, 1);
    assert.deepEqual((await signed.getSigned('name'))?.item.sig, item.sig);
    assert.equal((await signed.importItem({ ...item, v: bytes('from the dht'), salt: bytes('name') })).version, 1);
    const older = createMutableItem(alice, bytes('older'), 4, bytes('name'));
    await rejectsWith(signed.importItem({ ...older, v: bytes('older'), salt: bytes('name') }), 'SEQUENCE_TOO_LOW');
    const foreign = createMutableItem(bob, bytes('bob'), 9, bytes('name'));
    await rejectsWith(signed.importItem({ ...foreign, v: bytes('bob'), salt: bytes('name') }), 'NOT_OWNER');
    await rejectsWith(
      signed.importItem({ ...item, v: bytes('changed'), salt: bytes('name'), seq: 6 }),
      'INVALID_SIGNATURE',
    );
    assert.equal(text((await signed.get('name'))?.value), 'from the dht');
    assert.equal((await signed.set('name', bytes('next'))).version, 2);
    assert.equal((await signed.getSigned('name'))?.item.seq, 6);
  });

  it('holds keys and values to BEP 44 sizes unless bep44Limits is false', async () => {
    const { signed } = setup();
    await rejectsWith(signed.set('k'.repeat(65), bytes('v')), 'INVALID_KEY');
    await rejectsWith(signed.set('k', new Uint8Array(997)), 'VALUE_TOO_LARGE');
    await signed.set('k'.repeat(64), new Uint8Array(996));
    const loose = new SignedRegistry(new MemoryRegistry(), { keyPair: alice, bep44Limits: false });
    await loose.set('k'.repeat(65), new Uint8Array(5000));
    assert.equal((await loose.get('k'.repeat(65)))?.value.length, 5000);
  });

  it('keeps two writers of one key pair on one backend from signing the same seq', async () => {
    const backend = new MemoryRegistry();
    const one = new SignedRegistry(backend, { keyPair: alice });
    const two = new SignedRegistry(backend, { keyPair: alice });
    await Promise.all([1, 2, 3, 4].map((i) => (i % 2 === 0 ? one : two).set('k', bytes(String(i)))));
    const got = await one.getSigned('k');
    assert.equal(got?.record.version, 4);
    assert.equal(got?.item.seq, 4);
  });

  it('reads without a key pair but rejects a write that names none with INVALID_OPTION', async () => {
    const { backend, signed } = setup();
    await signed.set('k', bytes('v'));
    const reader = new SignedRegistry(backend);
    assert.equal(text((await reader.get('k'))?.value), 'v');
    await rejectsWith(reader.set('k2', bytes('v')), 'INVALID_OPTION');
    assert.equal(reader.publicKey, undefined);
  });

  it('rejects a key pair whose public key is not that of its seed, naming the option', () => {
    assert.throws(
      () =>
        new SignedRegistry(new MemoryRegistry(), { keyPair: { publicKey: bob.publicKey, secretKey: alice.secretKey } }),
      (e: unknown) => e instanceof RegistryError && e.code === 'INVALID_OPTION' && /keyPair\.publicKey/.test(e.message),
    );
    assert.throws(
      () => new SignedRegistry(new MemoryRegistry(), { maxWriteRetries: -1 }),
      (e: unknown) => e instanceof RegistryError && /maxWriteRetries/.test(e.message),
    );
  });
});
