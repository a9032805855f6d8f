import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isKadError } from '../../../../src/kad/errors.js';
import { ipv4Scope, isLocalAddress, isLoopback, unmappedIpBytes } from '../../../../src/kad/wire/ip-class.js';
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

  it('give the scope of an IPv4 address: loopback, local (private, link-local, carrier-grade NAT), public, reserved; none for others', () => {
    const cases: [string, ReturnType<typeof ipv4Scope>][] = [
      ['127.0.0.1', 'loopback'],
      ['127.255.0.9', 'loopback'],
      ['10.1.2.3', 'local'],
      ['172.16.0.1', 'local'],
      ['172.31.255.255', 'local'],
      ['192.168.1.1', 'local'],
      ['169.254.0.1', 'local'],
      ['100.64.0.1', 'local'],
      ['100.127.255.255', 'local'],
      ['100.128.0.1', 'public'],
      ['172.32.0.1', 'public'],
      ['198.51.100.1', 'public'],
      ['8.8.8.8', 'public'],
      ['0.0.0.0', 'reserved'],
      ['0.1.2.3', 'reserved'],
      ['224.0.0.1', 'reserved'],
      ['239.255.255.250', 'reserved'],
      ['240.0.0.1', 'reserved'],
      ['255.255.255.255', 'reserved'],
      ['::1', undefined],
      ['::ffff:198.51.100.1', undefined],
      ['example.org', undefined],
      ['1.2.3', undefined],
    ];
    for (const [host, scope] of cases) assert.equal(ipv4Scope(host), scope, host);
  });
});
