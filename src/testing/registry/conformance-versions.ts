import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Registry } from '../../registry/registry.js';
import { bytes, rejectsWith, type SuiteContext, text } from './conformance-helpers.js';

/**
 * Cases of the version limit: versions are exact integers, so no write may take one past
 * `Number.MAX_SAFE_INTEGER`. Reaching it takes `restore` (no test could write 2^53 times).
 */
export function versionLimitCases(ctx: SuiteContext): void {
  describe('versions at the safe-integer limit', () => {
    const top = Number.MAX_SAFE_INTEGER;
    const restoreAt = async (version: number): Promise<void> => {
      const registry: Registry = ctx.registry;
      assert.equal(typeof registry.restore, 'function', 'the registry has no restore(): pass { restore: false }');
      const now = ctx.clock.now();
      const record = { key: 'v', value: bytes('near'), version, createdAt: now, updatedAt: now, expiresAt: undefined };
      assert.equal(await registry.restore?.(record), 'written');
    };

    it('writes up to version Number.MAX_SAFE_INTEGER, then refuses with VERSION_EXHAUSTED and changes nothing', async () => {
      await restoreAt(top - 1);
      assert.equal((await ctx.registry.set('v', bytes('last'))).version, top);
      await rejectsWith(ctx.registry.set('v', bytes('past')), 'VERSION_EXHAUSTED');
      await rejectsWith(ctx.registry.set('v', bytes('past'), { ttlMs: 1000 }), 'VERSION_EXHAUSTED');
      await rejectsWith(ctx.registry.setMany([{ key: 'v', value: bytes('past') }]), 'VERSION_EXHAUSTED');
      const read = await ctx.registry.get('v');
      assert.equal(text(read?.value), 'last');
      assert.equal(read?.version, top);
      assert.equal(read?.expiresAt, undefined);
      assert.deepEqual(
        ctx.sets.map((e) => e.version),
        [top - 1, top],
      );
    });

    it('refuses a compare-and-set at the limit with VERSION_EXHAUSTED, and a wrong one still with VERSION_CONFLICT', async () => {
      await restoreAt(top);
      await assert.rejects(ctx.registry.set('v', bytes('past'), { ifVersion: top }), (error: unknown) => {
        assert.ok(error instanceof Error && 'code' in error, String(error));
        assert.equal(error.code, 'VERSION_EXHAUSTED');
        assert.equal((error as { key?: unknown }).key, 'v');
        assert.equal((error as { actualVersion?: unknown }).actualVersion, top);
        return true;
      });
      await rejectsWith(ctx.registry.set('v', bytes('past'), { ifVersion: top - 1 }), 'VERSION_CONFLICT');
      assert.equal(text((await ctx.registry.get('v'))?.value), 'near');
    });

    it('returns exact versions and times from the writes that follow a restore near the limits', async () => {
      const registry: Registry = ctx.registry;
      const now = ctx.clock.now();
      for (const [key, createdAt] of [
        ['huge', -(2 ** 54)],
        ['fraction', now - 0.25],
      ] as const) {
        const record = { key, value: bytes('x'), version: top - 40, createdAt, updatedAt: now, expiresAt: undefined };
        assert.equal(await registry.restore?.(record), 'written');
        const written = await registry.set(key, bytes('y'), { ifVersion: top - 40 });
        assert.deepEqual([written.version, written.createdAt], [top - 39, createdAt]);
        const [batched] = await registry.setMany([{ key, value: bytes('z') }]);
        assert.deepEqual([batched?.version, batched?.createdAt], [top - 38, createdAt]);
      }
    });

    it('lets a key at the limit be touched, deleted and created again at version 1', async () => {
      await restoreAt(top);
      assert.equal(await ctx.registry.touch('v', 1000), true);
      assert.equal((await ctx.registry.get('v'))?.version, top);
      assert.equal(await ctx.registry.delete('v', { ifVersion: top }), true);
      assert.equal((await ctx.registry.set('v', bytes('again'))).version, 1);
    });
  });
}
