import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createMutableItem, immutableTarget, keyPairFromSeed, mutableTarget } from '../../../../src/kad/items.js';
import { checkItem } from '../../../../src/kad/lookup/values.js';

const text = (s: string): Uint8Array => new TextEncoder().encode(s);
const keys = keyPairFromSeed(new Uint8Array(32).fill(1));
const salt = text('salt');

describe('checkItem', () => {
  it('returns an immutable value whose bencoding hashes to the target', () => {
    assert.deepEqual(checkItem({ v: text('x') }, immutableTarget(text('x')), undefined), { v: text('x') });
  });

  it('returns a mutable item whose key, salt and signature fit the target', () => {
    const item = createMutableItem(keys, text('m'), 4, salt);
    assert.deepEqual(checkItem(item, mutableTarget(keys.publicKey, salt), salt), item);
  });

  it('is undefined without a value', () => {
    assert.equal(checkItem({ seq: 3 }, immutableTarget(text('x')), undefined), undefined);
  });

  it('is invalid for a wrong hash, a wrong salt, a bad signature, a missing field or an oversized value', () => {
    const item = createMutableItem(keys, text('m'), 4, salt);
    const target = mutableTarget(keys.publicKey, salt);
    assert.equal(checkItem({ v: text('y') }, immutableTarget(text('x')), undefined), 'invalid');
    assert.equal(checkItem(item, target, text('other')), 'invalid');
    assert.equal(checkItem({ ...item, seq: 5 }, target, salt), 'invalid');
    assert.equal(checkItem({ v: item.v, k: item.k, seq: 4 }, target, salt), 'invalid');
    const big = new Uint8Array(2000);
    assert.equal(checkItem({ v: big }, immutableTarget(text('x')), undefined), 'invalid');
  });
});
