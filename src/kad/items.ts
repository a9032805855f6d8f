import {
  createHash,
  createPrivateKey,
  createPublicKey,
  getRandomValues,
  type KeyObject,
  sign,
  verify,
} from 'node:crypto';
import { bencode, type BencodeValue } from './wire/bencode.js';
import { KadError } from './errors.js';
import type { NodeId } from './id.js';

/** Largest bencoded `v` of an item, in bytes. @see BEP 44 "Messages" */
export const MAX_VALUE_BYTES = 1000;
/** Largest `salt`, in bytes. @see BEP 44 "Mutable items" */
export const MAX_SALT_BYTES = 64;
/** Size of an ed25519 public key `k`, in bytes. */
export const PUBLIC_KEY_BYTES = 32;
/** Size of an ed25519 secret key as kept here: the 32-byte seed (RFC 8032 private key). */
export const SECRET_KEY_BYTES = 32;
/** Size of an ed25519 signature `sig`, in bytes. */
export const SIGNATURE_BYTES = 64;

/** An ed25519 key pair for mutable items. */
export interface ItemKeyPair {
  /** 32-byte public key, the `k` of the items it signs. */
  publicKey: Uint8Array;
  /** 32-byte seed (RFC 8032 private key). Not the 64-byte "expanded" form of some libraries. */
  secretKey: Uint8Array;
}

/**
 * A BEP 44 sequence number: an integer in `0..`{@link MAX_SEQ} (a signed 64-bit integer that is
 * not negative). Decoded values are a `number` up to `Number.MAX_SAFE_INTEGER` and a `bigint`
 * beyond; either form is accepted wherever a `Seq` is taken. Compare two with {@link compareSeq}.
 * @see BEP 44 "Mutable items"
 */
export type Seq = number | bigint;

/** Largest sequence number: 2^63 − 1, the largest signed 64-bit integer. */
export const MAX_SEQ = 2n ** 63n - 1n;

/** Whether `value` is a {@link Seq}: a safe non-negative `number`, or a `bigint` in `0..MAX_SEQ`. */
export function isSeq(value: unknown): value is Seq {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value >= 0;
  return typeof value === 'bigint' && value >= 0n && value <= MAX_SEQ;
}

/** Negative, zero or positive as `a` is below, equal to or above `b`, whatever their forms. */
export function compareSeq(a: Seq, b: Seq): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The sequence number after `seq`, in its canonical form (a `bigint` only beyond 2^53 − 1).
 * @throws {KadError} `INVALID_MESSAGE` when `seq` is {@link MAX_SEQ}: there is none after it.
 */
export function nextSeq(seq: Seq): Seq {
  if (typeof seq === 'number' && seq < Number.MAX_SAFE_INTEGER) return seq + 1;
  const next = BigInt(seq) + 1n;
  if (next > MAX_SEQ) throw KadError.invalidMessage(`no seq after ${MAX_SEQ}`);
  return next;
}

/** A mutable item as stored and sent: value, key, signature, sequence number, optional salt. */
export interface MutableItem {
  v: BencodeValue;
  k: Uint8Array;
  sig: Uint8Array;
  seq: Seq;
  /** Absent or non-empty; an empty salt is the same as none. */
  salt?: Uint8Array;
}

// DER prefixes of RFC 8410 ed25519 keys: PKCS#8 private key (seed follows), SPKI public key (key follows)
const PKCS8_PREFIX = Uint8Array.from([
  0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
]);
const SPKI_PREFIX = Uint8Array.from([0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00]);

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

function sha1(...parts: Uint8Array[]): NodeId {
  const hash = createHash('sha1');
  for (const part of parts) hash.update(part);
  return new Uint8Array(hash.digest());
}

/**
 * Bencodes `v` and checks it fits in {@link MAX_VALUE_BYTES}.
 * @throws {KadError} `MESSAGE_TOO_BIG` (wire 205) when larger; `INVALID_MESSAGE` when `v` has no bencoding.
 */
export function encodeValue(v: BencodeValue): Uint8Array {
  const bytes = bencode(v);
  if (bytes.length > MAX_VALUE_BYTES) throw KadError.messageTooBig(bytes.length, MAX_VALUE_BYTES);
  return bytes;
}

/** @throws {KadError} `SALT_TOO_BIG` (wire 207) for a salt over {@link MAX_SALT_BYTES}. */
export function assertSalt(salt: Uint8Array | undefined): void {
  if (salt !== undefined && salt.length > MAX_SALT_BYTES) throw KadError.saltTooBig(salt.length, MAX_SALT_BYTES);
}

/**
 * Target of an immutable item: SHA-1 of the bencoded value.
 * @throws {KadError} `MESSAGE_TOO_BIG` for a value over 1000 bytes bencoded.
 * @see BEP 44 "Immutable items"
 */
export function immutableTarget(v: BencodeValue): NodeId {
  return sha1(encodeValue(v));
}

/**
 * Target of a mutable item: SHA-1 of the public key followed by the salt (if any).
 * @throws {KadError} `INVALID_KEY` for a key that is not 32 bytes, `SALT_TOO_BIG` for a long salt.
 * @see BEP 44 "Mutable items"
 */
export function mutableTarget(publicKey: Uint8Array, salt?: Uint8Array): NodeId {
  assertPublicKey(publicKey);
  assertSalt(salt);
  return salt === undefined || salt.length === 0 ? sha1(publicKey) : sha1(publicKey, salt);
}

const encoder = new TextEncoder();

/**
 * The exact bytes a mutable item's signature covers: the bencoded dict entries
 * `4:salt<salt>` (only for a non-empty salt), `3:seqi<seq>e`, `1:v<bencoded v>`, without the
 * enclosing `d`…`e`. For example `4:salt6:foobar3:seqi1e1:v12:Hello World!`.
 * @throws {KadError} `MESSAGE_TOO_BIG`, `SALT_TOO_BIG`, or `INVALID_MESSAGE` for a `seq` that is
 *   not a {@link Seq}.
 * @see BEP 44 "Signature verification"
 */
export function signatureBuffer(v: BencodeValue, seq: Seq, salt?: Uint8Array): Uint8Array {
  if (!isSeq(seq)) throw KadError.invalidMessage(`seq must be an integer in 0..${MAX_SEQ}`);
  assertSalt(salt);
  const value = encodeValue(v);
  const seqPart = encoder.encode(`3:seqi${seq}e1:v`);
  if (salt === undefined || salt.length === 0) return concat(seqPart, value);
  return concat(encoder.encode(`4:salt${salt.length}:`), salt, seqPart, value);
}

function assertPublicKey(publicKey: Uint8Array): void {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== PUBLIC_KEY_BYTES) {
    throw KadError.invalidKey(`public key must be ${PUBLIC_KEY_BYTES} bytes`);
  }
}

function privateKeyObject(secretKey: Uint8Array): KeyObject {
  if (!(secretKey instanceof Uint8Array) || secretKey.length !== SECRET_KEY_BYTES) {
    throw KadError.invalidKey(`secret key must be a ${SECRET_KEY_BYTES}-byte ed25519 seed`);
  }
  return createPrivateKey({ key: Buffer.from(concat(PKCS8_PREFIX, secretKey)), format: 'der', type: 'pkcs8' });
}

function publicKeyObject(publicKey: Uint8Array): KeyObject {
  return createPublicKey({ key: Buffer.from(concat(SPKI_PREFIX, publicKey)), format: 'der', type: 'spki' });
}

/** The 32-byte public key of a 32-byte ed25519 seed. @throws {KadError} `INVALID_KEY`. */
export function publicKeyFromSecret(secretKey: Uint8Array): Uint8Array {
  const spki = createPublicKey(privateKeyObject(secretKey)).export({ format: 'der', type: 'spki' });
  return new Uint8Array(spki.subarray(spki.length - PUBLIC_KEY_BYTES));
}

/** A fresh key pair from the system CSPRNG. */
export function generateKeyPair(): ItemKeyPair {
  return keyPairFromSeed(getRandomValues(new Uint8Array(SECRET_KEY_BYTES)));
}

/** The key pair of a 32-byte seed (deterministic). @throws {KadError} `INVALID_KEY`. */
export function keyPairFromSeed(seed: Uint8Array): ItemKeyPair {
  return { publicKey: publicKeyFromSecret(seed), secretKey: new Uint8Array(seed) };
}

/**
 * Signs a mutable item's value with an ed25519 seed.
 * @returns the 64-byte signature over {@link signatureBuffer}.
 * @throws {KadError} `INVALID_KEY`, `MESSAGE_TOO_BIG`, `SALT_TOO_BIG`.
 */
export function signMutable(secretKey: Uint8Array, v: BencodeValue, seq: Seq, salt?: Uint8Array): Uint8Array {
  return new Uint8Array(sign(null, signatureBuffer(v, seq, salt), privateKeyObject(secretKey)));
}

/**
 * Builds a signed mutable item.
 * @throws {KadError} `INVALID_KEY`, `MESSAGE_TOO_BIG`, `SALT_TOO_BIG`.
 */
export function createMutableItem(keyPair: ItemKeyPair, v: BencodeValue, seq: Seq, salt?: Uint8Array): MutableItem {
  const item: MutableItem = { v, k: keyPair.publicKey, sig: signMutable(keyPair.secretKey, v, seq, salt), seq };
  if (salt !== undefined && salt.length > 0) item.salt = salt;
  return item;
}

// ed25519 (RFC 8032): the field prime p and the order L of the group the base point generates
const FIELD_PRIME = 2n ** 255n - 19n;
const GROUP_ORDER = 2n ** 252n + 27742317777372353535851937790883648493n;
// y of a point of order 8: a root of d·y⁴ + 2·y² − 1 = 0 (mod p), where doubling gives y = 0;
// p − y is the other one (items.test.ts checks both)
const ORDER_8_Y = 2707385501144840649318225287225658788936804267575313519463743609750303402022n;
/**
 * The y coordinates of the 8 points of small order, whatever the sign bit: the identity (y = 1),
 * order 2 (y = −1), order 4 (y = 0) and order 8 (±ORDER_8_Y). With such a key (or nonce R) a
 * signature can hold for many messages at once, e.g. k = identity, R = identity, S = 0 for all.
 */
const SMALL_ORDER_Y: ReadonlySet<bigint> = new Set([1n, FIELD_PRIME - 1n, 0n, ORDER_8_Y, FIELD_PRIME - ORDER_8_Y]);
const Y_MASK = (1n << 255n) - 1n;

/** The 32 bytes at `offset` as a little-endian integer. */
function littleEndian(bytes: Uint8Array, offset: number): bigint {
  let hex = '';
  for (let i = offset + 31; i >= offset; i--) hex += (bytes[i] ?? 0).toString(16).padStart(2, '0');
  return BigInt(`0x${hex}`);
}

/** A point encoding (a key `k`, or the R half of a signature) that is canonical (y < p) and not of small order. */
function isStrongPoint(bytes: Uint8Array, offset: number): boolean {
  const y = littleEndian(bytes, offset) & Y_MASK; // the top bit is the sign of x
  return y < FIELD_PRIME && !SMALL_ORDER_Y.has(y);
}

/**
 * Whether `item.sig` is a valid ed25519 signature by `item.k` over its salt, seq and value.
 * Stricter than RFC 8032 verification, as libsodium is: a key or signature nonce R of small order
 * or in a non-canonical encoding (y ≥ p), and a scalar S ≥ L, are invalid even where the
 * equation holds — a small-order key would let anyone "sign" any value for it.
 * Never throws: a malformed key, signature, oversized value or salt is simply not valid.
 */
export function verifyMutable(item: MutableItem): boolean {
  if (!(item.k instanceof Uint8Array) || item.k.length !== PUBLIC_KEY_BYTES) return false;
  if (!(item.sig instanceof Uint8Array) || item.sig.length !== SIGNATURE_BYTES) return false;
  if (!isStrongPoint(item.k, 0) || !isStrongPoint(item.sig, 0) || littleEndian(item.sig, 32) >= GROUP_ORDER) {
    return false;
  }
  try {
    return verify(null, signatureBuffer(item.v, item.seq, item.salt), publicKeyObject(item.k), item.sig);
  } catch {
    return false;
  }
}

/**
 * Throws unless `item` verifies.
 * @throws {KadError} `INVALID_SIGNATURE` (wire 206), or `MESSAGE_TOO_BIG` / `SALT_TOO_BIG` first
 *   when the value or salt is over its limit.
 */
export function assertMutableSignature(item: MutableItem): void {
  encodeValue(item.v);
  assertSalt(item.salt);
  if (!verifyMutable(item)) throw KadError.invalidSignature();
}
