import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { isRegistryError } from '../../../src/registry/index.js';
import { keySlot, RedisRegistry } from '../../../src/registry/redis/index.js';
import { type RedisClusterHandle, startRedisCluster } from '../../../src/testing/index.js';

const PREFIX = 'failover:';
const TIMEOUT_MS = 1000;

describe('RedisRegistry when a cluster master dies during a write load (kill -9)', () => {
  let cluster: RedisClusterHandle;
  let registry: RedisRegistry;

  before(async () => {
    cluster = await startRedisCluster({ masters: 3, replicasPerMaster: 1, nodeTimeoutMs: 1000 });
    registry = await RedisRegistry.connect({
      cluster: cluster.urls,
      keyPrefix: PREFIX,
      timeoutMs: TIMEOUT_MS,
      reconnectMaxDelayMs: 100,
    });
  });

  after(async () => {
    await registry?.close();
    await cluster?.stop();
  });

  it('keeps healthy slots error-free, fails over, and reads back every acknowledged write', async () => {
    const [victim] = await cluster.masters();
    assert.ok(victim);
    const ranges = await cluster.slotRanges(victim);
    const onVictim = (key: string): boolean => {
      const slot = keySlot(PREFIX + key);
      return ranges.some(([first, last]) => slot >= first && slot <= last);
    };

    const acknowledged = new Map<string, string>();
    const failures = { healthy: [] as string[], victim: 0 };
    let killedAt = 0;
    let lastVictimFailure = 0;
    let victimWritesAfterKill = 0;
    let running = true;
    const writer = async (w: number): Promise<void> => {
      for (let i = 0; running; i++) {
        const key = `w${w}:${i}`;
        const value = `${w}/${i}`;
        try {
          await registry.set(key, Buffer.from(value));
          acknowledged.set(key, value);
          if (killedAt !== 0 && onVictim(key)) victimWritesAfterKill++;
        } catch (error) {
          assert.ok(isRegistryError(error), `untyped error: ${String(error)}`);
          if (onVictim(key)) {
            failures.victim++;
            lastVictimFailure = Date.now();
          } else {
            failures.healthy.push(`${key}: ${error.code} ${error.message}`);
          }
          await sleep(5); // a failing slot answers at once: do not spin
        }
      }
    };
    const writers = Array.from({ length: 20 }, (_, w) => writer(w));
    await sleep(300);
    killedAt = Date.now();
    await victim.kill9();
    await cluster.waitForFullCoverage(20_000);
    const failoverMs = Date.now() - killedAt;
    // keep writing until writes to the failed-over slots succeed again
    const deadline = Date.now() + 10_000;
    while (victimWritesAfterKill < 50 && Date.now() < deadline) await sleep(20);
    running = false;
    await Promise.all(writers);

    const stallMs = lastVictimFailure === 0 ? 0 : lastVictimFailure - killedAt;
    console.log(
      `# cluster failover: ${acknowledged.size} acknowledged writes, ${failures.victim} failed writes on the dead master's slots, ` +
        `${failures.healthy.length} on healthy slots; failover complete after ${failoverMs} ms, ` +
        `writes to the failed slots stalled ${stallMs} ms`,
    );
    assert.deepEqual(failures.healthy, [], 'no errors on healthy slots');
    assert.ok(victimWritesAfterKill >= 50, 'writes to the failed-over slots succeed again');

    const keys = [...acknowledged.keys()];
    const read = await registry.getMany(keys);
    const lost = keys.filter((key, i) => read[i]?.value.toString() !== acknowledged.get(key));
    assert.deepEqual(lost, [], 'every acknowledged write is read back');
  });
});
