import type { Milliseconds } from '../../core/clock.js';
import type { Seq } from '../items.js';

// How KadStorage lays out its records in a registry: one record of all the peers of an
// info-hash, one record per BEP 44 item. Decoding tolerates corrupt bytes (a shared backend).

/** A stored BEP 44 item. `v` is the bencoded value, exactly as it was put. */
export type StoredItem = StoredImmutableItem | StoredMutableItem;

/** An immutable item: its target is SHA-1 of `v`. */
export interface StoredImmutableItem {
  readonly mutable: false;
  /** The bencoded value (at most 1000 bytes). */
  readonly v: Uint8Array;
}

/** A mutable item: its target is SHA-1 of `k` ‖ `salt`; `sig` signs salt, seq and v. */
export interface StoredMutableItem {
  readonly mutable: true;
  /** The bencoded value (at most 1000 bytes). */
  readonly v: Uint8Array;
  /** ed25519 public key, 32 bytes. */
  readonly k: Uint8Array;
  /** ed25519 signature, 64 bytes. */
  readonly sig: Uint8Array;
  /** Sequence number, 0..2^63 − 1. */
  readonly seq: Seq;
  /** Salt, 0–64 bytes (empty when none). */
  readonly salt: Uint8Array;
}

const ENTRY_TAIL = 8; // float64 deadline after each compact peer

/** One announced peer and when it expires. */
export interface PeerEntry {
  readonly peer: Uint8Array;
  readonly expiresAt: Milliseconds;
}

/** `[length u8][compact peer][deadline float64]`… */
export function encodePeers(entries: readonly PeerEntry[]): Uint8Array {
  let size = 0;
  for (const e of entries) size += 1 + e.peer.length + ENTRY_TAIL;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  let at = 0;
  for (const e of entries) {
    out[at++] = e.peer.length;
    out.set(e.peer, at);
    at += e.peer.length;
    view.setFloat64(at, e.expiresAt);
    at += ENTRY_TAIL;
  }
  return out;
}

/** Tolerates corrupt bytes (a shared backend): parsing stops at the first malformed entry. */
export function decodePeers(bytes: Uint8Array | undefined): PeerEntry[] {
  const out: PeerEntry[] = [];
  if (bytes === undefined) return out;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  while (at < bytes.length) {
    const length = bytes[at] ?? 0;
    if ((length !== 6 && length !== 18) || at + 1 + length + ENTRY_TAIL > bytes.length) break;
    const peer = bytes.slice(at + 1, at + 1 + length);
    out.push({ peer, expiresAt: view.getFloat64(at + 1 + length) });
    at += 1 + length + ENTRY_TAIL;
  }
  return out;
}

const KIND_IMMUTABLE = 0;
// records written before seq became 64-bit hold it as a float64; they are still read
const KIND_MUTABLE_FLOAT_SEQ = 1;
const KIND_MUTABLE = 2;
const MUTABLE_HEADER = 1 + 32 + 64 + 8 + 1; // kind, k, sig, seq, salt length

/** immutable: `[0][v]`; mutable: `[2][k 32][sig 64][seq int64][salt length u8][salt][v]`. */
export function encodeItem(item: StoredItem): Uint8Array {
  if (!item.mutable) {
    const out = new Uint8Array(1 + item.v.length);
    out[0] = KIND_IMMUTABLE;
    out.set(item.v, 1);
    return out;
  }
  const out = new Uint8Array(MUTABLE_HEADER + item.salt.length + item.v.length);
  out[0] = KIND_MUTABLE;
  out.set(item.k, 1);
  out.set(item.sig, 33);
  new DataView(out.buffer).setBigUint64(97, BigInt(item.seq));
  out[105] = item.salt.length;
  out.set(item.salt, MUTABLE_HEADER);
  out.set(item.v, MUTABLE_HEADER + item.salt.length);
  return out;
}

export function decodeItem(bytes: Uint8Array): StoredItem | undefined {
  if (bytes[0] === KIND_IMMUTABLE) return { mutable: false, v: bytes.slice(1) };
  const kind = bytes[0];
  if ((kind !== KIND_MUTABLE && kind !== KIND_MUTABLE_FLOAT_SEQ) || bytes.length < MUTABLE_HEADER) return undefined;
  const saltLength = bytes[105] ?? 0;
  if (bytes.length < MUTABLE_HEADER + saltLength) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return {
    mutable: true,
    k: bytes.slice(1, 33),
    sig: bytes.slice(33, 97),
    seq: kind === KIND_MUTABLE ? seqOf(view.getBigUint64(97)) : view.getFloat64(97),
    salt: bytes.slice(MUTABLE_HEADER, MUTABLE_HEADER + saltLength),
    v: bytes.slice(MUTABLE_HEADER + saltLength),
  };
}

/** A stored 64-bit seq in its canonical form: a `number` when safe. */
function seqOf(seq: bigint): Seq {
  return seq <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(seq) : seq;
}
