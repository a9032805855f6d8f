/**
 * Two processes sharing one real redis-server, each with its own near tier: a write in one is
 * seen by the other within nearTtlMs (on the reader's clock), and a dead far tier gives typed
 * errors, not stale reads presented as fresh (unless serveStaleMs allows them).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { isRegistryError, MemoryRegistry } from '../../../src/registry/index.js';
import { RedisRegistry } from '../../../src/registry/redis/index.js';
import { TieredRegistry } from '../../../src/registry/tiered/tiered-registry.js';
import { ManualClock, type RedisServerHandle, startRedisServer } from '../../../src/testing/index.js';

const WRITER = fileURLToPath(new URL('../../helpers/tier-writer.js', import.meta.url));
const NEAR_TTL_MS = 1000;
const run = promisify(execFile);
const text = (value: Uint8Array | undefined): string | undefined =>
  value === undefined ? undefined : new TextDecoder().decode(value);

describe('TieredRegistry: memory over one redis-server shared by two processes', () => {
  let server: RedisServerHandle;
  let prefixes = 0;

  before(async () => {
    server = await startRedisServer();
  });

  after(async () => {
    await server?.stop();
  });

  const reader = async (serveStaleMs = 0) => {
    const clock = new ManualClock(Date.now());
    const keyPrefix = `tiered:${prefixes++}:`;
    // the manual clock must not run the far tier's deadlines: this test uses no TTLs
    const far = await RedisRegistry.connect({ url: server.url, keyPrefix, timeoutMs: 2000 }, { clock });
    const tiered = new TieredRegistry(
      { near: new MemoryRegistry({}, { clock }), far, nearTtlMs: NEAR_TTL_MS, serveStaleMs },
      { clock },
    );
    return { clock, keyPrefix, tiered };
  };

  const writeElsewhere = async (keyPrefix: string, key: string, value: string): Promise<number> => {
    const { stdout } = await run(process.execPath, [WRITER, server.url, keyPrefix, key, value]);
    return Number(stdout.trim());
  };

  it('sees the other process’s write once nearTtlMs has passed on its clock', async () => {
    const { clock, keyPrefix, tiered } = await reader();
    try {
      await tiered.set('shared', new TextEncoder().encode('mine'));
      assert.equal(text((await tiered.get('shared'))?.value), 'mine');
      assert.equal(await writeElsewhere(keyPrefix, 'shared', 'theirs'), 2);
      // within the bound the near copy answers; at the bound the far tier does
      clock.advance(NEAR_TTL_MS - 1);
      assert.equal(text((await tiered.get('shared'))?.value), 'mine');
      clock.advance(1);
      const read = await tiered.get('shared');
      assert.deepEqual([text(read?.value), read?.version], ['theirs', 2]);
    } finally {
      await tiered.close();
    }
  });

  it('gives typed errors once the far tier is gone, and a stale copy only within serveStaleMs', async () => {
    const strict = await reader();
    const lenient = await reader(10_000);
    try {
      for (const { tiered } of [strict, lenient]) await tiered.set('k', new TextEncoder().encode('v'));
      await server.kill9();
      for (const { clock } of [strict, lenient]) clock.advance(NEAR_TTL_MS);
      await assert.rejects(
        strict.tiered.get('k'),
        (e: unknown) => isRegistryError(e) && ['BACKEND_UNAVAILABLE', 'TIMEOUT'].includes(e.code),
      );
      assert.equal(text((await lenient.tiered.get('k'))?.value), 'v');
      assert.equal(lenient.tiered.stats.staleServed, 1);
    } finally {
      await server.restart();
      await strict.tiered.close();
      await lenient.tiered.close();
    }
  });
});
