import type { Clock, Milliseconds, Timer } from '../registry/clock.js';
import { KadError } from './errors.js';
import { abortReason, integerAtLeast, positiveNumber, positiveRate } from './option-checks.js';

// Floating-point slack when comparing token counts: 250 ms at 4/s must make exactly one token
const EPSILON = 1e-9;

/** Rate and depth of a token bucket. */
export interface TokenBucketOptions {
  /** Tokens added per second; `Infinity` for no limit. */
  readonly ratePerSecond: number;
  /** Most tokens held (the largest burst); the bucket starts full. */
  readonly burst: number;
}

/**
 * A token bucket driven by a {@link Clock}: tokens accrue continuously at `ratePerSecond` up to
 * `burst`, and are computed lazily on each call, so the bucket itself needs no timer.
 */
export class TokenBucket {
  readonly #clock: Clock;
  readonly #perMs: number;
  readonly #burst: number;
  #tokens: number;
  #updatedAt: Milliseconds;

  constructor(options: TokenBucketOptions, deps: { readonly clock: Clock }) {
    this.#perMs = positiveRate('ratePerSecond', options.ratePerSecond, 1) / 1000;
    this.#burst = positiveNumber('burst', options.burst, 1);
    this.#clock = deps.clock;
    this.#tokens = this.#burst;
    this.#updatedAt = deps.clock.now();
  }

  /** Tokens available now (fractional). */
  get tokens(): number {
    this.#refill();
    return this.#tokens;
  }

  /** Takes `count` tokens if available and says whether it did. */
  tryTake(count = 1): boolean {
    this.#refill();
    if (this.#tokens < count - EPSILON) return false;
    this.#tokens -= count;
    return true;
  }

  /** Milliseconds until `count` tokens are available (0 when they are now). */
  waitMs(count = 1): Milliseconds {
    this.#refill();
    const missing = count - this.#tokens;
    return missing <= EPSILON ? 0 : Math.ceil(missing / this.#perMs);
  }

  #refill(): void {
    const now = this.#clock.now();
    const elapsed = now - this.#updatedAt;
    if (elapsed > 0) this.#tokens = Math.min(this.#burst, this.#tokens + elapsed * this.#perMs);
    this.#updatedAt = now;
  }
}

/** Configuration of an {@link InboundLimiter}. */
export interface InboundLimiterOptions {
  /**
   * Queries per second accepted from one source IP; `Infinity` disables the limit.
   * @default 20
   */
  readonly ratePerSecond?: number;
  /** Queries accepted at once from an idle source IP. @default 40 */
  readonly burst?: number;
  /**
   * Most source IPs tracked; beyond it the least recently seen is forgotten (about 120 bytes
   * each). This bounds memory against an attacker cycling source addresses: a forgotten source
   * merely starts over with a full bucket.
   * @default 10_000
   */
  readonly maxSources?: number;
}

/** Defaults of {@link InboundLimiterOptions}. */
export const DEFAULT_INBOUND_LIMITER_OPTIONS = Object.freeze({
  ratePerSecond: 20,
  burst: 40,
  maxSources: 10_000,
} satisfies Required<InboundLimiterOptions>);

interface BucketState {
  tokens: number;
  updatedAt: Milliseconds;
}

/**
 * A per-source token bucket over a bounded LRU map: `allow(host)` says whether one more inbound
 * query from `host` fits its rate. One `{ tokens, updatedAt }` pair per source, no timers.
 */
export class InboundLimiter {
  readonly #clock: Clock;
  readonly #perMs: number;
  readonly #burst: number;
  readonly #maxSources: number;
  // Map iteration order is LRU order: each access moves the source to the end
  readonly #sources = new Map<string, BucketState>();

  constructor(options: InboundLimiterOptions = {}, deps: { readonly clock: Clock }) {
    const d = DEFAULT_INBOUND_LIMITER_OPTIONS;
    this.#perMs = positiveRate('ratePerSecond', options.ratePerSecond, d.ratePerSecond) / 1000;
    this.#burst = positiveNumber('burst', options.burst, d.burst);
    this.#maxSources = integerAtLeast('maxSources', options.maxSources, d.maxSources, 1);
    this.#clock = deps.clock;
  }

  /** Takes one token from `source`'s bucket; `false` means drop the message. */
  allow(source: string): boolean {
    if (this.#perMs === Number.POSITIVE_INFINITY) return true;
    const now = this.#clock.now();
    const sources = this.#sources;
    let state = sources.get(source);
    if (state === undefined) {
      if (sources.size >= this.#maxSources) {
        const oldest = sources.keys().next();
        if (oldest.done !== true) sources.delete(oldest.value);
      }
      state = { tokens: this.#burst, updatedAt: now };
    } else {
      sources.delete(source);
      const elapsed = now - state.updatedAt;
      if (elapsed > 0) state.tokens = Math.min(this.#burst, state.tokens + elapsed * this.#perMs);
      state.updatedAt = now;
    }
    sources.set(source, state);
    if (state.tokens < 1 - EPSILON) return false;
    state.tokens -= 1;
    return true;
  }

  /** Sources tracked now (at most `maxSources`). */
  get size(): number {
    return this.#sources.size;
  }
}

/** Configuration of an {@link OutboundPacer}. */
export interface OutboundPacerOptions {
  /**
   * Datagrams per second sent to one destination; `Infinity` disables pacing. libtorrent blocks
   * a source for 5 minutes when it sends more than 50 packets in under 10 s (5/s on average);
   * 4/s with a burst of 4 stays below that (at most 44 in any 10 s).
   * @default 4
   */
  readonly ratePerSecond?: number;
  /** Datagrams sent at once to an idle destination. @default 4 */
  readonly burst?: number;
  /**
   * Most sends waiting for one destination; one more rejects at once with `OVERLOADED`.
   * @default 16
   */
  readonly maxQueuePerDestination?: number;
  /**
   * Most destinations tracked. An idle destination whose bucket refilled is forgotten first;
   * when every tracked destination still has waiters or a partly spent bucket, the least
   * recently used one without waiters goes; when all have waiters, a new destination is refused
   * with `OVERLOADED`.
   * @default 10_000
   */
  readonly maxDestinations?: number;
}

/** Defaults of {@link OutboundPacerOptions}. */
export const DEFAULT_OUTBOUND_PACER_OPTIONS = Object.freeze({
  ratePerSecond: 4,
  burst: 4,
  maxQueuePerDestination: 16,
  maxDestinations: 10_000,
} satisfies Required<OutboundPacerOptions>);

interface Waiter {
  readonly resolve: () => void;
  readonly reject: (reason: unknown) => void;
  readonly signal: AbortSignal | undefined;
  readonly onAbort: () => void;
}

interface Destination extends BucketState {
  readonly waiters: Waiter[];
  timer: Timer | undefined;
}

/**
 * Paces datagrams per destination with a token bucket each, so that no remote node sees more
 * than `ratePerSecond` from this node. `acquire(key)` resolves when one datagram may be sent;
 * waiters are released in FIFO order by a clock timer, and the wait queue of each destination is
 * bounded (`OVERLOADED` beyond it).
 */
export class OutboundPacer {
  readonly #clock: Clock;
  readonly #perMs: number;
  readonly #burst: number;
  readonly #maxQueue: number;
  readonly #maxDestinations: number;
  readonly #destinations = new Map<string, Destination>();
  #queued = 0;
  #closed = false;

  constructor(options: OutboundPacerOptions = {}, deps: { readonly clock: Clock }) {
    const d = DEFAULT_OUTBOUND_PACER_OPTIONS;
    this.#perMs = positiveRate('ratePerSecond', options.ratePerSecond, d.ratePerSecond) / 1000;
    this.#burst = positiveNumber('burst', options.burst, d.burst);
    this.#maxQueue = integerAtLeast('maxQueuePerDestination', options.maxQueuePerDestination, d.maxQueuePerDestination, 0);
    this.#maxDestinations = integerAtLeast('maxDestinations', options.maxDestinations, d.maxDestinations, 1);
    this.#clock = deps.clock;
  }

  /**
   * Takes a send slot for destination `key` at once when its bucket has a token (returns
   * `true`), else returns `false` without queueing. For callers that prefer not to await.
   */
  tryAcquire(key: string): boolean {
    if (this.#closed) return false;
    if (this.#perMs === Number.POSITIVE_INFINITY) return true;
    const destination = this.#destination(key);
    if (destination === undefined || destination.waiters.length > 0) return false;
    this.#refill(destination);
    if (destination.tokens < 1 - EPSILON) return false;
    destination.tokens -= 1;
    return true;
  }

  /**
   * Resolves when one datagram may be sent to `key`. Rejects with `OVERLOADED` when the
   * destination's queue is full, `CLOSED` after {@link close}, and `signal.reason` on abort (the
   * waiter leaves the queue).
   */
  acquire(key: string, signal?: AbortSignal): Promise<void> {
    if (this.#closed) return Promise.reject(KadError.closed('pacer'));
    if (signal?.aborted === true) return Promise.reject(abortReason(signal));
    if (this.tryAcquire(key)) return Promise.resolve();
    const destination = this.#destination(key);
    if (destination === undefined) {
      return Promise.reject(KadError.overloaded(`outbound pacer tracks ${this.#maxDestinations} busy destinations`));
    }
    if (destination.waiters.length >= this.#maxQueue) {
      return Promise.reject(KadError.overloaded(`outbound queue for ${key} is full (${this.#maxQueue})`));
    }
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        signal,
        onAbort: () => {
          const index = destination.waiters.indexOf(waiter);
          if (index !== -1) {
            destination.waiters.splice(index, 1);
            this.#queued--;
          }
          if (signal !== undefined) reject(abortReason(signal));
        },
      };
      signal?.addEventListener('abort', waiter.onAbort, { once: true });
      destination.waiters.push(waiter);
      this.#queued++;
      this.#schedule(destination);
    });
  }

  /** Sends waiting over all destinations. */
  get queued(): number {
    return this.#queued;
  }

  /** Destinations tracked now (at most `maxDestinations`). */
  get size(): number {
    return this.#destinations.size;
  }

  /** Rejects every waiter with `CLOSED` and cancels the timers; later calls reject too. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const error = KadError.closed('pacer');
    for (const destination of this.#destinations.values()) {
      destination.timer?.cancel();
      for (const waiter of destination.waiters.splice(0)) {
        waiter.signal?.removeEventListener('abort', waiter.onAbort);
        waiter.reject(error);
      }
    }
    this.#destinations.clear();
    this.#queued = 0;
  }

  /** The state of `key`, created if needed; `undefined` when the map is full of busy ones. */
  #destination(key: string): Destination | undefined {
    const destinations = this.#destinations;
    const existing = destinations.get(key);
    if (existing !== undefined) {
      destinations.delete(key);
      destinations.set(key, existing);
      return existing;
    }
    if (destinations.size >= this.#maxDestinations && !this.#evictOne()) return undefined;
    const created: Destination = { tokens: this.#burst, updatedAt: this.#clock.now(), waiters: [], timer: undefined };
    destinations.set(key, created);
    return created;
  }

  /** Forgets the least recently used destination without waiters; `false` when none. */
  #evictOne(): boolean {
    for (const [key, destination] of this.#destinations) {
      if (destination.waiters.length === 0) {
        this.#destinations.delete(key);
        return true;
      }
    }
    return false;
  }

  #refill(destination: Destination): void {
    const now = this.#clock.now();
    const elapsed = now - destination.updatedAt;
    if (elapsed > 0) destination.tokens = Math.min(this.#burst, destination.tokens + elapsed * this.#perMs);
    destination.updatedAt = now;
  }

  #schedule(destination: Destination): void {
    if (destination.timer !== undefined || destination.waiters.length === 0) return;
    this.#refill(destination);
    const waitMs = destination.tokens >= 1 - EPSILON ? 0 : Math.ceil((1 - destination.tokens) / this.#perMs);
    destination.timer = this.#clock.setTimeout(() => {
      destination.timer = undefined;
      this.#release(destination);
    }, waitMs);
  }

  #release(destination: Destination): void {
    this.#refill(destination);
    while (destination.tokens >= 1 - EPSILON && destination.waiters.length > 0) {
      const waiter = destination.waiters.shift() as Waiter;
      this.#queued--;
      destination.tokens -= 1;
      waiter.signal?.removeEventListener('abort', waiter.onAbort);
      waiter.resolve();
    }
    this.#schedule(destination);
  }
}
