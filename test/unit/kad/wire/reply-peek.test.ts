import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { bencode, type BencodeDict, type BencodeValue } from '../../../../src/kad/wire/bencode.js';
import { decodeMessage, encodeMessage } from '../../../../src/kad/wire/krpc.js';
import { peekReplyTransactionId } from '../../../../src/kad/wire/reply-peek.js';

const dict = (entries: Record<string, BencodeValue>): BencodeDict =>
  Object.assign(Object.create(null) as BencodeDict, entries);
const text = (s: string): Uint8Array => new TextEncoder().encode(s);
const id = new Uint8Array(20).fill(7);

describe('peekReplyTransactionId', () => {
  it('finds the t of a response and of an error reply, past a big r', () => {
    const t = Uint8Array.of(1, 2, 3, 4);
    const response = encodeMessage({
      y: 'r',
      t,
      r: dict({ id, nodes: new Uint8Array(3000), list: [1, [2, dict({})]] }),
    });
    assert.deepEqual(peekReplyTransactionId(response), t);
    const error = encodeMessage({ y: 'e', t, e: [201, 'x'.repeat(2000)] });
    assert.deepEqual(peekReplyTransactionId(error), t);
  });

  it('gives a view of the datagram, not a copy', () => {
    const datagram = encodeMessage({ y: 'r', t: Uint8Array.of(9, 9), r: dict({ id }) });
    const t = peekReplyTransactionId(datagram);
    assert.equal(t?.buffer, datagram.buffer);
  });

  it('says nothing of queries, non-dicts, truncated or trailing bytes, and nesting past maxDepth', () => {
    const t = Uint8Array.of(1, 2, 3, 4);
    const query = encodeMessage({ y: 'q', t, q: 'find_node', a: dict({ id, target: id }) });
    assert.equal(peekReplyTransactionId(query), undefined);
    const response = encodeMessage({ y: 'r', t, r: dict({ id }) });
    assert.equal(peekReplyTransactionId(response.subarray(0, response.length - 1)), undefined);
    assert.equal(peekReplyTransactionId(Uint8Array.from([...response, 0x65])), undefined);
    assert.equal(peekReplyTransactionId(bencode([t])), undefined);
    assert.deepEqual(peekReplyTransactionId(text('d1:t4:abcd1:y1:ee')), text('abcd'), 'only the shape is looked at');
    assert.equal(peekReplyTransactionId(text('d1:t9:abcd1:y1:re')), undefined);
    assert.equal(peekReplyTransactionId(text('d1:y1:r1:xi12')), undefined);
    assert.equal(peekReplyTransactionId(text('d1:y2:rr1:t2:aae')), undefined);
    assert.equal(peekReplyTransactionId(text('d1:y1:re')), undefined, 'no t');
    const deep = `d1:t2:aa1:x${'l'.repeat(40)}${'e'.repeat(40)}1:y1:re`;
    assert.equal(peekReplyTransactionId(text(deep)), undefined);
    assert.deepEqual(peekReplyTransactionId(text(deep), 64), text('aa'));
  });

  it('agrees with decodeMessage on every reply it encodes, and never throws on any bytes', () => {
    const bytes = fc.uint8Array({ minLength: 1, maxLength: 16 });
    fc.assert(
      fc.property(bytes, fc.boolean(), fc.uint8Array({ maxLength: 2000 }), (t, isError, payload) => {
        const datagram = isError
          ? encodeMessage({ y: 'e', t, e: [202, 'server error'] })
          : encodeMessage({ y: 'r', t, r: dict({ id, nodes: payload }) });
        assert.deepEqual(peekReplyTransactionId(datagram), decodeMessage(datagram, { maxBytes: 65507 }).t);
      }),
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (junk) => {
        const t = peekReplyTransactionId(junk);
        assert.ok(t === undefined || t instanceof Uint8Array);
      }),
    );
  });
});
