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
      'MAINLINE_BOOTSTRAP',
      'Lookup',
      'drainLookup',
    ]) {
      assert.ok(name in kad, `missing export ${name}`);
    }
  });

  it('publishes the defaults of the node and its layers as frozen objects with the documented values', () => {
    const node = kad.DEFAULT_KAD_NODE_OPTIONS;
    assert.deepEqual(
      { ...node, version: [...node.version] },
      {
        host: '0.0.0.0',
        port: 0,
        host6: '::',
        port6: 0,
        k: 8,
        readOnly: 'auto',
        portMapping: 'off',
        enforceSecureIds: true,
        maxStorageWaiting: 256,
        storageTimeoutMs: 1000,
        version: [0x4e, 0x41, 0x00, 0x01],
        tokenRotateMs: 300_000,
        bootstrapTimeoutMs: 5000,
        bootstrapRetryMs: 1000,
        bootstrapRetryMaxMs: 60_000,
      },
    );
    assert.deepEqual(
      { ...kad.DEFAULT_LOOKUP_OPTIONS },
      {
        alpha: 3,
        maxAlpha: 8,
        maxRequests: 64,
        maxCandidates: 128,
        timeoutMs: 10_000,
        minSoftTimeoutMs: 50,
        proximity: true,
      },
    );
    assert.deepEqual(
      { ...kad.DEFAULT_KAD_NODE_STORAGE_OPTIONS },
      {
        peerTtlMs: 1_800_000,
        itemTtlMs: 7_200_000,
        maxPeersPerInfoHash: 200,
        maxInfoHashes: 30_000,
        maxPeerBytes: 16_777_216,
        maxItems: 20_000,
        maxItemBytes: 16_777_216,
        maxEntries: 50_000,
        maxBytes: 33_554_432,
      },
    );
    assert.deepEqual(
      { ...kad.DEFAULT_QUERY_HANDLERS_OPTIONS },
      { k: 8, valuesBudgetBytes: 1000, enforceSecureIds: true, maxStorageWaiting: 256, storageTimeoutMs: 1000 },
    );
    for (const defaults of [
      node,
      kad.DEFAULT_KAD_NODE_STORAGE_OPTIONS,
      kad.DEFAULT_KAD_STORAGE_OPTIONS,
      kad.DEFAULT_QUERY_HANDLERS_OPTIONS,
      kad.DEFAULT_WRITE_TOKEN_OPTIONS,
      kad.DEFAULT_RPC_OPTIONS,
      kad.DEFAULT_LOOKUP_OPTIONS,
    ]) {
      assert.ok(Object.isFrozen(defaults));
    }
  });

  it('ships MemoryNetwork and ManualClock in nautilus/testing', () => {
    assert.equal(typeof testing.MemoryNetwork, 'function');
    assert.equal(typeof testing.ManualClock, 'function');
  });
});
