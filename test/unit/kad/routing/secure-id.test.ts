import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isKadError } from '../../../../src/kad/errors.js';
import { idFromHex, idToHex, randomId } from '../../../../src/kad/id.js';
import { crc32c, isSecureId, secureId } from '../../../../src/kad/routing/secure-id.js';
import { LOCAL_ADDRESSES } from '../wire/local-addresses.js';

// BEP 42 "Test vectors": IP, rand, an example node id
const VECTORS = [
  ['124.31.75.21', 1, '5fbfbff10c5d6a4ec8a88e4c6ab4c28b95eee401'],
  ['21.75.31.124', 86, '5a3ce9c14e7a08645677bbd1cfe7d8f956d53256'],
  ['65.23.51.170', 22, 'a5d43220bc8f112a3d426c84764f8c2a1150e616'],
  ['84.124.73.14', 65, '1b0321dd1bb1fe518101ceef99462b947a01ff41'],
  ['43.213.53.83', 90, 'e56f6cbf5b7c4be0237986d5243b87aa6d51305a'],
] as const;

describe('crc32c', () => {
  it('matches the standard check value for "123456789"', () => {
    assert.equal(crc32c(new TextEncoder().encode('123456789')), 0xe3069283);
    assert.equal(crc32c(new Uint8Array(0)), 0);
  });
});

describe('BEP 42 secure node ids', () => {
  for (const [ip, rand, example] of VECTORS) {
    it(`derives the prefix ${example.slice(0, 6)} and last byte ${rand} from ${ip}`, () => {
      const id = secureId(ip, rand);
      const expected = idFromHex(example);
      assert.equal(id[0], expected[0]);
      assert.equal(id[1], expected[1]);
      assert.equal((id[2] ?? 0) & 0xf8, (expected[2] ?? 0) & 0xf8);
      assert.equal(id[19], rand);
      assert.ok(isSecureId(id, ip));
    });

    it(`accepts the example id ${example.slice(0, 8)}… for ${ip}`, () => {
      assert.ok(isSecureId(idFromHex(example), ip));
    });
  }

  it('rejects an example id whose prefix was altered, or seen at another address', () => {
    assert.ok(!isSecureId(idFromHex('5cbfbff10c5d6a4ec8a88e4c6ab4c28b95eee401'), '124.31.75.21'));
    assert.ok(!isSecureId(idFromHex('5fbfbff10c5d6a4ec8a88e4c6ab4c28b95eee401'), '21.75.31.124'));
    assert.ok(!isSecureId(idFromHex('5fbfbff10c5d6a4ec8a88e4c6ab4c28b95eee402'), '124.31.75.21'));
  });

  it('rejects most random ids for a public address', () => {
    let accepted = 0;
    for (let i = 0; i < 200; i++) if (isSecureId(randomId(), '8.8.8.8')) accepted++;
    assert.ok(accepted < 5, `accepted ${accepted} of 200 random ids`); // expected 200 / 2^21 ≈ 0
  });

  it('derives and checks ids for IPv6 addresses from their first 64 bits', () => {
    const id = secureId('2001:db8:1234:5678::1', 7);
    assert.ok(isSecureId(id, '2001:db8:1234:5678::1'));
    assert.ok(isSecureId(id, '2001:db8:1234:5678:ffff::9')); // same /64 under the mask
    assert.equal(id[19], 7);
  });

  it('treats an IPv4-mapped IPv6 address as its IPv4 address', () => {
    assert.ok(isSecureId(idFromHex(VECTORS[0][2]), '::ffff:124.31.75.21'));
  });

  it('exempts loopback, private, link-local and unique-local addresses', () => {
    for (const host of LOCAL_ADDRESSES) assert.ok(isSecureId(randomId(), host), host);
  });

  it('never throws when checking: bad hosts and ids are simply not secure', () => {
    assert.ok(!isSecureId(randomId(), 'not-an-ip'));
    assert.ok(!isSecureId(new Uint8Array(19), '8.8.8.8'));
  });

  it('refuses a rand outside 0..255 and a host that is not an IP address', () => {
    assert.throws(
      () => secureId('8.8.8.8', 256),
      (e: unknown) => isKadError(e, 'INVALID_OPTION'),
    );
    assert.throws(
      () => secureId('example.org'),
      (e: unknown) => isKadError(e, 'INVALID_ADDRESS'),
    );
    assert.match(idToHex(secureId('8.8.8.8')), /^[0-9a-f]{40}$/);
  });
});
