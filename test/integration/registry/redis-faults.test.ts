import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { isRegistryError } from '../../../src/registry/index.js';
import { RedisRegistry } from '../../../src/registry/redis/index.js';
import { ManualClock, type RedisServerHandle, startRedisServer } from '../../../src/testing/index.js';

const TIMEOUT_MS = 1000;

/** Retries `op` until it resolves (bounded): how a test waits for a reconnect. */
async function eventually<T>(op: () => Promise<T>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await op();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await sleep(25);
    }
  }
}

describe('RedisRegistry when a standalone server dies (kill -9)', () => {
  let server: RedisServerHandle;
  let registry: RedisRegistry;

  before(async () => {
    server = await startRedisServer();
    registry = await RedisRegistry.connect({
      url: server.url,
      keyPrefix: 'faults:',
      timeoutMs: TIMEOUT_MS,
      reconnectMaxDelayMs: 100,
    });
  });

  after(async () => {
    await registry?.close();
    await server?.stop();
  });

  it('rejects operations with BACKEND_UNAVAILABLE or TIMEOUT within the deadline, then recovers after a restart', async () => {
    const codes = new Map<string, number>();
    let succeeded = 0;
    let slowest = 0;
    let running = true;
    const worker = async (w: number): Promise<void> => {
      for (let i = 0; running; i++) {
        const started = Date.now();
        try {
          if (i % 2 === 0) await registry.set(`w${w}:${i % 50}`, Buffer.from(String(i)), { ttlMs: 60_000 });
          else await registry.getMany([`w${w}:${(i - 1) % 50}`, `w${w}:x`]);
          succeeded++;
        } catch (error) {
          assert.ok(isRegistryError(error), `untyped error: ${String(error)}`);
          assert.ok(error.code === 'BACKEND_UNAVAILABLE' || error.code === 'TIMEOUT', `unexpected code ${error.code}`);
          codes.set(error.code, (codes.get(error.code) ?? 0) + 1);
          await sleep(5); // a failing backend answers at once: do not spin
        }
        slowest = Math.max(slowest, Date.now() - started);
      }
    };
    const workers = Array.from({ length: 16 }, (_, w) => worker(w));
    await sleep(200);
    assert.ok(succeeded > 0, 'the load ran before the kill');
    await server.kill9();
    await sleep(500);
    const failedWhileDown = [...codes.values()].reduce((a, b) => a + b, 0);
    await server.restart();
    const back = Date.now();
    await eventually(() => registry.set('after', Buffer.from('ok')));
    const recoveredAfterMs = Date.now() - back;
    const before = succeeded;
    await sleep(200);
    running = false;
    await Promise.all(workers);
    console.log(
      `# kill -9 standalone: ${[...codes.values()].reduce((a, b) => a + b, 0)} operations failed (${[...codes].map(([c, n]) => `${c} ${n}`).join(', ')}), ` +
        `slowest operation ${slowest} ms (deadline ${TIMEOUT_MS} ms), recovered ${recoveredAfterMs} ms after the restart`,
    );
    assert.ok(failedWhileDown > 0, 'operations failed while the server was down');
    // never hangs: every operation settled by its deadline (plus scheduling slack)
    assert.ok(slowest < TIMEOUT_MS + 1000, `an operation took ${slowest} ms`);
    assert.ok(succeeded > before, 'the load succeeds again after the restart');
    assert.equal((await registry.get('after'))?.value.toString(), 'ok');
  });

  it('rejects with TIMEOUT, or the signal reason on abort, when the server stops answering (SIGSTOP)', async () => {
    await eventually(() => registry.get('after'));
    process.kill(server.pid, 'SIGSTOP');
    try {
      const started = Date.now();
      await assert.rejects(registry.get('after'), (e: unknown) => isRegistryError(e, 'TIMEOUT'));
      const tookMs = Date.now() - started;
      assert.ok(tookMs <= TIMEOUT_MS + 500, `took ${tookMs} ms`);
      // the caller's signal ends the wait before the deadline, with its own reason
      const reason = new Error('caller gave up');
      const controller = new AbortController();
      const pending = registry.getMany(['after']);
      const aborted = registry.set('x', Buffer.from('y'), { signal: controller.signal });
      // two gets of one tick share a batch: the abort ends only the one whose signal it is
      const kept = registry.get('after');
      const gaveUp = registry.get('after', { signal: controller.signal });
      controller.abort(reason);
      await assert.rejects(aborted, (e: unknown) => e === reason);
      await assert.rejects(gaveUp, (e: unknown) => e === reason);
      await assert.rejects(pending, (e: unknown) => isRegistryError(e, 'TIMEOUT'));
      await assert.rejects(kept, (e: unknown) => isRegistryError(e, 'TIMEOUT'));
    } finally {
      process.kill(server.pid, 'SIGCONT');
    }
    await eventually(() => registry.get('after'));
  });

  it('fails fast with BACKEND_UNAVAILABLE when nothing listens at connect time', async () => {
    const port = server.port;
    await server.kill9();
    try {
      await assert.rejects(
        RedisRegistry.connect({ url: `redis://127.0.0.1:${port}`, timeoutMs: TIMEOUT_MS, connectTimeoutMs: 500 }),
        (e: unknown) => isRegistryError(e, 'BACKEND_UNAVAILABLE'),
      );
    } finally {
      await server.restart();
    }
  });
});

describe('RedisRegistry calls that time out while the server stops answering (SIGSTOP)', () => {
  let server: RedisServerHandle;

  before(async () => {
    server = await startRedisServer();
  });

  after(async () => {
    await server?.stop();
  });

  it("leave no abort listener on the caller's signal, whatever the operation", async () => {
    const clock = new ManualClock(Date.now());
    const registry = await RedisRegistry.connect(
      { url: server.url, keyPrefix: 'listeners:', timeoutMs: TIMEOUT_MS },
      { clock },
    );
    const value = Buffer.from('v');
    await registry.setMany(['a', 'b'].map((key) => ({ key, value })));
    // one long-lived signal, as a server passes its lifetime signal to every call
    const signal = new AbortController().signal;
    process.kill(server.pid, 'SIGSTOP');
    try {
      const now = clock.now();
      const drain = async (iterable: AsyncIterable<unknown>): Promise<void> => {
        for await (const _ of iterable);
      };
      const calls: Promise<unknown>[] = [
        registry.get('a', { signal }),
        registry.has('a', { signal }),
        registry.set('a', value, { signal }),
        registry.set('a', value, { ifVersion: 1, signal }),
        registry.setMany([{ key: 'b', value }], { signal }),
        registry.delete('a', { signal }),
        registry.touch('a', 1000, { signal }),
        registry.getMany(['a', 'b'], { signal }),
        registry.deleteMany(['a', 'b'], { signal }),
        registry.restore(
          { key: 'r', value, version: 2, createdAt: now, updatedAt: now, expiresAt: undefined },
          { signal },
        ),
        registry.size({ signal }),
        drain(registry.scan({ signal })),
        registry.clear({ signal }),
      ];
      // let the coalesced batches and the first step of each walk go out
      await sleep(50);
      assert.ok(getEventListeners(signal, 'abort').length >= calls.length, 'every call listens while pending');
      clock.advance(TIMEOUT_MS);
      for (const [i, call] of calls.entries()) {
        await assert.rejects(call, (e: unknown) => isRegistryError(e, 'TIMEOUT'), `call ${i}`);
      }
      assert.equal(getEventListeners(signal, 'abort').length, 0);
    } finally {
      process.kill(server.pid, 'SIGCONT');
      await registry.close();
    }
  });
});

describe('RedisRegistry.connect() that misses its deadline', () => {
  let server: RedisServerHandle | undefined;

  after(async () => {
    await server?.stop();
  });

  /** `connected_clients` and `total_connections_received` of the server (the helper's own connection counted). */
  async function connections(handle: RedisServerHandle): Promise<{ open: number; accepted: number }> {
    const info = await handle.command('INFO');
    const field = (name: string): number => Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(info)?.[1]);
    return { open: field('connected_clients'), accepted: field('total_connections_received') };
  }

  it('leaves no connection open when the deadline passes while the socket is still being opened', async () => {
    const redis = (server = await startRedisServer());
    const clock = new ManualClock();
    const baseline = await connections(redis);
    const registry = new RedisRegistry({ url: redis.url, timeoutMs: 300 }, { clock });
    const connecting = registry.connect();
    // the deadline passes before the socket has even connected
    clock.advance(300);
    await assert.rejects(connecting, (e: unknown) => isRegistryError(e, 'TIMEOUT'));
    // bounded waits: the interrupted connect reaches the server, then its socket must be dropped
    // (each INFO is one more connection of the helper's)
    const deadline = Date.now() + 5000;
    let polls = 1;
    let now = await connections(redis);
    while (now.accepted < baseline.accepted + polls + 1 && Date.now() < deadline) {
      await sleep(20);
      polls++;
      now = await connections(redis);
    }
    assert.equal(now.accepted, baseline.accepted + polls + 1, 'the interrupted connect reached the server');
    while (now.open > 1 && Date.now() < deadline) {
      await sleep(20);
      now = await connections(redis);
    }
    assert.equal(now.open, 1, "only the helper's own connection is open");
    await registry.close();
  });
});
