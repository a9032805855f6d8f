import {
  bencodeByteString,
  bep44SignatureBuffer,
  canonicalSeq,
  isSeq,
  MAX_SEQ,
  type Seq,
} from '../../core/bep44-signature.js';
import { PUBLIC_KEY_BYTES, SIGNATURE_BYTES, verifyEd25519 } from '../../core/ed25519.js';
import { RegistryError } from '../errors.js';

/**
 * A signed record in BEP 44 terms: exactly the fields of a DHT mutable item whose `v` is a
 * byte string and whose `salt` is the record's key in UTF-8. Structurally a kad `MutableItem`,
 * so `node.put(item)` publishes it as it is, and an item from `node.getMutable()` imports as one.
 * @see BEP 44 "Mutable items"
 */
export interface SignedItem {
  /** The value: the bytes of the record (bencoded as a byte string when signed). */
  readonly v: Uint8Array;
  /** 32-byte ed25519 public key of the writer. */
  readonly k: Uint8Array;
  /** 64-byte ed25519 signature over `salt`, `seq` and `v` (see {@link signedMessage}). */
  readonly sig: Uint8Array;
  /** BEP 44 sequence number: rises with every write of the key. */
  readonly seq: Seq;
  /** The record's key in UTF-8 (non-empty). */
  readonly salt: Uint8Array;
}

/** Format byte of the stored envelope (a new layout would take the next one). */
const FORMAT = 0x01;
const SEQ_OFFSET = 1 + PUBLIC_KEY_BYTES + SIGNATURE_BYTES;
/**
 * Bytes a signed record adds to its value in the backend: a format byte, the public key, the
 * signature and an 8-byte big-endian `seq`, in front of the value.
 */
export const ENVELOPE_OVERHEAD_BYTES = SEQ_OFFSET + 8;

const encoder = new TextEncoder();

/** The bytes the signature of `value` under `key` with `seq` covers: BEP 44's, with salt = key. */
export function signedMessage(key: string, seq: Seq, value: Uint8Array): Uint8Array {
  return bep44SignatureBuffer(bencodeByteString(value), seq, encoder.encode(key));
}

/** The stored form of a signed value: format, `k`, `sig`, `seq`, then the value. */
export function encodeEnvelope(k: Uint8Array, sig: Uint8Array, seq: Seq, value: Uint8Array): Uint8Array {
  const out = new Uint8Array(ENVELOPE_OVERHEAD_BYTES + value.length);
  out[0] = FORMAT;
  out.set(k, 1);
  out.set(sig, 1 + PUBLIC_KEY_BYTES);
  new DataView(out.buffer).setBigUint64(SEQ_OFFSET, BigInt(seq));
  out.set(value, ENVELOPE_OVERHEAD_BYTES);
  return out;
}

/** A stored envelope, read back and verified. */
export interface OpenedEnvelope {
  readonly k: Uint8Array;
  readonly sig: Uint8Array;
  readonly seq: Seq;
  readonly value: Uint8Array;
}

/**
 * Reads the envelope stored under `key` and verifies its signature (strict ed25519, see
 * `verifyEd25519`).
 * @throws {RegistryError} `INVALID_SIGNATURE` for bytes that are no envelope or whose signature
 *   does not verify for this key, seq and value.
 */
export function openEnvelope(key: string, bytes: Uint8Array): OpenedEnvelope {
  if (bytes.length < ENVELOPE_OVERHEAD_BYTES || bytes[0] !== FORMAT) {
    throw RegistryError.invalidSignature(key, 'the stored bytes are not a signed record');
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const seq = view.getBigUint64(SEQ_OFFSET);
  if (seq > MAX_SEQ) throw RegistryError.invalidSignature(key, 'seq out of range');
  const k = bytes.subarray(1, 1 + PUBLIC_KEY_BYTES);
  const sig = bytes.subarray(1 + PUBLIC_KEY_BYTES, SEQ_OFFSET);
  const value = bytes.subarray(ENVELOPE_OVERHEAD_BYTES);
  const opened = { k, sig, seq: canonicalSeq(seq), value };
  if (!verifyEd25519(k, signedMessage(key, opened.seq, value), sig)) {
    throw RegistryError.invalidSignature(key, 'the signature does not match the key, seq and value');
  }
  return opened;
}

/** Whether `seq` is a BEP 44 sequence number; the message names `name`. */
export function checkSeq(name: string, seq: unknown): asserts seq is Seq {
  if (!isSeq(seq)) throw RegistryError.invalidOptionValue(name, `an integer in 0..${MAX_SEQ}`, seq);
}

/** Lower-case hex of `bytes` (public keys in messages). */
export function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}
