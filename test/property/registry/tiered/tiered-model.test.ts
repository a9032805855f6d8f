import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { MemoryRegistry, type RegistryRecord } from '../../../../src/registry/index.js';
import { TieredRegistry } from '../../../../src/registry/tiered/tiered-registry.js';
import { ManualClock } from '../../../../src/testing/index.js';

// Random operations through a tier with a tiny near tier, and behind its back on the far tier
// (each followed by the invalidation a change feed would deliver): every read through the tier
// answers what the far tier holds at that moment, never a record at or past its deadline, and
// the near tier never holds more than its bounds.

const KEYS = ['a', 'b', 'c', 'd', 'e'];
const key = fc.constantFrom(...KEYS);
const value = fc.integer({ min: 0, max: 300 }).map((n) => new Uint8Array(n).fill(n % 256));
const ttl = fc.option(fc.integer({ min: 1, max: 40 }), { nil: undefined });

const op = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('set' as const), key, value, ttl }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('behind' as const), key, value, ttl }) },
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('get' as const), key }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('has' as const), key }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('getMany' as const), keys: fc.array(key, { maxLength: 4 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('delete' as const), key }) },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('touch' as const), key, ttl: fc.integer({ min: 1, max: 40 }) }),
  },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 25 }) }) },
);

const config = fc.record({
  nearTtlMs: fc.integer({ min: 1, max: 50 }),
  nearMaxEntries: fc.integer({ min: 1, max: 4 }),
  nearMaxBytes: fc.integer({ min: 600, max: 2000 }),
});

const shape = (r: RegistryRecord | undefined) =>
  r === undefined ? undefined : { version: r.version, expiresAt: r.expiresAt, value: [...r.value] };

describe('TieredRegistry (model)', () => {
  it('answers what the far tier holds, never past a deadline, within its near bounds', async () => {
    await fc.assert(
      fc.asyncProperty(config, fc.array(op, { maxLength: 60 }), async (options, ops) => {
        const clock = new ManualClock(1_700_000_000_000);
        const far = new MemoryRegistry({}, { clock });
        const tiered = new TieredRegistry({ far, ...options }, { clock });
        const check = async (k: string, got: RegistryRecord | undefined): Promise<void> => {
          assert.ok(got === undefined || got.expiresAt === undefined || got.expiresAt > clock.now(), 'past deadline');
          assert.deepEqual(shape(got), shape(await far.get(k)), `read of ${k}`);
        };
        for (const o of ops) {
          switch (o.kind) {
            case 'set':
              await tiered.set(o.key, o.value, { ttlMs: o.ttl });
              break;
            case 'behind':
              await far.set(o.key, o.value, { ttlMs: o.ttl });
              tiered.invalidate(o.key);
              break;
            case 'get':
              await check(o.key, await tiered.get(o.key));
              break;
            case 'has':
              assert.equal(await tiered.has(o.key), await far.has(o.key));
              break;
            case 'getMany': {
              const got = await tiered.getMany(o.keys);
              for (const [i, k] of o.keys.entries()) await check(k, got[i]);
              break;
            }
            case 'delete':
              await tiered.delete(o.key);
              break;
            case 'touch':
              await tiered.touch(o.key, o.ttl);
              break;
            case 'advance':
              clock.advance(o.ms);
              break;
          }
          const { nearEntries, nearBytes } = tiered.stats;
          assert.ok(nearEntries <= options.nearMaxEntries, 'near entries bound');
          assert.ok(nearBytes <= options.nearMaxBytes, 'near bytes bound');
        }
        await tiered.close();
      }),
      { numRuns: 200 },
    );
  });
});
