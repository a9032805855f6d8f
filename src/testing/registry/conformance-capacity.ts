import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bytes, collect, rejectsWith, type SuiteContext } from './conformance-helpers.js';

/** Capacity cases of the conformance suite: LRU eviction by count and bytes, size limits. */
export function capacityCases(ctx: SuiteContext): void {
  describe('capacity', () => {
    it('evicts the least recently used record beyond maxEntries, with reason evict', async () => {
      const small = await ctx.make({ maxEntries: 3 });
      await small.set('a', bytes('1'));
      await small.set('b', bytes('1'));
      await small.set('c', bytes('1'));
      await small.get('a'); // a is now more recent than b
      await small.set('d', bytes('1'));
      assert.equal(await small.has('b'), false);
      assert.deepEqual(
        (await small.getMany(['a', 'c', 'd'])).map((r) => r?.key),
        ['a', 'c', 'd'],
      );
      assert.deepEqual(ctx.removed, [{ key: 'b', reason: 'evict', version: 1 }]);
      assert.equal(await small.size(), 3);
    });

    it('never holds more than maxBytes of keys and values', async () => {
      const small = await ctx.make({ maxBytes: 100 });
      for (let i = 0; i < 20; i++) await small.set(`k${i}`, new Uint8Array(20)); // 22-23 bytes each
      let total = 0;
      for await (const r of small.scan()) total += r.key.length + r.value.byteLength;
      assert.ok(total <= 100, `holds ${total} bytes`);
      assert.equal(await small.size(), 4);
      assert.ok(ctx.removed.every((e) => e.reason === 'evict'));
      assert.equal(ctx.removed.length, 16);
    });

    it('rejects a value over maxValueBytes with VALUE_TOO_LARGE and keeps the old one', async () => {
      const small = await ctx.make({ maxValueBytes: 8 });
      await small.set('a', new Uint8Array(8));
      await rejectsWith(small.set('a', new Uint8Array(9)), 'VALUE_TOO_LARGE');
      assert.equal((await small.get('a'))?.value.byteLength, 8);
    });

    it('rejects a record that can never fit maxBytes with CAPACITY_EXCEEDED and evicts nothing', async () => {
      const small = await ctx.make({ maxBytes: 50 });
      await small.set('a', new Uint8Array(10));
      await rejectsWith(small.set('big', new Uint8Array(60)), 'CAPACITY_EXCEEDED');
      assert.equal(await small.has('a'), true);
      assert.deepEqual(ctx.removed, []);
    });

    it('rejects a batch larger than the whole capacity with CAPACITY_EXCEEDED and writes nothing', async () => {
      const small = await ctx.make({ maxEntries: 2 });
      await small.set('a', bytes('1'));
      await rejectsWith(small.setMany(['x', 'y', 'z'].map((key) => ({ key, value: bytes(key) }))), 'CAPACITY_EXCEEDED');
      assert.deepEqual(
        (await collect(small.scan())).map((r) => r.key),
        ['a'],
      );
    });

    it('reports an expired record pushed out by capacity as expired, not evicted', async () => {
      const small = await ctx.make({ maxEntries: 2 });
      await small.set('old', bytes('1'), { ttlMs: 10 });
      await small.set('live', bytes('1'));
      ctx.clock.advance(10);
      await small.set('new', bytes('1'));
      assert.deepEqual(ctx.removed, [{ key: 'old', reason: 'expire', version: 1 }]);
      assert.equal(await small.has('live'), true);
    });
  });
}
