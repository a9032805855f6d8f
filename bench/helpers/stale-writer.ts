/**
 * The writing process of the staleness benchmark: writes `{ n, at }` (a counter and the epoch ms
 * its write was acknowledged at, sent in the next write) to one key of a shared Redis every
 * `intervalMs`, `count` times, then exits. Usage: node stale-writer.js <url> <prefix> <count> <intervalMs> [changefeed]
 * (`changefeed`: with the Redis change feed on, for readers that watch it).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { RedisRegistry } from '../../src/registry/redis/index.js';

const [url, keyPrefix, count, intervalMs, feed] = process.argv.slice(2) as [string, string, string, string, string?];
const registry = await RedisRegistry.connect({ url, keyPrefix, ...(feed === 'changefeed' ? { changefeed: {} } : {}) });
for (let n = 1; n <= Number(count); n++) {
  const started = Date.now();
  await registry.set('stale', new TextEncoder().encode(JSON.stringify({ n, at: started })));
  // epoch ms to the microsecond (the readers compare it with their own high-resolution clock)
  process.stdout.write(`${n} ${performance.timeOrigin + performance.now()}\n`);
  await sleep(Number(intervalMs));
}
await registry.close();
