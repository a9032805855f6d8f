import type { Clock, Milliseconds } from '../../core/clock.js';
import { RegistryError } from '../errors.js';
import type { Registry } from '../registry.js';
import { booleanOption, checkOptionsObject, integerOption, rejectUnknownOptions } from '../validation.js';

/**
 * A source of invalidations for the near tier: keys changed in the far tier by someone else
 * (another process sharing it). The tier calls `start` once and `stop` on close. A change feed
 * of the far tier plugs in here; without one, `nearTtlMs` alone bounds staleness.
 */
export interface TierInvalidator {
  /**
   * Begins calling `invalidate(key)` for every key changed in the far tier, or
   * `invalidate(undefined)` when it cannot tell which (a gap in the feed: everything goes).
   */
  start(invalidate: (key: string | undefined) => void): { stop(): void };
}

/** Options of a `TieredRegistry`. */
export interface TieredRegistryOptions {
  /** The durable tier behind (e.g. a `RedisRegistry`): the truth. Writes go here first. */
  readonly far: Registry<Uint8Array>;
  /**
   * How long a copy in the near tier is served without asking the far tier, ms: the bound on
   * how stale a read can be when another process changes the far tier (from the far tier's
   * answer to this process's read, by this process's clock). Writes through this tier are
   * seen at once by its own reads.
   * @default 1000
   */
  readonly nearTtlMs?: Milliseconds | undefined;
  /**
   * When the far tier fails a read (`BACKEND_UNAVAILABLE`, `TIMEOUT`), serve a copy up to this
   * long past its freshness instead of rejecting, ms. `0` never serves a stale copy: a failing
   * far tier gives typed errors once `nearTtlMs` has passed.
   * @default 0
   */
  readonly serveStaleMs?: Milliseconds | undefined;
  /**
   * Most copies the near tier (in this process's memory) holds; the least recently read go
   * first. Memory grows with the copies held, not with this bound.
   * @default 10000
   */
  readonly nearMaxEntries?: number | undefined;
  /**
   * Most bytes the near tier holds, estimated per copy as its value bytes, twice its key's
   * length and 528 bytes of objects around them (measured on Node 20); the least recently read go first. A record
   * larger than this is never copied (always read from the far tier). `Infinity`: no bound.
   * @default 67108864 (64 MiB)
   */
  readonly nearMaxBytes?: number | undefined;
  /** Invalidations from the far tier's changes (see {@link TierInvalidator}). */
  readonly invalidator?: TierInvalidator | undefined;
  /** Close both tiers with this registry. @default true */
  readonly closeTiers?: boolean | undefined;
}

/** Collaborators of a `TieredRegistry`. */
export interface TieredRegistryDeps {
  /** Freshness of near copies; use the tiers' clock. @default systemClock */
  readonly clock?: Clock;
}

/** The defaults of {@link TieredRegistryOptions}. */
export const DEFAULT_TIERED_REGISTRY_OPTIONS = Object.freeze({
  nearTtlMs: 1000,
  serveStaleMs: 0,
  nearMaxEntries: 10_000,
  nearMaxBytes: 64 * 1024 * 1024,
  closeTiers: true,
});

/** Resolved options. @internal */
export interface ResolvedTieredOptions {
  readonly far: Registry<Uint8Array>;
  readonly nearTtlMs: number;
  readonly serveStaleMs: number;
  readonly nearMaxEntries: number;
  readonly nearMaxBytes: number;
  readonly invalidator: TierInvalidator | undefined;
  readonly closeTiers: boolean;
}

const isRegistry = (value: unknown): value is Registry<Uint8Array> =>
  typeof value === 'object' && value !== null && typeof (value as Registry).get === 'function';

/** Validates the options once. @throws {RegistryError} `INVALID_OPTION` naming the option. */
export function resolveTieredOptions(options: TieredRegistryOptions): ResolvedTieredOptions {
  checkOptionsObject('TieredRegistry', options);
  rejectUnknownOptions('TieredRegistry', options, [
    'far',
    'invalidator',
    ...Object.keys(DEFAULT_TIERED_REGISTRY_OPTIONS),
  ]);
  if (!isRegistry(options.far)) throw RegistryError.invalidOptionValue('far', 'a Registry', options.far);
  const { invalidator } = options;
  if (invalidator !== undefined && typeof invalidator.start !== 'function') {
    throw RegistryError.invalidOptionValue('invalidator', 'a TierInvalidator', invalidator);
  }
  const d = DEFAULT_TIERED_REGISTRY_OPTIONS;
  return {
    far: options.far,
    nearTtlMs: integerOption('nearTtlMs', options.nearTtlMs, d.nearTtlMs),
    serveStaleMs: integerOption('serveStaleMs', options.serveStaleMs, d.serveStaleMs, { min: 0 }),
    nearMaxEntries: integerOption('nearMaxEntries', options.nearMaxEntries, d.nearMaxEntries),
    nearMaxBytes: integerOption('nearMaxBytes', options.nearMaxBytes, d.nearMaxBytes, { allowInfinity: true }),
    invalidator,
    closeTiers: booleanOption('closeTiers', options.closeTiers, d.closeTiers),
  };
}
