/**
 * MemoryRegistry against raw lru-cache, same keys, same values, same run.
 * Run: npm run bench (or node --expose-gc dist/bench/registry-memory.js after a build).
 */
import { LRUCache } from 'lru-cache';
import { MemoryRegistry } from '../src/registry/index.js';
import { bestOf, opsPerSecond, printTable, retainedBytes, type Row } from './harness.js';

const N = 100_000;
const OPS = 2_000_000;
const ROUNDS = 3;
const TTL = 60_000;

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
  const getLru = await bestOf(ROUNDS, () => opsPerSecond(OPS, async (i) => lru.get(at(i))));
  const getReg = await bestOf(ROUNDS, () => opsPerSecond(OPS, (i) => reg.get(at(i))));

  // awaited set with TTL, overwriting live keys
  const setLru = await bestOf(ROUNDS, () => opsPerSecond(OPS, async (i) => lru.set(at(i), value, { ttl: TTL })));
  const setReg = await bestOf(ROUNDS, () => opsPerSecond(OPS, (i) => reg.set(at(i), value, { ttlMs: TTL })));
  await reg.close();

  // awaited set of new keys into a full store: every write evicts
  const fresh = makeKeys(N * 4, 'e');
  const freshAt = (i: number): string => fresh[i % fresh.length] as string;
  const evLru = new LRUCache<string, Uint8Array>({ max: N / 4 });
  const evReg = new MemoryRegistry({ maxEntries: N / 4, maxBytes: Number.POSITIVE_INFINITY });
  const evictLru = await bestOf(ROUNDS, () => opsPerSecond(OPS, async (i) => evLru.set(freshAt(i), value)));
  const evictReg = await bestOf(ROUNDS, () => opsPerSecond(OPS, (i) => evReg.set(freshAt(i), value)));
  await evReg.close();

  // bytes per entry beyond the keys and values themselves (both already allocated)
  const M = 200_000;
  const memKeys = makeKeys(M, 'm');
  const memValues = memKeys.map(() => new Uint8Array(16));
  const lruBytes = retainedBytes(() => {
    const c = new LRUCache<string, Uint8Array>({ max: M, ttl: TTL });
    memKeys.forEach((k, i) => c.set(k, memValues[i], { ttl: TTL }));
    return c;
  });
  const regBytes = retainedBytes(() => {
    const r = new MemoryRegistry({ maxEntries: M, maxBytes: Number.POSITIVE_INFINITY });
    memKeys.forEach((k, i) => void r.set(k, memValues[i] as Uint8Array, { ttlMs: TTL }));
    return r;
  });

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
  ];
}

if (import.meta.url === `file://${process.argv[1]}`) {
  printTable('Memory registry vs lru-cache', await benchRegistryMemory());
}
