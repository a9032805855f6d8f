import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Registry, RegistryRecord, SetEntry } from '../../registry/registry.js';
import { bytes, collect, rejectsWith, type SuiteContext } from './conformance-helpers.js';

/**
 * Cases of the order in which every call checks its arguments, the same on every backend:
 * the signal, then the shape of the call (arrays, objects), then keys, then values, then the
 * other options (TTL, `ifVersion`, a restored record's version and times). A malformed call
 * rejects with a typed error, never a `TypeError`, and changes nothing.
 */
export function validationOrderCases(ctx: SuiteContext, withRestore: boolean): void {
  describe('validation order: signal, shape, key, value', () => {
    const notBytes = 'text' as unknown as Uint8Array;
    const entries = (value: unknown): readonly SetEntry[] => value as readonly SetEntry[];
    const record = (fields: Record<string, unknown>): RegistryRecord => {
      const now = ctx.clock.now();
      return {
        key: 'r',
        value: bytes('v'),
        version: 1,
        createdAt: now,
        updatedAt: now,
        expiresAt: undefined,
        ...fields,
      };
    };
    const restore = (registry: Registry): NonNullable<Registry['restore']> => {
      assert.equal(typeof registry.restore, 'function', 'the registry has no restore(): pass { restore: false }');
      return (registry.restore as NonNullable<Registry['restore']>).bind(registry);
    };
    const unchanged = async (): Promise<void> => {
      assert.deepEqual(ctx.sets, []);
      assert.equal(await ctx.registry.size(), 0);
    };

    it('rejects an aborted call with the signal reason, however malformed its arguments', async () => {
      const r = ctx.registry;
      const reason = new Error('stop');
      const signal = AbortSignal.abort(reason);
      const calls: Promise<unknown>[] = [
        r.get(42 as unknown as string, { signal }),
        r.has('', { signal }),
        r.set('', notBytes, { signal, ttlMs: -1 }),
        r.set('a', notBytes, { signal }),
        r.delete(null as unknown as string, { signal, ifVersion: -1 }),
        r.touch('', -1, { signal }),
        r.getMany('not an array' as unknown as string[], { signal }),
        r.setMany(entries([null]), { signal }),
        r.setMany(entries('not an array'), { signal }),
        r.setMany(entries([{}]), { signal }),
        r.setMany([{ key: 'a', value: notBytes }], { signal }),
        r.deleteMany([1] as unknown as string[], { signal }),
        collect(r.scan({ prefix: 5 as unknown as string, signal })),
      ];
      if (withRestore) {
        calls.push(restore(r)(null as unknown as RegistryRecord, { signal }));
        calls.push(restore(r)(record({ key: '', value: notBytes, version: 0 }), { signal }));
      }
      for (const [i, call] of calls.entries()) await assert.rejects(call, (e: unknown) => e === reason, `call ${i}`);
      await unchanged();
    });

    it('rejects a malformed call shape with INVALID_OPTION before looking at keys, never a TypeError', async () => {
      const r = ctx.registry;
      await rejectsWith(r.setMany(entries([null])), 'INVALID_OPTION');
      await rejectsWith(r.setMany(entries([{ key: 'a', value: bytes('v') }, 7])), 'INVALID_OPTION');
      await rejectsWith(r.setMany(entries([{ key: '', value: notBytes }, null])), 'INVALID_OPTION');
      await rejectsWith(r.setMany(entries('not an array')), 'INVALID_OPTION');
      await rejectsWith(r.getMany('ab' as unknown as string[]), 'INVALID_OPTION');
      await rejectsWith(r.deleteMany(undefined as unknown as string[]), 'INVALID_OPTION');
      await rejectsWith(collect(r.scan({ prefix: 5 as unknown as string })), 'INVALID_OPTION');
      if (withRestore) {
        for (const bad of [null, undefined, 'r', 42]) {
          await rejectsWith(restore(r)(bad as unknown as RegistryRecord), 'INVALID_OPTION');
        }
      }
      await unchanged();
    });

    it('rejects a bad key with INVALID_KEY before looking at the value', async () => {
      const r = ctx.registry;
      await rejectsWith(r.set('', notBytes), 'INVALID_KEY');
      await rejectsWith(r.set(42 as unknown as string, null as unknown as Uint8Array), 'INVALID_KEY');
      await rejectsWith(r.setMany(entries([{}])), 'INVALID_KEY');
      // the whole batch's keys come before any of its values
      await rejectsWith(
        r.setMany([
          { key: 'a', value: notBytes },
          { key: '', value: bytes('v') },
        ]),
        'INVALID_KEY',
      );
      if (withRestore) {
        await rejectsWith(restore(r)(record({ key: '', value: notBytes, version: 0 })), 'INVALID_KEY');
        await rejectsWith(restore(r)(record({ key: undefined })), 'INVALID_KEY');
      }
      await unchanged();
    });

    it('rejects a bad value with INVALID_VALUE before looking at the other options', async () => {
      const r = ctx.registry;
      await rejectsWith(r.set('a', notBytes, { ttlMs: -1, ifVersion: -1 }), 'INVALID_VALUE');
      await rejectsWith(r.setMany(entries([{ key: 'a' }])), 'INVALID_VALUE');
      await rejectsWith(
        r.setMany([
          { key: 'a', value: bytes('v'), ttlMs: -1 },
          { key: 'b', value: notBytes },
        ]),
        'INVALID_VALUE',
      );
      if (withRestore) {
        await rejectsWith(restore(r)(record({ value: notBytes, version: 0, expiresAt: -1 })), 'INVALID_VALUE');
        await rejectsWith(
          restore(r)(record({ version: 0 }), { ifNewer: 'yes' as unknown as boolean }),
          'INVALID_OPTION',
        );
      }
      await unchanged();
    });
  });
}
