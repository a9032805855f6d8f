import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isRegistryError } from '../../registry/errors.js';
import type { Registry, RegistryChange, WatchOptions } from '../../registry/registry.js';
import { bytes, rejectsWith, type SuiteContext, text } from './conformance-helpers.js';

/** How the watch cases of the conformance suite reach a backend's change feed. */
export interface WatchConformance {
  /**
   * Makes `registry` drop every change it holds up to now, so a cursor from before is no
   * longer held (memory: write past its history; etcd: compact at the current revision).
   */
  compact(registry: Registry): Promise<void>;
  /**
   * What order the backend's feed promises: `'commit'`, every change in commit order; or
   * `'per-key'`, each key's changes in commit order and none across keys (a sharded registry
   * merging its shards' feeds). With `'per-key'` the cases compare each key's changes apart.
   * @default 'commit'
   */
  readonly order?: 'commit' | 'per-key';
  /**
   * How many changes the backend keeps for a watch that falls behind while writes go on (its
   * history or stream length; `Infinity`: all of them until `compact`). Given, the slow-consumer
   * case keeps its consumer `min(100, retained / 2)` changes behind and requires every change: a
   * feed that fails merely for being slow fails the case. Absent, `COMPACTED` after a contiguous
   * prefix of the changes passes too.
   */
  readonly retained?: number;
}

// a feed that never delivers fails its test with this reason instead of hanging the run
const STALL_MS = 15_000;

type Watchable = Required<Pick<Registry, 'watch' | 'cursor'>>;

function feed(r: Registry): Watchable {
  assert.equal(typeof r.watch, 'function', 'the registry has no watch(): pass { watch: false }');
  assert.equal(typeof r.cursor, 'function', 'a registry with watch() has cursor() too');
  return r as Registry & Watchable;
}

/** The first `n` changes of a watch with `options` (a stall rejects after 15 s). */
async function take(r: Registry, n: number, options: WatchOptions = {}): Promise<RegistryChange[]> {
  const out: RegistryChange[] = [];
  if (n === 0) return out;
  const signal = AbortSignal.any([AbortSignal.timeout(STALL_MS), ...(options.signal ? [options.signal] : [])]);
  for await (const change of feed(r).watch({ ...options, signal })) {
    out.push(change);
    if (out.length === n) break;
  }
  return out;
}

/** A change as `[type, key, version, extra]`: the value for a set, the reason for a removal. */
function brief(change: RegistryChange): [string, string, number, string | undefined] {
  return change.type === 'set'
    ? ['set', change.record.key, change.record.version, text(change.record.value)]
    : ['removed', change.key, change.version, change.reason];
}

type Brief = ReturnType<typeof brief>;

/** Each key's changes, in the order given, by key (keys sorted). */
function byKey(changes: readonly Brief[]): [string, Brief[]][] {
  const keys = new Map<string, Brief[]>();
  for (const change of changes) keys.set(change[1], [...(keys.get(change[1]) ?? []), change]);
  return [...keys].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** Cases of the optional `watch` of the conformance suite: change feeds and their cursors. */
export function watchCases(ctx: SuiteContext, hooks: WatchConformance): void {
  const order = hooks.order ?? 'commit';
  /** `changes` are `expected`, in commit order, or per key when the backend orders by key only. */
  const served = (changes: readonly RegistryChange[], expected: readonly Brief[]): void => {
    if (order === 'commit') assert.deepEqual(changes.map(brief), expected);
    else assert.deepEqual(byKey(changes.map(brief)), byKey(expected));
  };
  const keysServed = (changes: readonly RegistryChange[], expected: readonly string[]): void => {
    const keys = changes.map((c) => brief(c)[1]);
    if (order === 'commit') assert.deepEqual(keys, expected);
    else assert.deepEqual([...keys].sort(), [...expected].sort());
  };
  describe(order === 'commit' ? 'watch' : 'watch (ordered per key)', () => {
    it('serves every change under the prefix in commit order, removals with their reason', async () => {
      const r = ctx.registry;
      const start = await feed(r).cursor();
      await r.set('w:a', bytes('1'));
      await r.set('w:b', bytes('2'));
      await r.set('other:x', bytes('x'));
      await r.set('w:a', bytes('3'));
      await r.delete('w:b');
      await r.touch('w:a', 5000);
      await r.delete('w:a');
      const changes = await take(r, 6, { prefix: 'w:', after: start });
      served(changes, [
        ['set', 'w:a', 1, '1'],
        ['set', 'w:b', 1, '2'],
        ['set', 'w:a', 2, '3'],
        ['removed', 'w:b', 1, 'delete'],
        ['set', 'w:a', 2, '3'],
        ['removed', 'w:a', 2, 'delete'],
      ]);
      const touched = changes.filter((c) => brief(c)[1] === 'w:a')[2];
      assert.ok(touched?.type === 'set');
      assert.equal(touched.record.expiresAt, ctx.clock.now() + 5000, 'a touch appears as a set with its new deadline');
      assert.equal(new Set(changes.map((c) => c.cursor)).size, 6, 'every change has its own cursor');
    });

    it('serves batch writes and deletes entry by entry', async () => {
      const r = ctx.registry;
      const start = await feed(r).cursor();
      await r.setMany(['b1', 'b2', 'b3'].map((key) => ({ key, value: bytes(key) })));
      await r.deleteMany(['b2', 'missing', 'b3']);
      const changes = await take(r, 5, { after: start });
      served(changes, [
        ['set', 'b1', 1, 'b1'],
        ['set', 'b2', 1, 'b2'],
        ['set', 'b3', 1, 'b3'],
        ['removed', 'b2', 1, 'delete'],
        ['removed', 'b3', 1, 'delete'],
      ]);
    });

    it('resumes right after the change a cursor names, with no gap and no repeat', async () => {
      const r = ctx.registry;
      const start = await feed(r).cursor();
      for (let i = 1; i <= 5; i++) await r.set(`k${i}`, bytes(String(i)));
      const all = await take(r, 5, { after: start });
      keysServed(all, ['k1', 'k2', 'k3', 'k4', 'k5']);
      const third = all[2] as RegistryChange;
      keysServed(
        await take(r, 2, { after: third.cursor }),
        all.slice(3).map((c) => brief(c)[1]),
      );
      await r.set('k6', bytes('6'));
      const last = all[4] as RegistryChange;
      keysServed(await take(r, 1, { after: last.cursor }), ['k6']);
    });

    it('serves from cursor() only what is committed after it', async () => {
      const r = ctx.registry;
      await r.set('before', bytes('0'));
      const now = await feed(r).cursor();
      await r.set('after', bytes('1'));
      assert.deepEqual((await take(r, 1, { after: now })).map(brief), [['set', 'after', 1, '1']]);
    });

    it('rejects a cursor whose changes are gone with COMPACTED, and serves again from cursor()', async () => {
      const r = ctx.registry;
      const start = await feed(r).cursor();
      await r.set('c:a', bytes('1'));
      await r.set('c:b', bytes('2'));
      await hooks.compact(r);
      await rejectsWith(take(r, 1, { after: start, prefix: 'c:' }), 'COMPACTED');
      const fresh = await feed(r).cursor();
      await r.set('c:c', bytes('3'));
      assert.deepEqual((await take(r, 1, { after: fresh, prefix: 'c:' })).map(brief), [['set', 'c:c', 1, '3']]);
    });

    it('rejects a cursor it never issued with INVALID_OPTION, and a prefix that is not a string', async () => {
      const r = ctx.registry;
      for (const bad of ['not a cursor', '', 42] as unknown as string[]) {
        await rejectsWith(take(r, 1, { after: bad }), 'INVALID_OPTION');
      }
      await rejectsWith(take(r, 1, { prefix: 7 as unknown as string }), 'INVALID_OPTION');
    });

    it(
      hooks.retained === undefined
        ? 'serves a consumer that falls behind live writers every change in order, or COMPACTED after a contiguous prefix'
        : 'serves a consumer that falls behind live writers, within the history it keeps, every change in order',
      async () => {
        const r = ctx.registry;
        const start = await feed(r).cursor();
        const writes = 300;
        // how far the consumer stays behind the writer: within what a backend says it keeps
        const lag = Math.max(1, Math.min(100, Math.floor((hooks.retained ?? 200) / 2)));
        // within what it keeps, the writer waits too: at most 1.5 × lag ahead of the consumer
        const ahead = hooks.retained === undefined ? Number.POSITIVE_INFINITY : lag + Math.ceil(lag / 2);
        let written = 0;
        let consumed = 0;
        let writerDone = false;
        let consumerDone = false;
        let wakeConsumer: () => void = () => {};
        let wakeWriter: () => void = () => {};
        const writer = (async () => {
          try {
            for (let i = 1; i <= writes; i++) {
              while (!consumerDone && written - consumed >= ahead) await new Promise<void>((r) => (wakeWriter = r));
              await r.set('slow', bytes(String(i)));
              written = i;
              wakeConsumer();
            }
          } finally {
            writerDone = true;
            wakeConsumer();
          }
        })();
        const versions: number[] = [];
        let behind = 0;
        let ended: unknown;
        try {
          for await (const change of feed(r).watch({ after: start, signal: AbortSignal.timeout(STALL_MS) })) {
            assert.ok(change.type === 'set');
            versions.push(change.record.version);
            behind = Math.max(behind, written - change.record.version);
            consumed = change.record.version;
            wakeWriter();
            if (versions.length === writes) break;
            // slow: the next change is read only once the writer is `lag` changes further on
            while (!writerDone && written < consumed + lag) await new Promise<void>((r) => (wakeConsumer = r));
          }
        } catch (error) {
          ended = error;
        } finally {
          consumerDone = true;
          wakeWriter();
        }
        await writer;
        assert.deepEqual(
          versions,
          Array.from({ length: versions.length }, (_, i) => i + 1),
          'a contiguous prefix in order: none skipped or repeated',
        );
        if (hooks.retained !== undefined) {
          assert.equal(
            ended,
            undefined,
            `a feed that keeps ${hooks.retained} changes ended after ${versions.length}: ${String(ended)}`,
          );
          assert.equal(versions.length, writes, 'every change served');
        } else if (versions.length < writes) {
          assert.ok(
            isRegistryError(ended, 'COMPACTED'),
            `ended after ${versions.length} changes with ${String(ended)}`,
          );
        }
        if (versions.length === writes) {
          assert.ok(behind >= lag - 1, `the consumer fell ${behind} changes behind the writer (meant ${lag})`);
        }
      },
    );

    it('ends a watch when the consumer breaks out, and later watches still serve', async () => {
      const r = ctx.registry;
      const start = await feed(r).cursor();
      await r.set('x', bytes('1'));
      await r.set('y', bytes('2'));
      assert.equal((await take(r, 1, { after: start })).length, 1);
      await r.set('z', bytes('3'));
      keysServed(await take(r, 3, { after: start }), ['x', 'y', 'z']);
    });

    it('rejects with the signal reason when aborted, waiting or before it starts', async () => {
      const r = ctx.registry;
      const reason = new Error('stop watching');
      await assert.rejects(take(r, 1, { signal: AbortSignal.abort(reason) }), (e: unknown) => e === reason);
      const controller = new AbortController();
      const pending = take(r, 1, { after: await feed(r).cursor(), signal: controller.signal });
      setTimeout(() => controller.abort(reason), 50);
      await assert.rejects(pending, (e: unknown) => e === reason);
    });

    it('ends a waiting watch with CLOSED on close, and rejects new ones and cursor() after it', async () => {
      const r = await ctx.make();
      const pending = take(r, 1, { after: await feed(r).cursor() });
      setTimeout(() => void r.close(), 50);
      await rejectsWith(pending, 'CLOSED');
      await rejectsWith(take(r, 1), 'CLOSED');
      await rejectsWith(feed(r).cursor(), 'CLOSED');
    });
  });
}
