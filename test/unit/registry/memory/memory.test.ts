import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryRegistry, type RecordRemovedEvent, RegistryError } from '../../../../src/registry/index.js';
import type { Clock } from '../../../../src/core/clock.js';
import { ManualClock } from '../../../../src/testing/index.js';

const v = (n = 4): Uint8Array => new Uint8Array(n);

function isCode(code: string) {
  return (error: unknown): boolean => error instanceof RegistryError && error.code === code;
}

describe('MemoryRegistry', () => {
  describe('options', () => {
    it('names the option in the error when one is out of range', () => {
      assert.throws(
        () => new MemoryRegistry({ maxEntries: 0 }),
        /maxEntries must be an integer in \[1, \d+\] \(got 0\)/,
      );
      assert.throws(() => new MemoryRegistry({ maxBytes: -1 }), /maxBytes must be an integer >= 1 or Infinity/);
      assert.throws(() => new MemoryRegistry({ sweepIntervalMs: 1.5 }), /sweepIntervalMs/);
      assert.throws(() => new MemoryRegistry({ maxValueBytes: Number.NaN }), isCode('INVALID_OPTION'));
    });

    it('rejects an unknown option so a typo does not pass silently', () => {
      assert.throws(
        () => new MemoryRegistry({ maxEntrys: 5 } as unknown as ConstructorParameters<typeof MemoryRegistry>[0]),
        /unknown MemoryRegistry option "maxEntrys"/,
      );
    });

    it('exposes the effective options with defaults filled in', () => {
      const registry = new MemoryRegistry({ maxEntries: 10 });
      assert.equal(registry.options.maxEntries, 10);
      assert.equal(registry.options.maxValueBytes, 1024 * 1024);
    });
  });

  describe('keys', () => {
    it('measures maxKeyBytes in UTF-8 bytes', async () => {
      const registry = new MemoryRegistry({ maxKeyBytes: 6 });
      await registry.set('éé', v()); // 4 bytes
      await registry.set('€€', v()); // 6 bytes
      await assert.rejects(registry.set('€€€', v()), isCode('INVALID_KEY')); // 9 bytes, 3 units
      await assert.rejects(registry.set('abcdefg', v()), isCode('INVALID_KEY'));
    });
  });

  describe('stats', () => {
    it('counts hits, misses, sets, deletes, evictions, expirations, entries and bytes', async () => {
      const clock = new ManualClock();
      const registry = new MemoryRegistry({ maxEntries: 2 }, { clock });
      await registry.set('a', v(10), { ttlMs: 5 });
      await registry.set('b', v(10));
      await registry.get('b');
      await registry.get('zz');
      await registry.set('c', v(10)); // evicts a
      await registry.set('d', v(1), { ttlMs: 5 }); // evicts b
      await registry.delete('c');
      clock.advance(5);
      await registry.get('d'); // expired
      assert.deepEqual(registry.stats(), {
        hits: 1,
        misses: 2,
        sets: 4,
        deletes: 1,
        evictions: 2,
        expirations: 1,
        entries: 0,
        bytes: 0,
      });
      await registry.set('k', v(3));
      assert.equal(registry.stats().bytes, 4);
    });
  });

  describe('expiry sweeper', () => {
    it('removes expired records in the background, at most sweepBatchSize per run', async () => {
      const clock = new ManualClock();
      const registry = new MemoryRegistry({ sweepIntervalMs: 100, sweepBatchSize: 3 }, { clock });
      const removed: RecordRemovedEvent[] = [];
      registry.on('record:removed', (e) => removed.push(e));
      for (let i = 0; i < 10; i++) await registry.set(`k${i}`, v(), { ttlMs: 50 });
      await registry.set('forever', v());
      clock.advance(100); // first run: 3 removed, the rest follow on immediate runs
      assert.equal(removed.length, 10);
      assert.ok(removed.every((e) => e.reason === 'expire'));
      assert.equal(registry.stats().entries, 1);
    });

    it('spreads a mass expiry over several bounded runs on successive turns', async () => {
      const clock = new ManualClock();
      const delays: number[] = [];
      const counting = recordingDelays(clock, delays);
      const registry = new MemoryRegistry({ sweepIntervalMs: 100, sweepBatchSize: 4 }, { clock: counting });
      let count = 0;
      registry.on('record:removed', () => count++);
      for (let i = 0; i < 10; i++) await registry.set(`k${i}`, v(), { ttlMs: 50 });
      assert.deepEqual(delays, [100]);
      clock.advance(100);
      // 4 + 4 + 2: each full run hands over to an immediate follow-up instead of running long
      assert.deepEqual(delays, [100, 0, 0]);
      assert.equal(count, 10);
      assert.equal(clock.pendingTimers, 0);
    });

    it('wakes at the earliest deadline, not every interval, and earlier for an earlier deadline', async () => {
      const clock = new ManualClock();
      const delays: number[] = [];
      const counting = recordingDelays(clock, delays);
      const registry = new MemoryRegistry({ sweepIntervalMs: 100 }, { clock: counting });
      const removed: string[] = [];
      registry.on('record:removed', (e) => removed.push(e.key));
      await registry.set('late', v(), { ttlMs: 10_000 });
      await registry.set('later', v(), { ttlMs: 20_000 });
      assert.deepEqual(delays, [10_000]);
      await registry.set('soon', v(), { ttlMs: 5_000 });
      assert.deepEqual(delays, [10_000, 5_000]);
      await registry.set('sooner', v(), { ttlMs: 50 });
      // never sooner than the interval
      assert.deepEqual(delays, [10_000, 5_000, 100]);
      clock.advance(100);
      assert.deepEqual(removed, ['sooner']);
      assert.deepEqual(delays, [10_000, 5_000, 100, 4_900]);
      clock.advance(20_000);
      assert.deepEqual(removed, ['sooner', 'soon', 'late', 'later']);
      assert.equal(clock.pendingTimers, 0);
    });

    it('stops scheduling once no record has a deadline, and close cancels it', async () => {
      const clock = new ManualClock();
      const registry = new MemoryRegistry({ sweepIntervalMs: 100 }, { clock });
      await registry.set('a', v());
      assert.equal(clock.pendingTimers, 0);
      await registry.set('t', v(), { ttlMs: 1000 });
      assert.equal(clock.pendingTimers, 1);
      clock.advance(1000);
      assert.equal(clock.pendingTimers, 0);
      await registry.set('t', v(), { ttlMs: 1000 });
      await registry.close();
      assert.equal(clock.pendingTimers, 0);
    });

    it('never returns a record at its deadline even before the sweeper ran', async () => {
      const clock = new ManualClock();
      const registry = new MemoryRegistry({ sweepIntervalMs: 60_000 }, { clock });
      await registry.set('t', v(), { ttlMs: 10 });
      clock.advance(10);
      assert.equal(await registry.get('t'), undefined);
    });
  });

  describe('listeners', () => {
    it('keeps the store consistent when a listener throws, and hands the error on', async () => {
      const errors: unknown[] = [];
      const registry = new MemoryRegistry({}, { onListenerError: (e) => errors.push(e) });
      const later: string[] = [];
      registry.on('record:set', () => {
        throw new Error('listener bug');
      });
      registry.on('record:set', (e) => later.push(e.key));
      const record = await registry.set('a', v());
      assert.equal(record.version, 1);
      assert.equal((await registry.get('a'))?.version, 1);
      assert.deepEqual(later, ['a']);
      assert.match(String(errors[0]), /listener bug/);
    });
  });

  describe('values', () => {
    it('accepts a zero maxValueBytes for key-only records', async () => {
      const registry = new MemoryRegistry({ maxValueBytes: 0 });
      await registry.set('flag', new Uint8Array(0));
      await assert.rejects(registry.set('flag', v(1)), isCode('VALUE_TOO_LARGE'));
    });
  });

  describe('growth', () => {
    it('evicts in LRU order and expires in deadline order after growing well past its first arrays', async () => {
      const clock = new ManualClock(0);
      const registry = new MemoryRegistry({ maxEntries: 1000, sweepIntervalMs: 10 }, { clock });
      const removed: RecordRemovedEvent[] = [];
      registry.on('record:removed', (e) => removed.push(e));
      // k0…k999, every tenth with a deadline, later keys expiring sooner
      for (let i = 0; i < 1000; i++) await registry.set(`k${i}`, v(), i % 10 === 0 ? { ttlMs: 5000 - i } : {});
      for (let i = 0; i < 5; i++) await registry.get(`k${i}`); // k0…k4 become the most recently used
      for (let i = 0; i < 3; i++) await registry.set(`new${i}`, v());
      assert.deepEqual(
        removed.map((e) => [e.key, e.reason]),
        [
          ['k5', 'evict'],
          ['k6', 'evict'],
          ['k7', 'evict'],
        ],
      );
      clock.advance(4020);
      await registry.size(); // sweeps what is due: k990 (deadline 4010) and k980 (4020), not k970
      assert.deepEqual(
        removed.slice(3).map((e) => [e.key, e.reason]),
        [
          ['k990', 'expire'],
          ['k980', 'expire'],
        ],
      );
      assert.equal((await registry.get('k0'))?.version, 1);
      assert.equal((await registry.get('k999'))?.version, 1);
      await registry.close();
    });
  });

  describe('restore', () => {
    const record = (key: string, bytes: number, version = 3) => ({
      key,
      value: v(bytes),
      version,
      createdAt: 1,
      updatedAt: 2,
      expiresAt: undefined,
    });

    it('evicts the least recently used record beyond maxEntries and maxBytes, like set', async () => {
      const registry = new MemoryRegistry({ maxEntries: 2, maxBytes: 20 });
      const removed: RecordRemovedEvent[] = [];
      registry.on('record:removed', (e) => removed.push(e));
      await registry.restore(record('a', 4));
      await registry.restore(record('b', 4));
      await registry.restore(record('c', 4));
      assert.deepEqual(removed, [{ key: 'a', reason: 'evict', version: 3 }]);
      await registry.restore(record('d', 15));
      assert.deepEqual(
        removed.slice(1).map((e) => [e.key, e.reason]),
        [
          ['b', 'evict'],
          ['c', 'evict'],
        ],
      );
      await assert.rejects(registry.restore(record('e', 20)), isCode('CAPACITY_EXCEEDED'));
      assert.deepEqual([registry.stats().entries, registry.stats().bytes], [1, 16]);
    });

    it('accounts the bytes of a record it replaces', async () => {
      const registry = new MemoryRegistry();
      await registry.restore(record('a', 10));
      await registry.restore(record('a', 3, 4));
      assert.deepEqual([registry.stats().entries, registry.stats().bytes, registry.stats().sets], [1, 4, 2]);
    });

    it('schedules the sweeper for a restored deadline', async () => {
      const clock = new ManualClock(1000);
      const registry = new MemoryRegistry({ sweepIntervalMs: 10 }, { clock });
      const removed: RecordRemovedEvent[] = [];
      registry.on('record:removed', (e) => removed.push(e));
      await registry.restore({ ...record('a', 1), expiresAt: 1005 });
      await clock.advanceAsync(10);
      assert.deepEqual(removed, [{ key: 'a', reason: 'expire', version: 3 }]);
      await registry.close();
    });
  });

  describe('versions', () => {
    it('refuses a batch that would take a repeated key past Number.MAX_SAFE_INTEGER, writing none of it', async () => {
      const registry = new MemoryRegistry();
      const now = Date.now();
      await registry.restore({
        key: 'v',
        value: v(),
        version: Number.MAX_SAFE_INTEGER - 1,
        createdAt: now,
        updatedAt: now,
        expiresAt: undefined,
      });
      await assert.rejects(
        registry.setMany([
          { key: 'other', value: v() },
          { key: 'v', value: v(1) },
          { key: 'v', value: v(2) },
        ]),
        isCode('VERSION_EXHAUSTED'),
      );
      assert.equal(await registry.has('other'), false);
      assert.equal((await registry.get('v'))?.version, Number.MAX_SAFE_INTEGER - 1);
      const [last] = await registry.setMany([{ key: 'v', value: v(1) }]);
      assert.equal(last?.version, Number.MAX_SAFE_INTEGER);
      await registry.close();
    });
  });
});

/** A clock over `clock` that records the delay of every timer set on it in `delays`. */
function recordingDelays(clock: ManualClock, delays: number[]): Clock {
  return {
    now: () => clock.now(),
    setTimeout: (callback: () => void, delayMs: number) => {
      delays.push(delayMs);
      return clock.setTimeout(callback, delayMs);
    },
  };
}
