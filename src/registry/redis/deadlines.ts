import type { Clock, Milliseconds, Timer } from '../clock.js';
import { RegistryError } from '../errors.js';

type Rejecter = (error: Error) => void;

interface Bucket {
  readonly pending: Set<Rejecter>;
  readonly timer: Timer;
}

/**
 * Per-operation deadlines at the cost of a Set insertion each. Operations are grouped in
 * buckets of `resolutionMs` by deadline and one clock timer per bucket rejects what is still
 * pending in it with `TIMEOUT`; so an operation times out between `timeoutMs - resolutionMs`
 * and `timeoutMs` after it started, never later. (One timer per operation costs ~4× on batched
 * small commands, which is why the client's own per-command timeout stays off.)
 */
export class Deadlines {
  readonly #clock: Clock;
  readonly #timeoutMs: Milliseconds;
  readonly #resolutionMs: Milliseconds;
  readonly #buckets = new Map<number, Bucket>();

  constructor(clock: Clock, timeoutMs: Milliseconds) {
    this.#clock = clock;
    this.#timeoutMs = timeoutMs;
    this.#resolutionMs = Math.max(1, Math.min(50, Math.floor(timeoutMs / 10)));
  }

  /**
   * Settles like `work`, errors passed through `mapError`; or rejects with `TIMEOUT` at the
   * deadline, or with `signal.reason` when `signal` aborts first.
   */
  run<T>(work: Promise<T>, signal: AbortSignal | undefined, mapError: (error: unknown) => Error): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const now = this.#clock.now();
      const id = Math.floor((now + this.#timeoutMs) / this.#resolutionMs);
      let bucket = this.#buckets.get(id);
      if (bucket === undefined) {
        const pending = new Set<Rejecter>();
        const fireAt = id * this.#resolutionMs;
        const timer = this.#clock.setTimeout(() => this.#expire(id), fireAt - now);
        bucket = { pending, timer };
        this.#buckets.set(id, bucket);
      }
      const pending = bucket.pending;
      let rejecter: Rejecter = reject;
      let onAbort: (() => void) | undefined;
      if (signal !== undefined) {
        onAbort = () => {
          pending.delete(rejecter);
          // the contract: an abort rejects with the signal's reason, whatever it is
          reject(signal.reason as Error);
        };
        signal.addEventListener('abort', onAbort, { once: true });
        rejecter = (error: Error) => {
          signal.removeEventListener('abort', onAbort as () => void);
          reject(error);
        };
      }
      pending.add(rejecter);
      work.then(
        (value) => {
          pending.delete(rejecter);
          if (onAbort !== undefined) signal?.removeEventListener('abort', onAbort);
          resolve(value);
        },
        (error: unknown) => {
          pending.delete(rejecter);
          if (onAbort !== undefined) signal?.removeEventListener('abort', onAbort);
          reject(mapError(error));
        },
      );
    });
  }

  /** Rejects everything pending with `error` and cancels the timers (on close). */
  abortAll(error: Error): void {
    for (const bucket of this.#buckets.values()) {
      bucket.timer.cancel();
      for (const reject of bucket.pending) reject(error);
    }
    this.#buckets.clear();
  }

  #expire(id: number): void {
    const bucket = this.#buckets.get(id);
    if (bucket === undefined) return;
    this.#buckets.delete(id);
    if (bucket.pending.size === 0) return;
    const error = RegistryError.timeout(`Redis did not answer within timeoutMs ${this.#timeoutMs}`);
    for (const reject of bucket.pending) reject(error);
  }
}
