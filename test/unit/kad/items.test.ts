import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { isKadError } from '../../../src/kad/errors.js';
import { idToHex } from '../../../src/kad/id.js';
import {
  assertMutableSignature,
  compareSeq,
  createMutableItem,
  generateKeyPair,
  immutableTarget,
  isSeq,
  keyPairFromSeed,
  MAX_SEQ,
  type MutableItem,
  mutableTarget,
  signatureBuffer,
  signMutable,
  verifyMutable,
} from '../../../src/kad/items.js';

const text = (s: string): Uint8Array => new TextEncoder().encode(s);
const fromHex = (hex: string): Uint8Array => new Uint8Array(Buffer.from(hex, 'hex'));

// BEP 44 "Test vectors"
const PUBLIC_KEY = fromHex('77ff84905a91936367c01360803104f92432fcd904a43511876df5cdf3e7e548');
const SIG_1 = fromHex(
  '305ac8aeb6c9c151fa120f120ea2cfb923564e11552d06a5d856091e5e853cff1260d3f39e4999684aa92eb73ffd136e6f4f3ecbfda0ce53a1608ecd7ae21f01',
);
const SIG_2 = fromHex(
  '6834284b6b24c3204eb2fea824d82f88883a3d95e8b4a21b8c0ded553d17d17ddf9a8a7104b1258f30bed3787e6cb896fca78c58f8e03b5f18f14951a87d9a08',
);
const HELLO = text('Hello World!');

// ed25519 arithmetic for building hostile keys and signatures (RFC 8032)
const P = 2n ** 255n - 19n;
const L = 2n ** 252n + 27742317777372353535851937790883648493n;
const ORDER_8_Y = 2707385501144840649318225287225658788936804267575313519463743609750303402022n;
const modP = (x: bigint): bigint => ((x % P) + P) % P;
function power(base: bigint, exponent: bigint): bigint {
  let result = 1n;
  for (let b = modP(base), e = exponent; e > 0n; e >>= 1n, b = (b * b) % P) if (e & 1n) result = (result * b) % P;
  return result;
}
const D = modP(-121665n * power(121666n, P - 2n));
const toLittleEndian = (x: bigint, bytes = 32): Uint8Array =>
  Uint8Array.from({ length: bytes }, (_, i) => Number((x >> BigInt(8 * i)) & 0xffn));
const fromLittleEndian = (b: Uint8Array): bigint => BigInt(`0x${Buffer.from(b).reverse().toString('hex')}`);
/** A point encoding: y little-endian, the top bit the sign of x. */
const point = (y: bigint, sign = 0): Uint8Array => {
  const bytes = toLittleEndian(y);
  bytes[31] = (bytes[31] ?? 0) | (sign << 7);
  return bytes;
};
const IDENTITY = point(1n);
/** R = identity, S = 0: the signature every small-order key "makes" for a share of all messages. */
const FORGED_SIG = Uint8Array.from([...IDENTITY, ...new Uint8Array(32)]);
/** h = SHA-512(R ‖ A ‖ M) mod L of RFC 8032, over the encodings exactly as sent. */
const challenge = (item: MutableItem): bigint =>
  fromLittleEndian(
    createHash('sha512')
      .update(item.sig.subarray(0, 32))
      .update(item.k)
      .update(signatureBuffer(item.v, item.seq, item.salt))
      .digest(),
  ) % L;
/**
 * Whether R = identity, S = 0 satisfies the bare verification equation [S]B = R + [h]A for a key of
 * the given order: [h]A is the identity exactly when the order divides h. RFC 8032 alone accepts
 * such a forgery (so does Node 20's OpenSSL 3.0; OpenSSL 3.5 refuses small-order points itself).
 */
const forgeryHolds = (item: MutableItem, order: bigint): boolean =>
  item.sig.every((b, i) => b === FORGED_SIG[i]) && challenge(item) % order === 0n;
/** Every encoding of the 8 points of small order (both sign bits, and y + p where that fits), with its order. */
const SMALL_ORDER_KEYS: { k: Uint8Array; order: bigint }[] = (
  [
    [1n, 1n],
    [P + 1n, 1n],
    [P - 1n, 2n],
    [0n, 4n],
    [P, 4n],
    [ORDER_8_Y, 8n],
    [P - ORDER_8_Y, 8n],
  ] as const
).flatMap(([y, order]) => [
  { k: point(y, 0), order },
  { k: point(y, 1), order },
]);
const SALT = text('foobar');

describe('BEP 44 items', () => {
  it('sign the buffer "3:seqi1e1:v12:Hello World!" without salt (test vector 1)', () => {
    assert.equal(Buffer.from(signatureBuffer(HELLO, 1)).toString(), '3:seqi1e1:v12:Hello World!');
  });

  it('sign the buffer "4:salt6:foobar3:seqi1e1:v12:Hello World!" with salt (test vector 2)', () => {
    assert.equal(Buffer.from(signatureBuffer(HELLO, 1, SALT)).toString(), '4:salt6:foobar3:seqi1e1:v12:Hello World!');
    assert.deepEqual(signatureBuffer(HELLO, 1, new Uint8Array(0)), signatureBuffer(HELLO, 1));
  });

  it('target a mutable item at SHA-1(k) and SHA-1(k ‖ salt)', () => {
    assert.equal(idToHex(mutableTarget(PUBLIC_KEY)), '4a533d47ec9c7d95b1ad75f576cffc641853b750');
    assert.equal(idToHex(mutableTarget(PUBLIC_KEY, SALT)), '411eba73b6f087ca51a3795d9c8c938d365e32c1');
  });

  it('target an immutable item at SHA-1 of its bencoded value (test vector 3)', () => {
    assert.equal(idToHex(immutableTarget(HELLO)), 'e5f96f6f38320f0f33959cb4d3d656452117aadb');
  });

  it('verify the signatures of test vectors 1 and 2', () => {
    assert.ok(verifyMutable({ v: HELLO, k: PUBLIC_KEY, sig: SIG_1, seq: 1 }));
    assert.ok(verifyMutable({ v: HELLO, k: PUBLIC_KEY, sig: SIG_2, seq: 1, salt: SALT }));
  });

  it('refuse a signature over another seq, salt or value', () => {
    assert.ok(!verifyMutable({ v: HELLO, k: PUBLIC_KEY, sig: SIG_1, seq: 2 }));
    assert.ok(!verifyMutable({ v: HELLO, k: PUBLIC_KEY, sig: SIG_2, seq: 1 }));
    assert.ok(!verifyMutable({ v: text('Hello World?'), k: PUBLIC_KEY, sig: SIG_1, seq: 1 }));
    assert.throws(
      () => assertMutableSignature({ v: HELLO, k: PUBLIC_KEY, sig: SIG_1, seq: 2 }),
      (e: unknown) => isKadError(e, 'INVALID_SIGNATURE') && e.wireCode === 206,
    );
  });

  it('treat malformed keys and signatures as invalid, never throwing', () => {
    assert.ok(!verifyMutable({ v: HELLO, k: new Uint8Array(31), sig: SIG_1, seq: 1 }));
    assert.ok(!verifyMutable({ v: HELLO, k: PUBLIC_KEY, sig: new Uint8Array(64), seq: 1 }));
    assert.ok(!verifyMutable({ v: HELLO, k: new Uint8Array(32).fill(0xff), sig: SIG_1, seq: 1 }));
    assert.ok(!verifyMutable({ v: new Uint8Array(1000), k: PUBLIC_KEY, sig: SIG_1, seq: 1 }));
  });

  it('sign and verify with a fresh key pair', () => {
    const keys = generateKeyPair();
    const item = createMutableItem(keys, text('value'), 7, SALT);
    assert.equal(item.sig.length, 64);
    assert.ok(verifyMutable(item));
    assert.ok(!verifyMutable({ ...item, seq: 8 }));
    assert.doesNotThrow(() => assertMutableSignature(item));
  });

  it('derive the same key pair and deterministic signatures from a seed', () => {
    const seed = new Uint8Array(32).fill(3);
    const a = keyPairFromSeed(seed);
    assert.deepEqual(keyPairFromSeed(seed), a);
    assert.deepEqual(signMutable(a.secretKey, HELLO, 1), signMutable(a.secretKey, HELLO, 1));
    assert.throws(
      () => keyPairFromSeed(new Uint8Array(64)),
      (e: unknown) => isKadError(e, 'INVALID_KEY'),
    );
  });

  it('answer 205 for a value over 1000 bytes and 207 for a salt over 64 bytes', () => {
    const keys = generateKeyPair();
    assert.throws(
      () => createMutableItem(keys, new Uint8Array(997), 1),
      (e: unknown) => isKadError(e, 'MESSAGE_TOO_BIG') && e.wireCode === 205,
    );
    assert.throws(
      () => immutableTarget(new Uint8Array(997)),
      (e: unknown) => isKadError(e, 'MESSAGE_TOO_BIG'),
    );
    assert.throws(
      () => mutableTarget(keys.publicKey, new Uint8Array(65)),
      (e: unknown) => isKadError(e, 'SALT_TOO_BIG') && e.wireCode === 207,
    );
    const item: MutableItem = { v: HELLO, k: PUBLIC_KEY, sig: SIG_1, seq: 1, salt: new Uint8Array(65) };
    assert.throws(
      () => assertMutableSignature(item),
      (e: unknown) => isKadError(e, 'SALT_TOO_BIG'),
    );
  });

  it('refuse a negative or fractional seq', () => {
    assert.throws(
      () => signatureBuffer(HELLO, -1),
      (e: unknown) => isKadError(e, 'INVALID_MESSAGE'),
    );
    assert.throws(
      () => signatureBuffer(HELLO, 1.5),
      (e: unknown) => isKadError(e, 'INVALID_MESSAGE'),
    );
  });

  it('sign and verify a 64-bit seq beyond 2^53 with its exact digits, and refuse 2^63', () => {
    const max = 2n ** 63n - 1n;
    assert.equal(Buffer.from(signatureBuffer(HELLO, max)).toString(), '3:seqi9223372036854775807e1:v12:Hello World!');
    const item = createMutableItem(generateKeyPair(), HELLO, max);
    assert.ok(verifyMutable(item));
    assert.ok(!verifyMutable({ ...item, seq: max - 1n }));
    assert.throws(
      () => signatureBuffer(HELLO, 2n ** 63n),
      (e: unknown) => isKadError(e, 'INVALID_MESSAGE') && /seq/.test(e.message),
    );
  });

  it('order sequence numbers across their number and bigint forms', () => {
    assert.equal(compareSeq(2 ** 53 - 1, 2n ** 53n), -1);
    assert.equal(compareSeq(2n ** 60n, 5), 1);
    assert.equal(compareSeq(7n, 7), 0);
    assert.ok(isSeq(0) && isSeq(MAX_SEQ) && isSeq(2n ** 53n));
    assert.ok(!isSeq(-1) && !isSeq(1.5) && !isSeq(2 ** 53) && !isSeq(MAX_SEQ + 1n) && !isSeq(-1n));
  });

  it('have order-8 constants that solve the doubling-to-order-4 equation d·y⁴ + 2y² − 1 = 0 (mod p)', () => {
    for (const y of [ORDER_8_Y, P - ORDER_8_Y]) assert.equal(modP(D * y ** 4n + 2n * y ** 2n - 1n), 0n);
  });

  it('refuse the identity key with R = identity and S = 0, which the bare ed25519 equation accepts for any value', () => {
    for (const v of [HELLO, text('anything'), [1, 2, 3]]) {
      const forged: MutableItem = { v, k: IDENTITY, sig: FORGED_SIG, seq: 99 };
      assert.ok(forgeryHolds(forged, 1n));
      assert.ok(!verifyMutable(forged));
      assert.throws(
        () => assertMutableSignature(forged),
        (e: unknown) => isKadError(e, 'INVALID_SIGNATURE') && e.wireCode === 206,
      );
    }
  });

  it('refuse every small-order key in any encoding, although the bare ed25519 equation accepts a forgery for each', () => {
    assert.equal(SMALL_ORDER_KEYS.length, 14);
    for (const { k, order } of SMALL_ORDER_KEYS) {
      // order ≤ 8: about one seq in 8 or more makes the forged signature hold
      const forged = Array.from({ length: 64 }, (_, seq): MutableItem => ({ v: HELLO, k, sig: FORGED_SIG, seq })).find(
        (item) => forgeryHolds(item, order),
      );
      assert.ok(forged !== undefined, `no forgery found for key ${Buffer.from(k).toString('hex')}`);
      assert.ok(!verifyMutable(forged), `accepted small-order key ${Buffer.from(k).toString('hex')}`);
    }
  });

  it('refuse a signature whose R is of small order, or whose S is not below L, from a real key', () => {
    const seed = new Uint8Array(32).fill(8);
    const keys = keyPairFromSeed(seed);
    // R = identity, S = h·a: [S]B = R + [h]A holds, with no nonce at all
    const digest = createHash('sha512').update(seed).digest();
    const a = (fromLittleEndian(digest.subarray(0, 32)) & ((1n << 254n) - 8n)) | (1n << 254n);
    const message = signatureBuffer(HELLO, 1);
    const h =
      fromLittleEndian(createHash('sha512').update(IDENTITY).update(keys.publicKey).update(message).digest()) % L;
    const weak: MutableItem = {
      v: HELLO,
      k: keys.publicKey,
      sig: Uint8Array.from([...IDENTITY, ...toLittleEndian((h * a) % L)]),
      seq: 1,
    };
    // [S]B = R + [h]A holds by construction: [h·a]B = [h]A, as A = [a]B for the scalar RFC 8032 derives from the seed
    assert.ok(!verifyMutable(weak));
    const good = createMutableItem(keys, HELLO, 1);
    assert.ok(verifyMutable(good));
    const s = fromLittleEndian(good.sig.subarray(32));
    const unreduced = { ...good, sig: Uint8Array.from([...good.sig.subarray(0, 32), ...toLittleEndian(s + L)]) };
    assert.ok(!verifyMutable(unreduced));
  });
});
