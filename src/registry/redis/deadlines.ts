import type { Clock, Milliseconds, Timer } from '../../core/clock.js';
import { RegistryError } from '../errors.js';

type Rejecter = (error: Error) => void;

interface Bucket {
  readonly pending: Set<Rejecter>;
  readonly timer: Timer;
}

/**
 * Per-operation deadlines at the cost of a Set insertion each. Operations are grouped in
 * buckets of `resolutionMs` (≤ 50 ms) by deadline, and one clock timer per bucket rejects what
 * is still pending in it with `TIMEOUT`: an operation times out between `timeoutMs -
 * resolutionMs` and `timeoutMs` after it started, never later. (A timer or AbortSignal per
 * command costs ~4× on batched small commands, which is why the client's own per-command
 * timeout is off.)
 */
export class Deadlines {
  readonly #clock: Clock;
  readonly #timeoutMs: Milliseconds;
  readonly #resolutionMs: Milliseconds;
  readonly #mapError: (error: unknown) => Error;
  readonly #buckets = new Map<number, Bucket>();
  // the bucket of the last operation: most operations land in the same one
  #lastId = -1;
  #lastPending: Set<Rejecter> | undefined;
  /** Operations tracked and not settled yet. */
  #active = 0;
  /** Waiters of {@link idle}. */
  readonly #idle: (() => void)[] = [];

  /** @param mapError turns a failure of the work into the error the operation rejects with */
  constructor(clock: Clock, timeoutMs: Milliseconds, mapError: (error: unknown) => Error) {
    this.#clock = clock;
    this.#timeoutMs = timeoutMs;
    this.#resolutionMs = Math.max(1, Math.min(50, Math.floor(timeoutMs / 10)));
    this.#mapError = mapError;
  }

  /**
   * A promise of `onValue(reply)` once `work` fulfils (and, when `onValue` returns a promise,
   * once that settles: the deadline covers it too); or rejected with the mapped error of `work`
   * or `onValue`, with `TIMEOUT` at the deadline, or with `signal.reason` on abort, whichever
   * comes first. However it ends, it leaves no listener on `signal` behind: a caller's
   * long-lived signal does not collect one per timed-out call while Redis stays silent.
   */
  track<R, T>(work: Promise<R>, onValue: (reply: R) => T | Promise<T>, signal?: AbortSignal): Promise<T> {
    const mapError = this.#mapError;
    return new Promise<T>((resolve, reject) => {
      const pending = this.#pending();
      let done = false;
      const finish = (): boolean => {
        if (done) return false;
        done = true;
        pending.delete(fail);
        if (signal !== undefined) signal.removeEventListener('abort', onAbort);
        if (--this.#active === 0 && this.#idle.length > 0) for (const wake of this.#idle.splice(0)) wake();
        return true;
      };
      const fail: Rejecter = (error) => {
        if (finish()) reject(error);
      };
      // the contract: an abort rejects with the signal's reason, whatever it is
      const onAbort = (): void => fail((signal as AbortSignal).reason as Error);
      this.#active++;
      pending.add(fail);
      if (signal !== undefined) signal.addEventListener('abort', onAbort, { once: true });
      work.then(
        (reply) => {
          if (done) return;
          let value: T | Promise<T>;
          try {
            value = onValue(reply);
          } catch (error) {
            fail(mapError(error));
            return;
          }
          if (!(value instanceof Promise)) {
            if (finish()) resolve(value);
            return;
          }
          value.then(
            (result) => {
              if (finish()) resolve(result);
            },
            (error: unknown) => fail(mapError(error)),
          );
        },
        (error: unknown) => fail(mapError(error)),
      );
    });
  }

  /**
   * Resolves once no operation started with {@link track} or {@link run} is pending (at once when
   * none is), or when `signal` aborts. Each has its own deadline, so this takes at most
   * `timeoutMs`.
   */
  idle(signal?: AbortSignal): Promise<void> {
    if (this.#active === 0 || signal?.aborted === true) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const wake = (): void => {
        signal?.removeEventListener('abort', wake);
        const i = this.#idle.indexOf(wake);
        if (i !== -1) this.#idle.splice(i, 1);
        resolve();
      };
      this.#idle.push(wake);
      signal?.addEventListener('abort', wake, { once: true });
    });
  }

  /** Like `work` itself, under the deadline (see {@link track}). */
  run<T>(work: Promise<T>, signal?: AbortSignal): Promise<T> {
    return this.track(work, identity, signal);
  }

  /** Rejects everything pending with `error` and cancels the timers (on close). */
  abortAll(error: Error): void {
    for (const bucket of this.#buckets.values()) {
      bucket.timer.cancel();
      for (const reject of bucket.pending) reject(error);
    }
    this.#buckets.clear();
    this.#lastId = -1;
    this.#lastPending = undefined;
  }

  #pending(): Set<Rejecter> {
    const now = this.#clock.now();
    const id = Math.floor((now + this.#timeoutMs) / this.#resolutionMs);
    if (id === this.#lastId && this.#lastPending !== undefined) return this.#lastPending;
    let bucket = this.#buckets.get(id);
    if (bucket === undefined) {
      const timer = this.#clock.setTimeout(() => this.#expire(id), id * this.#resolutionMs - now);
      bucket = { pending: new Set(), timer };
      this.#buckets.set(id, bucket);
    }
    this.#lastId = id;
    this.#lastPending = bucket.pending;
    return bucket.pending;
  }

  #expire(id: number): void {
    const bucket = this.#buckets.get(id);
    if (bucket === undefined) return;
    this.#buckets.delete(id);
    if (id === this.#lastId) this.#lastPending = undefined;
    if (bucket.pending.size === 0) return;
    const error = RegistryError.timeout(`Redis did not answer within timeoutMs ${this.#timeoutMs}`);
    for (const reject of bucket.pending) reject(error);
  }
}

function identity<T>(value: T): T {
  return value;
}
