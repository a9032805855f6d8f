import {
  MemoryRegistry,
  type MemoryRegistryOptions,
  type RegistryChange,
  ShardedRegistry,
  type ShardedRegistryOptions,
  type WatchOptions,
} from '../../../../src/registry/index.js';
import { ManualClock } from '../../../../src/testing/index.js';

// a feed that never delivers fails its test with this reason instead of hanging the run
const STALL_MS = 15_000;

/**
 * A memory backend whose `watch` counts the feeds open on it and can be made to fail: the only
 * fault a real memory registry cannot produce.
 */
export class ProbedMemory extends MemoryRegistry {
  /** Feeds open on this backend now. */
  open = 0;
  #fault: Error | undefined;

  /** From now on every open and new feed fails with `error` at its next change; `undefined` heals. */
  failFeeds(error: Error | undefined): void {
    this.#fault = error;
  }

  override watch(options?: WatchOptions): AsyncIterableIterator<RegistryChange> {
    const inner = super.watch(options);
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the generator below reads this backend's state
    const self = this;
    async function* probed(): AsyncGenerator<RegistryChange> {
      self.open++;
      try {
        for await (const change of inner) {
          if (self.#fault !== undefined) throw self.#fault;
          yield change;
        }
      } finally {
        self.open--;
      }
    }
    return probed();
  }
}

/** A sharded registry over {@link ProbedMemory} backends on a manual clock. */
export interface WatchFixture {
  readonly clock: ManualClock;
  readonly registry: ShardedRegistry;
  readonly backends: Map<string, ProbedMemory>;
  /** A new backend on the fixture's clock (for `addShard`). */
  backend(name: string): ProbedMemory;
}

export function watchFixture(
  names: readonly string[] = ['a', 'b', 'c'],
  options: Omit<ShardedRegistryOptions, 'shards'> = {},
  memory: MemoryRegistryOptions = {},
): WatchFixture {
  const clock = new ManualClock();
  const make = (): ProbedMemory => new ProbedMemory({ changeHistory: 10_000, ...memory }, { clock });
  const backends = new Map(names.map((name) => [name, make()]));
  const registry = new ShardedRegistry(
    {
      shards: [...backends].map(([name, registry]) => ({ name, registry })),
      migrationRate: Number.POSITIVE_INFINITY,
      readRepair: 0,
      ...options,
    },
    { clock },
  );
  return {
    clock,
    registry,
    backends,
    backend(name) {
      const created = make();
      backends.set(name, created);
      return created;
    },
  };
}

export const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

/** A change as `type key version value|reason`. */
export function brief(change: RegistryChange): string {
  return change.type === 'set'
    ? `set ${change.record.key} v${change.record.version} ${new TextDecoder().decode(change.record.value)}`
    : `removed ${change.key} v${change.version} ${change.reason}`;
}

/** The first `n` changes of a watch (a stall fails after 15 s). */
export async function take(
  registry: ShardedRegistry,
  n: number,
  options: WatchOptions = {},
): Promise<RegistryChange[]> {
  const out: RegistryChange[] = [];
  if (n === 0) return out;
  const watch = registry.watch as NonNullable<ShardedRegistry['watch']>;
  for await (const change of watch({ ...options, signal: options.signal ?? AbortSignal.timeout(STALL_MS) })) {
    out.push(change);
    if (out.length === n) break;
  }
  return out;
}

/** Names of `changes`' keys with each key's changes in served order, keys sorted. */
export function perKey(changes: readonly RegistryChange[]): Record<string, string[]> {
  const keys: Record<string, string[]> = {};
  for (const change of changes) {
    const key = change.type === 'set' ? change.record.key : change.key;
    (keys[key] ??= []).push(brief(change).replace(`${key} `, ''));
  }
  return Object.fromEntries(Object.entries(keys).sort(([a], [b]) => (a < b ? -1 : 1)));
}

/**
 * Every change a watch `after` a cursor serves up to a sentinel write on each shard that is a
 * member when `until` resolves: a shard's feed is in order, so once its sentinel arrives it has
 * served everything before it. Sentinels (keys `end:…`) are left out of the result.
 */
export async function drain(
  registry: ShardedRegistry,
  after: string | undefined,
  until: Promise<unknown> = Promise.resolve(),
): Promise<RegistryChange[]> {
  const watch = registry.watch as NonNullable<ShardedRegistry['watch']>;
  const feed = watch({ ...(after === undefined ? {} : { after }), signal: AbortSignal.timeout(STALL_MS) });
  const first = feed.next();
  const sentinels = (async () => {
    await until;
    const wanted = new Set<string>();
    for (const name of registry.shardNames) {
      for (let i = 0; ; i++) {
        if (registry.ownersOf(`end:${i}`)[0] !== name) continue;
        wanted.add(`end:${i}`);
        break;
      }
    }
    for (const key of wanted) await registry.set(key, bytes('end'));
    return wanted;
  })();
  const out: RegistryChange[] = [];
  const seen = new Set<string>();
  for (let step = await first; step.done !== true; step = await feed.next()) {
    const change = step.value;
    const key = change.type === 'set' ? change.record.key : change.key;
    if (!key.startsWith('end:')) {
      out.push(change);
      continue;
    }
    seen.add(key);
    const wanted = await sentinels;
    if ([...wanted].every((k) => seen.has(k))) break;
  }
  await feed.return?.();
  return out;
}
