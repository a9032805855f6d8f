import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { RedisRegistry } from '../../../src/registry/redis/index.js';
import { type RedisServerHandle, startRedisServer } from '../../../src/testing/index.js';

describe('RedisRegistry on a server with AOF on', () => {
  let server: RedisServerHandle;
  let registry: RedisRegistry;

  before(async () => {
    server = await startRedisServer({ aof: true });
    registry = await RedisRegistry.connect({ url: server.url, keyPrefix: 'persist:', reconnectMaxDelayMs: 100 });
  });

  after(async () => {
    await registry?.close();
    await server?.stop();
  });

  it('keeps values, versions, timestamps and remaining TTLs across a kill -9 and restart', async () => {
    const binary = Uint8Array.from({ length: 256 }, (_, i) => 255 - i);
    await registry.set('plain', Buffer.from('v1'));
    await registry.set('plain', Buffer.from('v2'));
    await registry.set('plain', Buffer.from('v3'));
    await registry.set('binary', binary);
    const ttl = await registry.set('ttl', Buffer.from('t'), { ttlMs: 60_000 });
    const before = await registry.getMany(['plain', 'binary', 'ttl']);

    await server.kill9();
    await server.restart();
    let after: Awaited<ReturnType<RedisRegistry['getMany']>> | undefined;
    for (let i = 0; after === undefined && i < 400; i++) {
      try {
        after = await registry.getMany(['plain', 'binary', 'ttl']);
      } catch {
        await sleep(25); // reconnecting
      }
    }
    assert.ok(after, 'the registry reconnected');
    assert.deepEqual(
      after.map((r) => r && { ...r, value: [...r.value] }),
      before.map((r) => r && { ...r, value: [...r.value] }),
    );
    assert.equal(after[0]?.version, 3);
    assert.equal(after[2]?.expiresAt, ttl.expiresAt);
    // Redis still expires the key itself: its remaining TTL survived too
    const pttl = Number(await server.command('PTTL', 'persist:ttl'));
    assert.ok(pttl > 0 && pttl <= 60_000 + registry.options.expiryGraceMs, `PTTL ${pttl}`);
    assert.equal(Number(await server.command('PTTL', 'persist:plain')), -1);
  });
});
