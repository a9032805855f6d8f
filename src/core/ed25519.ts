import { createPrivateKey, createPublicKey, getRandomValues, type KeyObject, sign, verify } from 'node:crypto';

/** Size of an ed25519 public key, in bytes. */
export const PUBLIC_KEY_BYTES = 32;
/** Size of an ed25519 secret key as kept here: the 32-byte seed (RFC 8032 private key). */
export const SECRET_KEY_BYTES = 32;
/** Size of an ed25519 signature, in bytes. */
export const SIGNATURE_BYTES = 64;

/** An ed25519 key pair: what signs BEP 44 items and signed registry records. */
export interface Ed25519KeyPair {
  /** 32-byte public key. */
  publicKey: Uint8Array;
  /** 32-byte seed (RFC 8032 private key). Not the 64-byte "expanded" form of some libraries. */
  secretKey: Uint8Array;
}

// DER prefixes of RFC 8410 ed25519 keys: PKCS#8 private key (seed follows), SPKI public key (key follows)
const PKCS8_PREFIX = Uint8Array.from([
  0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
]);
const SPKI_PREFIX = Uint8Array.from([0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00]);

/** `parts` one after another in a new array. */
export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** Whether `bytes` is a 32-byte ed25519 seed. */
export function isSecretKey(bytes: unknown): bytes is Uint8Array {
  return bytes instanceof Uint8Array && bytes.length === SECRET_KEY_BYTES;
}

/** Whether `bytes` is a 32-byte string (a public key still has to pass {@link verifyEd25519}). */
export function isPublicKey(bytes: unknown): bytes is Uint8Array {
  return bytes instanceof Uint8Array && bytes.length === PUBLIC_KEY_BYTES;
}

/**
 * The node:crypto private key of a 32-byte seed.
 * @throws {RangeError} when `secretKey` is not 32 bytes (callers check with {@link isSecretKey} first).
 */
export function privateKeyObject(secretKey: Uint8Array): KeyObject {
  if (!isSecretKey(secretKey)) throw new RangeError(`secret key must be a ${SECRET_KEY_BYTES}-byte ed25519 seed`);
  return createPrivateKey({ key: Buffer.from(concatBytes(PKCS8_PREFIX, secretKey)), format: 'der', type: 'pkcs8' });
}

function publicKeyObject(publicKey: Uint8Array): KeyObject {
  return createPublicKey({ key: Buffer.from(concatBytes(SPKI_PREFIX, publicKey)), format: 'der', type: 'spki' });
}

/** The 32-byte public key of a 32-byte seed. @throws {RangeError} for a seed that is not 32 bytes. */
export function publicKeyOfSeed(secretKey: Uint8Array): Uint8Array {
  const spki = createPublicKey(privateKeyObject(secretKey)).export({ format: 'der', type: 'spki' });
  return new Uint8Array(spki.subarray(spki.length - PUBLIC_KEY_BYTES));
}

/** The key pair of a 32-byte seed (deterministic). @throws {RangeError} for a seed that is not 32 bytes. */
export function ed25519KeyPairFromSeed(seed: Uint8Array): Ed25519KeyPair {
  return { publicKey: publicKeyOfSeed(seed), secretKey: new Uint8Array(seed) };
}

/** A fresh key pair from the system CSPRNG. */
export function generateEd25519KeyPair(): Ed25519KeyPair {
  return ed25519KeyPairFromSeed(getRandomValues(new Uint8Array(SECRET_KEY_BYTES)));
}

/**
 * The 64-byte ed25519 signature of `message` (deterministic: the same key and message always
 * give the same signature, RFC 8032). `key` is a seed or a key object from {@link privateKeyObject}
 * (cheaper when one key signs many messages: no DER parse per call).
 * @throws {RangeError} for a seed that is not 32 bytes.
 */
export function signEd25519(key: Uint8Array | KeyObject, message: Uint8Array): Uint8Array {
  return new Uint8Array(sign(null, message, key instanceof Uint8Array ? privateKeyObject(key) : key));
}

// ed25519 (RFC 8032): the field prime p and the order L of the group the base point generates
const FIELD_PRIME = 2n ** 255n - 19n;
/** The order L of the ed25519 base point: a signature's scalar S must be below it. */
export const GROUP_ORDER = 2n ** 252n + 27742317777372353535851937790883648493n;
// y of a point of order 8: a root of d·y⁴ + 2·y² − 1 = 0 (mod p), where doubling gives y = 0;
// p − y is the other one (items.test.ts checks both)
const ORDER_8_Y = 2707385501144840649318225287225658788936804267575313519463743609750303402022n;

/** `value` (below 2^256) as 32 little-endian bytes. */
function littleEndianBytes(value: bigint): Uint8Array {
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) out[i] = Number((value >> BigInt(8 * i)) & 0xffn);
  return out;
}

/**
 * The y coordinates of the 8 points of small order, whatever the sign bit: the identity (y = 1),
 * order 2 (y = −1), order 4 (y = 0) and order 8 (±ORDER_8_Y), as 32 little-endian bytes. With
 * such a key (or nonce R) a signature can hold for many messages at once, e.g. k = identity,
 * R = identity, S = 0 for all.
 */
const SMALL_ORDER_Y: readonly Uint8Array[] = [1n, FIELD_PRIME - 1n, 0n, ORDER_8_Y, FIELD_PRIME - ORDER_8_Y].map(
  littleEndianBytes,
);
const FIELD_PRIME_LE = littleEndianBytes(FIELD_PRIME);
const GROUP_ORDER_LE = littleEndianBytes(GROUP_ORDER);

/** Compares the 32 little-endian bytes at `offset` (the top bit cleared when `maskTop`) with `than`. */
function belowLittleEndian(bytes: Uint8Array, offset: number, than: Uint8Array, maskTop: boolean): boolean {
  for (let i = 31; i >= 0; i--) {
    const byte = (bytes[offset + i] ?? 0) & (maskTop && i === 31 ? 0x7f : 0xff);
    const limit = than[i] ?? 0;
    if (byte !== limit) return byte < limit;
  }
  return false;
}

/** A point encoding (a key, or the R half of a signature) that is canonical (y < p) and not of small order. */
function isStrongPoint(bytes: Uint8Array, offset: number): boolean {
  // the top bit is the sign of x: y is the other 255 bits
  if (!belowLittleEndian(bytes, offset, FIELD_PRIME_LE, true)) return false;
  return !SMALL_ORDER_Y.some((y) => {
    for (let i = 0; i < 32; i++) {
      if (((bytes[offset + i] ?? 0) & (i === 31 ? 0x7f : 0xff)) !== y[i]) return false;
    }
    return true;
  });
}

// verifying many signatures of few keys (a registry's writers): parse each key's DER once
const PUBLIC_KEY_CACHE_SIZE = 256;
const publicKeys = new Map<string, KeyObject>();

function cachedPublicKey(publicKey: Uint8Array): KeyObject {
  const id = Buffer.from(publicKey.buffer, publicKey.byteOffset, publicKey.byteLength).toString('latin1');
  let key = publicKeys.get(id);
  if (key === undefined) {
    key = publicKeyObject(publicKey);
    if (publicKeys.size >= PUBLIC_KEY_CACHE_SIZE) publicKeys.delete(publicKeys.keys().next().value as string);
    publicKeys.set(id, key);
  }
  return key;
}

/**
 * Whether `publicKey` is a 32-byte ed25519 key that can sign for itself only: canonical and not
 * of small order (with a small-order key anyone can "sign" any message for it).
 */
export function isStrongPublicKey(publicKey: unknown): publicKey is Uint8Array {
  return isPublicKey(publicKey) && isStrongPoint(publicKey, 0);
}

/**
 * Whether `signature` is a valid ed25519 signature of `message` by `publicKey`. Stricter than
 * RFC 8032 verification, as libsodium is: a key or signature nonce R of small order or in a
 * non-canonical encoding (y ≥ p), and a scalar S ≥ L, are invalid even where the equation holds.
 * Never throws: a malformed key or signature is simply not valid.
 */
export function verifyEd25519(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (!isPublicKey(publicKey)) return false;
  if (!(signature instanceof Uint8Array) || signature.length !== SIGNATURE_BYTES) return false;
  if (!isStrongPoint(publicKey, 0) || !isStrongPoint(signature, 0)) return false;
  if (!belowLittleEndian(signature, 32, GROUP_ORDER_LE, false)) return false;
  try {
    return verify(null, message, cachedPublicKey(publicKey), signature);
  } catch {
    return false;
  }
}
