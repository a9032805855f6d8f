import { concatBytes } from './ed25519.js';

/**
 * A BEP 44 sequence number: an integer in `0..`{@link MAX_SEQ} (a signed 64-bit integer that is
 * not negative). Decoded values are a `number` up to `Number.MAX_SAFE_INTEGER` and a `bigint`
 * beyond; either form is accepted wherever a `Seq` is taken.
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

/** `seq` in its canonical form: a `number` when safe, a `bigint` beyond 2^53 − 1. */
export function canonicalSeq(seq: Seq): Seq {
  if (typeof seq === 'number') return seq;
  return seq <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(seq) : seq;
}

const encoder = new TextEncoder();

/**
 * The bencoding of a byte string: `<length>:<bytes>` (what `v` is when a value is raw bytes).
 * @see BEP 3 "bencoding"
 */
export function bencodeByteString(bytes: Uint8Array): Uint8Array {
  return concatBytes(encoder.encode(`${bytes.length}:`), bytes);
}

/**
 * The exact bytes a BEP 44 mutable item's signature covers: the bencoded dict entries
 * `4:salt<salt>` (only for a non-empty salt), `3:seqi<seq>e`, `1:v<bencoded v>`, without the
 * enclosing `d`…`e`. For example `4:salt6:foobar3:seqi1e1:v12:Hello World!`.
 *
 * No limit is checked here (the DHT's 1000-byte `v` and 64-byte salt are kad's to enforce):
 * `encodedV` must be one bencoded value and `seq` a {@link Seq}.
 * @throws {RangeError} for a `seq` that is not a {@link Seq}.
 * @see BEP 44 "Signature verification"
 */
export function bep44SignatureBuffer(encodedV: Uint8Array, seq: Seq, salt?: Uint8Array): Uint8Array {
  if (!isSeq(seq)) throw new RangeError(`seq must be an integer in 0..${MAX_SEQ}`);
  const seqPart = encoder.encode(`3:seqi${seq}e1:v`);
  if (salt === undefined || salt.length === 0) return concatBytes(seqPart, encodedV);
  return concatBytes(encoder.encode(`4:salt${salt.length}:`), salt, seqPart, encodedV);
}
