import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { routableContact, routableFamily } from '../../../../src/kad/lookup/routable.js';

describe('routableFamily', () => {
  it('accepts unicast IPv4 and IPv6 addresses with a port, loopback and private ones included', () => {
    for (const host of ['1.2.3.4', '127.0.0.1', '10.0.0.1', '192.168.1.1', '223.255.255.254']) {
      assert.equal(routableFamily({ host, port: 6881 }), 4, host);
    }
    for (const host of ['2001:db8::1', '::1', 'fd00::1', 'fe80::1'])
      assert.equal(routableFamily({ host, port: 1 }), 6, host);
  });

  it('refuses port 0, unspecified, multicast, broadcast, IPv4-mapped and non-literal hosts', () => {
    assert.equal(routableFamily({ host: '1.2.3.4', port: 0 }), undefined);
    assert.equal(routableFamily({ host: '1.2.3.4', port: 65536 }), undefined);
    for (const host of ['0.0.0.0', '0.1.2.3', '224.0.0.1', '239.1.1.1', '240.0.0.1', '255.255.255.255']) {
      assert.equal(routableFamily({ host, port: 6881 }), undefined, host);
    }
    for (const host of ['::', 'ff02::1', '::ffff:1.2.3.4', 'localhost', '1.2.3', '[::1]', '']) {
      assert.equal(routableFamily({ host, port: 6881 }), undefined, host);
    }
  });
});

describe('routableContact', () => {
  it('also needs a 20-byte id', () => {
    assert.equal(routableContact({ id: new Uint8Array(20), host: '1.2.3.4', port: 1 }), 4);
    assert.equal(routableContact({ id: new Uint8Array(19), host: '1.2.3.4', port: 1 }), undefined);
  });
});
