import { isRegistryError, RegistryError } from '../errors.js';
import type { OperationOptions, Registry, RegistryChange, RegistryRecord, WatchOptions } from '../registry.js';
import { checkOpen } from '../validation.js';
import type { ShardedCore } from './core.js';
import { decodeFeedCursor, encodeFeedCursor } from './feed-cursor.js';
import type { Shard } from './shard.js';

/** A backend that has the optional change feed of the contract. */
type Watchable = Registry & Required<Pick<Registry, 'watch' | 'cursor'>>;

/** Whether `registry` has `watch` and `cursor` (the sharded feed needs both on every shard). */
export function hasFeed(registry: Registry): registry is Watchable {
  return typeof registry.watch === 'function' && typeof registry.cursor === 'function';
}

/** What a {@link ShardedFeed} reads from its registry. */
export interface FeedHost {
  readonly core: ShardedCore;
  /** The shards attached now (members, and shards a running migration still drains). */
  attached(): readonly Shard[];
  isClosed(): boolean;
}

/**
 * Keys whose last served change a watch remembers, to drop a verbatim copy of it (a migrated or
 * handed-back record arriving on its new owner); older keys are forgotten first.
 */
const RECENT_KEYS = 4096;

/** What one shard's feed produced: a change, its end, or its failure. */
type Step =
  | { readonly source: Source; readonly change: RegistryChange }
  | { readonly source: Source; readonly ended: true }
  | { readonly source: Source; readonly error: unknown };

/** One shard's feed inside a merged watch. */
interface Source {
  readonly shard: Shard;
  readonly feed: AsyncIterator<RegistryChange>;
  readonly stop: AbortController;
  /** The shard's cursor of the last change read from it (served or not). */
  position: string;
}

/**
 * The change feed of a sharded registry: one `watch` per shard backend, merged.
 *
 * - Each logical change is served once: a change of a key is taken from the feed of the key's
 *   primary owner (first in HRW order among the members, health aside) and dropped from every
 *   other shard's (replicas, stand-ins, a migration's old owner).
 * - Order: per key, the primary's commit order; per shard, that shard's; none across shards.
 * - The cursor is every attached shard's position ({@link encodeFeedCursor}).
 */
export class ShardedFeed {
  readonly #host: FeedHost;
  /** Each shard's cursor when it joined by `addShard`: where feeds start on it when a cursor predates it. */
  readonly #joined = new Map<Shard, Promise<string>>();
  readonly #wakes = new Set<() => void>();

  constructor(host: FeedHost) {
    this.#host = host;
  }

  /** The feed of a registry over `shards`, or `undefined` when one of their backends has no `watch`. */
  static over(shards: readonly Shard[], host: FeedHost): ShardedFeed | undefined {
    return shards.every((s) => hasFeed(s.registry)) ? new ShardedFeed(host) : undefined;
  }

  /** Rejects a backend joining by `addShard` that has no feed: the merged feed needs every shard's. */
  checkJoining(registry: Registry): void {
    if (hasFeed(registry)) return;
    throw RegistryError.invalidOption(
      'shard.registry must have watch() and cursor(): this registry serves a change feed',
    );
  }

  /** A shard was added (`joined`: by `addShard`, not at construction) or removed: watches follow. */
  membershipChanged(shard: Shard, joined: boolean): void {
    if (joined && hasFeed(shard.registry)) {
      const position = shard.registry.cursor();
      position.catch(() => undefined);
      this.#joined.set(shard, position);
    }
    for (const wake of this.#wakes) wake();
  }

  /** Every attached shard's cursor of its latest change, as one sharded cursor. */
  async cursor(options: OperationOptions = {}): Promise<string> {
    const { signal } = options;
    checkOpen(this.#host.isClosed(), signal);
    const shards = this.#host.attached();
    const positions = await Promise.all(shards.map((s) => (s.registry as Watchable).cursor({ signal })));
    return encodeFeedCursor(new Map(shards.map((s, i) => [s.name, positions[i] as string])));
  }

  /** The merged feed; see {@link Registry.watch} and the class comment. */
  async *watch(options: WatchOptions = {}): AsyncGenerator<RegistryChange> {
    const { prefix = '', after, signal } = options;
    const host = this.#host;
    checkOpen(host.isClosed(), signal);
    if (typeof prefix !== 'string') throw RegistryError.invalidOptionValue('prefix', 'a string', prefix);
    const start = after === undefined ? undefined : decodeFeedCursor(after);
    const sources = new Map<Shard, Source>();
    const ready: Step[] = [];
    let wake: (() => void) | undefined;
    const notify = (): void => {
      const w = wake;
      wake = undefined;
      w?.();
    };
    const recent = new Map<string, RegistryRecord>();
    this.#wakes.add(notify);
    signal?.addEventListener('abort', notify);
    const read = (source: Source): void => {
      source.feed
        .next()
        .then(
          (result) => ready.push(result.done === true ? { source, ended: true } : { source, change: result.value }),
          (error: unknown) => ready.push({ source, error }),
        )
        .finally(notify);
    };
    const open = async (shard: Shard, initial: boolean): Promise<void> => {
      const position = await this.#startOf(shard, initial ? start : new Map(), after, signal);
      if (sources.has(shard) || !host.attached().includes(shard)) return;
      const stop = new AbortController();
      const inner = signal === undefined ? stop.signal : AbortSignal.any([signal, stop.signal]);
      const feed = (shard.registry as Watchable).watch({ prefix, after: position, signal: inner });
      const source: Source = { shard, feed, stop, position };
      sources.set(shard, source);
      read(source);
    };
    const reconcile = async (initial: boolean): Promise<void> => {
      const attached = host.attached();
      for (const [shard, source] of sources) {
        if (attached.includes(shard)) continue;
        sources.delete(shard);
        source.stop.abort();
      }
      await Promise.all(attached.filter((s) => !sources.has(s)).map((s) => open(s, initial)));
    };
    let last = after;
    try {
      await reconcile(true);
      for (;;) {
        checkOpen(host.isClosed(), signal);
        const step = ready.shift();
        if (step === undefined) {
          await new Promise<void>((resolve) => {
            wake = resolve;
            if (ready.length !== 0 || signal?.aborted === true) notify();
          });
          if (this.#membershipMoved(sources)) await reconcile(false);
          continue;
        }
        const { source } = step;
        if (sources.get(source.shard) !== source) continue;
        if ('error' in step) throw this.#failure(source, step.error, { after, last }, signal);
        if ('ended' in step) throw RegistryError.unavailable(`the change feed of shard "${source.shard.name}" ended`);
        const { change } = step;
        source.position = change.cursor;
        read(source);
        if (!this.#serves(source.shard, change, recent)) continue;
        const positions = new Map([...sources.values()].map((s) => [s.shard.name, s.position]));
        last = encodeFeedCursor(positions);
        yield { ...change, cursor: last };
      }
    } finally {
      this.#wakes.delete(notify);
      signal?.removeEventListener('abort', notify);
      for (const source of sources.values()) {
        source.stop.abort();
        source.feed.return?.().catch(() => undefined);
      }
    }
  }

  /** Where a watch starts on `shard`: the position `start` names, its join cursor, or now. */
  async #startOf(
    shard: Shard,
    start: Map<string, string> | undefined,
    after: string | undefined,
    signal: AbortSignal | undefined,
  ): Promise<string> {
    const named = start?.get(shard.name);
    if (named !== undefined) return named;
    const joined = this.#joined.get(shard);
    // a cursor from before the shard joined: everything on it since it joined is after the cursor
    if (start !== undefined && start.size !== 0 && joined !== undefined) return joined;
    if (start !== undefined && start.size !== 0) throw RegistryError.compacted(after as string);
    return (shard.registry as Watchable).cursor({ signal });
  }

  #membershipMoved(sources: Map<Shard, Source>): boolean {
    const attached = this.#host.attached();
    return attached.length !== sources.size || attached.some((s) => !sources.has(s));
  }

  /**
   * Whether `change`, read from `shard`, is served: the shard is the key's primary owner, and
   * it is not a verbatim copy of the change last served for the key (a moved record).
   */
  #serves(shard: Shard, change: RegistryChange, recent: Map<string, RegistryRecord>): boolean {
    const key = change.type === 'set' ? change.record.key : change.key;
    if (this.#host.core.current.owners(key)[0] !== shard) return false;
    const last = recent.get(key);
    recent.delete(key);
    if (change.type === 'removed') return true;
    const { record } = change;
    if (last !== undefined && sameRecord(last, record)) {
      recent.set(key, last);
      return false;
    }
    recent.set(key, record);
    if (recent.size > RECENT_KEYS) recent.delete(recent.keys().next().value as string);
    return true;
  }

  /** The error a merged watch ends with when the feed of `source` failed with `error`. */
  #failure(
    source: Source,
    error: unknown,
    cursors: { readonly after: string | undefined; readonly last: string | undefined },
    signal: AbortSignal | undefined,
  ): unknown {
    const { after, last } = cursors;
    if (signal?.aborted === true) return signal.reason;
    if (this.#host.isClosed() || isRegistryError(error, 'CLOSED')) return RegistryError.closed();
    if (isRegistryError(error, 'COMPACTED')) return RegistryError.compacted(last ?? source.position, error);
    if (isRegistryError(error, 'INVALID_OPTION') && after !== undefined) {
      return new RegistryError(
        'INVALID_OPTION',
        `after must be a cursor this sharded registry issued: shard "${source.shard.name}" refused its position`,
        { cause: error },
      );
    }
    if (isRegistryError(error, 'INVALID_OPTION')) return error;
    return RegistryError.unavailable(`the change feed of shard "${source.shard.name}" failed`, error);
  }
}

/** Whether `b` is a verbatim copy of `a` (same version, times and value). */
function sameRecord(a: RegistryRecord, b: RegistryRecord): boolean {
  if (a.version !== b.version || a.updatedAt !== b.updatedAt || a.createdAt !== b.createdAt) return false;
  if (a.expiresAt !== b.expiresAt || a.value.byteLength !== b.value.byteLength) return false;
  for (let i = 0; i < a.value.byteLength; i++) if (a.value[i] !== b.value[i]) return false;
  return true;
}
