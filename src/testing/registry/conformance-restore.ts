import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Registry, RegistryRecord } from '../../registry/registry.js';
import { bytes, rejectsWith, type SuiteContext, text } from './conformance-helpers.js';

/** Cases of the optional `restore` of the conformance suite: verbatim copies of records. */
export function restoreCases(ctx: SuiteContext): void {
  describe('restore', () => {
    const restore = (r: Registry): NonNullable<Registry['restore']> => {
      assert.equal(typeof r.restore, 'function', 'the registry has no restore(): pass { restore: false }');
      return (r.restore as NonNullable<Registry['restore']>).bind(r);
    };
    const copy = (overrides: Partial<RegistryRecord> = {}): RegistryRecord => ({
      key: 'r',
      value: bytes('copied'),
      version: 7,
      createdAt: ctx.clock.now() - 1000,
      updatedAt: ctx.clock.now() - 500,
      expiresAt: ctx.clock.now() + 10_000,
      ...overrides,
    });

    it('writes a record verbatim, keeping version and times, and reports it with record:set', async () => {
      const record = copy();
      assert.equal(await restore(ctx.registry)(record), 'written');
      const read = await ctx.registry.get('r');
      assert.ok(read);
      assert.deepEqual({ ...read, value: text(read.value) }, { ...record, value: 'copied' });
      assert.deepEqual(ctx.sets, [{ key: 'r', version: 7, expiresAt: record.expiresAt }]);
      assert.deepEqual(ctx.removed, []);
    });

    it('continues the restored version on the next write and honours compare-and-set with it', async () => {
      const record = copy({ expiresAt: undefined });
      await restore(ctx.registry)(record);
      await rejectsWith(ctx.registry.set('r', bytes('x'), { ifVersion: 1 }), 'VERSION_CONFLICT');
      const next = await ctx.registry.set('r', bytes('next'), { ifVersion: 7 });
      assert.equal(next.version, 8);
      assert.equal(next.createdAt, record.createdAt);
      assert.equal(await ctx.registry.delete('r', { ifVersion: 8 }), true);
    });

    it('keeps a stored record that is newer unless ifNewer is false', async () => {
      await restore(ctx.registry)(copy({ version: 3 }));
      assert.equal(await restore(ctx.registry)(copy({ version: 2, value: bytes('older') })), 'kept');
      assert.equal(
        await restore(ctx.registry)(copy({ version: 3, value: bytes('same'), updatedAt: ctx.clock.now() - 600 })),
        'kept',
      );
      assert.equal(await restore(ctx.registry)(copy({ version: 3, value: bytes('same') })), 'kept');
      assert.equal(text((await ctx.registry.get('r'))?.value), 'copied');
      assert.equal(
        await restore(ctx.registry)(copy({ version: 3, value: bytes('later'), updatedAt: ctx.clock.now() - 400 })),
        'written',
      );
      assert.equal(text((await ctx.registry.get('r'))?.value), 'later');
      assert.equal(await restore(ctx.registry)(copy({ version: 4, value: bytes('higher'), updatedAt: 1 })), 'written');
      assert.equal(
        await restore(ctx.registry)(copy({ version: 1, value: bytes('forced') }), { ifNewer: false }),
        'written',
      );
      const read = await ctx.registry.get('r');
      assert.equal(text(read?.value), 'forced');
      assert.equal(read?.version, 1);
    });

    it('writes nothing for a record already at or past its deadline', async () => {
      assert.equal(await restore(ctx.registry)(copy({ expiresAt: ctx.clock.now() })), 'kept');
      assert.equal(await restore(ctx.registry)(copy({ expiresAt: ctx.clock.now() - 1 }), { ifNewer: false }), 'kept');
      assert.equal(await ctx.registry.has('r'), false);
      await ctx.registry.set('r', bytes('live'));
      assert.equal(await restore(ctx.registry)(copy({ version: 9, expiresAt: ctx.clock.now() - 1 })), 'kept');
      const read = await ctx.registry.get('r');
      assert.equal(text(read?.value), 'live');
      assert.equal(read?.version, 1);
      assert.deepEqual(
        ctx.sets.map((e) => e.version),
        [1],
      );
    });

    it('replaces an expired stored record and expires the restored one at its own deadline', async () => {
      await ctx.registry.set('r', bytes('old'), { ttlMs: 100 });
      await ctx.registry.set('r', bytes('old'), { ttlMs: 100 });
      ctx.clock.advance(100);
      assert.equal(await restore(ctx.registry)(copy({ version: 1, expiresAt: ctx.clock.now() + 50 })), 'written');
      const read = await ctx.registry.get('r');
      assert.equal(read?.version, 1);
      assert.equal(read?.expiresAt, ctx.clock.now() + 50);
      ctx.clock.advance(49);
      assert.equal(await ctx.registry.has('r'), true);
      ctx.clock.advance(1);
      assert.equal(await ctx.registry.get('r'), undefined);
    });

    it('rejects invalid records with typed errors and writes nothing', async () => {
      const r = restore(ctx.registry);
      await rejectsWith(r(copy({ key: '' })), 'INVALID_KEY');
      await rejectsWith(r(copy({ value: 'text' as unknown as Uint8Array })), 'INVALID_VALUE');
      for (const version of [0, -1, 1.5, Number.NaN, Number.MAX_SAFE_INTEGER + 1, '2' as unknown as number]) {
        await rejectsWith(r(copy({ version })), 'INVALID_OPTION');
      }
      await rejectsWith(r(copy({ createdAt: Number.NaN })), 'INVALID_OPTION');
      await rejectsWith(r(copy({ updatedAt: Number.POSITIVE_INFINITY })), 'INVALID_OPTION');
      await rejectsWith(r(copy({ expiresAt: Number.POSITIVE_INFINITY })), 'INVALID_OPTION');
      // finite, but later than any backend can store (Redis takes no PXAT from 1e17 on)
      await rejectsWith(r(copy({ expiresAt: 1e17 })), 'INVALID_OPTION');
      await rejectsWith(r(copy({ expiresAt: 2 ** 54 + 4 })), 'INVALID_OPTION');
      await rejectsWith(r(copy({ createdAt: 1e17 })), 'INVALID_OPTION');
      await rejectsWith(r(copy({ updatedAt: -1e17 })), 'INVALID_OPTION');
      await rejectsWith(r(copy(), { ifNewer: 'yes' as unknown as boolean }), 'INVALID_OPTION');
      assert.equal(await ctx.registry.has('r'), false);
      assert.deepEqual(ctx.sets, []);
    });

    it('stores times up to 2^54 epoch ms and reads them back exactly', async () => {
      const latest = 2 ** 54;
      const record = copy({ createdAt: -latest, updatedAt: latest, expiresAt: latest });
      assert.equal(await restore(ctx.registry)(record), 'written');
      const read = await ctx.registry.get('r');
      assert.deepEqual([read?.createdAt, read?.updatedAt, read?.expiresAt], [-latest, latest, latest]);
    });

    it('rejects with CLOSED after close and with the signal reason when aborted', async () => {
      const r = restore(ctx.registry);
      const reason = new Error('stop');
      await assert.rejects(r(copy(), { signal: AbortSignal.abort(reason) }), (e: unknown) => e === reason);
      assert.equal(await ctx.registry.has('r'), false);
      await ctx.registry.close();
      await rejectsWith(r(copy()), 'CLOSED');
    });
  });
}
