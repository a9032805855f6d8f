import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { RegistryChange } from '../../../../src/registry/index.js';
import { bytes, perKey, take, watchFixture } from './watch-fixture.js';

type Op =
  | { readonly kind: 'set'; readonly key: number; readonly value: number }
  | { readonly kind: 'delete'; readonly key: number }
  | { readonly kind: 'touch'; readonly key: number };

const KEYS = 8;
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('set' as const), key: fc.nat(KEYS - 1), value: fc.nat(99) }),
  fc.record({ kind: fc.constant('delete' as const), key: fc.nat(KEYS - 1) }),
  fc.record({ kind: fc.constant('touch' as const), key: fc.nat(KEYS - 1) }),
);

describe('ShardedRegistry watch against a model', () => {
  it('serves, across resumes from the last cursor, each key its changes in commit order, none skipped or repeated', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(op, { minLength: 1, maxLength: 40 }),
        fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 10 }),
        fc.constantFrom(1, 2),
        async (ops, chunks, replicas) => {
          const f = watchFixture(['a', 'b', 'c'], { replicas });
          try {
            const r = f.registry;
            const start = await (r.cursor as () => Promise<string>)();
            // the model: each key's live version, and the changes it must serve
            const versions = new Map<string, number>();
            const expected: string[] = [];
            for (const o of ops) {
              const key = `m:${o.key}`;
              const version = versions.get(key);
              if (o.kind === 'set') {
                const next = (version ?? 0) + 1;
                await r.set(key, bytes(String(o.value)));
                versions.set(key, next);
                expected.push(`${key} set v${next} ${o.value}`);
              } else if (o.kind === 'delete') {
                assert.equal(await r.delete(key), version !== undefined);
                versions.delete(key);
                if (version !== undefined) expected.push(`${key} removed v${version} delete`);
              } else {
                const live = await r.touch(key, 60_000);
                assert.equal(live, version !== undefined);
                if (version !== undefined) {
                  const value = [...expected]
                    .reverse()
                    .find((e) => e.startsWith(`${key} set`))
                    ?.split(' ')[3];
                  expected.push(`${key} set v${version} ${value}`);
                }
              }
            }
            // read in chunks, each from a new watch after the last cursor served
            const served: RegistryChange[] = [];
            let after = start;
            for (let i = 0; served.length < expected.length; i++) {
              const n = Math.min(chunks[i % chunks.length] as number, expected.length - served.length);
              const chunk = await take(r, n, { after });
              served.push(...chunk);
              after = chunk.at(-1)?.cursor as string;
            }
            const model: Record<string, string[]> = {};
            for (const e of expected) {
              const [key, ...rest] = e.split(' ');
              (model[key as string] ??= []).push(rest.join(' '));
            }
            assert.deepEqual(
              perKey(served),
              Object.fromEntries(Object.entries(model).sort(([a], [b]) => (a < b ? -1 : 1))),
            );
          } finally {
            await f.registry.close();
          }
        },
      ),
      { numRuns: 60, seed: 16 },
    );
  });
});
