import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { BencodeDict, BencodeValue } from '../../../../src/kad/wire/bencode.js';
import { encodeNodes, encodePeer } from '../../../../src/kad/wire/compact.js';
import { isKadError, type KadErrorCode } from '../../../../src/kad/errors.js';
import {
  type PutArgs,
  readAnnouncePeerArgs,
  readFindNodeArgs,
  readGetArgs,
  readGetPeersArgs,
  readPingArgs,
  readPutArgs,
  readResponse,
  type ResponseValues,
  writeAnnouncePeerArgs,
  writeFindNodeArgs,
  writeGetArgs,
  writeGetPeersArgs,
  writePingArgs,
  writePutArgs,
  writeResponse,
} from '../../../../src/kad/wire/krpc-args.js';

const text = (s: string): Uint8Array => new TextEncoder().encode(s);
const ID = new Uint8Array(20).fill(1);
const TARGET = new Uint8Array(20).fill(2);
const dict = (entries: Record<string, BencodeValue>): BencodeDict =>
  Object.assign(Object.create(null) as BencodeDict, entries);

function fails(read: () => unknown, code: KadErrorCode, pattern: RegExp): void {
  assert.throws(read, (e: unknown) => isKadError(e, code) && pattern.test(e.message));
}

describe('query arguments', () => {
  it('read and write ping', () => {
    assert.deepEqual(readPingArgs(writePingArgs({ id: ID })), { id: ID });
    fails(() => readPingArgs(dict({})), 'INVALID_MESSAGE', /ping: missing "id"/);
  });

  it('read find_node with the BEP 32 want list, ignoring unknown entries', () => {
    const args = readFindNodeArgs(
      dict({ id: ID, target: TARGET, want: [text('n6'), text('xx'), text('n4'), text('n6')] }),
    );
    assert.deepEqual(args, { id: ID, target: TARGET, want: ['n6', 'n4'] });
    assert.deepEqual(readFindNodeArgs(writeFindNodeArgs({ id: ID, target: TARGET })), { id: ID, target: TARGET });
    fails(() => readFindNodeArgs(dict({ id: ID })), 'INVALID_MESSAGE', /find_node: missing "target"/);
    fails(
      () => readFindNodeArgs(dict({ id: ID, target: text('short') })),
      'INVALID_MESSAGE',
      /"target" must be 20 bytes/,
    );
    fails(
      () => readFindNodeArgs(dict({ id: ID, target: TARGET, want: text('n4') })),
      'INVALID_MESSAGE',
      /"want" must be a list/,
    );
  });

  it('read get_peers', () => {
    const args = { id: ID, infoHash: TARGET, want: ['n4' as const] };
    assert.deepEqual(readGetPeersArgs(writeGetPeersArgs(args)), args);
    fails(() => readGetPeersArgs(dict({ id: ID })), 'INVALID_MESSAGE', /get_peers: missing "info_hash"/);
  });

  it('read announce_peer with port, token, implied_port and seed', () => {
    const args = { id: ID, infoHash: TARGET, port: 6881, token: text('tok'), impliedPort: false, seed: true };
    assert.deepEqual(readAnnouncePeerArgs(writeAnnouncePeerArgs(args)), args);
    const implied = readAnnouncePeerArgs(dict({ id: ID, info_hash: TARGET, token: text('t'), implied_port: 1 }));
    assert.equal(implied.impliedPort, true);
    assert.equal(implied.port, 0);
  });

  it('refuse announce_peer without a valid port or token', () => {
    const base = { id: ID, info_hash: TARGET, token: text('t') };
    fails(() => readAnnouncePeerArgs(dict(base)), 'INVALID_MESSAGE', /missing "port"/);
    fails(
      () => readAnnouncePeerArgs(dict({ ...base, port: 0 })),
      'INVALID_MESSAGE',
      /"port" must be an integer in 1\.\.65535/,
    );
    fails(() => readAnnouncePeerArgs(dict({ ...base, port: 70000 })), 'INVALID_MESSAGE', /"port"/);
    fails(
      () => readAnnouncePeerArgs(dict({ id: ID, info_hash: TARGET, port: 1 })),
      'INVALID_MESSAGE',
      /missing "token"/,
    );
    fails(
      () => readAnnouncePeerArgs(dict({ ...base, port: 1, token: new Uint8Array(0) })),
      'INVALID_MESSAGE',
      /"token" must be 1\.\.64 bytes/,
    );
  });

  it('read get with an optional seq', () => {
    assert.deepEqual(readGetArgs(writeGetArgs({ id: ID, target: TARGET, seq: 4 })), { id: ID, target: TARGET, seq: 4 });
    assert.deepEqual(readGetArgs(writeGetArgs({ id: ID, target: TARGET })), { id: ID, target: TARGET });
    fails(() => readGetArgs(dict({ id: ID, target: TARGET, seq: -1 })), 'INVALID_MESSAGE', /"seq"/);
  });

  it('read get with the BEP 32 want list, ignoring a malformed one instead of refusing the get', () => {
    const args = { id: ID, target: TARGET, want: ['n6' as const, 'n4' as const] };
    assert.deepEqual(readGetArgs(writeGetArgs(args)), args);
    const loose = readGetArgs(dict({ id: ID, target: TARGET, want: [1, text('n6'), text('xx'), text('n6')] }));
    assert.deepEqual(loose, { id: ID, target: TARGET, want: ['n6'] });
    assert.deepEqual(readGetArgs(dict({ id: ID, target: TARGET, want: text('n4') })), { id: ID, target: TARGET });
  });

  it('read an immutable put, and a mutable put when k is present', () => {
    const immutable: PutArgs = { kind: 'immutable', id: ID, token: text('t'), v: text('Hello World!') };
    assert.deepEqual(readPutArgs(writePutArgs(immutable)), immutable);
    const mutable: PutArgs = {
      kind: 'mutable',
      id: ID,
      token: text('t'),
      v: text('x'),
      k: new Uint8Array(32),
      sig: new Uint8Array(64),
      seq: 3,
      salt: text('foobar'),
      cas: 2,
    };
    assert.deepEqual(readPutArgs(writePutArgs(mutable)), mutable);
  });

  it('answer 205 for a value over 1000 bytes and 207 for a salt over 64 bytes', () => {
    const base = { id: ID, token: text('t'), k: new Uint8Array(32), sig: new Uint8Array(64), seq: 1 };
    fails(() => readPutArgs(dict({ ...base, v: new Uint8Array(997) })), 'MESSAGE_TOO_BIG', /1000/);
    assert.equal(readPutArgs(dict({ ...base, v: new Uint8Array(996) })).kind, 'mutable');
    fails(() => readPutArgs(dict({ ...base, v: text('x'), salt: new Uint8Array(65) })), 'SALT_TOO_BIG', /64/);
  });

  it('refuse a mutable put with a bad k, sig or seq, naming the field', () => {
    const base = { id: ID, token: text('t'), v: text('x'), k: new Uint8Array(32), sig: new Uint8Array(64), seq: 1 };
    fails(() => readPutArgs(dict({ ...base, k: new Uint8Array(31) })), 'INVALID_MESSAGE', /"k" must be 32 bytes/);
    fails(() => readPutArgs(dict({ ...base, sig: new Uint8Array(63) })), 'INVALID_MESSAGE', /"sig" must be 64 bytes/);
    const { seq: _seq, ...noSeq } = base;
    fails(() => readPutArgs(dict(noSeq)), 'INVALID_MESSAGE', /missing "seq"/);
    fails(() => readPutArgs(dict({ id: ID, token: text('t') })), 'INVALID_MESSAGE', /missing "v"/);
  });

  it('read a 64-bit seq and cas beyond 2^53 as bigints, and refuse 2^63 naming the field', () => {
    const base = { id: ID, token: text('t'), v: text('x'), k: new Uint8Array(32), sig: new Uint8Array(64) };
    const max = 2n ** 63n - 1n;
    const put = readPutArgs(dict({ ...base, seq: max, cas: 2n ** 53n }));
    assert.equal(put.kind === 'mutable' && put.seq, max);
    assert.equal(put.kind === 'mutable' && put.cas, 2n ** 53n);
    assert.equal(readGetArgs(dict({ id: ID, target: TARGET, seq: max })).seq, max);
    assert.equal(readResponse(dict({ id: ID, seq: max })).seq, max);
    fails(
      () => readPutArgs(dict({ ...base, seq: 2n ** 63n })),
      'INVALID_MESSAGE',
      /put: "seq" must be an integer in 0\.\./,
    );
    fails(() => readPutArgs(dict({ ...base, seq: 1, cas: 2n ** 64n })), 'INVALID_MESSAGE', /put: "cas"/);
    fails(() => readGetArgs(dict({ id: ID, target: TARGET, seq: -(2n ** 60n) })), 'INVALID_MESSAGE', /get: "seq"/);
    fails(() => readResponse(dict({ id: ID, seq: 2n ** 63n })), 'INVALID_MESSAGE', /response: "seq"/);
  });

  it('refuse a bigint where a small integer belongs (port, implied_port)', () => {
    const base = { id: ID, info_hash: TARGET, token: text('t') };
    fails(() => readAnnouncePeerArgs(dict({ ...base, port: 2n ** 64n })), 'INVALID_MESSAGE', /"port"/);
    fails(
      () => readAnnouncePeerArgs(dict({ ...base, port: 1, implied_port: 2n ** 64n })),
      'INVALID_MESSAGE',
      /"implied_port"/,
    );
  });
});

describe('response values', () => {
  it('round-trip nodes, nodes6, token, values and BEP 44 fields', () => {
    const values: ResponseValues = {
      id: ID,
      nodes: [{ id: TARGET, host: '10.0.0.1', port: 1 }],
      nodes6: [{ id: TARGET, host: '::1', port: 2 }],
      token: text('tok'),
      values: [
        { host: '1.2.3.4', port: 5 },
        { host: '::2', port: 6 },
      ],
      v: text('Hello World!'),
      k: new Uint8Array(32),
      sig: new Uint8Array(64),
      seq: 9,
    };
    assert.deepEqual(readResponse(writeResponse(values)), values);
    assert.deepEqual(readResponse(writeResponse({ id: ID })), { id: ID });
  });

  it('reject malformed nodes, values, k and sig', () => {
    fails(() => readResponse(dict({ id: ID, nodes: new Uint8Array(25) })), 'INVALID_MESSAGE', /multiple of 26/);
    fails(() => readResponse(dict({ id: ID, values: text('x') })), 'INVALID_MESSAGE', /"values" must be a list/);
    fails(() => readResponse(dict({ id: ID, values: [new Uint8Array(5)] })), 'INVALID_MESSAGE', /6 or 18 bytes/);
    fails(() => readResponse(dict({ id: ID, k: new Uint8Array(5) })), 'INVALID_MESSAGE', /"k"/);
    fails(() => readResponse(dict({ id: ID, sig: new Uint8Array(5) })), 'INVALID_MESSAGE', /"sig"/);
    fails(() => readResponse(dict({})), 'INVALID_MESSAGE', /missing "id"/);
  });

  it('write compact node lists of the right family', () => {
    const r = writeResponse({
      id: ID,
      nodes: [{ id: TARGET, host: '10.0.0.1', port: 1 }],
      values: [{ host: '1.2.3.4', port: 5 }],
    });
    assert.deepEqual(r['nodes'], encodeNodes([{ id: TARGET, host: '10.0.0.1', port: 1 }], 4));
    assert.deepEqual(r['values'], [encodePeer({ host: '1.2.3.4', port: 5 })]);
  });
});
