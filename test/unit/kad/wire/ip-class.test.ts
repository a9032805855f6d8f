import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isKadError } from '../../../../src/kad/errors.js';
import { isLocalAddress, isLoopback, unmappedIpBytes } from '../../../../src/kad/wire/ip-class.js';
import { LOCAL_ADDRESSES, PUBLIC_ADDRESSES } from './local-addresses.js';

describe('IP classification', () => {
  it('recognise loopback addresses', () => {
    assert.equal(isLoopback('127.0.0.1'), true);
    assert.equal(isLoopback('127.8.9.10'), true);
    assert.equal(isLoopback('::1'), true);
    assert.equal(isLoopback('::ffff:127.0.0.1'), true);
    assert.equal(isLoopback('10.0.0.1'), false);
    assert.equal(isLoopback('::2'), false);
  });

  it('tells loopback, private, link-local and unique-local addresses from public ones', () => {
    for (const host of LOCAL_ADDRESSES) assert.ok(isLocalAddress(host), host);
    for (const host of PUBLIC_ADDRESSES) assert.ok(!isLocalAddress(host), host);
  });

  it('reads an IPv4-mapped IPv6 address as its IPv4 bytes, and refuses a host name', () => {
    assert.deepEqual(unmappedIpBytes('::ffff:10.0.0.1'), Uint8Array.of(10, 0, 0, 1));
    assert.equal(unmappedIpBytes('::1').length, 16);
    assert.throws(
      () => unmappedIpBytes('example.org'),
      (e: unknown) => isKadError(e, 'INVALID_ADDRESS'),
    );
  });
});
