import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { bucketIndex, compareDistance, bytesEqual, idToHex } from '../../../../src/kad/id.js';
import { RoutingTable } from '../../../../src/kad/routing/routing-table.js';
import { ManualClock } from '../../../../src/testing/manual-clock.js';

const K = 4;
const MAX_PER_SUBNET = 2;
const idArb = fc.uint8Array({ minLength: 20, maxLength: 20 });
// a small pool of ids, picked again and again, so that updates, conflicts and full buckets happen
const pool = fc.array(idArb, { minLength: 1, maxLength: 40 });

type Op =
  | { kind: 'add'; who: number; subnet: number; host: number; port: number }
  | { kind: 'fail'; who: number }
  | { kind: 'seen'; who: number }
  | { kind: 'remove'; who: number }
  | { kind: 'tick'; ms: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('add' as const),
      who: fc.nat(),
      subnet: fc.nat(3),
      host: fc.nat(3),
      port: fc.integer({ min: 1, max: 3 }),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('fail' as const), who: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('seen' as const), who: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('remove' as const), who: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('tick' as const), ms: fc.nat(20 * 60_000) }) },
);

describe('routing table properties', () => {
  it('keeps its invariants under any sequence of add / fail / seen / remove / time', () => {
    fc.assert(
      fc.property(idArb, pool, fc.array(op, { maxLength: 120 }), idArb, (self, ids, ops, target) => {
        const clock = new ManualClock();
        const table = new RoutingTable(
          self,
          { k: K, maxPerSubnet: MAX_PER_SUBNET, replacementCacheSize: 3 },
          { clock },
        );
        const candidates = [self, ...ids]; // self among them: the table must refuse it
        for (const o of ops) {
          if (o.kind === 'tick') {
            clock.advance(o.ms);
            continue;
          }
          const id = candidates[o.who % candidates.length] ?? self;
          if (o.kind === 'add') table.add({ id, host: `40.0.${o.subnet}.${o.host + 1}`, port: o.port });
          else if (o.kind === 'fail') table.markFailed(id);
          else if (o.kind === 'seen') table.markSeen(id);
          else table.remove(id);
        }
        const all = [...table.contacts()];
        assert.equal(all.length, table.size);
        assert.ok(!all.some((c) => bytesEqual(c.id, self)), 'never holds self');
        assert.equal(new Set(all.map((c) => idToHex(c.id))).size, all.length, 'no duplicate ids');
        for (let i = 0; i < 160; i++) {
          const bucket = table.bucket(i);
          assert.ok(bucket.length <= K, `bucket ${i} holds ${bucket.length} > k`);
          for (const c of bucket) assert.equal(bucketIndex(self, c.id), i, 'contact in its own bucket');
          const perSubnet = new Map<string, number>();
          for (const c of bucket) {
            const subnet = c.host.split('.').slice(0, 3).join('.');
            perSubnet.set(subnet, (perSubnet.get(subnet) ?? 0) + 1);
          }
          for (const n of perSubnet.values()) assert.ok(n <= MAX_PER_SUBNET, 'diversity limit');
          const endpoints = new Set(bucket.map((c) => `${c.host}:${c.port}`));
          assert.equal(endpoints.size, bucket.length, 'one id per address in a bucket');
        }
        for (const n of [1, 3, K, 100]) {
          const expected = all
            .filter((c) => table.state(c) !== 'bad')
            .sort((a, b) => compareDistance(target, a.id, b.id))
            .slice(0, n)
            .map((c) => idToHex(c.id));
          assert.deepEqual(
            table.closest(target, n).map((c) => idToHex(c.id)),
            expected,
            'closest = brute force',
          );
          const withBad = [...all]
            .sort((a, b) => compareDistance(target, a.id, b.id))
            .slice(0, n)
            .map((c) => idToHex(c.id));
          assert.deepEqual(
            table.closest(target, n, { includeBad: true }).map((c) => idToHex(c.id)),
            withBad,
          );
        }
      }),
      { numRuns: 300 },
    );
  });

  it('finds the brute-force closest contacts in a large table, for targets near and far', () => {
    fc.assert(
      fc.property(
        idArb,
        fc.array(idArb, { minLength: 50, maxLength: 300 }),
        fc.array(idArb, { minLength: 1, maxLength: 5 }),
        (self, ids, targets) => {
          const table = new RoutingTable(self, { k: 8, maxPerSubnet: 8 });
          ids.forEach((id, i) => table.add({ id, host: `50.${i >> 8}.${i & 255}.1`, port: 1 }));
          const all = [...table.contacts()];
          for (const target of [...targets, self, all[0]?.id ?? self]) {
            const expected = [...all]
              .sort((a, b) => compareDistance(target, a.id, b.id))
              .slice(0, 8)
              .map((c) => idToHex(c.id));
            assert.deepEqual(
              table.closest(target, 8).map((c) => idToHex(c.id)),
              expected,
            );
          }
        },
      ),
      { numRuns: 100 },
    );
  });
});
