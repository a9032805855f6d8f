import { isRegistryError, RegistryError } from '../errors.js';
import type { OperationOptions, Registry, RegistryChange, RegistryRecord, WatchOptions } from '../registry.js';
import { checkOpen } from '../validation.js';
import type { ShardedCore } from './core.js';
import { decodeFeedCursor, encodeFeedCursor, feedNamePart, feedPart, joinFeedParts } from './feed-cursor.js';
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
 * Keys whose last served set a watch remembers (at least half as many, the most recent), to drop
 * a verbatim copy of it (a migrated record arriving on its new owner).
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
  /** The start of its part of a cursor (its encoded name and `=`). */
  readonly namePart: string;
  /** Its part of a cursor at `position`. */
  part: string;
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
  /** Bumped on every membership change: a watch reconciles its feeds when it moved. */
  #generation = 0;

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

  /**
   * A shard was attached (after construction: by `addShard`; its cursor now is where it joined)
   * or detached: watches follow.
   */
  membershipChanged(shard: Shard, attached: boolean): void {
    if (!attached) this.#joined.delete(shard);
    else if (hasFeed(shard.registry)) {
      const position = shard.registry.cursor();
      position.catch(() => undefined);
      this.#joined.set(shard, position);
    }
    this.#generation++;
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
    const recent = new Recent();
    this.#wakes.add(notify);
    signal?.addEventListener('abort', notify);
    const read = (source: Source): void => {
      source.feed.next().then(
        (result) => {
          ready.push(result.done === true ? { source, ended: true } : { source, change: result.value });
          notify();
        },
        (error: unknown) => {
          ready.push({ source, error });
          notify();
        },
      );
    };
    // the sources in shard-name order, as their parts appear in a cursor
    let ordered: Source[] = [];
    let generation = this.#generation;
    const open = async (shard: Shard, initial: boolean): Promise<void> => {
      const position = await this.#startOf(shard, start, !initial, signal);
      if (sources.has(shard) || !host.attached().includes(shard)) return;
      const stop = new AbortController();
      const inner = signal === undefined ? stop.signal : AbortSignal.any([signal, stop.signal]);
      const feed = (shard.registry as Watchable).watch({ prefix, after: position, signal: inner });
      const namePart = feedNamePart(shard.name);
      const source: Source = { shard, feed, stop, position, namePart, part: feedPart(namePart, position) };
      sources.set(shard, source);
      read(source);
    };
    const reconcile = async (initial: boolean): Promise<void> => {
      generation = this.#generation;
      const attached = host.attached();
      for (const [shard, source] of sources) {
        if (attached.includes(shard)) continue;
        sources.delete(shard);
        source.stop.abort();
      }
      await Promise.all(attached.filter((s) => !sources.has(s)).map((s) => open(s, initial)));
      ordered = [...sources.values()].sort((a, b) => (a.shard.name < b.shard.name ? -1 : 1));
    };
    let last = after;
    try {
      await reconcile(true);
      for (;;) {
        checkOpen(host.isClosed(), signal);
        if (generation !== this.#generation) await reconcile(false);
        const step = ready.shift();
        if (step === undefined) {
          await new Promise<void>((resolve) => {
            wake = resolve;
            if (ready.length !== 0 || signal?.aborted === true) notify();
          });
          continue;
        }
        const { source } = step;
        if (sources.get(source.shard) !== source) continue;
        if ('error' in step) throw this.#failure(source, step.error, { after, last }, signal);
        if ('ended' in step) throw RegistryError.unavailable(`the change feed of shard "${source.shard.name}" ended`);
        const { change } = step;
        source.position = change.cursor;
        source.part = feedPart(source.namePart, change.cursor);
        read(source);
        if (!this.#serves(source.shard, change, recent)) continue;
        last = joinFeedParts(ordered.map((s) => s.part));
        yield change.type === 'set'
          ? { type: 'set', record: change.record, cursor: last }
          : { type: 'removed', key: change.key, version: change.version, reason: change.reason, cursor: last };
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

  /**
   * Where a watch starts on `shard`: the position `start` (the `after` cursor decoded) names;
   * else where the shard joined, for a shard that joined after the cursor or while the watch
   * runs; else, without a cursor, the shard's latest change.
   */
  async #startOf(
    shard: Shard,
    start: Map<string, string> | undefined,
    midWatch: boolean,
    signal: AbortSignal | undefined,
  ): Promise<string> {
    const named = start?.get(shard.name);
    if (named !== undefined) return named;
    const joined = this.#joined.get(shard);
    if (joined !== undefined && (midWatch || start !== undefined)) return joined;
    if (start !== undefined) throw RegistryError.compacted(encodeFeedCursor(start));
    return (shard.registry as Watchable).cursor({ signal });
  }

  /**
   * Whether `change`, read from `shard`, is served: the shard is the key's primary owner, and
   * it is not a verbatim copy of the change last served for the key (a moved record).
   */
  #serves(shard: Shard, change: RegistryChange, recent: Recent): boolean {
    const key = change.type === 'set' ? change.record.key : change.key;
    const { members, router } = this.#host.core.current;
    if (members[router.first(key)] !== shard) return false;
    if (change.type === 'removed') {
      recent.forget(key);
      return true;
    }
    const last = recent.get(key);
    if (last !== undefined && sameRecord(last, change.record)) return false;
    recent.set(key, change.record);
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

/**
 * The last set served per key, for between RECENT_KEYS / 2 and RECENT_KEYS keys: two maps, the
 * older dropped whole when the newer fills (no per-entry eviction, O(1) per change).
 */
class Recent {
  #newer = new Map<string, RegistryRecord>();
  #older = new Map<string, RegistryRecord>();

  get(key: string): RegistryRecord | undefined {
    return this.#newer.get(key) ?? this.#older.get(key);
  }

  set(key: string, record: RegistryRecord): void {
    this.#older.delete(key);
    this.#newer.set(key, record);
    if (this.#newer.size < RECENT_KEYS / 2) return;
    this.#older = this.#newer;
    this.#newer = new Map();
  }

  forget(key: string): void {
    this.#newer.delete(key);
    this.#older.delete(key);
  }
}

/** Whether `b` is a verbatim copy of `a` (same version, times and value). */
function sameRecord(a: RegistryRecord, b: RegistryRecord): boolean {
  if (a.version !== b.version || a.updatedAt !== b.updatedAt || a.createdAt !== b.createdAt) return false;
  if (a.expiresAt !== b.expiresAt || a.value.byteLength !== b.value.byteLength) return false;
  for (let i = 0; i < a.value.byteLength; i++) if (a.value[i] !== b.value[i]) return false;
  return true;
}
