import type { Clock, Milliseconds, Timer } from './clock.js';
import { isRegistryError, RegistryError } from './errors.js';
import type { Registry } from './registry.js';
import type { ShardHealth, ShardStats } from './sharded-options.js';

/** What a write left undone on a shard, to be handed back when it serves again. */
export type Hint = 'set' | 'delete';

/** Callbacks from a {@link Shard} to its owning registry. */
export interface ShardHooks {
  readonly clock: Clock;
  readonly timeoutMs: Milliseconds;
  readonly failureThreshold: number;
  readonly cooldownMs: Milliseconds;
  readonly maxHints: number;
  onHealth(shard: Shard, health: ShardHealth, error?: unknown): void;
  onError(shard: Shard, operation: string, error: unknown): void;
}

// a key no caller can write (validation rejects lone surrogates), so the probe touches no data
const PROBE_KEY = 'nautilus:probe';

/**
 * One backend of a sharded registry: its circuit breaker (closed → open after `failureThreshold`
 * consecutive failures or one timeout → half-open probe after `cooldownMs` → closed on success),
 * per-call deadlines, hints for hand-back and counters.
 */
export class Shard {
  readonly name: string;
  readonly registry: Registry;
  readonly weight: number;
  health: ShardHealth = 'up';
  /** Keys this shard missed while unavailable (or whose write to it failed): it is stale for them. */
  readonly hints = new Map<string, Hint>();
  /** More hints than `maxHints` were needed: only a full resync can hand back. */
  hintsOverflowed = false;
  /** Keys whose backend removal events are internal moves, not logical removals. */
  readonly silenced = new Map<string, number>();
  calls = 0;
  errors = 0;
  timeouts = 0;
  evictions = 0;
  migratedIn = 0;
  migratedOut = 0;
  readonly #hooks: ShardHooks;
  #failures = 0;
  #timer: Timer | undefined;
  #closed = false;

  constructor(name: string, registry: Registry, weight: number, hooks: ShardHooks) {
    this.name = name;
    this.registry = registry;
    this.weight = weight;
    this.#hooks = hooks;
  }

  /** Whether routing may send traffic for `key` here (circuit closed and not stale for it). */
  servesKey(key: string): boolean {
    return this.health === 'up' && (this.hints.size === 0 || !this.hints.has(key));
  }

  /** Records that this shard missed a write of `key`. */
  hint(key: string, hint: Hint): void {
    if (this.hints.size >= this.#hooks.maxHints && !this.hints.has(key)) {
      this.hintsOverflowed = true;
      return;
    }
    this.hints.set(key, hint);
  }

  /**
   * Runs `fn` against the backend with a deadline of `timeoutMs` combined with `signal`. Backend
   * failures count towards the circuit breaker; input errors and the caller's abort do not.
   */
  async call<T>(operation: string, signal: AbortSignal | undefined, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    this.calls++;
    const controller = new AbortController();
    const inner = controller.signal;
    const timer = this.#hooks.clock.setTimeout(() => {
      controller.abort(RegistryError.timeout(`shard "${this.name}" did not answer ${operation} within ${this.#hooks.timeoutMs} ms`));
    }, this.#hooks.timeoutMs);
    const onAbort = (): void => controller.abort(signal?.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const result = await raceAbort(fn(inner), inner);
      this.#failures = 0;
      return result;
    } catch (error) {
      if (signal?.aborted === true && error === signal.reason) throw error;
      if (!isShardFailure(error)) throw error;
      const failure = isRegistryError(error)
        ? error
        : RegistryError.unavailable(`shard "${this.name}" failed ${operation}: ${String(error)}`, error);
      this.#failed(operation, failure);
      throw failure;
    } finally {
      timer.cancel();
      signal?.removeEventListener('abort', onAbort);
    }
  }

  /** Counters for `stats()`. */
  stats(): ShardStats {
    return {
      name: this.name,
      weight: this.weight,
      health: this.health,
      calls: this.calls,
      errors: this.errors,
      timeouts: this.timeouts,
      evictions: this.evictions,
      hints: this.hints.size,
      migratedIn: this.migratedIn,
      migratedOut: this.migratedOut,
    };
  }

  /** Stops probing (the shard left the registry or the registry closed). */
  detach(): void {
    this.#closed = true;
    this.#timer?.cancel();
    this.#timer = undefined;
  }

  #failed(operation: string, error: RegistryError): void {
    this.errors++;
    const timedOut = error.code === 'TIMEOUT';
    if (timedOut) this.timeouts++;
    this.#hooks.onError(this, operation, error);
    this.#failures++;
    // a timeout opens at once: waiting out more deadlines would slow every caller of this shard
    if (this.health === 'up' && (timedOut || this.#failures >= this.#hooks.failureThreshold)) this.#open(error);
  }

  #open(error: unknown): void {
    this.health = 'down';
    this.#hooks.onHealth(this, 'down', error);
    this.#scheduleProbe();
  }

  #scheduleProbe(): void {
    if (this.#closed) return;
    this.#timer = this.#hooks.clock.setTimeout(() => void this.#probe(), this.#hooks.cooldownMs);
  }

  async #probe(): Promise<void> {
    this.#timer = undefined;
    if (this.#closed) return;
    this.health = 'probing';
    this.#hooks.onHealth(this, 'probing');
    const controller = new AbortController();
    const timer = this.#hooks.clock.setTimeout(() => controller.abort(RegistryError.timeout('probe timed out')), this.#hooks.timeoutMs);
    try {
      await raceAbort(this.registry.has(PROBE_KEY, { signal: controller.signal }), controller.signal);
      if (this.#closed) return;
      this.#failures = 0;
      this.health = 'up';
      this.#hooks.onHealth(this, 'up');
    } catch (error) {
      if (this.#closed) return;
      this.health = 'down';
      this.#hooks.onHealth(this, 'down', error);
      this.#scheduleProbe();
    } finally {
      timer.cancel();
    }
  }
}

/** Whether `error` says the backend failed (as opposed to rejecting the input). */
export function isShardFailure(error: unknown): boolean {
  if (!isRegistryError(error)) return true;
  return error.code === 'BACKEND_UNAVAILABLE' || error.code === 'TIMEOUT' || error.code === 'CLOSED';
}

/** Settles like `promise`, or rejects with `signal.reason` as soon as `signal` aborts. */
function raceAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    promise.catch(() => undefined);
    return Promise.reject(signal.reason as Error);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: Error) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}
