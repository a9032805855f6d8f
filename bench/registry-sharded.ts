/**
 * Sharded registry: HRW routing against an npm ketama ring (`hashring`, 160 points per server,
 * MD5) in the same run — cost per lookup, balance, keys moved — and the throughput of a sharded
 * registry over 3 memory backends against one memory backend, and its merged change feed (watch
 * replaying WATCHED committed changes from a cursor) against one memory backend's watch.
 * Run: npm run bench (or node --expose-gc dist/bench/registry-sharded.js after a build).
 */
import HashRing from 'hashring';
import { HrwRouter, MemoryRegistry, type Registry, ShardedRegistry } from '../src/registry/index.js';
import { bestOf, bestOfAlternating, opsPerSecond, printTable, type Row } from './harness.js';

const SHARDS = 10;
const LOOKUP_KEYS = 100_000; // cycled: more than hashring's 5000-entry result cache holds
const LOOKUPS = 1_000_000;
const BALANCE_KEYS = 1_000_000;
const OPS = 500_000;
const ROUNDS = 3;
const WATCHED = 100_000;

/**
 * Changes per second a watch of `registry` delivers replaying WATCHED sets committed after a
 * cursor (the writes are not timed). Each backend keeps WATCHED changes of history.
 */
async function watchRate(registry: Registry, value: Uint8Array): Promise<number> {
  if (registry.watch === undefined || registry.cursor === undefined) throw new Error('the registry has no watch');
  const after = await registry.cursor();
  for (let i = 0; i < WATCHED; i++) await registry.set(`watch:${i % 10_000}`, value);
  let seen = 0;
  const start = process.hrtime.bigint();
  for await (const change of registry.watch({ after })) if (change.type === 'set' && ++seen === WATCHED) break;
  const rate = WATCHED / (Number(process.hrtime.bigint() - start) / 1e9);
  await registry.close();
  return rate;
}

const names = (n: number): string[] => Array.from({ length: n }, (_, i) => `shard-${i}`);
const keyAt = (i: number): string => `user:${i.toString(36).padStart(6, '0')}`;

/** Nanoseconds per call of `lookup` over the keys, best of ROUNDS. */
function nsPerLookup(keys: readonly string[], lookup: (key: string) => unknown): number {
  let best = Number.POSITIVE_INFINITY;
  let sink = 0;
  for (let r = 0; r < ROUNDS; r++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < LOOKUPS; i++) if (lookup(keys[i % keys.length] as string) !== undefined) sink++;
    best = Math.min(best, Number(process.hrtime.bigint() - start) / LOOKUPS);
  }
  if (sink < 0) console.log(sink);
  return best;
}

/** max/mean load of `owner` over BALANCE_KEYS keys. */
function maxOverMean(owner: (key: string) => string, shards: number): number {
  const load = new Map<string, number>();
  for (let i = 0; i < BALANCE_KEYS; i++) {
    const o = owner(keyAt(i));
    load.set(o, (load.get(o) ?? 0) + 1);
  }
  return Math.max(...load.values()) / (BALANCE_KEYS / shards);
}

/** Fraction of BALANCE_KEYS keys whose owner differs between two mappings. */
function movedFraction(a: (key: string) => string, b: (key: string) => string): number {
  let moved = 0;
  for (let i = 0; i < BALANCE_KEYS; i++) if (a(keyAt(i)) !== b(keyAt(i))) moved++;
  return moved / BALANCE_KEYS;
}

function hrwOwner(list: string[], weights?: number[]): (key: string) => string {
  const router = new HrwRouter(list.map((name, i) => ({ name, weight: weights?.[i] ?? 1 })));
  return (key) => router.names[router.first(key)] as string;
}

function ringOwner(list: string[]): (key: string) => string {
  const ring = new HashRing(list);
  return (key) => ring.get(key);
}

export async function benchRegistrySharded(): Promise<Row[]> {
  const keys = Array.from({ length: LOOKUP_KEYS }, (_, i) => keyAt(i));
  const ten = names(SHARDS);
  const eleven = names(SHARDS + 1);
  const nine = ten.filter((n) => n !== 'shard-3');

  const ring = new HashRing(ten);
  const router = new HrwRouter(ten.map((name) => ({ name })));
  const weighted = new HrwRouter(ten.map((name, i) => ({ name, weight: 1 + (i % 3) })));
  const ringNs = nsPerLookup(keys, (k) => ring.get(k));
  const hrwNs = nsPerLookup(keys, (k) => router.first(k));
  const weightedNs = nsPerLookup(keys, (k) => weighted.first(k));

  const ringBalance = maxOverMean(ringOwner(ten), SHARDS);
  const hrwBalance = maxOverMean(hrwOwner(ten), SHARDS);
  const ringAdd = movedFraction(ringOwner(ten), ringOwner(eleven));
  const hrwAdd = movedFraction(hrwOwner(ten), hrwOwner(eleven));
  const ringRemove = movedFraction(ringOwner(ten), ringOwner(nine));
  const hrwRemove = movedFraction(hrwOwner(ten), hrwOwner(nine));

  // throughput: one memory backend against a sharded registry over three, same keys and values
  const value = new Uint8Array(32).fill(7);
  const opKeys = keys.slice(0, 50_000);
  const at = (i: number): string => opKeys[i % opKeys.length] as string;
  const single = new MemoryRegistry({ maxEntries: 100_000, maxBytes: Number.POSITIVE_INFINITY });
  const sharded = new ShardedRegistry({
    shards: ['a', 'b', 'c'].map((name) => ({
      name,
      registry: new MemoryRegistry({ maxEntries: 100_000, maxBytes: Number.POSITIVE_INFINITY }),
    })),
  });
  const setSingle = await bestOf(ROUNDS, () => opsPerSecond(OPS, (i) => single.set(at(i), value, { ttlMs: 60_000 })));
  const setSharded = await bestOf(ROUNDS, () => opsPerSecond(OPS, (i) => sharded.set(at(i), value, { ttlMs: 60_000 })));
  const getSingle = await bestOf(ROUNDS, () => opsPerSecond(OPS, (i) => single.get(at(i))));
  const getSharded = await bestOf(ROUNDS, () => opsPerSecond(OPS, (i) => sharded.get(at(i))));
  const batches = Array.from({ length: 500 }, (_, b) => Array.from({ length: 100 }, (_, i) => at(b * 100 + i)));
  const batchSingle =
    100 * (await bestOf(ROUNDS, () => opsPerSecond(5000, (i) => single.getMany(batches[i % 500] as string[]))));
  const batchSharded =
    100 * (await bestOf(ROUNDS, () => opsPerSecond(5000, (i) => sharded.getMany(batches[i % 500] as string[]))));
  await single.close();
  await sharded.close();

  const history = { maxEntries: 100_000, changeHistory: WATCHED };
  const [watchSingle, watchSharded] = await bestOfAlternating(
    ROUNDS,
    () => watchRate(new MemoryRegistry(history), value),
    () =>
      watchRate(
        new ShardedRegistry({
          shards: ['a', 'b', 'c'].map((name) => ({ name, registry: new MemoryRegistry(history) })),
        }),
        value,
      ),
  );

  return [
    {
      what: `lookup, ${SHARDS} shards, equal weights`,
      anchorName: 'hashring (ketama)',
      anchor: ringNs,
      nautilus: hrwNs,
      unit: 'ns',
      target: '≤ 150 ns',
    },
    {
      what: `lookup, ${SHARDS} shards, weights 1–3`,
      anchorName: 'hashring (ketama)',
      anchor: ringNs,
      nautilus: weightedNs,
      unit: 'ns',
    },
    {
      what: `max/mean load, ${SHARDS} shards, 1 M keys`,
      anchorName: 'hashring (ketama)',
      anchor: ringBalance,
      nautilus: hrwBalance,
      unit: '×',
      target: '≤ 1.02',
    },
    {
      what: 'keys moved adding an 11th shard',
      anchorName: 'hashring (ketama)',
      anchor: ringAdd * 100,
      nautilus: hrwAdd * 100,
      unit: '%',
      target: `≤ ${((1.05 / 11) * 100).toFixed(2)} %`,
    },
    {
      what: 'keys moved removing 1 of 10 shards',
      anchorName: 'hashring (ketama)',
      anchor: ringRemove * 100,
      nautilus: hrwRemove * 100,
      unit: '%',
      target: "= that shard's share",
    },
    {
      what: 'awaited set with TTL, 3 memory shards',
      anchorName: 'one MemoryRegistry',
      anchor: setSingle,
      nautilus: setSharded,
      unit: 'ops/s',
    },
    {
      what: 'awaited get (hit), 3 memory shards',
      anchorName: 'one MemoryRegistry',
      anchor: getSingle,
      nautilus: getSharded,
      unit: 'ops/s',
    },
    {
      what: 'getMany of 100 keys, 3 memory shards',
      anchorName: 'one MemoryRegistry',
      anchor: batchSingle,
      nautilus: batchSharded,
      unit: 'ops/s',
    },
    {
      what: `watch, changes delivered (replay of ${WATCHED / 1000} k), 3 memory shards`,
      anchorName: "one MemoryRegistry's watch",
      anchor: watchSingle,
      nautilus: watchSharded,
      unit: 'changes/s',
    },
  ];
}

if (import.meta.url === `file://${process.argv[1]}`) {
  printTable('Sharded registry: HRW vs ketama ring; 3 memory shards vs one', await benchRegistrySharded());
}
