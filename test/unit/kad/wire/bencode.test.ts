import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  bdecode,
  bencode,
  type BencodeDict,
  type BencodeValue,
  bytesToKey,
  keyToBytes,
  MAX_INTEGER_DIGITS,
} from '../../../../src/kad/wire/bencode.js';
import { isKadError } from '../../../../src/kad/errors.js';

const text = (s: string): Uint8Array => new TextEncoder().encode(s);
const decodeText = (s: string, limits?: { maxBytes?: number; maxDepth?: number }): BencodeValue =>
  bdecode(text(s), limits);

function rejects(input: string | Uint8Array, pattern: RegExp, limits?: { maxBytes?: number; maxDepth?: number }): void {
  assert.throws(
    () => bdecode(typeof input === 'string' ? text(input) : input, limits),
    (error: unknown) => isKadError(error, 'INVALID_MESSAGE') && pattern.test(error.message),
  );
}

function dict(entries: Record<string, BencodeValue>): BencodeDict {
  return Object.assign(Object.create(null) as BencodeDict, entries);
}

describe('bdecode', () => {
  it('decodes integers, byte strings, lists and dictionaries', () => {
    assert.equal(decodeText('i42e'), 42);
    assert.equal(decodeText('i-7e'), -7);
    assert.equal(decodeText('i0e'), 0);
    assert.deepEqual(decodeText('4:spam'), text('spam'));
    assert.deepEqual(decodeText('0:'), new Uint8Array(0));
    assert.deepEqual(decodeText('l4:spami1ee'), [text('spam'), 1]);
    assert.deepEqual(decodeText('d3:bar4:spam3:fooi42ee'), dict({ bar: text('spam'), foo: 42 }));
  });

  it('decodes a BEP 5 ping query', () => {
    const message = decodeText('d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe') as BencodeDict;
    assert.deepEqual(message['q'], text('ping'));
    assert.deepEqual((message['a'] as BencodeDict)['id'], text('abcdefghij0123456789'));
  });

  it('returns byte strings as plain copies, not views of a Buffer input', () => {
    const input = Buffer.from('4:spam');
    const value = bdecode(input) as Uint8Array;
    assert.equal(Object.getPrototypeOf(value), Uint8Array.prototype);
    input[2] = 0x78;
    assert.deepEqual(value, text('spam'));
  });

  it('decodes dictionaries into null-prototype objects, so "__proto__" cannot pollute', () => {
    const value = decodeText('d9:__proto__d8:pollutedi1eee') as BencodeDict;
    assert.equal(Object.getPrototypeOf(value), null);
    assert.ok(Object.hasOwn(value, '__proto__'));
    assert.equal(({} as Record<string, unknown>)['polluted'], undefined);
  });

  it('decodes keys as latin1 so that any key bytes round-trip', () => {
    const bytes = Uint8Array.from([0x64, 0x32, 0x3a, 0xff, 0x00, 0x69, 0x31, 0x65, 0x65]);
    const value = bdecode(bytes) as BencodeDict;
    assert.deepEqual(Object.keys(value), ['\u00ff\u0000']);
    assert.deepEqual(bencode(value), bytes);
  });

  it('decodes each key as its own bytes, whether it is a KRPC key or one that differs from it in a byte', () => {
    const input = 'd2:id1:x2:ie1:y12:implied_porti1e5:nodea1:z5:nodes1:w6:nodes71:ve';
    const value = decodeText(input) as BencodeDict;
    assert.deepEqual(Object.keys(value), ['id', 'ie', 'implied_port', 'nodea', 'nodes', 'nodes7']);
    assert.deepEqual(bencode(value), text(input));
  });

  it('rejects non-canonical integers', () => {
    rejects('i03e', /leading zero/);
    rejects('i-0e', /negative zero/);
    rejects('i-03e', /negative zero/);
    rejects('ie', /without digits/);
    rejects('i-e', /without digits/);
    rejects('i1.5e', /invalid character/);
    rejects('i+1e', /invalid character/);
    rejects('i12', /unterminated/);
  });

  it('decodes integers beyond the safe range exactly, as bigints, and safe ones as numbers', () => {
    assert.equal(decodeText('i9007199254740991e'), Number.MAX_SAFE_INTEGER);
    assert.equal(decodeText('i-9007199254740991e'), Number.MIN_SAFE_INTEGER);
    assert.equal(decodeText('i9007199254740992e'), 2n ** 53n);
    assert.equal(decodeText('i-9007199254740993e'), -(2n ** 53n) - 1n);
    assert.equal(decodeText('i9223372036854775808e'), 2n ** 63n);
    assert.equal(decodeText('i123456789012345678901234567890e'), 123456789012345678901234567890n);
    assert.deepEqual(decodeText('li18446744073709551616ei1ee'), [2n ** 64n, 1]);
  });

  it('decodes an integer as long as a datagram can hold, and refuses a longer one', () => {
    const digits = '9'.repeat(MAX_INTEGER_DIGITS);
    assert.equal(decodeText(`i${digits}e`, { maxBytes: 4000 }), BigInt(digits));
    rejects(`i${digits}9e`, /longer than 1500 digits/, { maxBytes: 4000 });
    rejects(`i${'0'.repeat(MAX_INTEGER_DIGITS + 1)}e`, /longer than 1500 digits/, { maxBytes: 4000 });
  });

  it('rejects string lengths with leading zeros or past the end', () => {
    rejects('04:spam', /leading zero/);
    rejects('5:spam', /past the end/);
    rejects('99999999999:x', /too long/);
    rejects('4spam', /invalid character/);
    rejects('4', /unterminated/);
  });

  it('rejects unsorted and duplicate dictionary keys', () => {
    rejects('d3:fooi1e3:bari2ee', /not sorted/);
    rejects('d3:fooi1e3:fooi2ee', /duplicate/);
    rejects('di1ei2ee', /not a byte string/);
    rejects('d3:foo', /unexpected end/);
    rejects('d3:fooi1e', /unterminated dictionary/);
  });

  it('orders keys by raw bytes: a prefix sorts first', () => {
    assert.deepEqual(Object.keys(decodeText('d1:ai1e2:aai2e1:bi3ee')), ['a', 'aa', 'b']);
    rejects('d2:aai2e1:ai1ee', /not sorted/);
  });

  it('rejects trailing bytes, empty input and unknown leading bytes', () => {
    rejects('i1ei2e', /trailing/);
    rejects('4:spamx', /trailing/);
    rejects('', /empty/);
    rejects('x', /unexpected byte 0x78/);
    rejects('l', /unterminated list/);
  });

  it('rejects input larger than maxBytes, 1500 by default', () => {
    const big = text(`1496:${'x'.repeat(1496)}`);
    assert.equal(big.length, 1501);
    rejects(big, /exceeds 1500 bytes/);
    assert.equal((bdecode(big, { maxBytes: 2000 }) as Uint8Array).length, 1496);
  });

  it('rejects nesting deeper than maxDepth, 16 by default', () => {
    const nested = (n: number): string => `${'l'.repeat(n)}${'e'.repeat(n)}`;
    assert.ok(Array.isArray(decodeText(nested(16))));
    rejects(nested(17), /nesting deeper than 16/);
    rejects(nested(3), /nesting deeper than 2/, { maxDepth: 2 });
  });

  it('survives very deep nesting without a stack overflow', () => {
    const deep = text('l'.repeat(100_000));
    rejects(deep, /nesting deeper than 16/, { maxBytes: 200_000 });
  });

  it('refuses limits out of range with INVALID_OPTION', () => {
    assert.throws(
      () => bdecode(text('i1e'), { maxBytes: 0 }),
      (e: unknown) => isKadError(e, 'INVALID_OPTION'),
    );
    assert.throws(
      () => bdecode(text('i1e'), { maxDepth: 1e6 }),
      (e: unknown) => isKadError(e, 'INVALID_OPTION'),
    );
  });
});

describe('bencode', () => {
  it('encodes dictionaries with keys sorted by raw bytes', () => {
    assert.equal(
      Buffer.from(bencode({ foo: 42, bar: text('spam'), aa: [1, -2] })).toString(),
      'd2:aali1ei-2ee3:bar4:spam3:fooi42ee',
    );
  });

  it('encodes bigints of any size, and a safe bigint exactly like the number', () => {
    assert.equal(Buffer.from(bencode(2n ** 63n)).toString(), 'i9223372036854775808e');
    assert.equal(Buffer.from(bencode(-(2n ** 70n))).toString(), 'i-1180591620717411303424e');
    assert.deepEqual(bencode(42n), bencode(42));
    assert.deepEqual(bencode(0n), bencode(0));
  });

  it('leaves out dictionary entries whose value is undefined', () => {
    const value = { a: 1, b: undefined } as unknown as BencodeDict;
    assert.equal(Buffer.from(bencode(value)).toString(), 'd1:ai1ee');
  });

  it('refuses values without a bencoding', () => {
    for (const bad of [1.5, Number.NaN, 2 ** 53, 'text', null, true] as unknown as BencodeValue[]) {
      assert.throws(
        () => bencode(bad),
        (e: unknown) => isKadError(e, 'INVALID_MESSAGE'),
      );
    }
    assert.throws(() => bencode({ '\u0100': 1 }), /not latin1/);
    assert.throws(() => bencode(new ArrayBuffer(4) as unknown as BencodeValue), /cannot encode ArrayBuffer/);
    assert.throws(() => bencode([new Map()] as unknown as BencodeValue), /cannot encode Map/);
  });

  it('refuses a cyclic value instead of overflowing the stack', () => {
    const cyclic: BencodeValue[] = [];
    cyclic.push(cyclic);
    assert.throws(() => bencode(cyclic), /nesting deeper/);
  });

  it('grows its buffer for large values', () => {
    const value = [new Uint8Array(5000).fill(7), new Uint8Array(300)];
    assert.deepEqual(bdecode(bencode(value), { maxBytes: 10_000 }), value);
  });
});

describe('latin1 key helpers', () => {
  it('convert between bytes and key strings one char per byte', () => {
    const bytes = Uint8Array.from([0, 65, 255]);
    assert.equal(bytesToKey(bytes), '\u0000A\u00ff');
    assert.deepEqual(keyToBytes('\u0000A\u00ff'), bytes);
    assert.throws(
      () => keyToBytes('\u20ac'),
      (e: unknown) => isKadError(e, 'INVALID_MESSAGE'),
    );
  });
});
