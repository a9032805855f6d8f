import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_ETCD_REGISTRY_OPTIONS, type EtcdRegistryOptions } from '../../../../src/registry/etcd/index.js';
import { resolveEtcdOptions } from '../../../../src/registry/etcd/options.js';
import { isRegistryError } from '../../../../src/registry/index.js';

const hosts = 'http://127.0.0.1:2379';

/** Asserts that `options` are refused with INVALID_OPTION and a message matching `pattern`. */
function refused(options: Record<string, unknown>, pattern: RegExp): void {
  assert.throws(
    () => resolveEtcdOptions(options as unknown as EtcdRegistryOptions),
    (e: unknown) => isRegistryError(e, 'INVALID_OPTION') && pattern.test(e.message),
  );
}

describe('EtcdRegistry options', () => {
  it('fills in every default but hosts, and takes one host URL as a list of one', () => {
    const resolved = resolveEtcdOptions({ hosts });
    assert.deepEqual(resolved, { ...DEFAULT_ETCD_REGISTRY_OPTIONS, hosts: [hosts] });
  });

  it('refuses an unknown option, naming it and the known ones', () => {
    refused({ hosts, keyprefix: 'app:' }, /^unknown EtcdRegistry option "keyprefix" \(known: hosts, keyPrefix,/);
    refused({ hosts, ttlMs: 1000 }, /^unknown EtcdRegistry option "ttlMs"/);
  });

  it('refuses options that are not an object', () => {
    refused(null as unknown as Record<string, unknown>, /^EtcdRegistry options must be an object/);
  });

  it('refuses an empty keyPrefix, or one that is not a string', () => {
    refused({ hosts, keyPrefix: '' }, /^keyPrefix must be a non-empty string \(got ""\)/);
    refused({ hosts, keyPrefix: 7 }, /^keyPrefix must be a non-empty string/);
    assert.equal(resolveEtcdOptions({ hosts, keyPrefix: 'a' }).keyPrefix, 'a');
  });

  it('accepts a timeoutMs up to 2^31 − 1 ms, the longest timer delay, and refuses one longer', () => {
    assert.equal(resolveEtcdOptions({ hosts, timeoutMs: 2 ** 31 - 1 }).timeoutMs, 2 ** 31 - 1);
    refused({ hosts, timeoutMs: 2 ** 31 }, /^timeoutMs must be an integer in \[1, 2147483647\] \(got 2147483648\)/);
    refused({ hosts, timeoutMs: 1e13 }, /^timeoutMs must be an integer in \[1, 2147483647\]/);
  });

  it('refuses a timeoutMs that is not a positive integer', () => {
    for (const timeoutMs of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, '5000']) {
      refused({ hosts, timeoutMs }, /^timeoutMs must be an integer in \[1, 2147483647\]/);
    }
  });

  it('accepts a watchProgressMs up to 2^30 − 1 ms, whose double is a timer delay, and refuses one longer', () => {
    assert.equal(resolveEtcdOptions({ hosts, watchProgressMs: 2 ** 30 - 1 }).watchProgressMs, 2 ** 30 - 1);
    refused({ hosts, watchProgressMs: 2 ** 30 }, /^watchProgressMs must be an integer in \[1, 1073741823\]/);
  });

  it('refuses hosts that are not http(s)://host:port URLs', () => {
    refused({ hosts: [] }, /^hosts must be a URL or a non-empty list of URLs/);
    refused({ hosts: ['127.0.0.1:2379'] }, /^hosts must be http\(s\):\/\/host:port URLs \(got "127\.0\.0\.1:2379"\)/);
    refused({}, /^hosts must be a URL or a non-empty list of URLs/);
  });

  it('refuses a consistency other than linearizable or serializable', () => {
    refused({ hosts, consistency: 'eventual' }, /^consistency must be 'linearizable' or 'serializable'/);
  });

  it('refuses sizes and windows that are not positive integers, naming the option', () => {
    for (const name of ['leaseWindowMs', 'scanPageSize', 'watchBuffer', 'revisionCacheSize', 'maxRequestBytes']) {
      refused({ hosts, [name]: 0 }, new RegExp(`^${name} must be an integer >= 1 \\(got 0\\)`));
    }
    // a delete's transaction holds the removal marker besides its deletes
    refused({ hosts, maxTxnOps: 1 }, /^maxTxnOps must be an integer >= 2 \(got 1\)/);
    refused({ hosts, expiryGraceMs: -1 }, /^expiryGraceMs must be an integer >= 0 \(got -1\)/);
  });

  it('refuses a maxValueBytes and maxKeyBytes that leave no room for a record in maxRequestBytes', () => {
    refused(
      { hosts, maxRequestBytes: 64 * 1024, maxValueBytes: 64 * 1024 },
      /^maxValueBytes \(65536\) and maxKeyBytes \(1024\) leave no room for a record in an etcd request of maxRequestBytes \(65536\)/,
    );
    assert.equal(
      resolveEtcdOptions({ hosts, maxRequestBytes: 64 * 1024, maxValueBytes: 48 * 1024 }).maxValueBytes,
      48 * 1024,
    );
  });
});
