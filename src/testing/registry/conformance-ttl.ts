import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bytes, collect, rejectsWith, type SuiteContext, text } from './conformance-helpers.js';

/** Time-to-live cases of the conformance suite, on the injected manual clock. */
export function ttlCases(ctx: SuiteContext): void {
  describe('time to live', () => {
    it('serves a record until just before its deadline and never at or after it', async () => {
      const record = await ctx.registry.set('t', bytes('v'), { ttlMs: 1000 });
      assert.equal(record.expiresAt, ctx.clock.now() + 1000);
      ctx.clock.advance(999);
      assert.equal(text((await ctx.registry.get('t'))?.value), 'v');
      assert.equal(await ctx.registry.has('t'), true);
      ctx.clock.advance(1);
      assert.equal(await ctx.registry.get('t'), undefined);
      assert.equal(await ctx.registry.has('t'), false);
      assert.deepEqual(await ctx.registry.getMany(['t']), [undefined]);
      assert.deepEqual(await collect(ctx.registry.scan()), []);
      assert.equal(await ctx.registry.size(), 0);
    });

    it('fires exactly one expire event per expired record', async () => {
      await ctx.registry.set('t1', bytes('v'), { ttlMs: 10 });
      await ctx.registry.set('t2', bytes('v'), { ttlMs: 10 });
      ctx.clock.advance(20);
      await ctx.registry.get('t1');
      await ctx.registry.get('t1');
      await ctx.registry.size();
      await ctx.registry.has('t2');
      ctx.clock.advance(60_000);
      await ctx.registry.size();
      assert.deepEqual(ctx.removed.map((e) => [e.key, e.reason]).sort(), [
        ['t1', 'expire'],
        ['t2', 'expire'],
      ]);
    });

    it('drops the deadline when a record is overwritten without a TTL', async () => {
      await ctx.registry.set('t', bytes('1'), { ttlMs: 100 });
      await ctx.registry.set('t', bytes('2'));
      ctx.clock.advance(10_000);
      const read = await ctx.registry.get('t');
      assert.equal(text(read?.value), '2');
      assert.equal(read?.expiresAt, undefined);
    });

    it('renews a deadline with touch without changing value or version', async () => {
      await ctx.registry.set('t', bytes('v'), { ttlMs: 100 });
      ctx.clock.advance(90);
      assert.equal(await ctx.registry.touch('t', 100), true);
      ctx.clock.advance(90);
      const read = await ctx.registry.get('t');
      assert.equal(read?.version, 1);
      assert.equal(read?.expiresAt, ctx.clock.now() + 10);
      ctx.clock.advance(10);
      assert.equal(await ctx.registry.get('t'), undefined);
    });

    it('answers false to touch for missing and expired keys', async () => {
      assert.equal(await ctx.registry.touch('none', 100), false);
      await ctx.registry.set('t', bytes('v'), { ttlMs: 5 });
      ctx.clock.advance(5);
      assert.equal(await ctx.registry.touch('t', 100), false);
      assert.equal(await ctx.registry.get('t'), undefined);
    });

    it('treats an expired key as absent for compare-and-set and versions', async () => {
      await ctx.registry.set('t', bytes('1'), { ttlMs: 5 });
      await ctx.registry.set('t', bytes('2'), { ttlMs: 5 });
      ctx.clock.advance(5);
      await rejectsWith(ctx.registry.set('t', bytes('3'), { ifVersion: 2 }), 'VERSION_CONFLICT');
      const fresh = await ctx.registry.set('t', bytes('3'), { ifVersion: 0 });
      assert.equal(fresh.version, 1);
      assert.equal(fresh.createdAt, ctx.clock.now());
    });

    it('rejects TTLs that are not positive integers with INVALID_TTL and stores nothing', async () => {
      for (const bad of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, '10'] as unknown as number[]) {
        await rejectsWith(ctx.registry.set('t', bytes('v'), { ttlMs: bad }), 'INVALID_TTL');
      }
      await ctx.registry.set('kept', bytes('v'));
      await rejectsWith(ctx.registry.touch('kept', 0), 'INVALID_TTL');
      assert.equal(await ctx.registry.has('t'), false);
      assert.equal((await ctx.registry.get('kept'))?.expiresAt, undefined);
    });
  });
}
