import type { Clock } from './clock.js';

/** A rate limiter on the injected clock: `take(n)` waits until `n` more records fit `rate`/s. */
export class Pacer {
  readonly #clock: Clock;
  readonly #rate: number;
  #nextAt = 0;

  constructor(clock: Clock, rate: number) {
    this.#clock = clock;
    this.#rate = rate;
  }

  /** Accounts `n` records just moved; waits first if earlier records used up the budget. */
  async take(n: number, signal: AbortSignal | undefined): Promise<void> {
    if (this.#rate === Number.POSITIVE_INFINITY || n === 0) return;
    const now = this.#clock.now();
    if (this.#nextAt > now) await sleep(this.#clock, this.#nextAt - now, signal);
    this.#nextAt = Math.max(this.#nextAt, this.#clock.now()) + (n * 1000) / this.#rate;
  }
}

/** Waits `ms` on `clock`; rejects with the signal's reason if it aborts first. */
export function sleep(clock: Clock, ms: number, signal: AbortSignal | undefined): Promise<void> {
  signal?.throwIfAborted();
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      timer.cancel();
      reject(signal?.reason as Error);
    };
    const timer = clock.setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
