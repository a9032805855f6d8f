/**
 * MemoryRegistry against raw lru-cache, same keys, same values, same run. Throughput is counted
 * per CPU second of the process and the two sides take turns, best of ROUNDS each: on a shared
 * machine, wall-clock rates of back-to-back runs vary by ±30 % and would move the ratio with them.
 * Run: npm run bench (or node --expose-gc dist/bench/registry-memory.js after a build).
 * Also the cost on writes of a watch consuming them (`benchMemoryFeed`, printed by registry-etcd
 * too: the issue of the change feeds asks for it there).
 */
import { LRUCache } from 'lru-cache';
import { MemoryRegistry } from '../src/registry/index.js';
import {
  bestOfAlternating,
  heapBytes,
  opsPerCpuSecond,
  printTable,
  quantile,
  retainedBytes,
  type Row,
} from './harness.js';
import { joined, recurringWorst, timeWrites } from './write-latency.js';

const N = 100_000;
const OPS = 1_000_000;
const ROUNDS = 6;
/** Stores grown from empty to N for the write-latency figures. */
const GROWTHS = 5;
const TTL = 60_000;
/** Writes between two catch-ups of the watch: within its history of 1000. */
const FEED_CHUNK = 500;

function makeKeys(count: number, tag: string): string[] {
  return Array.from({ length: count }, (_, i) => `${tag}:${i.toString(36).padStart(6, '0')}`);
}

export async function benchRegistryMemory(): Promise<Row[]> {
  const keys = makeKeys(N, 'k');
  const value = new Uint8Array(32).fill(7);
  const at = (i: number): string => keys[i % N] as string;

  // awaited get on a full store
  const lru = new LRUCache<string, Uint8Array>({ max: N, ttl: TTL });
  const reg = new MemoryRegistry({ maxEntries: N, maxBytes: Number.POSITIVE_INFINITY });
  for (const k of keys) {
    lru.set(k, value, { ttl: TTL });
    await reg.set(k, value, { ttlMs: TTL });
  }
  const [getLru, getReg] = await bestOfAlternating(
    ROUNDS,
    () => opsPerCpuSecond(OPS, async (i) => lru.get(at(i))),
    () => opsPerCpuSecond(OPS, (i) => reg.get(at(i))),
  );

  // awaited set with TTL, overwriting live keys
  const [setLru, setReg] = await bestOfAlternating(
    ROUNDS,
    () => opsPerCpuSecond(OPS, async (i) => lru.set(at(i), value, { ttl: TTL })),
    () => opsPerCpuSecond(OPS, (i) => reg.set(at(i), value, { ttlMs: TTL })),
  );
  await reg.close();

  // awaited set of new keys into a full store: every write evicts
  const fresh = makeKeys(N * 4, 'e');
  const freshAt = (i: number): string => fresh[i % fresh.length] as string;
  const evLru = new LRUCache<string, Uint8Array>({ max: N / 4 });
  const evReg = new MemoryRegistry({ maxEntries: N / 4, maxBytes: Number.POSITIVE_INFINITY });
  const [evictLru, evictReg] = await bestOfAlternating(
    ROUNDS,
    () => opsPerCpuSecond(OPS, async (i) => evLru.set(freshAt(i), value)),
    () => opsPerCpuSecond(OPS, (i) => evReg.set(freshAt(i), value)),
  );
  await evReg.close();

  // bytes per entry beyond the keys and values themselves (both already allocated): JS heap, and
  // JS heap plus the typed arrays' data (kept outside it)
  const M = 200_000;
  const memKeys = makeKeys(M, 'm');
  const memValues = memKeys.map(() => new Uint8Array(16));
  const buildLru = (): unknown => {
    const c = new LRUCache<string, Uint8Array>({ max: M, ttl: TTL });
    memKeys.forEach((k, i) => c.set(k, memValues[i], { ttl: TTL }));
    return c;
  };
  const buildReg = (): unknown => {
    const r = new MemoryRegistry({ maxEntries: M, maxBytes: Number.POSITIVE_INFINITY });
    memKeys.forEach((k, i) => void r.set(k, memValues[i] as Uint8Array, { ttlMs: TTL }));
    return r;
  };
  const lruBytes = retainedBytes(buildLru);
  const regBytes = retainedBytes(buildReg);
  const lruAllBytes = retainedBytes(buildLru, heapBytes);
  const regAllBytes = retainedBytes(buildReg, heapBytes);

  // every awaited write timed while a store grows from empty to N: the slow tail shows pauses
  // (the registry's arrays grow as it fills; lru-cache allocated its own for `max` up front, and
  // both have a `Map` whose table doubles at powers of two)
  const growKeys = makeKeys(N, 'g');
  const lruWrites: Float64Array[] = [];
  const regWrites: Float64Array[] = [];
  for (let r = 0; r < GROWTHS; r++) {
    const c = new LRUCache<string, Uint8Array>({ max: N, ttl: TTL });
    lruWrites.push(await timeWrites(growKeys, async (k) => c.set(k, value, { ttl: TTL })));
    const g = new MemoryRegistry({ maxEntries: N, maxBytes: Number.POSITIVE_INFINITY });
    regWrites.push(await timeWrites(growKeys, (k) => g.set(k, value, { ttlMs: TTL })));
    await g.close();
  }

  return [
    {
      what: 'awaited get (hit)',
      anchorName: 'lru-cache',
      anchor: getLru,
      nautilus: getReg,
      unit: 'ops/s',
      target: '≥ 3 M ops/s',
    },
    {
      what: 'awaited set with TTL',
      anchorName: 'lru-cache (ttl)',
      anchor: setLru,
      nautilus: setReg,
      unit: 'ops/s',
      target: '≥ 1.5 M ops/s',
    },
    { what: 'awaited set with eviction', anchorName: 'lru-cache', anchor: evictLru, nautilus: evictReg, unit: 'ops/s' },
    {
      what: 'bytes per entry (with TTL)',
      anchorName: 'lru-cache (ttl)',
      anchor: lruBytes / M,
      nautilus: regBytes / M,
      unit: 'B',
      target: '≤ 80 B',
    },
    {
      what: 'bytes per entry (with TTL), heap + typed arrays',
      anchorName: 'lru-cache (ttl)',
      anchor: lruAllBytes / M,
      nautilus: regAllBytes / M,
      unit: 'B',
    },
    {
      what: `p99 awaited write, growing 0 → ${N / 1000} k (${GROWTHS} stores)`,
      anchorName: 'lru-cache (ttl, max preallocated)',
      anchor: quantile(joined(lruWrites), 0.99),
      nautilus: quantile(joined(regWrites), 0.99),
      unit: 'µs',
    },
    {
      what: `slowest write position growing 0 → ${N / 1000} k (its fastest of ${GROWTHS})`,
      anchorName: 'lru-cache (ttl, max preallocated)',
      anchor: recurringWorst(lruWrites),
      nautilus: recurringWorst(regWrites),
      unit: 'µs',
      target: 'no multi-ms pause',
    },
    ...(await benchMemoryFeed()),
  ];
}

/**
 * CPU time per second of `iterations` calls of `op` in chunks of `chunk`, counting only the
 * chunks: `between` runs after each chunk, untimed (there a consumer in the same process does its
 * own work).
 */
async function chunkedOpsPerCpuSecond(
  iterations: number,
  chunk: number,
  op: (i: number) => Promise<unknown>,
  between: () => Promise<void>,
): Promise<number> {
  for (let i = 0; i < Math.min(iterations, 50_000); i++) {
    await op(i);
    if (i % chunk === chunk - 1) await between();
  }
  let used = 0;
  for (let i = 0; i < iterations; i += chunk) {
    const start = process.cpuUsage();
    for (let j = i; j < i + chunk; j++) await op(j);
    const spent = process.cpuUsage(start);
    used += spent.user + spent.system;
    await between();
  }
  return iterations / (used / 1e6);
}

/**
 * What a watch costs writes: awaited set+TTL on a registry with a live watch, against the same
 * writes on a registry nobody watches (same options; its change log records nothing until a
 * first `watch` or `cursor`). Two rows:
 *
 * - overhead on writes (the target): the writes are timed in chunks of FEED_CHUNK while the
 *   consumer waits; between chunks, untimed, it takes every change of the chunk. What the writes
 *   pay for the feed: recording each change, and waking the consumer.
 * - with the consumer's own work: the same, timed whole (writer and consumer share the thread),
 *   for scale; no target: taking a change is the consumer's work, a promise turn each.
 *
 * A consumer that falls more than the feed's history behind gets `COMPACTED` and fails the bench.
 */
export async function benchMemoryFeed(): Promise<Row[]> {
  const keys = makeKeys(N, 'f');
  const value = new Uint8Array(32).fill(7);
  const unwatched = new MemoryRegistry({ maxEntries: N });
  const watched = new MemoryRegistry({ maxEntries: N });
  const stop = new AbortController();
  let seen = 0;
  let written = 0;
  // the consumer takes changes while `taking`, and parks once it has all that were written
  let release: (() => void) | undefined;
  let caughtUp: (() => void) | undefined;
  let parked = true;
  const consumer = (async () => {
    for await (const _ of watched.watch({ signal: stop.signal })) {
      if (++seen === written) {
        caughtUp?.();
        if (parked) await new Promise<void>((resolve) => (release = resolve));
      }
    }
  })();
  const ended = consumer.then(
    () => {
      throw new Error('the watch ended');
    },
    (error: unknown) => {
      if (!stop.signal.aborted) throw error;
    },
  );
  // the consumer's failure (COMPACTED: it fell behind) fails the bench, not just its promise
  ended.catch(() => {
    stop.abort();
    caughtUp?.();
  });
  const catchUp = (): Promise<void> => {
    if (stop.signal.aborted) return ended;
    if (seen === written) return Promise.resolve();
    return new Promise((resolve) => {
      caughtUp = resolve;
      const r = release;
      release = undefined;
      r?.();
    });
  };
  const nothing = async (): Promise<void> => {};
  const at = (i: number): string => keys[i % N] as string;
  const writeUnwatched = (i: number): Promise<unknown> => unwatched.set(at(i), value, { ttlMs: TTL });
  const writeWatched = async (i: number): Promise<void> => {
    await watched.set(at(i), value, { ttlMs: TTL });
    written++;
  };
  const [overheadAnchor, overhead] = await bestOfAlternating(
    ROUNDS,
    () => chunkedOpsPerCpuSecond(OPS, FEED_CHUNK, writeUnwatched, nothing),
    () => chunkedOpsPerCpuSecond(OPS, FEED_CHUNK, writeWatched, catchUp),
  );
  await catchUp();
  // now the consumer takes changes as they come, in the writer's time
  parked = false;
  release?.();
  const [wholeAnchor, whole] = await bestOfAlternating(
    ROUNDS,
    () =>
      opsPerCpuSecond(OPS, async (i) => {
        await writeUnwatched(i);
        if (i % FEED_CHUNK === FEED_CHUNK - 1) await nothing();
      }),
    () =>
      opsPerCpuSecond(OPS, async (i) => {
        await writeWatched(i);
        if (i % FEED_CHUNK === FEED_CHUNK - 1) await catchUp();
      }),
  );
  await catchUp();
  stop.abort();
  await ended;
  if (seen !== written) throw new Error(`the watch took ${seen} of ${written} changes`);
  await unwatched.close();
  await watched.close();
  return [
    {
      what: 'awaited set with TTL, a live watch: overhead on writes (consumer taking each chunk between)',
      anchorName: 'same, nobody watching',
      anchor: overheadAnchor,
      nautilus: overhead,
      unit: 'ops/s',
      target: '≥ 0.9× (≤ 10 % overhead)',
    },
    {
      what: "… with the consumer's own work in the same thread (a promise turn per change)",
      anchorName: 'same, nobody watching',
      anchor: wholeAnchor,
      nautilus: whole,
      unit: 'ops/s',
    },
  ];
}

if (import.meta.url === `file://${process.argv[1]}`) {
  printTable('Memory registry vs lru-cache', await benchRegistryMemory());
}
