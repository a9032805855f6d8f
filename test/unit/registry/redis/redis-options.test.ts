import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isRegistryError } from '../../../../src/registry/index.js';
import { toRegistryError } from '../../../../src/registry/redis/connection.js';
import { resolveOptions } from '../../../../src/registry/redis/options.js';

const SECRET = 's3cret-8f2a';

/** Asserts that `options` are refused with INVALID_OPTION matching `pattern`, without the secret. */
function refused(options: Parameters<typeof resolveOptions>[0], pattern: RegExp): void {
  assert.throws(
    () => resolveOptions(options),
    (e: unknown) => isRegistryError(e, 'INVALID_OPTION') && pattern.test(e.message) && !e.message.includes(SECRET),
  );
}

describe('RedisRegistry options for credentials and TLS', () => {
  it('turns TLS on for rediss:// URLs and keeps it off for redis:// ones', () => {
    assert.equal(resolveOptions({ url: 'rediss://127.0.0.1:6380' }).tls, true);
    assert.equal(resolveOptions({ url: 'redis://127.0.0.1:6379' }).tls, false);
    assert.equal(resolveOptions({ cluster: ['rediss://127.0.0.1:7000', 'rediss://127.0.0.1:7001'] }).tls, true);
    const ca = '-----BEGIN CERTIFICATE-----';
    assert.deepEqual(resolveOptions({ url: 'rediss://127.0.0.1:6380', tls: { ca } }).tls, { ca });
  });

  it('refuses a URL scheme that contradicts tls, naming the option but not the URL', () => {
    refused({ url: `redis://app:${SECRET}@127.0.0.1:6379`, tls: true }, /^tls is on, so url must use rediss:\/\//);
    refused({ url: 'rediss://127.0.0.1:6380', tls: false }, /^url uses rediss:\/\/ but tls is false/);
    refused({ cluster: ['rediss://127.0.0.1:7000', 'redis://127.0.0.1:7001'] }, /cluster\[1\] must use rediss:\/\//);
  });

  it('takes credentials from the options or from the URL, never both', () => {
    const fromUrl = resolveOptions({ url: `redis://app:${SECRET}@127.0.0.1:6379` });
    assert.equal(fromUrl.username, undefined);
    refused({ url: `redis://app:${SECRET}@127.0.0.1:6379`, username: 'app' }, /either in url .* not both/);
    refused({ url: `redis://:${SECRET}@127.0.0.1:6379`, password: SECRET }, /either in url .* not both/);
    refused(
      { cluster: ['redis://127.0.0.1:7000', `redis://app:${SECRET}@127.0.0.1:7001`] },
      /^cluster\[1\] must not carry credentials/,
    );
  });

  it('never echoes the password of a malformed URL', () => {
    refused({ url: `http://app:${SECRET}@127.0.0.1:6379` }, /^url must be a redis:\/\/ or rediss:\/\/ URL/);
    refused({ cluster: [`tcp://app:${SECRET}@127.0.0.1:7000`] }, /^cluster\[0\] must be/);
  });
});

describe('Redis connection errors', () => {
  it('names refused credentials, keeping the reply as the cause', () => {
    const reply = new Error('WRONGPASS invalid username-password pair or user is disabled.');
    const error = toRegistryError(reply);
    assert.equal(error.code, 'BACKEND_UNAVAILABLE');
    assert.match(error.message, /^Redis refused the credentials .*: WRONGPASS/);
    assert.equal(error.cause, reply);
  });

  it('names a failed TLS handshake by its code, also when only the socket reported it', () => {
    const tls = Object.assign(new Error('self-signed certificate in certificate chain'), {
      code: 'SELF_SIGNED_CERT_IN_CHAIN',
    });
    assert.match(toRegistryError(tls).message, /^the TLS handshake with Redis failed \(SELF_SIGNED_CERT_IN_CHAIN/);
    const cluster = toRegistryError(new Error('All the root nodes are unavailable'), tls);
    assert.equal(cluster.code, 'BACKEND_UNAVAILABLE');
    assert.match(
      cluster.message,
      /^the TLS handshake with Redis failed .*All the root nodes are unavailable \(self-signed/,
    );
  });

  it('keeps other failures as they were', () => {
    const refusedPort = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
    assert.match(toRegistryError(refusedPort).message, /^Redis is unavailable: connect ECONNREFUSED/);
  });
});

describe('RedisRegistry timer options', () => {
  const url = 'redis://127.0.0.1:6379';

  it('accepts each up to the longest delay a timer takes, and refuses one longer, naming the bound', () => {
    // the change feed's XREAD waits BLOCK_MS (1 s) plus timeoutMs
    assert.equal(resolveOptions({ url, timeoutMs: 2 ** 31 - 1 - 1000 }).timeoutMs, 2 ** 31 - 1 - 1000);
    refused(
      { url, timeoutMs: 2 ** 31 - 1000 },
      /^timeoutMs must be an integer in \[1, 2147482647\] \(got 2147482648\)/,
    );
    assert.equal(resolveOptions({ url, connectTimeoutMs: 2 ** 31 - 1 }).connectTimeoutMs, 2 ** 31 - 1);
    refused({ url, connectTimeoutMs: 2 ** 31 }, /^connectTimeoutMs must be an integer in \[1, 2147483647\]/);
    assert.equal(resolveOptions({ url, reconnectMaxDelayMs: 2 ** 31 - 1 }).reconnectMaxDelayMs, 2 ** 31 - 1);
    refused({ url, reconnectMaxDelayMs: 1e12 }, /^reconnectMaxDelayMs must be an integer in \[50, 2147483647\]/);
  });

  it('refuses a timer option that is not a positive integer', () => {
    for (const bad of [0, -1, 2.5, Number.NaN, '5000']) {
      refused({ url, timeoutMs: bad as number }, /^timeoutMs must be an integer/);
      refused({ url, connectTimeoutMs: bad as number }, /^connectTimeoutMs must be an integer/);
    }
  });
});
