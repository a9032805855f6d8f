import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { isRegistryError, type RegistryError } from '../../../src/registry/index.js';
import { RedisRegistry, type RedisRegistryOptions } from '../../../src/registry/redis/index.js';
import {
  createTestCertificates,
  ManualClock,
  type RedisClusterHandle,
  type RedisServerHandle,
  startRedisCluster,
  startRedisServer,
  type TestCertificates,
} from '../../../src/testing/index.js';

const ADMIN_PASSWORD = 'admin-pw-7d1f';
const APP_PASSWORD = 'app-pw-93ac';
const WRONG_PASSWORD = 'wrong-pw-5e20';
// the registry's user may do everything on its keys; `default` needs ADMIN_PASSWORD
const APP_USER = `app on >${APP_PASSWORD} ~* &* +@all`;
// a refused connection must settle well before the test's own timeout: no hang, no retry loop
const FAST = { timeoutMs: 2000, connectTimeoutMs: 2000 } as const;
const TEST = { timeout: 15_000 } as const;

// every rejection of a failed connect must reach the caller, none may float away
const floating: unknown[] = [];
const onRejection = (reason: unknown): void => void floating.push(reason);
before(() => process.on('unhandledRejection', onRejection));
after(() => {
  process.off('unhandledRejection', onRejection);
  assert.deepEqual(floating, [], 'no unhandled rejection');
});

/** Asserts that connecting with `options` rejects with `code`, and returns the error. */
async function connectFails(options: RedisRegistryOptions, code: RegistryError['code']): Promise<RegistryError> {
  const error = await RedisRegistry.connect({ ...FAST, ...options }).then(
    async (registry) => {
      await registry.close();
      assert.fail('connect resolved');
    },
    (e: unknown) => e,
  );
  assert.ok(isRegistryError(error, code), `expected ${code}, got ${String(error)}`);
  return error;
}

/** Asserts that no password shows in the error's message or in its cause's. */
function assertNoSecret(error: Error): void {
  const text = `${error.message} ${error.cause instanceof Error ? error.cause.message : String(error.cause)}`;
  for (const secret of [ADMIN_PASSWORD, APP_PASSWORD, WRONG_PASSWORD])
    assert.ok(!text.includes(secret), `leaks a password: ${text}`);
}

async function roundTrip(registry: RedisRegistry, key: string): Promise<void> {
  await registry.set(key, Buffer.from('value'));
  assert.equal((await registry.get(key))?.value.toString(), 'value');
}

describe('RedisRegistry with ACL credentials', () => {
  let server: RedisServerHandle;

  before(async () => {
    server = await startRedisServer({ password: ADMIN_PASSWORD, users: [APP_USER] });
  });

  after(async () => {
    await server?.stop();
  });

  it('connects as the ACL user given by username and password', TEST, async () => {
    const registry = await RedisRegistry.connect({
      url: server.url,
      username: 'app',
      password: APP_PASSWORD,
      keyPrefix: 'acl:',
    });
    try {
      await roundTrip(registry, 'k');
      assert.match(await server.command('CLIENT', 'LIST'), /\buser=app\b/);
    } finally {
      await registry.close();
    }
  });

  it('takes the credentials from the URL as well', TEST, async () => {
    const url = server.url.replace('redis://', `redis://app:${APP_PASSWORD}@`);
    const registry = await RedisRegistry.connect({ url, keyPrefix: 'acl-url:' });
    try {
      await roundTrip(registry, 'k');
    } finally {
      await registry.close();
    }
  });

  it('connects with the requirepass password alone, as the default user', TEST, async () => {
    const registry = await RedisRegistry.connect({
      url: server.url,
      password: ADMIN_PASSWORD,
      keyPrefix: 'acl-default:',
    });
    try {
      await roundTrip(registry, 'k');
    } finally {
      await registry.close();
    }
  });

  it(
    'rejects connect with BACKEND_UNAVAILABLE that names the credentials, not the password, when the password is wrong',
    TEST,
    async () => {
      const error = await connectFails(
        { url: server.url, username: 'app', password: WRONG_PASSWORD },
        'BACKEND_UNAVAILABLE',
      );
      assert.match(error.message, /refused the credentials/);
      assert.match(error.message, /WRONGPASS/);
      assert.ok(error.cause instanceof Error, 'the reply of the server is the cause');
      assertNoSecret(error);
      const inUrl = await connectFails(
        { url: server.url.replace('redis://', `redis://app:${WRONG_PASSWORD}@`) },
        'BACKEND_UNAVAILABLE',
      );
      assertNoSecret(inUrl);
    },
  );

  it('rejects connect with BACKEND_UNAVAILABLE that names the credentials when none are given', TEST, async () => {
    const error = await connectFails({ url: server.url }, 'BACKEND_UNAVAILABLE');
    assert.match(error.message, /refused the credentials.*NOAUTH/);
  });

  it('refuses credentials both in the URL and as options, and never echoes a password in option errors', () => {
    const url = server.url.replace('redis://', `redis://app:${APP_PASSWORD}@`);
    assert.throws(
      () => new RedisRegistry({ url, password: APP_PASSWORD }),
      (e: unknown) => isRegistryError(e, 'INVALID_OPTION') && /not both/.test(e.message),
    );
    assert.throws(
      () => new RedisRegistry({ url: `http://app:${APP_PASSWORD}@127.0.0.1:1` }),
      (e: unknown) => isRegistryError(e, 'INVALID_OPTION') && !e.message.includes(APP_PASSWORD),
    );
  });
});

describe('RedisRegistry over TLS', () => {
  let certs: TestCertificates;
  let otherCa: TestCertificates;
  let server: RedisServerHandle;
  let mutual: RedisServerHandle;

  before(async () => {
    [certs, otherCa] = await Promise.all([createTestCertificates(), createTestCertificates()]);
    [server, mutual] = await Promise.all([
      startRedisServer({ tls: certs, password: ADMIN_PASSWORD, users: [APP_USER] }),
      startRedisServer({ tls: { ...certs, authClients: 'yes' } }),
    ]);
  });

  after(async () => {
    await Promise.all([server?.stop(), mutual?.stop()]);
    await Promise.all([certs?.remove(), otherCa?.remove()]);
  });

  it(
    'round-trips records over rediss:// with the CA: a binary value, versions and a TTL that Redis enforces too',
    TEST,
    async () => {
      assert.match(server.url, /^rediss:\/\//);
      const clock = new ManualClock(Date.now());
      const registry = await RedisRegistry.connect(
        {
          url: server.url,
          tls: { ca: certs.ca },
          username: 'app',
          password: APP_PASSWORD,
          keyPrefix: 'tls:',
          expiryGraceMs: 0,
        },
        { clock },
      );
      try {
        const binary = Buffer.from(Array.from({ length: 512 }, (_, i) => (i * 7) % 256));
        const first = await registry.set('bin', binary, { ttlMs: 60_000 });
        assert.equal(first.expiresAt, clock.now() + 60_000);
        const second = await registry.set('bin', binary, { ttlMs: 60_000, ifVersion: 1 });
        assert.equal(second.version, 2);
        const read = await registry.get('bin');
        assert.deepEqual(Buffer.from(read?.value ?? []), binary);
        assert.equal(read?.version, 2);
        const pttl = Number(await server.command('PTTL', 'tls:bin'));
        assert.ok(pttl > 0 && pttl <= 60_000, `Redis expires the key as well (PTTL ${pttl})`);
        clock.advance(60_000);
        assert.equal(await registry.get('bin'), undefined);
      } finally {
        await registry.close();
      }
    },
  );

  it('turns TLS on from a rediss:// URL, and refuses a redis:// URL with tls on', TEST, async () => {
    const url = server.url.replace('rediss://', `rediss://app:${APP_PASSWORD}@`);
    const registry = await RedisRegistry.connect({ url, tls: { ca: certs.ca }, keyPrefix: 'tls-url:' });
    try {
      assert.notEqual(registry.options.tls, false);
      await roundTrip(registry, 'k');
    } finally {
      await registry.close();
    }
    const plain = server.url.replace('rediss://', `redis://app:${APP_PASSWORD}@`);
    assert.throws(
      () => new RedisRegistry({ url: plain, tls: { ca: certs.ca } }),
      (e: unknown) =>
        isRegistryError(e, 'INVALID_OPTION') && /rediss:\/\//.test(e.message) && !e.message.includes(APP_PASSWORD),
    );
    assert.throws(
      () => new RedisRegistry({ url: server.url, tls: false }),
      (e: unknown) => isRegistryError(e, 'INVALID_OPTION'),
    );
  });

  it(
    'rejects connect with BACKEND_UNAVAILABLE that names the TLS failure when the CA is not trusted',
    TEST,
    async () => {
      const credentials = { url: server.url, username: 'app', password: APP_PASSWORD } as const;
      for (const tls of [true, { ca: otherCa.ca }]) {
        const error = await connectFails({ ...credentials, tls }, 'BACKEND_UNAVAILABLE');
        assert.match(error.message, /TLS handshake.*SELF_SIGNED_CERT_IN_CHAIN/);
        assertNoSecret(error);
      }
    },
  );

  it('rejects connect when the certificate does not name the host', TEST, async () => {
    const error = await connectFails(
      { url: server.url, username: 'app', password: APP_PASSWORD, tls: { ca: certs.ca, servername: 'redis.example' } },
      'BACKEND_UNAVAILABLE',
    );
    assert.match(error.message, /ERR_TLS_CERT_ALTNAME_INVALID/);
  });

  it('presents a client certificate to a server that requires one, and fails without it', TEST, async () => {
    const registry = await RedisRegistry.connect({
      url: mutual.url,
      tls: { ca: certs.ca, cert: certs.clientCert, key: certs.clientKey },
      keyPrefix: 'mtls:',
    });
    try {
      await roundTrip(registry, 'k');
    } finally {
      await registry.close();
    }
    const error = await connectFails({ url: mutual.url, tls: { ca: certs.ca } }, 'BACKEND_UNAVAILABLE');
    assert.match(error.message, /TLS handshake/);
  });
});

describe('RedisRegistry on a TLS cluster with ACL credentials', () => {
  let certs: TestCertificates;
  let cluster: RedisClusterHandle;

  before(async () => {
    certs = await createTestCertificates();
    cluster = await startRedisCluster({
      masters: 3,
      replicasPerMaster: 0,
      tls: certs,
      password: ADMIN_PASSWORD,
      users: [APP_USER],
    });
  });

  after(async () => {
    await cluster?.stop();
    await certs?.remove();
  });

  it('reaches every master over TLS as the ACL user: batches across slots, scan and size', TEST, async () => {
    const registry = await RedisRegistry.connect({
      cluster: cluster.urls,
      tls: { ca: certs.ca },
      username: 'app',
      password: APP_PASSWORD,
      keyPrefix: 'cluster-tls:',
    });
    try {
      const keys = Array.from({ length: 200 }, (_, i) => `key:${i}`);
      await registry.setMany(keys.map((key, i) => ({ key, value: Buffer.from([i % 256, 0, 255]) })));
      const read = await registry.getMany(keys);
      assert.deepEqual(
        read.map((r) => r?.value[0]),
        keys.map((_, i) => i % 256),
      );
      assert.equal(await registry.size(), keys.length);
      const scanned: string[] = [];
      for await (const record of registry.scan({ prefix: 'key:' })) scanned.push(record.key);
      assert.equal(scanned.length, keys.length);
      for (const master of await cluster.masters()) {
        assert.ok(Number(await master.command('DBSIZE')) > 0, `master ${master.port} holds records`);
      }
    } finally {
      await registry.close();
    }
  });

  it(
    'rejects connect with BACKEND_UNAVAILABLE that names the credentials when the password is wrong',
    TEST,
    async () => {
      const error = await connectFails(
        { cluster: cluster.urls, tls: { ca: certs.ca }, username: 'app', password: WRONG_PASSWORD },
        'BACKEND_UNAVAILABLE',
      );
      assert.match(error.message, /refused the credentials/);
      assertNoSecret(error);
    },
  );

  it('rejects connect with BACKEND_UNAVAILABLE that names the TLS failure without the CA', TEST, async () => {
    const error = await connectFails(
      { cluster: cluster.urls, tls: true, username: 'app', password: APP_PASSWORD },
      'BACKEND_UNAVAILABLE',
    );
    assert.match(error.message, /TLS handshake/);
  });

  it('refuses credentials inside cluster URLs, which would reach the root nodes only', () => {
    const urls = cluster.urls.map((u) => u.replace('rediss://', `rediss://app:${APP_PASSWORD}@`));
    assert.throws(
      () => new RedisRegistry({ cluster: urls, tls: { ca: certs.ca } }),
      (e: unknown) =>
        isRegistryError(e, 'INVALID_OPTION') &&
        /username and password/.test(e.message) &&
        !e.message.includes(APP_PASSWORD),
    );
  });
});
