import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkSessionTtl, MAX_SESSION_TTL_MS } from '../../../../src/registry/etcd/session.js';
import { isRegistryError } from '../../../../src/registry/index.js';

describe('EtcdRegistry lock and campaign ttlMs', () => {
  it('is capped at the longest whole number of seconds a Node.js timer can wait', () => {
    assert.equal(MAX_SESSION_TTL_MS, 2_147_483_000);
    assert.ok(MAX_SESSION_TTL_MS <= 2 ** 31 - 1 && MAX_SESSION_TTL_MS + 1000 > 2 ** 31 - 1);
  });

  it('accepts 1 ms and the cap', () => {
    checkSessionTtl(1);
    checkSessionTtl(MAX_SESSION_TTL_MS);
  });

  it('refuses a ttlMs above the cap with INVALID_OPTION naming ttlMs', () => {
    for (const ttlMs of [MAX_SESSION_TTL_MS + 1, 2 ** 31, 2 ** 33, 1e13]) {
      assert.throws(
        () => checkSessionTtl(ttlMs),
        (e: unknown) => isRegistryError(e, 'INVALID_OPTION') && /^ttlMs must be at most 2147483000 ms/.test(e.message),
        String(ttlMs),
      );
    }
  });

  it('refuses a ttlMs that is not a positive safe integer with INVALID_TTL naming ttlMs', () => {
    for (const ttlMs of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, '1000', undefined]) {
      assert.throws(
        () => checkSessionTtl(ttlMs),
        (e: unknown) => isRegistryError(e, 'INVALID_TTL') && /^ttlMs must be a positive safe integer/.test(e.message),
        String(ttlMs),
      );
    }
  });
});
