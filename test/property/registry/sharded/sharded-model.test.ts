import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { HrwRouter, MemoryRegistry, ShardedRegistry } from '../../../../src/registry/index.js';
import { FaultRegistry, ManualClock } from '../../../../src/testing/index.js';
import { awaitAdvancing } from '../../../helpers/virtual-time.js';

// Random operations against a sharded registry with 2 replicas while one shard at a time fails,
// hangs or returns, checked against a plain map: no lost or stale record, no error.

const KEYS = Array.from({ length: 24 }, (_, i) => `k${i}`);
const SHARDS = ['a', 'b', 'c', 'd'];
const TIMEOUT = 100;
const COOLDOWN = 500;

const key = fc.constantFrom(...KEYS);
const op = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('set' as const), key, value: fc.nat(99) }) },
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('get' as const), key }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('delete' as const), key }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('getMany' as const), keys: fc.array(key, { maxLength: 6 }) }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('setMany' as const),
      keys: fc.array(key, { maxLength: 4 }),
      value: fc.nat(99),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('fail' as const), shard: fc.constantFrom(...SHARDS), hang: fc.boolean() }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('heal' as const) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 700 }) }) },
);

const enc = (n: number): Uint8Array => Uint8Array.of(n);

describe('ShardedRegistry with 2 replicas (model-based)', () => {
  it('never loses or serves a stale record, and never errors, while at most one shard is failing', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 60 }), async (ops) => {
        const clock = new ManualClock();
        const backends = SHARDS.map((name) => ({
          name,
          registry: new FaultRegistry(new MemoryRegistry({ maxEntries: 1000 }, { clock }), { clock }),
        }));
        const registry = new ShardedRegistry(
          {
            shards: backends,
            replicas: 2,
            timeoutMs: TIMEOUT,
            cooldownMs: COOLDOWN,
            failureThreshold: 2,
            migrationRate: Number.POSITIVE_INFINITY,
            readRepair: 1,
          },
          { clock },
        );
        const model = new Map<string, number>();
        let failing: FaultRegistry | undefined;
        // drive the clock while a call (or background work) waits on a hung shard
        const run = <T>(promise: Promise<T>): Promise<T> => awaitAdvancing(clock, promise, TIMEOUT);
        try {
          for (const o of ops) {
            if (o.kind === 'set') {
              await run(registry.set(o.key, enc(o.value)));
              model.set(o.key, o.value);
            } else if (o.kind === 'get') {
              assert.equal((await run(registry.get(o.key)))?.value[0], model.get(o.key), `get ${o.key}`);
            } else if (o.kind === 'delete') {
              await run(registry.delete(o.key));
              model.delete(o.key);
            } else if (o.kind === 'getMany') {
              const got = await run(registry.getMany(o.keys));
              assert.deepEqual(
                got.map((r) => r?.value[0]),
                o.keys.map((k) => model.get(k)),
              );
            } else if (o.kind === 'setMany') {
              await run(registry.setMany(o.keys.map((k) => ({ key: k, value: enc(o.value) }))));
              for (const k of o.keys) model.set(k, o.value);
            } else if (o.kind === 'fail') {
              if (failing === undefined) {
                failing = backends.find((b) => b.name === o.shard)?.registry;
                failing?.inject(o.hang ? { type: 'hang' } : { type: 'error' });
              }
            } else if (o.kind === 'heal') {
              failing?.heal();
              failing = undefined;
            } else {
              await clock.advanceAsync(o.ms);
              await run(registry.settled());
            }
          }
          failing?.heal();
          await clock.advanceAsync(COOLDOWN * 2);
          await run(registry.settled());
          for (const k of KEYS) assert.equal((await registry.get(k))?.value[0], model.get(k), `final ${k}`);
          assert.equal(await registry.size(), model.size);
        } finally {
          await registry.close();
        }
      }),
      { numRuns: 60 },
    );
  });
});

describe('HrwRouter (properties)', () => {
  const names = fc.uniqueArray(fc.string({ minLength: 1, maxLength: 8 }), { minLength: 2, maxLength: 12 });
  it('moves only the keys of a removed shard, and only to their second choice', () => {
    fc.assert(
      fc.property(
        names,
        fc.nat(),
        fc.array(fc.string({ minLength: 1 }), { minLength: 1, maxLength: 50 }),
        (list, pick, keys) => {
          const removed = list[pick % list.length] as string;
          const before = new HrwRouter(list.map((name) => ({ name })));
          const after = new HrwRouter(list.filter((n) => n !== removed).map((name) => ({ name })));
          for (const k of keys) {
            const order = before.order(k).map((i) => before.names[i]);
            const now = after.names[after.first(k)];
            assert.equal(now, order[0] === removed ? order[1] : order[0]);
          }
        },
      ),
    );
  });

  it('keeps the relative order of the remaining shards when one joins', () => {
    fc.assert(
      fc.property(names, fc.array(fc.string({ minLength: 1 }), { minLength: 1, maxLength: 50 }), (list, keys) => {
        const [joining, ...rest] = list as [string, ...string[]];
        const before = new HrwRouter(rest.map((name) => ({ name })));
        const after = new HrwRouter(list.map((name) => ({ name })));
        for (const k of keys) {
          const a = before.order(k).map((i) => before.names[i]);
          const b = after
            .order(k)
            .map((i) => after.names[i])
            .filter((n) => n !== joining);
          assert.deepEqual(b, a);
        }
      }),
    );
  });
});
