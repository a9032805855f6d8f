/**
 * MemoryRegistry against raw lru-cache, same keys, same values, same run. Throughput is counted
 * per CPU second of the process and the two sides take turns, best of ROUNDS each: on a shared
 * machine, wall-clock rates of back-to-back runs vary by ±30 % and would move the ratio with them.
 * Run: npm run bench (or node --expose-gc dist/bench/registry-memory.js after a build).
 * Also the cost on writes of a watch consuming them (`benchMemoryFeed`, printed by registry-etcd
 * too: the issue of the change feeds asks for it there).
 */
import { LRUCache } from 'lru-cache';
import { MemoryRegistry, type RegistryChange } from '../src/registry/index.js';
import {
  bestOfAlternating,
  heapBytes,
  median,
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

const gc = (globalThis as { gc?: (options: { type: 'minor'; execution: 'sync' }) => void }).gc;
/** A collection of the young generation, with `--expose-gc`. */
const minorGc = (): void => gc?.({ type: 'minor', execution: 'sync' });

/** One side of {@link interleavedChunks}: a write, and what follows each chunk of them. */
interface ChunkedSide {
  write(i: number): Promise<unknown>;
  between(): Promise<void>;
}

/**
 * Writes per CPU-second of two sides, `iterations` calls of `write` each, in chunks of
 * FEED_CHUNK taken in turn (the side that goes first swapped every chunk), each chunk followed
 * by its side's `between`: a chunk takes ~0.5 ms, so a change in the machine's other load lands
 * on both sides alike. `timeBetween` says whether `between` counts (when not, a minor collection
 * follows it, untimed, on both sides: what a chunk left is not collected in the next one's time).
 */
async function interleavedChunks(
  iterations: number,
  sides: readonly [ChunkedSide, ChunkedSide],
  timeBetween: boolean,
): Promise<[number, number]> {
  const used = [0, 0];
  const warmup = Math.min(iterations, 50_000);
  for (let i = -warmup, turn = 0; i < iterations; i += FEED_CHUNK, turn++) {
    for (const which of turn % 2 === 0 ? [0, 1] : [1, 0]) {
      const side = sides[which] as ChunkedSide;
      const start = process.cpuUsage();
      for (let j = i; j < i + FEED_CHUNK; j++) await side.write(j + warmup);
      let spent = process.cpuUsage(start);
      await side.between();
      if (timeBetween) spent = process.cpuUsage(start);
      else minorGc();
      if (i >= 0) used[which] = (used[which] as number) + spent.user + spent.system;
    }
  }
  return [iterations / ((used[0] as number) / 1e6), iterations / ((used[1] as number) / 1e6)];
}

/**
 * What a watch costs writes: awaited set+TTL on a registry with a live watch, against the same
 * writes on a registry nobody watches (same options; its change log records nothing until a
 * first `watch` or `cursor`), in chunks taken in turn (`interleavedChunks`), medians of ROUNDS
 * rounds. After every FEED_CHUNK writes the watch takes every change they
 * made (within the feed's history of 1000, or it would get `COMPACTED` and fail the bench).
 *
 * - Overhead on writes (the target): only the writes are timed; what they pay for the feed.
 * - With the consumer's work: the taking is timed too (writer and consumer share the thread), for
 *   scale; no target: taking a change, a promise turn each, is the consumer's work.
 */
export async function benchMemoryFeed(): Promise<Row[]> {
  const keys = makeKeys(N, 'f');
  const value = new Uint8Array(32).fill(7);
  const unwatched = new MemoryRegistry({ maxEntries: N });
  const watched = new MemoryRegistry({ maxEntries: N });
  const watch = watched.watch();
  // the watch starts with its first call, before any write
  let first: Promise<IteratorResult<RegistryChange>> | undefined = watch.next();
  let taken = 0;
  let written = 0;
  const at = (i: number): string => keys[i % N] as string;
  const writeUnwatched = (i: number): Promise<unknown> => unwatched.set(at(i), value, { ttlMs: TTL });
  const writeWatched = (i: number): Promise<unknown> => {
    written++;
    return watched.set(at(i), value, { ttlMs: TTL });
  };
  const takeAll = async (): Promise<void> => {
    if (first !== undefined) {
      await first;
      first = undefined;
      taken++;
    }
    while (taken < written) {
      if ((await watch.next()).done === true) throw new Error('the watch ended');
      taken++;
    }
  };
  const nothing = async (): Promise<void> => {};
  const rows: Row[] = [];
  for (const timeBetween of [false, true]) {
    const rates: [number[], number[]] = [[], []];
    for (let r = 0; r < ROUNDS; r++) {
      const [a, n] = await interleavedChunks(
        OPS,
        [
          { write: writeUnwatched, between: nothing },
          { write: writeWatched, between: takeAll },
        ],
        timeBetween,
      );
      rates[0].push(a);
      rates[1].push(n);
    }
    const [anchor, nautilus] = [median(rates[0]), median(rates[1])];
    rows.push({
      what: timeBetween
        ? "… with the consumer's work timed too (same thread, a promise turn per change)"
        : 'awaited set with TTL, a live watch taking every change: overhead on writes',
      anchorName: 'same, nobody watching',
      anchor,
      nautilus,
      unit: 'ops/s',
      ...(timeBetween ? {} : { target: '≥ 0.9× (≤ 10 % overhead)' }),
    });
  }
  await watch.return?.();
  if (taken !== written) throw new Error(`the watch took ${taken} of ${written} changes`);
  await unwatched.close();
  await watched.close();
  return rows;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  printTable('Memory registry vs lru-cache', await benchRegistryMemory());
}
