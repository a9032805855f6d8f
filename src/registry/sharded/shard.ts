import { setMaxListeners } from 'node:events';
import { raceAbort } from '../../core/abort.js';
import type { Clock, Milliseconds, Timer } from '../../core/clock.js';
import { isRegistryError, RegistryError } from '../errors.js';
import type { Registry, RegistryRecord, RestoreResult } from '../registry.js';
import { type Hint, Hints } from './hints.js';
import type { ShardHealth, ShardSpec, ShardStats } from './options.js';

/** Callbacks from a {@link Shard} to its owning registry. */
export interface ShardHooks {
  readonly clock: Clock;
  readonly timeoutMs: Milliseconds;
  readonly failureThreshold: number;
  readonly cooldownMs: Milliseconds;
  readonly maxHints: number;
  onHealth(shard: Shard, health: ShardHealth, error?: unknown): void;
  onError(shard: Shard, operation: string, error: unknown): void;
  /** A shard that is up got a hint (a write it failed while others took it): hand it back soon. */
  onHint(shard: Shard): void;
}

interface InFlight {
  readonly deadline: Milliseconds;
  readonly operation: string;
  readonly fail: (error: unknown) => void;
  done: boolean;
}

// the probe only reads: whether this key exists does not matter, only that the shard answers
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
  #health: ShardHealth = 'up';
  /** Keys this shard missed while unavailable (or whose write to it failed): it is stale for them. */
  readonly hints: Hints;
  #resyncing = false;
  /** Keys whose backend removal events are internal moves, not logical removals: how many moves each. */
  readonly #silenced = new Map<string, number>();
  #calls = 0;
  #errors = 0;
  #timeouts = 0;
  #evictions = 0;
  #migratedIn = 0;
  #migratedOut = 0;
  #readRepairs = 0;
  readonly #hooks: ShardHooks;
  #failures = 0;
  #timer: Timer | undefined;
  #watchdog: Timer | undefined;
  /** Aborted (and replaced) when a call on this shard times out. */
  #session = new AbortController();
  #fresh = true;
  /** Calls in start order (= deadline order) from `#head`; finished ones are skipped lazily. */
  #queue: InFlight[] = [];
  #head = 0;
  #closed = false;

  /** `spec` as checked by `checkShardSpec` (the router checks its name and weight). */
  constructor(spec: ShardSpec, hooks: ShardHooks) {
    this.name = spec.name;
    this.registry = spec.registry;
    this.weight = spec.weight ?? 1;
    this.#hooks = hooks;
    this.hints = new Hints(hooks.maxHints);
  }

  /** Circuit state: `up` (closed), `down` (open) or `probing` (half-open). */
  get health(): ShardHealth {
    return this.#health;
  }

  /** Back from an outage, not yet checked and caught up: routing skips it. */
  get resyncing(): boolean {
    return this.#resyncing;
  }

  /** Whether routing may send traffic for `key` here (circuit closed and not stale for it). */
  servesKey(key: string): boolean {
    return this.#health === 'up' && !this.#resyncing && (this.hints.size === 0 || !this.hints.has(key));
  }

  /** Whether the backend takes verbatim copies (`Registry.restore`). */
  get canRestore(): boolean {
    return typeof this.registry.restore === 'function';
  }

  /**
   * Restores `record` on the backend through the circuit breaker and deadline. The backend must
   * have `restore` (see {@link canRestore}).
   */
  restore(record: RegistryRecord, ifNewer: boolean, signal: AbortSignal | undefined): Promise<RestoreResult> {
    const backend = this.registry;
    return this.call('restore', signal, (s) =>
      (backend.restore as NonNullable<typeof backend.restore>).call(backend, record, { ifNewer, signal: s }),
    );
  }

  /** Records that this shard missed a write of `key`; a shard that is up asks for a hand-back. */
  hint(key: string, hint: Hint): void {
    if (this.hints.add(key, hint) && this.#health === 'up') this.#hooks.onHint(this);
  }

  /** A probe found it up again: out of routing until the hand-back that follows ends ({@link endResync}). */
  beginResync(): void {
    this.#resyncing = true;
  }

  /** The hand-back after a recovery ended: routing may use it again. */
  endResync(): void {
    this.#resyncing = false;
  }

  /**
   * Runs `fn`, an internal move of `key` onto or off this shard, with the backend's removal
   * events for `key` silenced (see {@link isSilenced}): they are not logical removals.
   */
  async silently<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const silenced = this.#silenced;
    silenced.set(key, (silenced.get(key) ?? 0) + 1);
    try {
      return await fn();
    } finally {
      const n = (silenced.get(key) ?? 1) - 1;
      if (n === 0) silenced.delete(key);
      else silenced.set(key, n);
    }
  }

  /** Whether a removal event of `key` from the backend comes from an internal move ({@link silently}). */
  isSilenced(key: string): boolean {
    return this.#silenced.size !== 0 && this.#silenced.has(key);
  }

  /** The global capacity evicted a record whose primary this shard was. */
  countEviction(): void {
    this.#evictions++;
  }

  /** A migration or hand-back copied a record onto this shard. */
  countMigratedIn(): void {
    this.#migratedIn++;
  }

  /** A migration or hand-back moved a record off this shard. */
  countMigratedOut(): void {
    this.#migratedOut++;
  }

  /** Read repair replaced a stale or missing copy on this shard. */
  countReadRepair(): void {
    this.#readRepairs++;
  }

  /**
   * Runs `fn` against the backend with a deadline of `timeoutMs`, honouring `signal`. Backend
   * failures count towards the circuit breaker; input errors and the caller's abort do not.
   *
   * Deadlines cost no timer per call: calls are kept in start order (all share `timeoutMs`, so
   * that is deadline order) and one watchdog timer per shard fires at the oldest deadline. When a
   * call misses it, the calls that expired fail with `TIMEOUT` and the signal given to every call
   * in flight on this shard aborts (the backend is stuck; its circuit opens at once).
   */
  call<T>(operation: string, signal: AbortSignal | undefined, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    this.#calls++;
    const session = this.#session.signal;
    if (this.#fresh) {
      // every call in flight on this shard listens to the session signal
      setMaxListeners(0, session);
      this.#fresh = false;
    }
    const backendSignal = signal === undefined ? session : AbortSignal.any([signal, session]);
    return new Promise<T>((resolve, reject) => {
      let done = false;
      const onAbort = (): void => fail(signal?.reason);
      const finish = (): boolean => {
        if (done) return false;
        done = true;
        entry.done = true;
        this.#advance();
        signal?.removeEventListener('abort', onAbort);
        return true;
      };
      const fail = (error: unknown): void => {
        if (finish()) reject(this.#classify(operation, signal, error));
      };
      const entry: InFlight = {
        deadline: this.#hooks.clock.now() + this.#hooks.timeoutMs,
        operation,
        fail,
        done: false,
      };
      this.#queue.push(entry);
      if (this.#watchdog === undefined) this.#arm();
      signal?.addEventListener('abort', onAbort, { once: true });
      let pending: Promise<T>;
      try {
        pending = fn(backendSignal);
      } catch (error) {
        fail(error);
        return;
      }
      pending.then((value) => {
        if (!finish()) return;
        this.#failures = 0;
        resolve(value);
      }, fail);
    });
  }

  /** Counters for `stats()`. */
  stats(): ShardStats {
    return {
      name: this.name,
      weight: this.weight,
      health: this.#health,
      calls: this.#calls,
      errors: this.#errors,
      timeouts: this.#timeouts,
      evictions: this.#evictions,
      hints: this.hints.size,
      migratedIn: this.#migratedIn,
      migratedOut: this.#migratedOut,
      readRepairs: this.#readRepairs,
    };
  }

  /** Stops probing (the shard left the registry or the registry closed). */
  detach(): void {
    this.#closed = true;
    this.#timer?.cancel();
    this.#timer = undefined;
    this.#watchdog?.cancel();
    this.#watchdog = undefined;
  }

  /** What a failed call rejects with; counts backend failures. */
  #classify(operation: string, signal: AbortSignal | undefined, error: unknown): Error {
    if (signal?.aborted === true && error === signal.reason) return error as Error;
    if (!isShardFailure(error)) return error as Error;
    const failure = isRegistryError(error)
      ? error
      : RegistryError.unavailable(`shard "${this.name}" failed ${operation}: ${String(error)}`, error);
    this.#failed(operation, failure);
    return failure;
  }

  /** Schedules the watchdog at the oldest call's deadline, if any and not yet scheduled. */
  #arm(): void {
    if (this.#watchdog !== undefined || this.#closed) return;
    const oldest = this.#queue[this.#head];
    if (oldest === undefined) return;
    this.#watchdog = this.#hooks.clock.setTimeout(
      () => this.#check(),
      Math.max(0, oldest.deadline - this.#hooks.clock.now()),
    );
  }

  /** Drops finished calls from the front of the queue (and compacts it now and then). */
  #advance(): void {
    const queue = this.#queue;
    while (this.#head < queue.length && (queue[this.#head] as InFlight).done) this.#head++;
    if (this.#head === queue.length) {
      queue.length = 0;
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > queue.length) {
      this.#queue = queue.slice(this.#head);
      this.#head = 0;
    }
  }

  #check(): void {
    this.#watchdog = undefined;
    const now = this.#hooks.clock.now();
    const expired: InFlight[] = [];
    for (let i = this.#head; i < this.#queue.length; i++) {
      const entry = this.#queue[i] as InFlight;
      if (entry.deadline > now) break;
      if (!entry.done) expired.push(entry);
    }
    if (expired.length > 0) {
      const session = this.#session;
      this.#session = new AbortController();
      this.#fresh = true;
      const timeoutMs = this.#hooks.timeoutMs;
      for (const entry of expired) {
        entry.fail(
          RegistryError.timeout(`shard "${this.name}" did not answer ${entry.operation} within ${timeoutMs} ms`),
        );
      }
      session.abort(RegistryError.timeout(`shard "${this.name}" timed out`));
    }
    this.#arm();
  }

  #failed(operation: string, error: RegistryError): void {
    this.#errors++;
    const timedOut = error.code === 'TIMEOUT';
    if (timedOut) this.#timeouts++;
    this.#hooks.onError(this, operation, error);
    this.#failures++;
    // a timeout opens at once: waiting out more deadlines would slow every caller of this shard
    if (this.#health === 'up' && (timedOut || this.#failures >= this.#hooks.failureThreshold)) this.#open(error);
  }

  #open(error: unknown): void {
    this.#health = 'down';
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
    this.#health = 'probing';
    this.#hooks.onHealth(this, 'probing');
    const controller = new AbortController();
    const timer = this.#hooks.clock.setTimeout(
      () => controller.abort(RegistryError.timeout('probe timed out')),
      this.#hooks.timeoutMs,
    );
    try {
      await raceAbort(this.registry.has(PROBE_KEY, { signal: controller.signal }), controller.signal);
      if (this.#closed) return;
      this.#failures = 0;
      this.#health = 'up';
      this.#hooks.onHealth(this, 'up');
    } catch (error) {
      if (this.#closed) return;
      this.#health = 'down';
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

// raceAbort lives in core/ (kad uses it too); importers of this module keep finding it here
export { raceAbort };
