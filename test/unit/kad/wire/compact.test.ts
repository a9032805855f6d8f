import assert from 'node:assert/strict';
import { isIPv4 } from 'node:net';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  decodeAddress,
  decodeNodes,
  decodePeer,
  encodeAddress,
  encodeNodes,
  encodePeer,
  familyOf,
  formatIp,
  normalizeIp,
  parseIp,
} from '../../../../src/kad/wire/compact.js';
import { isKadError } from '../../../../src/kad/errors.js';
import { idFromHex } from '../../../../src/kad/id.js';

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
const id = idFromHex('0102030405060708090a0b0c0d0e0f1011121314');

describe('IP text', () => {
  it('parses dotted IPv4 strictly', () => {
    assert.deepEqual(parseIp('124.31.75.21'), Uint8Array.from([124, 31, 75, 21]));
    for (const bad of ['1.2.3', '1.2.3.4.5', '256.1.1.1', '01.2.3.4', '1.2.3.-4', 'a.b.c.d', '', ' 1.2.3.4']) {
      assert.equal(parseIp(bad), undefined, bad);
    }
    for (const bad of ['1..2.3', '.1.2.3', '1.2.3.4.', '1.2.3.0400', '1.2.3.4 ', '1.2.3.1000']) {
      assert.equal(parseIp(bad), undefined, bad);
    }
    assert.deepEqual(parseIp('0.0.0.0'), Uint8Array.from([0, 0, 0, 0]));
    assert.deepEqual(parseIp('255.255.255.255'), Uint8Array.from([255, 255, 255, 255]));
  });

  it('accepts exactly the dotted IPv4 texts Node.js accepts, with the same bytes', () => {
    const text = fc
      .array(fc.constantFrom('0', '1', '2', '5', '9', '.', '.', 'x'), { maxLength: 17 })
      .map((a) => a.join(''));
    fc.assert(
      fc.property(fc.oneof(text, fc.ipV4()), (host) => {
        const bytes = parseIp(host);
        assert.equal(bytes !== undefined, isIPv4(host), host);
        if (bytes !== undefined) assert.equal(Array.from(bytes).join('.'), host);
      }),
      { numRuns: 5000 },
    );
  });

  it('parses IPv6 with zero compression and an embedded IPv4 tail', () => {
    assert.equal(hex(parseIp('::1') ?? new Uint8Array()), `${'00'.repeat(15)}01`);
    assert.equal(
      hex(parseIp('2001:DB8::8:800:200C:417A') ?? new Uint8Array()),
      '20010db8000000000008080020 0c417a'.replace(' ', ''),
    );
    assert.equal(hex(parseIp('::ffff:1.2.3.4') ?? new Uint8Array()), `${'00'.repeat(10)}ffff01020304`);
    for (const bad of [
      '1::2::3',
      '1:2:3:4:5:6:7',
      '1:2:3:4:5:6:7:8:9',
      'fe80::1%eth0',
      '[::1]',
      '::12345',
      '::ffff:1.2.3',
    ]) {
      assert.equal(parseIp(bad), undefined, bad);
    }
  });

  it('formats IPv6 as RFC 5952 text, as Node.js reports addresses', () => {
    assert.equal(normalizeIp('2001:0DB8:0000:0000:0000:0000:0000:0001'), '2001:db8::1');
    assert.equal(normalizeIp('2001:db8:0:1:1:1:1:1'), '2001:db8:0:1:1:1:1:1');
    assert.equal(normalizeIp('2001:0:0:1:0:0:0:1'), '2001:0:0:1::1');
    assert.equal(normalizeIp('0:0:0:0:0:0:0:0'), '::');
    assert.equal(normalizeIp('::FFFF:10.0.0.1'), '::ffff:10.0.0.1');
    assert.equal(formatIp(Uint8Array.from([10, 0, 0, 1])), '10.0.0.1');
  });

  it('tells the family of IP literals and nothing else', () => {
    assert.equal(familyOf('127.0.0.1'), 4);
    assert.equal(familyOf('10.0.0.1'), 4);
    assert.equal(familyOf('::1'), 6);
    assert.equal(familyOf('localhost'), undefined);
    assert.equal(familyOf('1.2.3'), undefined);
    assert.throws(
      () => normalizeIp('localhost'),
      (e: unknown) => isKadError(e, 'INVALID_ADDRESS'),
    );
  });
});

describe('compact peer info', () => {
  it('is 4 address bytes and a big-endian port for IPv4', () => {
    const bytes = encodePeer({ host: '1.2.3.4', port: 6881 });
    assert.equal(hex(bytes), '010203041ae1');
    assert.deepEqual(decodePeer(bytes), { host: '1.2.3.4', port: 6881 });
  });

  it('is 16 address bytes and a port for IPv6', () => {
    const bytes = encodePeer({ host: '2001:db8::1', port: 443 });
    assert.equal(bytes.length, 18);
    assert.deepEqual(decodePeer(bytes), { host: '2001:db8::1', port: 443 });
  });

  it('serves as the BEP 42 "ip" field', () => {
    assert.deepEqual(decodeAddress(encodeAddress({ host: '124.31.75.21', port: 1 })), {
      host: '124.31.75.21',
      port: 1,
    });
  });

  it('rejects bad lengths, hosts and ports', () => {
    assert.throws(
      () => decodePeer(new Uint8Array(7)),
      (e: unknown) => isKadError(e, 'INVALID_MESSAGE'),
    );
    assert.throws(
      () => encodePeer({ host: 'example.org', port: 1 }),
      (e: unknown) => isKadError(e, 'INVALID_ADDRESS'),
    );
    assert.throws(
      () => encodePeer({ host: '1.2.3.4', port: 65536 }),
      (e: unknown) => isKadError(e, 'INVALID_ADDRESS'),
    );
    assert.throws(
      () => encodePeer({ host: '1.2.3.4', port: 1.5 }),
      (e: unknown) => isKadError(e, 'INVALID_ADDRESS'),
    );
  });
});

describe('compact node info', () => {
  it('is 26 bytes per IPv4 node: id, address, port', () => {
    const bytes = encodeNodes([{ id, host: '10.0.0.1', port: 258 }], 4);
    assert.equal(hex(bytes), `${hex(id)}0a0000010102`);
    assert.deepEqual(decodeNodes(bytes, 4), [{ id, host: '10.0.0.1', port: 258 }]);
  });

  it('is 38 bytes per IPv6 node', () => {
    const contacts = [
      { id, host: '::1', port: 1 },
      { id: new Uint8Array(20).fill(9), host: 'fe80::2', port: 65535 },
    ];
    const bytes = encodeNodes(contacts, 6);
    assert.equal(bytes.length, 76);
    assert.deepEqual(decodeNodes(bytes, 6), contacts);
  });

  it('decodes an empty list', () => {
    assert.deepEqual(decodeNodes(new Uint8Array(0), 4), []);
  });

  it('rejects a length that is not a whole number of nodes', () => {
    assert.throws(() => decodeNodes(new Uint8Array(27), 4), /nodes length 27 is not a multiple of 26/);
    assert.throws(() => decodeNodes(new Uint8Array(26), 6), /nodes6 length 26 is not a multiple of 38/);
  });

  it('refuses contacts of the other family or with a bad id', () => {
    assert.throws(
      () => encodeNodes([{ id, host: '::1', port: 1 }], 4),
      (e: unknown) => isKadError(e, 'INVALID_ADDRESS'),
    );
    assert.throws(
      () => encodeNodes([{ id, host: '1.2.3.4', port: 1 }], 6),
      (e: unknown) => isKadError(e, 'INVALID_ADDRESS'),
    );
    assert.throws(
      () => encodeNodes([{ id: new Uint8Array(3), host: '1.2.3.4', port: 1 }], 4),
      (e: unknown) => isKadError(e, 'INVALID_ID'),
    );
  });

  it('returns ids that do not alias the input bytes', () => {
    const bytes = encodeNodes([{ id, host: '10.0.0.1', port: 1 }], 4);
    const [contact] = decodeNodes(bytes, 4);
    bytes[0] = 0xff;
    assert.deepEqual(contact?.id, id);
  });
});
