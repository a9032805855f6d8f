import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { PackedContacts } from '../../../../src/kad/routing/packed-contacts.js';

interface Model {
  id: number;
  ip: number[];
  port: number;
  exempt: boolean;
  lastSeen: number;
  failures: number;
}

type Op =
  | { kind: 'insert'; list: number; at: number; id: number; port: number; lastSeen: number }
  | { kind: 'remove'; list: number; at: number }
  | { kind: 'toEnd'; list: number; at: number }
  | { kind: 'fail'; list: number; at: number };

/** Capacities of the lists sharing one byte array: two buckets of k = 8, each with a cache of 4, made in this order. */
const CAPACITIES = [8, 4, 8, 4];
const list = fc.integer({ min: 0, max: CAPACITIES.length - 1 });

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    kind: fc.constant('insert' as const),
    list,
    at: fc.nat(),
    id: fc.integer({ min: 0, max: 255 }),
    port: fc.integer({ min: 1, max: 65535 }),
    lastSeen: fc.double({ min: 0, max: 2e12, noNaN: true }),
  }),
  fc.record({ kind: fc.constant('remove' as const), list, at: fc.nat() }),
  fc.record({ kind: fc.constant('toEnd' as const), list, at: fc.nat() }),
  fc.record({ kind: fc.constant('fail' as const), list, at: fc.nat() }),
);

const idOf = (n: number): Uint8Array => new Uint8Array(20).fill(n);

describe('PackedContacts', () => {
  it('holds what lists of contacts would, for the buckets and replacement caches of a table sharing one byte array', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 120 }), (ops) => {
        const first = new PackedContacts(4, CAPACITIES[0] as number);
        const lists = [first, ...CAPACITIES.slice(1).map((capacity) => new PackedContacts(4, capacity, first))];
        const models: Model[][] = lists.map(() => []);
        for (const o of ops) {
          const list = lists[o.list] as PackedContacts;
          const model = models[o.list] as Model[];
          if (o.kind === 'insert') {
            if (model.length >= (CAPACITIES[o.list] as number)) continue;
            const at = o.at % (model.length + 1);
            const ip = [10, o.id, 0, 1];
            list.insert(at, idOf(o.id), Uint8Array.from(ip), o.port, o.id % 2 === 0, o.lastSeen);
            model.splice(at, 0, {
              id: o.id,
              ip,
              port: o.port,
              exempt: o.id % 2 === 0,
              lastSeen: o.lastSeen,
              failures: 0,
            });
            continue;
          }
          if (model.length === 0) continue;
          const at = o.at % model.length;
          if (o.kind === 'remove') {
            list.removeAt(at);
            model.splice(at, 1);
          } else if (o.kind === 'toEnd') {
            list.moveToEnd(at);
            model.push(...model.splice(at, 1));
          } else {
            list.setFailures(at, list.failures(at) + 1);
            (model[at] as Model).failures++;
          }
        }
        for (const [n, list] of lists.entries()) {
          const model = models[n] as Model[];
          assert.equal(list.bytes, first.bytes);
          assert.equal(list.length, model.length);
          model.forEach((m, i) => {
            assert.deepEqual(list.contact(i), {
              id: idOf(m.id),
              host: m.ip.join('.'),
              port: m.port,
              lastSeen: m.lastSeen,
              failures: m.failures,
            });
            assert.equal(list.exempt(i), m.exempt);
            assert.equal(
              list.indexOfId(idOf(m.id)),
              model.findIndex((x) => x.id === m.id),
            );
          });
        }
      }),
    );
  });

  it('copies a slot from its replacement cache into the bucket intact', () => {
    const bucket = new PackedContacts(16, 2);
    const cache = new PackedContacts(16, 2, bucket);
    const ip = Uint8Array.from({ length: 16 }, (_, i) => 0x20 + i);
    cache.insert(0, idOf(7), ip, 6881, false, 5);
    bucket.insert(0, idOf(1), new Uint8Array(16).fill(1), 1, false, 1);
    bucket.insertFrom(1, cache, 0, 9);
    cache.removeAt(0);
    assert.equal(cache.length, 0);
    assert.deepEqual(bucket.contact(1).id, idOf(7));
    assert.deepEqual(bucket.ip(1), ip);
    assert.equal(bucket.port(1), 6881);
    assert.equal(bucket.lastSeen(1), 9);
  });
});
