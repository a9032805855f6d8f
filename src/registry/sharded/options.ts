import type { Clock, Milliseconds } from '../../core/clock.js';
import { RegistryError } from '../errors.js';
import type { RegistryEvents } from '../events.js';
import type { Registry } from '../registry.js';
import {
  booleanOption,
  checkOptionsObject,
  integerOption,
  MAX_TIMER_MS,
  oneOfOption,
  option,
  rejectUnknownOptions,
} from '../validation.js';

/** One backend of a {@link ShardedRegistry}. */
export interface ShardSpec {
  /**
   * Unique name. It seeds the shard's hash scores, so it — not the position in the list — decides
   * which keys the shard owns: keep names stable across restarts.
   */
  readonly name: string;
  /** The backend: any byte {@link Registry} (memory, Redis, another sharded registry, …). */
  readonly registry: Registry;
  /** Relative share of keys, a positive finite number. @default 1 */
  readonly weight?: number;
}

/** Configuration of a {@link ShardedRegistry}. */
export interface ShardedRegistryOptions {
  /** The backends, at least one. Names must be unique. */
  readonly shards: readonly ShardSpec[];
  /**
   * Replication factor R: every record is written to the R top-scoring shards. Reads use the
   * first healthy one. Capped by the number of shards.
   * @default 1
   */
  readonly replicas?: number;
  /**
   * Deadline of every call to one shard, in ms, combined with the caller's signal. A shard that
   * misses it fails the call with `TIMEOUT` and opens its circuit at once. At most 2^31 − 1.
   * @default 2000
   */
  readonly timeoutMs?: Milliseconds;
  /**
   * Consecutive failures (`BACKEND_UNAVAILABLE`, `TIMEOUT`, `CLOSED` or a non-registry error) that
   * open a shard's circuit. Input errors such as `VERSION_CONFLICT` never count.
   * @default 3
   */
  readonly failureThreshold?: number;
  /**
   * How long an open circuit waits before a half-open probe (a `has` on the shard), in ms; a
   * failed probe waits this long again. Also the first wait before a hand-back that left keys
   * unsettled is retried; it doubles with each failure in a row, up to 8 × `cooldownMs`. At most
   * 268 435 455 (~3.1 days), so that 8 × it is a timer's delay (2^31 − 1 ms at most).
   * @default 5000
   */
  readonly cooldownMs?: Milliseconds;
  /**
   * Records per second that migrations and hand-backs move (a token bucket on the injected
   * clock), so rebalancing does not starve live traffic. `Infinity` for no limit.
   * @default 5000
   */
  readonly migrationRate?: number;
  /** Records a migration moves per step (one read and one delete round trip per step). @default 100 */
  readonly migrationBatchSize?: number;
  /**
   * Most keys remembered per unavailable shard for hand-back ("hints"). Beyond it the shard is
   * marked for a full resync: on return, every other shard is scanned for its keys; deletes made
   * meanwhile beyond the limit may then reappear. Each hint costs about 100 bytes.
   * @default 100_000
   */
  readonly maxHintsPerShard?: number;
  /**
   * Global record limit across all shards, enforced by a coordinator-level LRU of keys: the least
   * recently used logical record is deleted from every shard beyond it. Off when neither this nor
   * `maxBytes` is set; when on it costs about 150 bytes of coordinator memory per key.
   * @default Infinity (off)
   */
  readonly maxEntries?: number;
  /**
   * Global byte limit (UTF-8 key bytes plus value bytes of each logical record, replicas counted
   * once), enforced like `maxEntries`.
   * @default Infinity (off)
   */
  readonly maxBytes?: number;
  /**
   * Keep a coordinator-level index of keys even without capacity limits, so that losing an
   * unreachable shard (`removeShard(name, { lost: true })`) can report exactly the records that
   * were lost (`shard-lost`). Implied by `maxEntries` / `maxBytes`. Costs about 150 bytes per key.
   * @default false
   */
  readonly trackKeys?: boolean;
  /**
   * What a read answers when every shard that may hold the key is unavailable and the fallback
   * shard has nothing for it: `'error'` rejects with `BACKEND_UNAVAILABLE`, `'miss'` resolves as
   * a miss (explicit opt-in to degraded reads).
   * @default 'error'
   */
  readonly unavailableReads?: 'error' | 'miss';
  /** Largest accepted key in UTF-8 bytes (checked before any shard is called). @default 1024 */
  readonly maxKeyBytes?: number;
  /** Largest accepted value in bytes (checked before any shard is called). @default 1_048_576 */
  readonly maxValueBytes?: number;
  /**
   * Probability (0..1) that a `get` / `getMany` of a key also checks the key's other healthy
   * owners, with R > 1. Done in the background: the caller's read never waits for it or fails
   * because of it. A missing or older copy (lower version, or same version and earlier
   * `updatedAt`) gets a verbatim `restore` of the newest one; a key the primary lacks is never
   * recreated (it may have been deleted or expired). Cost: one extra read per other owner on
   * each sampled key, plus one write per repaired copy. `0` turns it off.
   * @default 0.1
   */
  readonly readRepair?: number;
  /**
   * Most read repairs in flight at once; a sampled read beyond it is not checked.
   * @default 8
   */
  readonly readRepairConcurrency?: number;
}

/** Defaults of {@link ShardedRegistryOptions}. */
export const DEFAULT_SHARDED_REGISTRY_OPTIONS = Object.freeze({
  replicas: 1,
  timeoutMs: 2000,
  failureThreshold: 3,
  cooldownMs: 5000,
  migrationRate: 5000,
  migrationBatchSize: 100,
  maxHintsPerShard: 100_000,
  maxEntries: Number.POSITIVE_INFINITY,
  maxBytes: Number.POSITIVE_INFINITY,
  trackKeys: false,
  unavailableReads: 'error' as 'error' | 'miss',
  maxKeyBytes: 1024,
  maxValueBytes: 1024 * 1024,
  readRepair: 0.1,
  readRepairConcurrency: 8,
} satisfies Required<Omit<ShardedRegistryOptions, 'shards'>>);

/** The validated configuration (without the shards). */
export type ResolvedShardedOptions = Required<Omit<ShardedRegistryOptions, 'shards'>>;

/** Injected collaborators of a {@link ShardedRegistry}. */
export interface ShardedRegistryDeps {
  /** Time for deadlines, cooldowns and rate limits. @default systemClock */
  readonly clock?: Clock;
  /** Receives errors thrown by event listeners. @default rethrown on a microtask */
  readonly onListenerError?: (error: unknown) => void;
  /** Uniform random numbers in [0, 1) that sample reads for read repair. @default Math.random */
  readonly random?: () => number;
}

/** Health of one shard, as its circuit breaker sees it. */
export type ShardHealth =
  /** Closed circuit: serving. */
  | 'up'
  /** Open circuit: skipped by routing until a probe succeeds. */
  | 'down'
  /** Half-open: one probe is in flight; still skipped by routing. */
  | 'probing';

/** What a migration does. */
export type MigrationKind = 'add' | 'remove' | 'drain' | 'lost' | 'hand-back';

/** Payload of `migration:progress` and `migration:done`. */
export interface MigrationEvent {
  readonly kind: MigrationKind;
  /** The shard added, removed, drained, lost or handed back to. */
  readonly shard: string;
  /** Records examined so far. */
  readonly scanned: number;
  /** Records whose copies were moved or re-replicated so far. */
  readonly moved: number;
}

/** Payload of `migration:done`. */
export interface MigrationResult extends MigrationEvent {
  /**
   * `true` when the migration stopped before the end: its signal aborted, or a shard it reads
   * from failed. Reads keep checking the old owners; `rebalance()` finishes the move.
   */
  readonly cancelled: boolean;
}

/** The events of a {@link ShardedRegistry}: the registry events plus sharding ones. */
export interface ShardedRegistryEvents extends RegistryEvents {
  /** A shard's circuit changed state. `error` is the failure that opened it. */
  'shard:health': { readonly shard: string; readonly health: ShardHealth; readonly error?: unknown };
  /** A call to a shard failed with a backend failure (counted by its circuit breaker). */
  'shard:error': { readonly shard: string; readonly operation: string; readonly error: unknown };
  /**
   * A shard was removed as lost. `records` is how many records had their last copy there, or
   * `undefined` when the registry keeps no key index (`trackKeys`) and cannot know.
   */
  'shard:lost': { readonly shard: string; readonly records: number | undefined };
  /** Progress of a migration or hand-back, after each batch. */
  'migration:progress': MigrationEvent;
  /** A migration or hand-back finished or was cancelled. */
  'migration:done': MigrationResult;
}

/** Counters of one shard. */
export interface ShardStats {
  readonly name: string;
  readonly weight: number;
  readonly health: ShardHealth;
  /** Calls sent to the shard. */
  readonly calls: number;
  /** Calls that failed with a backend failure (timeouts included). */
  readonly errors: number;
  /** Calls that missed `timeoutMs`. */
  readonly timeouts: number;
  /** Records the global capacity evicted whose primary was this shard. */
  readonly evictions: number;
  /** Keys waiting to be handed back to this shard. */
  readonly hints: number;
  /** Records copied onto / moved off this shard by migrations and hand-backs. */
  readonly migratedIn: number;
  readonly migratedOut: number;
  /** Stale or missing copies on this shard that read repair replaced. */
  readonly readRepairs: number;
}

/** Counters of a {@link ShardedRegistry}. */
export interface ShardedRegistryStats {
  readonly shards: readonly ShardStats[];
  /** Records held by the global capacity index (0 when off). */
  readonly indexedKeys: number;
  /** Bytes accounted by the global capacity index (0 when off). */
  readonly indexedBytes: number;
}

/** The longest wait between two attempts of a failing hand-back, in cooldowns (`cooldownMs`). */
export const MAX_RETRY_COOLDOWNS = 8;

/** Validates everything but the shard list; throws `INVALID_OPTION` naming the option. */
export function resolveShardedOptions(options: ShardedRegistryOptions): ResolvedShardedOptions {
  checkOptionsObject('ShardedRegistry', options);
  rejectUnknownOptions('ShardedRegistry', options, ['shards', ...Object.keys(DEFAULT_SHARDED_REGISTRY_OPTIONS)]);
  const d = DEFAULT_SHARDED_REGISTRY_OPTIONS;
  const resolved: ResolvedShardedOptions = {
    replicas: integerOption('replicas', options.replicas, d.replicas, { max: 16 }),
    // timer delays (see MAX_TIMER_MS); a hand-back retry waits up to MAX_RETRY_COOLDOWNS cooldowns
    timeoutMs: integerOption('timeoutMs', options.timeoutMs, d.timeoutMs, { max: MAX_TIMER_MS }),
    failureThreshold: integerOption('failureThreshold', options.failureThreshold, d.failureThreshold),
    cooldownMs: integerOption('cooldownMs', options.cooldownMs, d.cooldownMs, {
      max: Math.floor(MAX_TIMER_MS / MAX_RETRY_COOLDOWNS),
    }),
    migrationRate: option(
      'migrationRate',
      options.migrationRate,
      d.migrationRate,
      'a positive number or Infinity',
      (v): v is number => typeof v === 'number' && v > 0,
    ),
    migrationBatchSize: integerOption('migrationBatchSize', options.migrationBatchSize, d.migrationBatchSize),
    maxHintsPerShard: integerOption('maxHintsPerShard', options.maxHintsPerShard, d.maxHintsPerShard, { min: 0 }),
    maxEntries: integerOption('maxEntries', options.maxEntries, d.maxEntries, { allowInfinity: true }),
    maxBytes: integerOption('maxBytes', options.maxBytes, d.maxBytes, { allowInfinity: true }),
    trackKeys: booleanOption('trackKeys', options.trackKeys, d.trackKeys),
    unavailableReads: oneOfOption('unavailableReads', options.unavailableReads, d.unavailableReads, ['error', 'miss']),
    maxKeyBytes: integerOption('maxKeyBytes', options.maxKeyBytes, d.maxKeyBytes),
    maxValueBytes: integerOption('maxValueBytes', options.maxValueBytes, d.maxValueBytes, { min: 0 }),
    readRepair: option(
      'readRepair',
      options.readRepair,
      d.readRepair,
      'a number in [0, 1]',
      (v): v is number => typeof v === 'number' && v >= 0 && v <= 1,
    ),
    readRepairConcurrency: integerOption(
      'readRepairConcurrency',
      options.readRepairConcurrency,
      d.readRepairConcurrency,
    ),
  };
  const shards: unknown = options.shards;
  if (!Array.isArray(shards) || shards.length === 0) {
    throw RegistryError.invalidOptionValue('shards', 'a non-empty array', shards);
  }
  return resolved;
}

/** Checks one shard spec (the router checks names and weights). */
export function checkShardSpec(spec: unknown, where: string): asserts spec is ShardSpec {
  if (typeof spec !== 'object' || spec === null) throw RegistryError.invalidOptionValue(where, 'an object', spec);
  rejectUnknownOptions(where, spec, ['name', 'registry', 'weight']);
  const registry = (spec as { registry?: unknown }).registry;
  if (typeof registry !== 'object' || registry === null || typeof (registry as Registry).get !== 'function') {
    throw RegistryError.invalidOptionValue(`${where}.registry`, 'a Registry', registry);
  }
}

/** With a capacity index: rejects a batch whose final state cannot fit the global capacity. */
export function checkBatchFits(
  options: ResolvedShardedOptions,
  entries: readonly { readonly key: string }[],
  sizes: readonly number[],
): void {
  const { maxEntries, maxBytes } = options;
  const final = new Map<string, number>();
  entries.forEach((e, i) => final.set(e.key, sizes[i] ?? 0));
  if (final.size > maxEntries)
    throw RegistryError.capacityExceeded(`batch of ${final.size} keys exceeds maxEntries ${maxEntries}`);
  let total = 0;
  for (const bytes of final.values()) total += bytes;
  if (total > maxBytes) throw RegistryError.capacityExceeded(`batch of ${total} bytes exceeds maxBytes ${maxBytes}`);
}
