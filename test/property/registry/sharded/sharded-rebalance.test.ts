import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { MemoryRegistry, type MigrationResult, ShardedRegistry } from '../../../../src/registry/index.js';
import { FaultRegistry, ManualClock } from '../../../../src/testing/index.js';
import { awaitAdvancing } from '../../../helpers/virtual-time.js';

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
            // every read also checks the replicas: repairs must never disturb the model
            {
              shards: ['s0', 's1'].map((name) => ({ name, registry: make() })),
              replicas,
              migrationRate: 50,
              migrationBatchSize: 4,
              readRepair: 1,
            },
            { clock },
          );
          const model = new Map<string, number>();
          // copies are verbatim: versions continue across migrations exactly as on one store
          const versions = new Map<string, number>();
          let next = 2;
          let migration: Promise<MigrationResult> | undefined;
          try {
            for (const o of ops) {
              if (o.kind === 'set') {
                const current = model.has(o.key) ? (await registry.get(o.key))?.version : 0;
                const written = await registry.set(o.key, Uint8Array.of(o.value), o.cas ? { ifVersion: current } : {});
                model.set(o.key, o.value);
                versions.set(o.key, (versions.get(o.key) ?? 0) + 1);
                assert.equal(written.version, versions.get(o.key), `version of ${o.key}`);
              } else if (o.kind === 'get') {
                const read = await registry.get(o.key);
                assert.equal(read?.value[0], model.get(o.key), `get ${o.key}`);
                assert.equal(read?.version, versions.get(o.key), `version of ${o.key}`);
              } else if (o.kind === 'delete') {
                versions.delete(o.key);
                assert.equal(await registry.delete(o.key), model.delete(o.key));
              } else if (o.kind === 'getMany') {
                assert.deepEqual(
                  (await registry.getMany(o.keys)).map((r) => r?.value[0]),
                  o.keys.map((k) => model.get(k)),
                );
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
            for (const k of KEYS) {
              const read = await registry.get(k);
              assert.deepEqual([read?.value[0], read?.version], [model.get(k), versions.get(k)], `final ${k}`);
            }
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

const faultyOp = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('set' as const), key, value: fc.nat(99) }) },
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('get' as const), key }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('delete' as const), key }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('fail' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('heal' as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('add' as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('remove' as const), pick: fc.nat() }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 700 }) }) },
);

describe('ShardedRegistry rebalancing under faults (model-based)', () => {
  it('loses nothing and never errors with 2 replicas while shards come, go and fail one at a time', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(faultyOp, { minLength: 1, maxLength: 50 }), async (ops) => {
        const clock = new ManualClock();
        const backends = new Map<string, FaultRegistry>();
        const make = (name: string): FaultRegistry => {
          const backend = new FaultRegistry(new MemoryRegistry({ maxEntries: 1000 }, { clock }), { clock });
          backends.set(name, backend);
          return backend;
        };
        const registry = new ShardedRegistry(
          {
            shards: ['s0', 's1', 's2', 's3'].map((name) => ({ name, registry: make(name) })),
            replicas: 2,
            timeoutMs: 100,
            cooldownMs: 500,
            failureThreshold: 2,
            migrationRate: 50,
            migrationBatchSize: 4,
          },
          { clock },
        );
        const model = new Map<string, number>();
        // with 2 replicas and one failure at a time, the record's lineage always survives somewhere
        const versions = new Map<string, number>();
        let next = 4;
        let migration: Promise<unknown> | undefined;
        let failing: FaultRegistry | undefined;
        const run = <T>(promise: Promise<T>): Promise<T> => awaitAdvancing(clock, promise, 50);
        try {
          for (const o of ops) {
            if (o.kind === 'set') {
              const written = await run(registry.set(o.key, Uint8Array.of(o.value)));
              model.set(o.key, o.value);
              versions.set(o.key, (versions.get(o.key) ?? 0) + 1);
              assert.equal(written.version, versions.get(o.key), `version of ${o.key}`);
            } else if (o.kind === 'get') {
              const read = await run(registry.get(o.key));
              assert.equal(read?.value[0], model.get(o.key), `get ${o.key}`);
              assert.equal(read?.version, versions.get(o.key), `version of ${o.key}`);
            } else if (o.kind === 'delete') {
              await run(registry.delete(o.key));
              model.delete(o.key);
              versions.delete(o.key);
            } else if (o.kind === 'fail') {
              const names = registry.shardNames;
              // one at a time as the registry sees it: a healed shard is unavailable until its probe
              // closes the circuit and what it missed is handed back
              const recovered = registry.stats().shards.every((s) => s.health === 'up' && s.hints === 0);
              if (recovered)
                failing ??= backends.get(names[o.pick % names.length] as string)?.inject({ type: 'error' });
            } else if (o.kind === 'heal') {
              failing?.heal();
              failing = undefined;
            } else if (o.kind === 'advance') {
              await clock.advanceAsync(o.ms);
            } else if (migration === undefined) {
              const names = registry.shardNames;
              let started: Promise<MigrationResult> | undefined;
              if (o.kind === 'add') {
                const name = `s${next++}`;
                started = registry.addShard({ name, registry: make(name) });
              } else if (names.length > 2) {
                const name = names[o.pick % names.length] as string;
                if (backends.get(name) !== failing) started = registry.removeShard(name);
              }
              // a migration stopped by a failing shard is resumed
              const chained = started?.then((r) => (r.cancelled ? registry.rebalance() : r));
              migration = chained;
              void chained
                ?.catch(() => undefined)
                .finally(() => {
                  if (migration === chained) migration = undefined;
                });
            }
          }
          failing?.heal();
          for (let i = 0; i < 400 && migration !== undefined; i++) await clock.advanceAsync(100);
          for (let i = 0; i < 2; i++) {
            await clock.advanceAsync(2000);
            await run(registry.settled());
          }
          for (const k of KEYS) {
            const read = await registry.get(k);
            assert.deepEqual([read?.value[0], read?.version], [model.get(k), versions.get(k)], `final ${k}`);
          }
        } finally {
          await registry.close();
        }
      }),
      { numRuns: 40 },
    );
  });
});
