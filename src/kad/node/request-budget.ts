import type { Clock, Milliseconds } from '../../core/clock.js';

const MINUTE: Milliseconds = 60_000;

/**
 * A budget of requests per minute on the injected clock (a token bucket holding at most one
 * minute's worth): work asks {@link available} before it starts and is {@link charge}d what it
 * actually sent, so a lookup may overdraw it by its own size and later work waits until the
 * debt is paid back. Over any stretch of time, at most `perMinute` requests a minute, plus one
 * minute's worth and one overdraw. @internal
 */
export class RequestBudget {
  readonly #clock: Clock;
  readonly #perMinute: number;
  #tokens: number;
  #at: Milliseconds;

  constructor(perMinute: number, clock: Clock) {
    this.#clock = clock;
    this.#perMinute = perMinute;
    this.#tokens = Number.isFinite(perMinute) ? perMinute : Number.POSITIVE_INFINITY;
    this.#at = clock.now();
  }

  /** Whole requests that may start now (0 while in debt). */
  available(): number {
    this.#refill();
    return Math.max(0, Math.floor(this.#tokens));
  }

  /** Accounts `requests` sent. */
  charge(requests: number): void {
    this.#refill();
    this.#tokens -= requests;
  }

  #refill(): void {
    if (!Number.isFinite(this.#perMinute)) return;
    const now = this.#clock.now();
    const elapsed = Math.max(0, now - this.#at);
    this.#at = now;
    this.#tokens = Math.min(this.#perMinute, this.#tokens + (elapsed * this.#perMinute) / MINUTE);
  }
}
