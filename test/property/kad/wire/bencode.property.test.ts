import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  bdecode,
  bencode,
  type BencodeDict,
  bencodedSize,
  type BencodeValue,
} from '../../../../src/kad/wire/bencode.js';
import { isKadError } from '../../../../src/kad/errors.js';

const latin1Key = fc.uint8Array({ maxLength: 8 }).map((bytes) => String.fromCharCode(...bytes));

const bencodeValue: fc.Arbitrary<BencodeValue> = fc.letrec<{ value: BencodeValue }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.integer({ min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER }).map((n) => (n === 0 ? 0 : n)),
    // beyond the safe range integers are bigints (inside it, a bigint decodes as a number)
    fc.bigInt({ min: -(2n ** 80n), max: 2n ** 80n }).map((n) => (Number.isSafeInteger(Number(n)) ? Number(n) : n)),
    fc.uint8Array({ maxLength: 40 }),
    fc.array(tie('value'), { maxLength: 5 }),
    fc
      .dictionary(latin1Key, tie('value'), { maxKeys: 5 })
      .map((entries) => Object.assign(Object.create(null) as BencodeDict, entries)),
  ),
})).value;

const big = { maxBytes: 1 << 20, maxDepth: 256 };

function onlyInvalidMessage(bytes: Uint8Array): void {
  let value: BencodeValue;
  try {
    value = bdecode(bytes);
  } catch (error) {
    assert.ok(isKadError(error, 'INVALID_MESSAGE'), `unexpected error ${String(error)}`);
    return;
  }
  assert.deepEqual(bencode(value), bytes);
}

describe('bencode properties', () => {
  it('round-trips any value: decode(encode(v)) deep-equals v', () => {
    fc.assert(
      fc.property(bencodeValue, (value) => {
        assert.deepEqual(bdecode(bencode(value), big), value);
      }),
      { numRuns: 500 },
    );
  });

  it('re-encodes any decoded input to exactly the same bytes (canonical form is unique)', () => {
    fc.assert(
      fc.property(bencodeValue, (value) => {
        const bytes = bencode(value);
        assert.deepEqual(bencode(bdecode(bytes, big)), bytes);
      }),
    );
  });

  it('sizes any value exactly as long as its encoding, without encoding it', () => {
    fc.assert(
      fc.property(bencodeValue, (value) => {
        assert.equal(bencodedSize(value), bencode(value).length);
      }),
      { numRuns: 500 },
    );
  });

  it('either decodes random bytes canonically or throws INVALID_MESSAGE, nothing else', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), onlyInvalidMessage), { numRuns: 2000 });
    const alphabet = fc.constantFrom(...'ilde0123456789:-x'.split('').map((c) => c.charCodeAt(0)));
    fc.assert(
      fc.property(fc.array(alphabet, { maxLength: 40 }), (codes) => onlyInvalidMessage(Uint8Array.from(codes))),
      { numRuns: 3000 },
    );
  });

  it('either decodes mutated valid encodings canonically or throws INVALID_MESSAGE', () => {
    const mutated = fc
      .tuple(
        bencodeValue,
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 }), fc.constantFrom('set', 'insert', 'delete')), {
          minLength: 1,
          maxLength: 4,
        }),
      )
      .map(([value, edits]) => {
        const bytes = Array.from(bencode(value));
        for (const [at, byte, kind] of edits) {
          const i = bytes.length === 0 ? 0 : at % bytes.length;
          if (kind === 'set') bytes[i] = byte;
          else if (kind === 'insert') bytes.splice(i, 0, byte);
          else bytes.splice(i, 1);
        }
        return Uint8Array.from(bytes);
      });
    fc.assert(fc.property(mutated, onlyInvalidMessage), { numRuns: 2000 });
  });
});
