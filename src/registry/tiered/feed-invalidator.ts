import { type Clock, type Milliseconds, systemClock, type Timer } from '../../core/clock.js';
import { isRegistryError, RegistryError } from '../errors.js';
import type { Registry } from '../registry.js';
import { checkOptionsObject, integerOption, rejectUnknownOptions } from '../validation.js';
import type { TierInvalidator } from './options.js';

/** Options of a {@link FeedInvalidator}. */
export interface FeedInvalidatorOptions {
  /**
   * The far tier, with a change feed (`watch` and `cursor`): a `MemoryRegistry`, an
   * `EtcdRegistry`, a `RedisRegistry` with `changefeed`.
   */
  readonly far: Registry<Uint8Array>;
  /** First pause before watching again after the feed broke, ms (doubles up to `retryMaxMs`). @default 50 */
  readonly retryMinMs?: Milliseconds | undefined;
  /**
   * Longest pause between attempts while the feed stays broken, ms. Every failed attempt drops
   * the whole near tier again, so no copy filled meanwhile outlives it unchecked.
   * @default 1000
   */
  readonly retryMaxMs?: Milliseconds | undefined;
}

/** Collaborators of a {@link FeedInvalidator}. */
export interface FeedInvalidatorDeps {
  /** Timers of the retry pauses. @default systemClock */
  readonly clock?: Clock;
}

/** Defaults of {@link FeedInvalidatorOptions}. */
export const DEFAULT_FEED_INVALIDATOR_OPTIONS = Object.freeze({ retryMinMs: 50, retryMaxMs: 1000 });

/** Counters of a {@link FeedInvalidator} since it started. */
export interface FeedInvalidatorStats {
  /** Changes of the far tier that dropped a near copy (one per change, whoever made it). */
  readonly changes: number;
  /** Times the whole near tier was dropped: at each (re)start, `COMPACTED`, and each broken attempt. */
  readonly resets: number;
  /** Times the feed broke (`COMPACTED` included) and was watched again. */
  readonly breaks: number;
}

/**
 * A {@link TierInvalidator} over the far tier's change feed: every change committed there
 * (by any process) drops this process's near copy of its key, so a `TieredRegistry` can keep
 * copies for long (`nearTtlMs`) and still see other processes' writes within the feed's delay.
 *
 * Staleness bound (what a read through the tier may return after another process changed a
 * key at time t, on the far tier):
 * - Feed up: the copy is dropped when the feed delivers the change — its delivery delay (a
 *   few ms on one host; `npm run bench -- registry-wrappers` prints p50/p99 across two
 *   processes). A far read in flight when the change arrives does not fill the tier.
 * - Feed broken (a lost connection, a server that stops answering: see the backend's watch), or
 *   `COMPACTED`: the whole near tier is marked stale at once, and again at every failed attempt
 *   to watch again (at least every `retryMaxMs`), then the feed resumes from the last change it
 *   delivered, so changes made meanwhile still drop their copies (after `COMPACTED`, from the
 *   current cursor, after dropping the tier once more). Reads then go to the far tier: a dead
 *   far tier gives its typed errors, not stale copies, unless the tier's `serveStaleMs` allows.
 * - Always: `nearTtlMs` stays the hard bound, whatever the feed does — including changes the
 *   feed never reports (for Redis: records it drops or evicts by itself; writers without
 *   `changefeed`).
 * At start (before the first cursor is known) the same holds as after a break: the tier is
 * dropped once the feed's cursor is read, and changes after it are delivered.
 */
export class FeedInvalidator implements TierInvalidator {
  readonly #far: Required<Pick<Registry, 'watch' | 'cursor'>>;
  readonly #retryMinMs: number;
  readonly #retryMaxMs: number;
  readonly #clock: Clock;
  #changes = 0;
  #resets = 0;
  #breaks = 0;

  /** @throws {RegistryError} `INVALID_OPTION` naming the option. */
  constructor(options: FeedInvalidatorOptions, deps: FeedInvalidatorDeps = {}) {
    checkOptionsObject('FeedInvalidator', options);
    rejectUnknownOptions('FeedInvalidator', options, ['far', ...Object.keys(DEFAULT_FEED_INVALIDATOR_OPTIONS)]);
    const { far } = options;
    if (typeof far?.watch !== 'function' || typeof far.cursor !== 'function') {
      throw RegistryError.invalidOptionValue('far', 'a Registry with watch() and cursor() (a change feed)', far);
    }
    this.#far = far as Required<Pick<Registry, 'watch' | 'cursor'>>;
    const d = DEFAULT_FEED_INVALIDATOR_OPTIONS;
    this.#retryMinMs = integerOption('retryMinMs', options.retryMinMs, d.retryMinMs);
    this.#retryMaxMs = integerOption('retryMaxMs', options.retryMaxMs, d.retryMaxMs, { min: this.#retryMinMs });
    this.#clock = deps.clock ?? systemClock;
  }

  get stats(): FeedInvalidatorStats {
    return { changes: this.#changes, resets: this.#resets, breaks: this.#breaks };
  }

  /** Watches the far tier until `stop()` (or until the far tier is closed). */
  start(invalidate: (key: string | undefined) => void): { stop(): void } {
    const controller = new AbortController();
    void this.#run(invalidate, controller.signal);
    return { stop: () => controller.abort(RegistryError.closed()) };
  }

  async #run(invalidate: (key: string | undefined) => void, signal: AbortSignal): Promise<void> {
    const resetAll = (): void => {
      this.#resets++;
      invalidate(undefined);
    };
    let cursor: string | undefined;
    let delay = this.#retryMinMs;
    while (!signal.aborted) {
      try {
        if (cursor === undefined) {
          cursor = await this.#far.cursor({ signal });
          // copies filled before the cursor may predate changes the feed will not repeat
          resetAll();
        }
        for await (const change of this.#far.watch({ after: cursor, signal })) {
          cursor = change.cursor;
          delay = this.#retryMinMs;
          this.#changes++;
          invalidate(change.type === 'set' ? change.record.key : change.key);
        }
        throw RegistryError.unavailable('the change feed ended');
      } catch (error) {
        if (signal.aborted || isRegistryError(error, 'CLOSED')) return;
        this.#breaks++;
        resetAll();
        if (isRegistryError(error, 'COMPACTED')) cursor = undefined;
        await this.#pause(delay, signal);
        delay = Math.min(this.#retryMaxMs, delay * 2);
      }
    }
  }

  #pause(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const timers: Timer[] = [];
      const done = (): void => {
        for (const timer of timers) timer.cancel();
        signal.removeEventListener('abort', done);
        resolve();
      };
      timers.push(this.#clock.setTimeout(done, ms));
      signal.addEventListener('abort', done, { once: true });
    });
  }
}
