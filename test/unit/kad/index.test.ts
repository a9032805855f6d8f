import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as kad from '../../../src/kad/index.js';
import * as testing from '../../../src/testing/index.js';

describe('nautilus/kad', () => {
  it('exports the node entry point and its building blocks by name', () => {
    for (const name of [
      'createNode',
      'KadError',
      'WireError',
      'RoutingTable',
      'Rpc',
      'KadStorage',
      'WriteTokens',
      'createMutableItem',
      'immutableTarget',
      'createUdpTransport',
      'systemClock',
      'ExternalAddressVote',
      'secureId',
      'COMPACT_NODE_V6_BYTES',
    ]) {
      assert.ok(name in kad, `missing export ${name}`);
    }
  });

  it('ships MemoryNetwork and ManualClock in nautilus/testing', () => {
    assert.equal(typeof testing.MemoryNetwork, 'function');
    assert.equal(typeof testing.ManualClock, 'function');
  });
});
