/**
 * Two processes sharing one real redis-server, each with its own near tier: a write in one is
 * seen by the other within nearTtlMs (on the reader's clock), and a dead far tier gives typed
 * errors, not stale reads presented as fresh (unless serveStaleMs allows them).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { FeedInvalidator, isRegistryError } from '../../../src/registry/index.js';
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
    const tiered = new TieredRegistry({ far, nearTtlMs: NEAR_TTL_MS, serveStaleMs }, { clock });
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

describe('TieredRegistry with a FeedInvalidator over the Redis change feed, two processes', () => {
  let server: RedisServerHandle;
  let prefixes = 0;
  // copies kept for 10 minutes: within these tests only the feed can make a tier drop one
  const LONG_NEAR_TTL_MS = 600_000;

  before(async () => {
    server = await startRedisServer();
  });

  after(async () => {
    await server?.stop();
  });

  const reader = async (serveStaleMs = 0) => {
    const keyPrefix = `fed:${prefixes++}:`;
    const far = await RedisRegistry.connect({ url: server.url, keyPrefix, timeoutMs: 2000, changefeed: {} });
    const invalidator = new FeedInvalidator({ far });
    const tiered = new TieredRegistry({
      far,
      nearTtlMs: LONG_NEAR_TTL_MS,
      serveStaleMs: serveStaleMs === 0 ? 0 : LONG_NEAR_TTL_MS,
      invalidator,
    });
    await until('the feed is watched', () => invalidator.stats.resets >= 1);
    return { keyPrefix, tiered };
  };

  /** Polls `check` until it holds, within a generous 10 s for a loaded machine. */
  async function until(what: string, check: () => Promise<boolean> | boolean): Promise<void> {
    const deadline = Date.now() + 10_000;
    while (!(await check())) {
      if (Date.now() > deadline) assert.fail(`${what}: not within 10 s`);
      await sleep(5);
    }
  }

  it('sees the other process’s write once the feed reports it, long before nearTtlMs', async () => {
    const { keyPrefix, tiered } = await reader();
    try {
      await tiered.set('shared', new TextEncoder().encode('mine'));
      assert.equal(text((await tiered.get('shared'))?.value), 'mine');
      const { stdout } = await run(process.execPath, [WRITER, server.url, keyPrefix, 'shared', 'theirs', 'changefeed']);
      assert.equal(Number(stdout.trim()), 2);
      await until('the write is seen', async () => text((await tiered.get('shared'))?.value) === 'theirs');
      assert.equal((await tiered.get('shared'))?.version, 2);
    } finally {
      await tiered.close();
    }
  });

  it('gives typed errors, not its copies, once the far tier dies; stale copies only with serveStaleMs', async () => {
    const strict = await reader();
    const lenient = await reader(LONG_NEAR_TTL_MS);
    try {
      for (const { tiered } of [strict, lenient]) {
        await tiered.set('k', new TextEncoder().encode('v'));
        assert.equal(text((await tiered.get('k'))?.value), 'v');
      }
      await server.kill9();
      // the broken feed marks every copy stale: reads go to the dead far tier
      let error: unknown;
      await until('the strict tier rejects', async () => {
        error = await strict.tiered.get('k').then(
          () => undefined,
          (e: unknown) => e,
        );
        return error !== undefined;
      });
      assert.ok(isRegistryError(error) && ['BACKEND_UNAVAILABLE', 'TIMEOUT'].includes(error.code), String(error));
      await until('the lenient tier serves its copy as stale', async () => {
        const read = await lenient.tiered.get('k');
        assert.equal(text(read?.value), 'v');
        return lenient.tiered.stats.staleServed > 0;
      });
    } finally {
      await server.restart();
      await strict.tiered.close();
      await lenient.tiered.close();
    }
  });
});
