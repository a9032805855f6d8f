import { bytesEqual, type NodeId } from '../id.js';
import { immutableTarget, type MutableItem, mutableTarget, verifyMutable } from '../items.js';
import type { ResponseValues } from '../wire/krpc-args.js';
import type { FoundItem } from './events.js';

/**
 * The item carried by a `get` response, checked against `target` (BEP 44): an immutable `{ v }`
 * whose bencoding hashes to it, or a mutable item whose `SHA-1(k ‖ salt)` is the target and
 * whose signature verifies. `undefined` when the response has no value, `'invalid'` when it has
 * one that fails (wrong hash, wrong key or salt, bad signature, over 1000 bytes). Never throws.
 * @see BEP 44
 */
export function checkItem(
  values: Pick<ResponseValues, 'v' | 'k' | 'sig' | 'seq'>,
  target: NodeId,
  salt: Uint8Array | undefined,
): FoundItem | 'invalid' | undefined {
  const { v, k, sig, seq } = values;
  if (v === undefined) return undefined;
  try {
    if (k === undefined && sig === undefined) return bytesEqual(immutableTarget(v), target) ? { v } : 'invalid';
    if (k === undefined || sig === undefined || seq === undefined) return 'invalid';
    const item: MutableItem = { v, k, sig, seq, ...(salt === undefined || salt.length === 0 ? {} : { salt }) };
    return bytesEqual(mutableTarget(k, salt), target) && verifyMutable(item) ? item : 'invalid';
  } catch {
    return 'invalid'; // a value over 1000 bytes, a salt over 64 bytes
  }
}
