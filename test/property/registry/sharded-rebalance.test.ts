import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { MemoryRegistry, type MigrationResult, ShardedRegistry } from '../../../src/registry/index.js';
import { ManualClock } from '../../../src/testing/index.js';

// Random reads and writes interleaved with shards joining, leaving and draining while records
// move (paced, so operations land mid-migration), checked against a plain map.

const KEYS = Array.from({ length: 40 }, (_, i) => `k${i}`);
const key = fc.constantFrom(...KEYS);
const op = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('set' as const), key, value: fc.nat(99), cas: fc.boolean() }) },
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('get' as const), key }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('delete' as const), key }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('getMany' as const), keys: fc.array(key, { maxLength: 8 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('add' as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('remove' as const), pick: fc.nat(), drain: fc.boolean() }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 300 }) }) },
);

describe('ShardedRegistry rebalancing (model-based)', () => {
  for (const replicas of [1, 2]) {
    it(`serves exactly the model's records while shards join and leave (R = ${replicas})`, async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 50 }), async (ops) => {
          const clock = new ManualClock();
          const make = (): MemoryRegistry => new MemoryRegistry({ maxEntries: 1000 }, { clock });
          const registry = new ShardedRegistry(
            { shards: ['s0', 's1'].map((name) => ({ name, registry: make() })), replicas, migrationRate: 50, migrationBatchSize: 4 },
            { clock },
          );
          const model = new Map<string, number>();
          let next = 2;
          let migration: Promise<MigrationResult> | undefined;
          try {
            for (const o of ops) {
              if (o.kind === 'set') {
                const current = model.has(o.key) ? (await registry.get(o.key))?.version : 0;
                await registry.set(o.key, Uint8Array.of(o.value), o.cas ? { ifVersion: current } : {});
                model.set(o.key, o.value);
              } else if (o.kind === 'get') {
                assert.equal((await registry.get(o.key))?.value[0], model.get(o.key), `get ${o.key}`);
              } else if (o.kind === 'delete') {
                assert.equal(await registry.delete(o.key), model.delete(o.key));
              } else if (o.kind === 'getMany') {
                assert.deepEqual((await registry.getMany(o.keys)).map((r) => r?.value[0]), o.keys.map((k) => model.get(k)));
              } else if (o.kind === 'advance') {
                await clock.advanceAsync(o.ms);
              } else if (migration === undefined) {
                // one membership change at a time; it runs while later operations proceed
                const names = registry.shardNames;
                if (o.kind === 'add') migration = registry.addShard({ name: `s${next++}`, registry: make() });
                else if (names.length > 1) {
                  const name = names[o.pick % names.length] as string;
                  migration = o.drain ? registry.drainShard(name) : registry.removeShard(name);
                }
                void migration?.finally(() => (migration = undefined));
              }
            }
            while (migration !== undefined) await clock.advanceAsync(100);
            for (const k of KEYS) assert.equal((await registry.get(k))?.value[0], model.get(k), `final ${k}`);
            assert.equal(await registry.size(), model.size);
          } finally {
            await registry.close();
          }
        }),
        { numRuns: 40 },
      );
    });
  }
});
