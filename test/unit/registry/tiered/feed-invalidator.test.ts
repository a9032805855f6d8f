import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import {
  MemoryRegistry,
  type Registry,
  type RegistryChange,
  RegistryError,
  type WatchOptions,
} from '../../../../src/registry/index.js';
import { FeedInvalidator } from '../../../../src/registry/tiered/feed-invalidator.js';
import { TieredRegistry } from '../../../../src/registry/tiered/tiered-registry.js';

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const text = (value: Uint8Array | undefined): string | undefined =>
  value === undefined ? undefined : new TextDecoder().decode(value);

/** Polls `check` until it holds (a generous 10 s bound for a loaded machine). */
async function eventually(what: string, check: () => Promise<boolean> | boolean): Promise<void> {
  for (let i = 0; i < 2000; i++) {
    if (await check()) return;
    await sleep(5);
  }
  assert.fail(`${what}: still not so after 10 s`);
}

/**
 * Fault injection only: a memory registry's own feed, whose watches `fail(code)` ends with that
 * error (and which fails new watches while `failing`).
 */
function breakableFeed(store: MemoryRegistry) {
  const live = new Set<(error: Error) => void>();
  let failing: RegistryError | undefined;
  let watches = 0;
  const watch = (options: WatchOptions = {}): AsyncIterableIterator<RegistryChange> => {
    watches++;
    const controller = new AbortController();
    const signal = AbortSignal.any([controller.signal, ...(options.signal ? [options.signal] : [])]);
    const stop = (error: Error): void => controller.abort(error);
    live.add(stop);
    const inner = store.watch({ ...options, signal });
    return (async function* () {
      try {
        if (failing !== undefined) throw failing;
        yield* inner;
      } finally {
        live.delete(stop);
      }
    })();
  };
  const feed = new Proxy(store, {
    get(target, name) {
      if (name === 'watch') return watch;
      const value: unknown = Reflect.get(target, name, target);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  }) as Registry;
  return {
    far: feed,
    get watches() {
      return watches;
    },
    fail(code: 'BACKEND_UNAVAILABLE' | 'COMPACTED', keepFailing = false): void {
      const error = new RegistryError(code, `injected ${code}`);
      failing = keepFailing ? error : undefined;
      for (const stop of [...live]) stop(error);
    },
    heal(): void {
      failing = undefined;
    },
  };
}

function setup() {
  const store = new MemoryRegistry({ changeHistory: 1000 });
  const feed = breakableFeed(store);
  const invalidator = new FeedInvalidator({ far: feed.far, retryMinMs: 5, retryMaxMs: 20 });
  // copies kept for 10 minutes: only the feed can make the tier see a change sooner
  const tiered = new TieredRegistry({ far: feed.far, nearTtlMs: 600_000, invalidator });
  return { store, feed, invalidator, tiered };
}

describe('FeedInvalidator', () => {
  it("drops a near copy as soon as the far tier's feed reports another writer's change", async () => {
    const { store, invalidator, tiered } = setup();
    try {
      await eventually('the feed started', () => invalidator.stats.resets === 1);
      await store.set('k', bytes('one'));
      assert.equal(text((await tiered.get('k'))?.value), 'one');
      assert.equal(text((await tiered.get('k'))?.value), 'one', 'a near hit');
      await store.set('k', bytes('two'));
      await eventually('the tier sees the new value', async () => text((await tiered.get('k'))?.value) === 'two');
      assert.ok(invalidator.stats.changes >= 2);
    } finally {
      await tiered.close();
    }
  });

  it('marks the whole near tier stale when the feed breaks, and resumes from its cursor after', async () => {
    const { store, feed, invalidator, tiered } = setup();
    try {
      await eventually('the feed started', () => invalidator.stats.resets === 1);
      await store.set('a', bytes('a1'));
      await store.set('b', bytes('b1'));
      await tiered.get('a');
      await tiered.get('b');
      feed.fail('BACKEND_UNAVAILABLE', true);
      await eventually('the tier was dropped', () => invalidator.stats.resets >= 2);
      // a change the broken feed cannot report: the dropped copy does not hide it
      await store.set('a', bytes('a2'));
      assert.equal(text((await tiered.get('a'))?.value), 'a2');
      const watchesWhileBroken = feed.watches;
      await eventually('it keeps trying', () => feed.watches > watchesWhileBroken);
      // filled while broken, changed while broken: the resumed feed still reports it
      assert.equal(text((await tiered.get('b'))?.value), 'b1');
      await store.set('b', bytes('b2'));
      feed.heal();
      await eventually('the resumed feed dropped b', async () => text((await tiered.get('b'))?.value) === 'b2');
      assert.equal(invalidator.stats.breaks >= 1, true);
    } finally {
      await tiered.close();
    }
  });

  it('drops the whole near tier and watches from a fresh cursor on COMPACTED', async () => {
    const { store, feed, invalidator, tiered } = setup();
    try {
      await eventually('the feed started', () => invalidator.stats.resets === 1);
      await store.set('k', bytes('one'));
      await tiered.get('k');
      const cursorsBefore = invalidator.stats.resets;
      feed.fail('COMPACTED');
      await eventually('dropped and restarted', () => invalidator.stats.resets >= cursorsBefore + 2);
      await store.set('k', bytes('two'));
      await eventually('the fresh feed reports changes', async () => text((await tiered.get('k'))?.value) === 'two');
    } finally {
      await tiered.close();
    }
  });

  it('stops watching when the tier closes', async () => {
    const { feed, invalidator, tiered } = setup();
    await eventually('the feed started', () => invalidator.stats.resets === 1);
    await tiered.close();
    const watches = feed.watches;
    await sleep(50);
    assert.equal(feed.watches, watches);
  });

  it('rejects a far tier without a change feed, and bad retry options, naming the option', () => {
    const plain = Object.create(new MemoryRegistry()) as Registry;
    Object.defineProperty(plain, 'watch', { value: undefined });
    assert.throws(() => new FeedInvalidator({ far: plain }), /far must be a Registry with watch\(\)/);
    assert.throws(
      () => new FeedInvalidator({ far: new MemoryRegistry(), retryMinMs: 100, retryMaxMs: 50 }),
      /retryMaxMs/,
    );
    assert.throws(() => new FeedInvalidator({ far: new MemoryRegistry(), every: 1 } as never), /unknown.*"every"/);
  });
});
