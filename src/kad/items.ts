import { createHash } from 'node:crypto';
import { bep44SignatureBuffer, isSeq, MAX_SEQ, type Seq } from '../core/bep44-signature.js';
import {
  ed25519KeyPairFromSeed,
  type Ed25519KeyPair,
  generateEd25519KeyPair,
  isPublicKey,
  isSecretKey,
  PUBLIC_KEY_BYTES,
  publicKeyOfSeed,
  SECRET_KEY_BYTES,
  signEd25519,
  SIGNATURE_BYTES,
  verifyEd25519,
} from '../core/ed25519.js';
import { bencode, type BencodeValue } from './wire/bencode.js';
import { KadError } from './errors.js';
import type { NodeId } from './id.js';

/** Largest bencoded `v` of an item, in bytes. @see BEP 44 "Messages" */
export const MAX_VALUE_BYTES = 1000;
/** Largest `salt`, in bytes. @see BEP 44 "Mutable items" */
export const MAX_SALT_BYTES = 64;
// the ed25519 sizes and the sequence number live in core/ (the signed registry signs the same way)
export { PUBLIC_KEY_BYTES, SECRET_KEY_BYTES, SIGNATURE_BYTES };
export { isSeq, MAX_SEQ, type Seq };

/** An ed25519 key pair for mutable items: `publicKey` is the `k` of the items it signs. */
export type ItemKeyPair = Ed25519KeyPair;

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
  return bep44SignatureBuffer(encodeValue(v), seq, salt);
}

function assertPublicKey(publicKey: Uint8Array): void {
  if (!isPublicKey(publicKey)) throw KadError.invalidKey(`public key must be ${PUBLIC_KEY_BYTES} bytes`);
}

function assertSecretKey(secretKey: Uint8Array): void {
  if (!isSecretKey(secretKey)) throw KadError.invalidKey(`secret key must be a ${SECRET_KEY_BYTES}-byte ed25519 seed`);
}

/** The 32-byte public key of a 32-byte ed25519 seed. @throws {KadError} `INVALID_KEY`. */
export function publicKeyFromSecret(secretKey: Uint8Array): Uint8Array {
  assertSecretKey(secretKey);
  return publicKeyOfSeed(secretKey);
}

/** A fresh key pair from the system CSPRNG. */
export function generateKeyPair(): ItemKeyPair {
  return generateEd25519KeyPair();
}

/** The key pair of a 32-byte seed (deterministic). @throws {KadError} `INVALID_KEY`. */
export function keyPairFromSeed(seed: Uint8Array): ItemKeyPair {
  assertSecretKey(seed);
  return ed25519KeyPairFromSeed(seed);
}

/**
 * Signs a mutable item's value with an ed25519 seed.
 * @returns the 64-byte signature over {@link signatureBuffer}.
 * @throws {KadError} `INVALID_KEY`, `MESSAGE_TOO_BIG`, `SALT_TOO_BIG`.
 */
export function signMutable(secretKey: Uint8Array, v: BencodeValue, seq: Seq, salt?: Uint8Array): Uint8Array {
  assertSecretKey(secretKey);
  return signEd25519(secretKey, signatureBuffer(v, seq, salt));
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

/**
 * Whether `item.sig` is a valid ed25519 signature by `item.k` over its salt, seq and value.
 * Stricter than RFC 8032 verification, as libsodium is: a key or signature nonce R of small order
 * or in a non-canonical encoding (y ≥ p), and a scalar S ≥ L, are invalid even where the
 * equation holds — a small-order key would let anyone "sign" any value for it.
 * Never throws: a malformed key, signature, oversized value or salt is simply not valid.
 */
export function verifyMutable(item: MutableItem): boolean {
  if (!isPublicKey(item.k)) return false;
  if (!(item.sig instanceof Uint8Array) || item.sig.length !== SIGNATURE_BYTES) return false;
  let message: Uint8Array;
  try {
    message = signatureBuffer(item.v, item.seq, item.salt);
  } catch {
    return false;
  }
  return verifyEd25519(item.k, message, item.sig);
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
