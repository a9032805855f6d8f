import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isKadError } from '../../../src/kad/errors.js';
import {
  assertNodeId,
  bucketIndex,
  commonPrefixLength,
  compareDistance,
  compareIds,
  bytesEqual,
  idFromHex,
  idToHex,
  isNodeId,
  randomId,
  randomIdInBucket,
  xor,
} from '../../../src/kad/id.js';

const id = (hex: string): Uint8Array => idFromHex(hex.padEnd(40, '0'));

describe('node ids', () => {
  it('are 20 random bytes, different each time', () => {
    const a = randomId();
    const b = randomId();
    assert.equal(a.length, 20);
    assert.ok(isNodeId(a));
    assert.ok(!bytesEqual(a, b));
  });

  it('convert to and from 40 lowercase hex digits', () => {
    const hex = '0123456789abcdef0123456789abcdef01234567';
    assert.equal(idToHex(idFromHex(hex)), hex);
    assert.equal(idToHex(idFromHex(hex.toUpperCase())), hex);
    assert.equal(Object.getPrototypeOf(idFromHex(hex)), Uint8Array.prototype);
  });

  it('reject hex of the wrong length or alphabet with INVALID_ID', () => {
    for (const bad of ['', 'abc', 'z'.repeat(40), '0'.repeat(41)]) {
      assert.throws(
        () => idFromHex(bad),
        (e: unknown) => isKadError(e, 'INVALID_ID'),
      );
    }
    assert.throws(() => assertNodeId(new Uint8Array(19), 'target'), /target must be 20 bytes/);
    assert.ok(!isNodeId('x'.repeat(20)));
  });

  it('measure distance by XOR', () => {
    assert.equal(idToHex(xor(id('ff'), id('0f'))), 'f0'.padEnd(40, '0'));
    assert.ok(bytesEqual(xor(id('ab'), id('ab')), new Uint8Array(20)));
  });

  it('order by distance to a target', () => {
    const target = id('80');
    assert.ok(compareDistance(target, id('81'), id('90')) < 0);
    assert.ok(compareDistance(target, id('00'), id('ff')) > 0);
    assert.equal(compareDistance(target, id('42'), id('42')), 0);
    const sorted = [id('ff'), id('80'), id('00'), id('c0')].sort((a, b) => compareDistance(target, a, b));
    assert.deepEqual(
      sorted.map((x) => idToHex(x).slice(0, 2)),
      ['80', 'c0', 'ff', '00'],
    );
    assert.ok(compareIds(id('01'), id('02')) < 0);
  });

  it('put an id in the bucket of its common prefix length with self', () => {
    const self = id('00');
    assert.equal(bucketIndex(self, id('80')), 0);
    assert.equal(bucketIndex(self, id('40')), 1);
    assert.equal(bucketIndex(self, id('01')), 7);
    assert.equal(bucketIndex(self, id('0001')), 15);
    assert.equal(bucketIndex(self, idFromHex('0'.repeat(39) + '1')), 159);
    assert.equal(bucketIndex(self, self), 160);
    assert.equal(commonPrefixLength(id('f0'), id('f8')), 4);
  });

  it('draws random ids inside a chosen bucket of self', () => {
    const self = randomId();
    for (let index = 0; index < 160; index++) {
      assert.equal(bucketIndex(self, randomIdInBucket(self, index)), index);
    }
    assert.throws(
      () => randomIdInBucket(self, 160),
      (e: unknown) => isKadError(e, 'INVALID_OPTION'),
    );
  });
});
