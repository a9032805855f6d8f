import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { RecordRemovedEvent, RecordSetEvent } from '../../registry/events.js';
import { RegistryError } from '../../registry/errors.js';
import type { Registry } from '../../registry/registry.js';
import { capacityCases } from './conformance-capacity.js';
import { bytes, collect, type ConformanceLimits, rejectsWith, type SuiteContext, text } from './conformance-helpers.js';
import { restoreCases } from './conformance-restore.js';
import { ttlCases } from './conformance-ttl.js';
import { validationOrderCases } from './conformance-validation.js';
import { versionLimitCases } from './conformance-versions.js';
import { watchCases, type WatchConformance } from './conformance-watch.js';
import { ManualClock } from '../manual-clock.js';

export type { ConformanceLimits } from './conformance-helpers.js';
export type { WatchConformance } from './conformance-watch.js';

/** How to run {@link registryConformanceSuite} against one backend. */
export interface ConformanceOptions {
  /**
   * Creates a fresh, empty registry for one test. It must take time from `clock` (a
   * `ManualClock` starting at the real current time), and honour `limits` when given.
   */
  create(context: { readonly clock: ManualClock; readonly limits: ConformanceLimits }): Promise<Registry> | Registry;
  /**
   * Whether the backend enforces `maxEntries` / `maxBytes` / `maxValueBytes` with least-recently-used
   * eviction. Backends that don't get no capacity tests.
   * @default true
   */
  readonly capacity?: boolean;
  /**
   * Whether the backend implements the optional {@link Registry.restore}. Backends that don't
   * get no restore tests, nor those of the version limit (reaching it takes `restore`).
   * @default true
   */
  readonly restore?: boolean;
  /**
   * For backends with the optional {@link Registry.watch}: how to compact their change history.
   * Given, the suite runs the watch cases (order, resume, compaction, prefixes, slow consumers,
   * abort, close); omitted, it runs none.
   */
  readonly watch?: WatchConformance;
}

/**
 * The one behavioural contract of a Nautilus {@link Registry}, as `node:test` suites. Every
 * backend runs it: CRUD, versions and compare-and-set, batches, scans, TTL edges on an injected
 * clock, capacity and eviction reasons, events, validation, closed registries and abort signals.
 *
 * @example
 * registryConformanceSuite('MemoryRegistry', {
 *   create: ({ clock, limits }) => new MemoryRegistry(limits, { clock }),
 * });
 */
export function registryConformanceSuite(name: string, options: ConformanceOptions): void {
  describe(`${name} (registry conformance)`, () => {
    let clock: ManualClock;
    let registry: Registry;
    let open: Registry[] = [];
    let removed: RecordRemovedEvent[];
    let sets: RecordSetEvent[];

    const make = async (limits: ConformanceLimits = {}): Promise<Registry> => {
      const created = await options.create({ clock, limits });
      open.push(created);
      removed = [];
      sets = [];
      created.on('record:removed', (e) => removed.push(e));
      created.on('record:set', (e) => sets.push(e));
      return created;
    };

    const context: SuiteContext = {
      get clock() {
        return clock;
      },
      get registry() {
        return registry;
      },
      get removed() {
        return removed;
      },
      get sets() {
        return sets;
      },
      make,
    };

    beforeEach(async () => {
      clock = new ManualClock(Date.now());
      open = [];
      registry = await make();
    });

    afterEach(async () => {
      for (const r of open) await r.close();
    });

    describe('reads and writes', () => {
      it('returns undefined for a key never written', async () => {
        assert.equal(await registry.get('missing'), undefined);
        assert.equal(await registry.has('missing'), false);
      });

      it('stores a value and reads it back with version 1 and timestamps from the clock', async () => {
        const written = await registry.set('a', bytes('alpha'));
        const read = await registry.get('a');
        assert.ok(read);
        assert.equal(text(read.value), 'alpha');
        assert.equal(read.key, 'a');
        assert.equal(read.version, 1);
        assert.equal(read.expiresAt, undefined);
        assert.equal(read.createdAt, clock.now());
        assert.equal(read.updatedAt, clock.now());
        assert.deepEqual({ ...written, value: text(written.value) }, { ...read, value: text(read.value) });
      });

      it('increments the version on every overwrite and keeps createdAt', async () => {
        const first = await registry.set('a', bytes('1'));
        clock.advance(10);
        await registry.set('a', bytes('2'));
        clock.advance(10);
        const third = await registry.set('a', bytes('3'));
        assert.equal(third.version, 3);
        assert.equal(third.createdAt, first.createdAt);
        assert.equal(third.updatedAt, first.createdAt + 20);
        assert.equal(text((await registry.get('a'))?.value), '3');
      });

      it('deletes a record and tells whether one existed', async () => {
        await registry.set('a', bytes('1'));
        assert.equal(await registry.delete('a'), true);
        assert.equal(await registry.delete('a'), false);
        assert.equal(await registry.get('a'), undefined);
        assert.equal(await registry.has('a'), false);
      });

      it('starts a re-created key again at version 1', async () => {
        await registry.set('a', bytes('1'));
        await registry.set('a', bytes('2'));
        await registry.delete('a');
        assert.equal((await registry.set('a', bytes('3'))).version, 1);
      });

      it('stores binary values byte for byte, including the empty value', async () => {
        const all = Uint8Array.from({ length: 256 }, (_, i) => i);
        await registry.set('bin', all);
        await registry.set('empty', new Uint8Array(0));
        assert.deepEqual(Array.from((await registry.get('bin'))?.value ?? []), Array.from(all));
        assert.equal((await registry.get('empty'))?.value.byteLength, 0);
      });

      it('keeps keys that differ only in unicode or separators apart', async () => {
        const keys = ['k', 'K', 'k ', 'k:1', 'k/1', 'ключ', '鍵', 'k\u0000', '🔑'];
        for (const [i, key] of keys.entries()) await registry.set(key, bytes(String(i)));
        for (const [i, key] of keys.entries()) assert.equal(text((await registry.get(key))?.value), String(i));
        assert.equal(await registry.size(), keys.length);
      });

      it('counts live records with size and empties with clear', async () => {
        assert.equal(await registry.size(), 0);
        await registry.setMany([1, 2, 3].map((i) => ({ key: `k${i}`, value: bytes('v') })));
        assert.equal(await registry.size(), 3);
        await registry.clear();
        assert.equal(await registry.size(), 0);
        assert.equal(await registry.get('k1'), undefined);
      });
    });

    describe('versions and compare-and-set', () => {
      it('writes when ifVersion matches the stored version', async () => {
        await registry.set('a', bytes('1'));
        const next = await registry.set('a', bytes('2'), { ifVersion: 1 });
        assert.equal(next.version, 2);
        assert.equal(text((await registry.get('a'))?.value), '2');
      });

      it('rejects VERSION_CONFLICT and changes nothing when ifVersion does not match', async () => {
        await registry.set('a', bytes('1'));
        await assert.rejects(registry.set('a', bytes('2'), { ifVersion: 7 }), (error: unknown) => {
          assert.ok(error instanceof RegistryError);
          assert.equal(error.code, 'VERSION_CONFLICT');
          assert.equal(error.key, 'a');
          assert.equal(error.expectedVersion, 7);
          assert.equal(error.actualVersion, 1);
          return true;
        });
        const read = await registry.get('a');
        assert.equal(text(read?.value), '1');
        assert.equal(read?.version, 1);
      });

      it('creates only when absent with ifVersion 0', async () => {
        assert.equal((await registry.set('a', bytes('1'), { ifVersion: 0 })).version, 1);
        await rejectsWith(registry.set('a', bytes('2'), { ifVersion: 0 }), 'VERSION_CONFLICT');
        assert.equal(text((await registry.get('a'))?.value), '1');
      });

      it('deletes with ifVersion only when the version matches', async () => {
        await registry.set('a', bytes('1'));
        await rejectsWith(registry.delete('a', { ifVersion: 2 }), 'VERSION_CONFLICT');
        assert.equal(await registry.has('a'), true);
        assert.equal(await registry.delete('a', { ifVersion: 1 }), true);
        assert.equal(await registry.has('a'), false);
      });

      it('rejects an ifVersion that is not a non-negative integer with INVALID_OPTION', async () => {
        await registry.set('a', bytes('1'));
        for (const bad of [-1, 1.5, Number.NaN, '1'] as unknown as number[]) {
          await rejectsWith(registry.set('a', bytes('2'), { ifVersion: bad }), 'INVALID_OPTION');
        }
        assert.equal((await registry.get('a'))?.version, 1);
      });
    });

    describe('batches', () => {
      it('getMany returns records in request order with undefined for misses', async () => {
        await registry.set('a', bytes('A'));
        await registry.set('c', bytes('C'));
        const got = await registry.getMany(['c', 'b', 'a', 'c']);
        assert.deepEqual(
          got.map((r) => text(r?.value)),
          ['C', undefined, 'A', 'C'],
        );
        assert.deepEqual(await registry.getMany([]), []);
      });

      it('setMany writes every entry with its own TTL and returns the records', async () => {
        const records = await registry.setMany([
          { key: 'a', value: bytes('A') },
          { key: 'b', value: bytes('B'), ttlMs: 1000 },
        ]);
        assert.deepEqual(
          records.map((r) => [r.key, r.version, r.expiresAt]),
          [
            ['a', 1, undefined],
            ['b', 1, clock.now() + 1000],
          ],
        );
        assert.deepEqual(await registry.setMany([]), []);
        assert.equal(text((await registry.get('b'))?.value), 'B');
      });

      it('setMany writes nothing when one entry is invalid', async () => {
        await registry.set('a', bytes('old'));
        await rejectsWith(
          registry.setMany([
            { key: 'a', value: bytes('new') },
            { key: '', value: bytes('x') },
          ]),
          'INVALID_KEY',
        );
        await rejectsWith(
          registry.setMany([
            { key: 'a', value: bytes('new') },
            { key: 'b', value: bytes('x'), ttlMs: -5 },
          ]),
          'INVALID_TTL',
        );
        assert.equal(text((await registry.get('a'))?.value), 'old');
        assert.equal(await registry.has('b'), false);
      });

      it('deleteMany removes existing keys and counts only those', async () => {
        await registry.setMany(['a', 'b', 'c'].map((key) => ({ key, value: bytes(key) })));
        assert.equal(await registry.deleteMany(['a', 'x', 'c']), 2);
        assert.equal(await registry.deleteMany([]), 0);
        assert.deepEqual(
          (await registry.getMany(['a', 'b', 'c'])).map((r) => r?.key),
          [undefined, 'b', undefined],
        );
      });

      it('rejects a batch containing an invalid key before doing anything', async () => {
        await registry.set('a', bytes('A'));
        await rejectsWith(registry.getMany(['a', 42 as unknown as string]), 'INVALID_KEY');
        await rejectsWith(registry.deleteMany(['a', '']), 'INVALID_KEY');
        assert.equal(await registry.has('a'), true);
      });
    });

    describe('scan', () => {
      it('yields every record under a prefix exactly once', async () => {
        const keys = Array.from({ length: 300 }, (_, i) => `user:${i}`);
        await registry.setMany(keys.map((key) => ({ key, value: bytes(key) })));
        await registry.setMany([
          { key: 'other:1', value: bytes('x') },
          { key: 'use', value: bytes('y') },
        ]);
        const seen = (await collect(registry.scan({ prefix: 'user:' }))).map((r) => r.key);
        assert.deepEqual([...seen].sort(), [...keys].sort());
        for (const r of await collect(registry.scan({ prefix: 'user:1' }))) assert.ok(r.key.startsWith('user:1'));
      });

      it('yields all records without a prefix and nothing from an empty registry', async () => {
        assert.deepEqual(await collect(registry.scan()), []);
        await registry.setMany(['a', 'b'].map((key) => ({ key, value: bytes(key) })));
        assert.deepEqual((await collect(registry.scan())).map((r) => r.key).sort(), ['a', 'b']);
      });

      it('yields full records with values and versions', async () => {
        await registry.set('p:a', bytes('1'));
        await registry.set('p:a', bytes('2'));
        const [record] = await collect(registry.scan({ prefix: 'p:' }));
        assert.equal(record?.version, 2);
        assert.equal(text(record?.value), '2');
      });

      it('stops cleanly when the consumer breaks out early', async () => {
        await registry.setMany(Array.from({ length: 50 }, (_, i) => ({ key: `s${i}`, value: bytes('v') })));
        let count = 0;
        for await (const _ of registry.scan({ prefix: 's' })) if (++count === 3) break;
        assert.equal(count, 3);
        assert.equal(await registry.size(), 50);
      });
    });

    ttlCases(context);

    describe('input validation', () => {
      it('rejects invalid keys with INVALID_KEY and leaves the registry unchanged', async () => {
        await registry.set('a', bytes('1'));
        const badKeys = ['', 'x'.repeat(100_000), 'lone\uD800surrogate', 7, null, undefined] as unknown as string[];
        for (const bad of badKeys) {
          await rejectsWith(registry.set(bad, bytes('v')), 'INVALID_KEY');
          await rejectsWith(registry.get(bad), 'INVALID_KEY');
          await rejectsWith(registry.delete(bad), 'INVALID_KEY');
        }
        assert.equal(await registry.size(), 1);
        assert.equal(text((await registry.get('a'))?.value), '1');
      });

      it('rejects values that are not bytes with INVALID_VALUE', async () => {
        for (const bad of ['text', 12, null, undefined, [1, 2], { length: 1 }] as unknown as Uint8Array[]) {
          await rejectsWith(registry.set('a', bad), 'INVALID_VALUE');
        }
        assert.equal(await registry.has('a'), false);
      });
    });

    validationOrderCases(context, options.restore !== false);

    describe('events', () => {
      it('reports each write with record:set and its version', async () => {
        await registry.set('a', bytes('1'));
        await registry.set('a', bytes('2'), { ttlMs: 50 });
        assert.deepEqual(sets, [
          { key: 'a', version: 1, expiresAt: undefined },
          { key: 'a', version: 2, expiresAt: clock.now() + 50 },
        ]);
      });

      it('reports a delete once and a delete of nothing not at all', async () => {
        await registry.set('a', bytes('1'));
        await registry.delete('a');
        await registry.delete('a');
        await registry.deleteMany(['a', 'b']);
        assert.deepEqual(removed, [{ key: 'a', reason: 'delete', version: 1 }]);
      });

      it('reports every record removed by clear with reason clear', async () => {
        await registry.setMany(['a', 'b'].map((key) => ({ key, value: bytes(key) })));
        await registry.clear();
        assert.deepEqual(removed.map((e) => [e.key, e.reason]).sort(), [
          ['a', 'clear'],
          ['b', 'clear'],
        ]);
      });

      it('stops calling a listener once it is removed with off', async () => {
        const seen: string[] = [];
        const listener = (e: RecordSetEvent): void => void seen.push(e.key);
        registry.on('record:set', listener);
        await registry.set('a', bytes('1'));
        registry.off('record:set', listener);
        await registry.set('b', bytes('1'));
        assert.deepEqual(seen, ['a']);
      });
    });

    if (options.capacity !== false) capacityCases(context);
    if (options.restore !== false) {
      restoreCases(context);
      versionLimitCases(context);
    }

    if (options.watch !== undefined) watchCases(context, options.watch);

    describe('closed registry', () => {
      it('rejects every operation with CLOSED after close, and closing again resolves', async () => {
        await registry.set('a', bytes('1'));
        await registry.close();
        await registry.close();
        await rejectsWith(registry.get('a'), 'CLOSED');
        await rejectsWith(registry.has('a'), 'CLOSED');
        await rejectsWith(registry.set('a', bytes('2')), 'CLOSED');
        await rejectsWith(registry.delete('a'), 'CLOSED');
        await rejectsWith(registry.touch('a', 10), 'CLOSED');
        await rejectsWith(registry.getMany(['a']), 'CLOSED');
        await rejectsWith(registry.setMany([{ key: 'a', value: bytes('2') }]), 'CLOSED');
        await rejectsWith(registry.deleteMany(['a']), 'CLOSED');
        await rejectsWith(collect(registry.scan()), 'CLOSED');
        await rejectsWith(registry.size(), 'CLOSED');
        await rejectsWith(registry.clear(), 'CLOSED');
      });
    });

    describe('abort signals', () => {
      it('rejects with the signal reason and changes nothing when already aborted', async () => {
        await registry.set('a', bytes('1'));
        const reason = new Error('stop');
        const signal = AbortSignal.abort(reason);
        const calls: Promise<unknown>[] = [
          registry.get('a', { signal }),
          registry.has('a', { signal }),
          registry.set('a', bytes('2'), { signal }),
          registry.delete('a', { signal }),
          registry.touch('a', 10, { signal }),
          registry.getMany(['a'], { signal }),
          registry.setMany([{ key: 'b', value: bytes('2') }], { signal }),
          registry.deleteMany(['a'], { signal }),
          collect(registry.scan({ signal })),
          registry.size({ signal }),
          registry.clear({ signal }),
        ];
        for (const call of calls) await assert.rejects(call, (e: unknown) => e === reason);
        const read = await registry.get('a');
        assert.equal(text(read?.value), '1');
        assert.equal(read?.expiresAt, undefined);
        assert.equal(await registry.has('b'), false);
      });

      it('stops a scan when its signal aborts midway', async () => {
        await registry.setMany(Array.from({ length: 20 }, (_, i) => ({ key: `s${i}`, value: bytes('v') })));
        const controller = new AbortController();
        let seen = 0;
        await assert.rejects(
          (async () => {
            for await (const _ of registry.scan({ signal: controller.signal })) {
              if (++seen === 5) controller.abort(new Error('enough'));
            }
          })(),
          /enough/,
        );
        assert.equal(seen, 5);
      });
    });
  });
}
