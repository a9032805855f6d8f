import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bencode, type BencodeDict, type BencodeValue } from '../../../../src/kad/wire/bencode.js';
import { encodeAddress } from '../../../../src/kad/wire/compact.js';
import { isKadError, type KadError } from '../../../../src/kad/errors.js';
import { decodeMessage, encodeMessage, type KrpcMessage } from '../../../../src/kad/wire/krpc.js';

const text = (s: string): Uint8Array => new TextEncoder().encode(s);
const ID = text('abcdefghij0123456789');
const dict = (entries: Record<string, BencodeValue>): BencodeDict =>
  Object.assign(Object.create(null) as BencodeDict, entries);

function invalid(datagram: Uint8Array | string, pattern: RegExp): KadError {
  let caught: unknown;
  assert.throws(
    () => decodeMessage(typeof datagram === 'string' ? text(datagram) : datagram),
    (error: unknown) => {
      caught = error;
      return isKadError(error, 'INVALID_MESSAGE') && pattern.test(error.message);
    },
  );
  return caught as KadError;
}

describe('KRPC messages', () => {
  it('decode the BEP 5 ping example', () => {
    const message = decodeMessage(text('d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe'));
    assert.equal(message.y, 'q');
    assert.ok(message.y === 'q');
    assert.equal(message.q, 'ping');
    assert.deepEqual(message.t, text('aa'));
    assert.deepEqual(message.a['id'], ID);
    assert.equal(message.ro, undefined);
  });

  it('encode the BEP 5 ping example byte for byte', () => {
    const bytes = encodeMessage({ y: 'q', t: text('aa'), q: 'ping', a: dict({ id: ID }) });
    assert.equal(Buffer.from(bytes).toString(), 'd1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe');
  });

  it('round-trip queries, responses and errors with their optional fields', () => {
    const messages: KrpcMessage[] = [
      { y: 'q', t: text('t1'), q: 'find_node', a: dict({ id: ID, target: ID }), v: text('NA01'), ro: true },
      { y: 'r', t: text('t2'), r: dict({ id: ID }), ip: encodeAddress({ host: '1.2.3.4', port: 6881 }) },
      { y: 'e', t: text('t3'), e: [203, 'missing "target"'], v: text('NA01') },
    ];
    for (const message of messages) assert.deepEqual(decodeMessage(encodeMessage(message)), message);
  });

  it('mark a query read-only only for ro = 1 (BEP 43)', () => {
    const base = { t: text('aa'), y: text('q'), q: text('ping'), a: dict({ id: ID }) };
    const ro = (value: number): KrpcMessage => decodeMessage(bencode(dict({ ...base, ro: value })));
    assert.equal((ro(1) as { ro?: boolean }).ro, true);
    assert.equal((ro(0) as { ro?: boolean }).ro, undefined);
  });

  it('ignore unknown top-level keys, as BEP 5 asks for forward compatibility', () => {
    const message = decodeMessage(bencode(dict({ t: text('aa'), y: text('r'), r: dict({ id: ID }), zz: 1 })));
    assert.equal(message.y, 'r');
  });

  it('reject datagrams over 1500 bytes', () => {
    const big = bencode(dict({ t: text('aa'), y: text('r'), r: dict({ id: ID, pad: new Uint8Array(1500) }) }));
    invalid(big, /exceeds 1500 bytes/);
  });

  it('accept a larger message when maxBytes allows it, and refuse a bad maxBytes', () => {
    const big = bencode(dict({ t: text('aa'), y: text('r'), r: dict({ id: ID, pad: new Uint8Array(1500) }) }));
    assert.equal(decodeMessage(big, { maxBytes: 2000 }).y, 'r');
    assert.throws(
      () => decodeMessage(big, { maxBytes: 0 }),
      (e: unknown) => isKadError(e, 'INVALID_OPTION'),
    );
  });

  it('reject a message that is not a dict, or lacks a usable t or y', () => {
    invalid('le', /not a dictionary/);
    invalid(bencode(dict({ y: text('q') })), /"t" must be 1\.\.16 bytes/);
    invalid(bencode(dict({ t: new Uint8Array(0), y: text('q') })), /"t"/);
    invalid(bencode(dict({ t: new Uint8Array(17), y: text('q') })), /"t"/);
    invalid(bencode(dict({ t: text('aa'), y: text('x') })), /"y" must be/);
    invalid(bencode(dict({ t: text('aa'), y: 1 })), /"y" must be/);
  });

  it('reject queries without q, a or a 20-byte id, keeping t so the node can answer 203', () => {
    const t = text('zz');
    const error = invalid(bencode(dict({ t, y: text('q'), a: dict({ id: ID }) })), /"q" must be/);
    assert.deepEqual(error.transactionId, t);
    invalid(bencode(dict({ t, y: text('q'), q: text('ping') })), /"a" must be a dictionary/);
    const shortId = invalid(
      bencode(dict({ t, y: text('q'), q: text('ping'), a: dict({ id: text('short') }) })),
      /"id" must be 20 bytes/,
    );
    assert.deepEqual(shortId.transactionId, t);
    invalid(bencode(dict({ t, y: text('q'), q: text('ping'), a: dict({}) })), /missing "id"/);
  });

  it('reject responses and errors of the wrong shape, without a transaction id to answer', () => {
    const t = text('aa');
    const error = invalid(
      bencode(dict({ t, y: text('r'), r: dict({ id: new Uint8Array(19) }) })),
      /"id" must be 20 bytes/,
    );
    assert.equal(error.transactionId, undefined);
    invalid(bencode(dict({ t, y: text('r'), r: [] })), /"r" must be a dictionary/);
    invalid(bencode(dict({ t, y: text('e'), e: [text('x'), 201] })), /"e" must be a list/);
    invalid(bencode(dict({ t, y: text('e'), e: [201] })), /"e" must be a list/);
  });

  it('reject a non-string v and a malformed ip', () => {
    const t = text('aa');
    invalid(bencode(dict({ t, y: text('r'), r: dict({ id: ID }), v: 1 })), /"v" must be a string/);
    invalid(bencode(dict({ t, y: text('r'), r: dict({ id: ID }), ip: new Uint8Array(5) })), /compact address/);
  });

  it('decode error texts as UTF-8', () => {
    const message = decodeMessage(bencode(dict({ t: text('aa'), y: text('e'), e: [201, text('état')] })));
    assert.ok(message.y === 'e');
    assert.deepEqual(message.e, [201, 'état']);
  });
});
