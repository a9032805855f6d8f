import type { Clock, Milliseconds } from '../../core/clock.js';
import { checkOptionsObject, integerOption, rejectUnknownOptions } from '../validation.js';

/** Configuration of a {@link MemoryRegistry}. */
export interface MemoryRegistryOptions {
  /**
   * Most records held at once; the least recently used is evicted beyond it. Memory follows
   * the records held, not this bound: nothing is allocated ahead for it.
   * @default 100_000
   */
  readonly maxEntries?: number;
  /**
   * Most bytes held at once, counting UTF-8 key bytes plus value bytes of every record; least
   * recently used records are evicted beyond it. `Infinity` for no byte limit.
   * @default 134_217_728 (128 MiB)
   */
  readonly maxBytes?: number;
  /**
   * Largest accepted value in bytes; larger ones reject with `VALUE_TOO_LARGE`.
   * @default 1_048_576 (1 MiB)
   */
  readonly maxValueBytes?: number;
  /**
   * Largest accepted key in UTF-8 bytes; longer ones reject with `INVALID_KEY`.
   * @default 1024
   */
  readonly maxKeyBytes?: number;
  /**
   * Shortest time between two runs of the expiry sweeper, in ms, and so the longest an expired
   * record that nobody reads stays after its deadline. The sweeper wakes when the earliest
   * deadline passes (not every interval), at most once per interval.
   * @default 1000
   */
  readonly sweepIntervalMs?: Milliseconds;
  /**
   * Most expired records one sweeper run removes; when more are due, the next run follows on
   * the next turn of the event loop, so a mass expiry never blocks the process for long.
   * @default 1000
   */
  readonly sweepBatchSize?: number;
  /**
   * How many of the latest changes `watch` keeps for watches to read and resume from (one
   * small object per change, holding the written value by reference). A watch that falls this
   * far behind, or resumes from an older cursor, rejects with `COMPACTED`. `0` keeps no feed:
   * writes skip it entirely, and `watch` and `cursor` reject with `INVALID_OPTION`.
   * @default 1000
   */
  readonly changeHistory?: number;
}

/** Injected collaborators of a {@link MemoryRegistry}. */
export interface MemoryRegistryDeps {
  /** Source of time and timers. @default systemClock */
  readonly clock?: Clock;
  /**
   * Receives errors thrown by event listeners (the operation that emitted still completes).
   * @default rethrows on a microtask, surfacing as an uncaught exception
   */
  readonly onListenerError?: (error: unknown) => void;
}

/** Defaults of {@link MemoryRegistryOptions}. */
export const DEFAULT_MEMORY_REGISTRY_OPTIONS = Object.freeze({
  maxEntries: 100_000,
  maxBytes: 128 * 1024 * 1024,
  maxValueBytes: 1024 * 1024,
  maxKeyBytes: 1024,
  sweepIntervalMs: 1000,
  sweepBatchSize: 1000,
  changeHistory: 1000,
} satisfies Required<MemoryRegistryOptions>);

/** Counters and gauges of a {@link MemoryRegistry}. */
export interface MemoryRegistryStats {
  /** Reads that found a live record. */
  readonly hits: number;
  /** Reads that found nothing (or only an expired record). */
  readonly misses: number;
  /** Successful writes. */
  readonly sets: number;
  /** Records removed by `delete` / `deleteMany`. */
  readonly deletes: number;
  /** Records evicted for capacity. */
  readonly evictions: number;
  /** Records removed because their deadline passed. */
  readonly expirations: number;
  /** Records held now (expired ones not yet swept included). */
  readonly entries: number;
  /** Key plus value bytes held now. */
  readonly bytes: number;
}

/** Validates `options` (messages name the option) and fills in the defaults. */
export function resolveMemoryOptions(options: MemoryRegistryOptions): Required<MemoryRegistryOptions> {
  checkOptionsObject('MemoryRegistry', options);
  rejectUnknownOptions('MemoryRegistry', options, Object.keys(DEFAULT_MEMORY_REGISTRY_OPTIONS));
  const d = DEFAULT_MEMORY_REGISTRY_OPTIONS;
  return {
    maxEntries: integerOption('maxEntries', options.maxEntries, d.maxEntries, { max: 2 ** 31 - 2 }),
    maxBytes: integerOption('maxBytes', options.maxBytes, d.maxBytes, { allowInfinity: true }),
    maxValueBytes: integerOption('maxValueBytes', options.maxValueBytes, d.maxValueBytes, { min: 0 }),
    maxKeyBytes: integerOption('maxKeyBytes', options.maxKeyBytes, d.maxKeyBytes),
    sweepIntervalMs: integerOption('sweepIntervalMs', options.sweepIntervalMs, d.sweepIntervalMs),
    sweepBatchSize: integerOption('sweepBatchSize', options.sweepBatchSize, d.sweepBatchSize),
    changeHistory: integerOption('changeHistory', options.changeHistory, d.changeHistory, {
      min: 0,
      max: 2 ** 24,
    }),
  };
}
