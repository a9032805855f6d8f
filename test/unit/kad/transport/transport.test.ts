import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { endpointId, endpointKey, hostId } from '../../../../src/kad/transport/transport.js';

describe('transport helpers', () => {
  it('key IPv4 endpoints by number and others by bracketed text', () => {
    assert.equal(endpointId({ host: '1.2.3.4', port: 6881 }), 0x01020304 * 65536 + 6881);
    assert.equal(endpointId({ host: '255.255.255.255', port: 65535 }), 2 ** 48 - 1);
    assert.equal(endpointId({ host: '::1', port: 6881 }), '[::1]:6881');
    assert.equal(endpointId({ host: 'alice', port: 1 }), 'alice:1');
    assert.equal(hostId('10.0.0.1'), 0x0a000001);
    assert.equal(hostId('fe80::1'), 'fe80::1');
  });

  it('do not read non-canonical dotted quads as IPv4', () => {
    for (const host of ['01.2.3.4', '1.2.3.256', '1.2.3', '1.2.3.4.5', '1..2.3', '1.2.3.4 ']) {
      assert.equal(typeof hostId(host), 'string', host);
    }
  });

  it('bracket IPv6 hosts in text keys', () => {
    assert.equal(endpointKey({ host: '::1', port: 1 }), '[::1]:1');
    assert.equal(endpointKey({ host: '10.0.0.1', port: 1 }), '10.0.0.1:1');
  });
});
