import { getRandomValues } from 'node:crypto';
import { KadError } from './errors.js';
import { optionError } from './option-checks.js';

/** A 160-bit node id, info-hash or BEP 44 target: exactly {@link ID_BYTES} bytes. */
export type NodeId = Uint8Array;

/** Length of a {@link NodeId} in bytes. */
export const ID_BYTES = 20;

/** Length of a {@link NodeId} in bits. */
export const ID_BITS = ID_BYTES * 8;

/** Whether `value` is a 20-byte `Uint8Array`. */
export function isNodeId(value: unknown): value is NodeId {
  return value instanceof Uint8Array && value.length === ID_BYTES;
}

/**
 * Returns `value` if it is a 20-byte id.
 * @param name what the value is, for the message (`"target"`, `"info_hash"`).
 * @throws {KadError} `INVALID_ID` naming `name`.
 */
export function assertNodeId(value: unknown, name = 'id'): NodeId {
  if (!isNodeId(value)) throw KadError.invalidId(`${name} must be ${ID_BYTES} bytes`);
  return value;
}

/** Where random bytes come from: `size` fresh bytes per call. */
export type RandomBytes = (size: number) => Uint8Array;

/** A uniformly random id from `random` (the system CSPRNG by default). */
export function randomId(random?: RandomBytes): NodeId {
  return random === undefined ? getRandomValues(new Uint8Array(ID_BYTES)) : Uint8Array.from(random(ID_BYTES));
}

/**
 * Whether two byte strings hold the same bytes: ids, compact addresses, stored values. The one
 * byte comparison of the KAD code (no allocation, unlike `Buffer.equals` on views).
 */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The XOR distance `a ⊕ b` as a fresh 20-byte array (big-endian, compare bytewise). */
export function xor(a: NodeId, b: NodeId): Uint8Array {
  const out = new Uint8Array(ID_BYTES);
  for (let i = 0; i < ID_BYTES; i++) out[i] = (a[i] ?? 0) ^ (b[i] ?? 0);
  return out;
}

/**
 * Orders `a` and `b` by XOR distance to `target`, without allocating: negative if `a` is closer,
 * positive if `b` is closer, 0 if they are the same id. Usable as an `Array#sort` comparator
 * (`(x, y) => compareDistance(target, x, y)`).
 */
export function compareDistance(target: NodeId, a: NodeId, b: NodeId): number {
  for (let i = 0; i < ID_BYTES; i++) {
    const t = target[i] ?? 0;
    const da = t ^ (a[i] ?? 0);
    const db = t ^ (b[i] ?? 0);
    if (da !== db) return da - db;
  }
  return 0;
}

/** Bytewise comparison of two ids as unsigned big-endian integers. */
export function compareIds(a: NodeId, b: NodeId): number {
  for (let i = 0; i < ID_BYTES; i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** Number of leading bits `a` and `b` share: 0..160 (160 only when they are equal). */
export function commonPrefixLength(a: NodeId, b: NodeId): number {
  for (let i = 0; i < ID_BYTES; i++) {
    const x = (a[i] ?? 0) ^ (b[i] ?? 0);
    if (x !== 0) return i * 8 + Math.clz32(x) - 24;
  }
  return ID_BITS;
}

/**
 * The bucket `other` falls in, seen from `self`: the length of their common prefix, so bucket 0
 * holds the half of the id space farthest from `self` and bucket 159 the single id closest to
 * it. Equivalently, `159 − bucketIndex` is the index of the highest bit in which they differ
 * (⌊log2(distance)⌋). Returns 160 when `other` equals `self` (no bucket).
 */
export function bucketIndex(self: NodeId, other: NodeId): number {
  return commonPrefixLength(self, other);
}

/**
 * A random id that falls in bucket `index` of `self`: it shares exactly `index` leading bits with
 * `self` and differs in the next one. Used to refresh an idle bucket with a lookup.
 * @throws {KadError} `INVALID_OPTION` unless `0 <= index < 160`.
 */
export function randomIdInBucket(self: NodeId, index: number, random?: RandomBytes): NodeId {
  if (!Number.isInteger(index) || index < 0 || index >= ID_BITS) {
    throw optionError('bucket index', `an integer in [0, ${ID_BITS - 1}]`, index);
  }
  const id = randomId(random);
  const byte = index >> 3;
  const bit = 0x80 >> (index & 7);
  for (let i = 0; i < byte; i++) id[i] = self[i] ?? 0;
  const keepMask = (0xff00 >> (index & 7)) & 0xff; // the bits above `bit`
  const s = self[byte] ?? 0;
  id[byte] = (s & keepMask) | (~s & bit) | ((id[byte] ?? 0) & (bit - 1));
  return id;
}

const HEX_ID = /^[0-9a-fA-F]{40}$/;

/** Lowercase hex (40 digits) of an id; also the form of ids in the keys of stored records. */
export function idToHex(id: NodeId): string {
  return Buffer.from(id.buffer, id.byteOffset, id.byteLength).toString('hex');
}

/**
 * Parses 40 hex digits (either case) into an id.
 * @throws {KadError} `INVALID_ID` for anything else.
 */
export function idFromHex(hex: string): NodeId {
  if (typeof hex !== 'string' || !HEX_ID.test(hex)) throw KadError.invalidId('id must be 40 hex digits');
  return new Uint8Array(Buffer.from(hex, 'hex'));
}
