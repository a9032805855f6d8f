import type { Clock, Milliseconds, Timer } from '../../core/clock.js';
import { KadError } from '../errors.js';
import { abortReason, integerAtLeast, positiveNumber, positiveRate } from '../option-checks.js';
import type { EndpointId, HostId } from '../transport/transport.js';

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
 * query from `host` fits its rate. One `{ tokens, updatedAt }` pair per source; a source idle
 * long enough for its bucket to refill is forgotten by one clock timer (an idle node holds
 * nothing), since a fresh bucket would be the same.
 */
export class InboundLimiter {
  readonly #clock: Clock;
  readonly #perMs: number;
  readonly #burst: number;
  readonly #maxSources: number;
  readonly #refillMs: Milliseconds;
  // Map iteration order is LRU order (each access moves the source to the end), which is also
  // updatedAt order: the idle sources are always at the front
  // created on first use, and dropped when empty again: an idle limiter (or one only loopback peers reach) holds no map
  #sourcesStore: Map<HostId, BucketState> | undefined;
  get #sources(): Map<HostId, BucketState> {
    return (this.#sourcesStore ??= new Map());
  }
  #pruneTimer: Timer | undefined;

  constructor(options: InboundLimiterOptions = {}, deps: { readonly clock: Clock }) {
    const d = DEFAULT_INBOUND_LIMITER_OPTIONS;
    this.#perMs = positiveRate('ratePerSecond', options.ratePerSecond, d.ratePerSecond) / 1000;
    this.#burst = positiveNumber('burst', options.burst, d.burst);
    this.#maxSources = integerAtLeast('maxSources', options.maxSources, d.maxSources, 1);
    this.#refillMs = Math.ceil(this.#burst / this.#perMs);
    this.#clock = deps.clock;
  }

  /** Takes one token from `source`'s bucket; `false` means drop the message. */
  allow(source: HostId): boolean {
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
    if (this.#pruneTimer === undefined) this.#schedulePrune(this.#refillMs);
    if (state.tokens < 1 - EPSILON) return false;
    state.tokens -= 1;
    return true;
  }

  /** Sources tracked now (at most `maxSources`). */
  get size(): number {
    return this.#sourcesStore?.size ?? 0;
  }

  /** Forgets every source and cancels the pruning timer. The limiter stays usable. */
  close(): void {
    this.#pruneTimer?.cancel();
    this.#pruneTimer = undefined;
    this.#sourcesStore = undefined;
  }

  #schedulePrune(delayMs: Milliseconds): void {
    this.#pruneTimer = this.#clock.setTimeout(() => this.#prune(), delayMs);
  }

  #prune(): void {
    this.#pruneTimer = undefined;
    const now = this.#clock.now();
    for (const [source, state] of this.#sourcesStore ?? []) {
      const refilledAt = state.updatedAt + Math.ceil((this.#burst - state.tokens) / this.#perMs);
      // LRU order: the first source still refilling ends the sweep; wake up when it is full
      if (refilledAt > now) {
        this.#schedulePrune(Math.max(refilledAt - now, 1));
        return;
      }
      this.#sources.delete(source);
    }
    this.#sourcesStore = undefined; // every source is full again: nothing to remember
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
  /** FIFO of sends waiting for a token; allocated only while someone waits. */
  waiters: Waiter[] | undefined;
  /** Releases the head waiter when its token has accrued. */
  timer: Timer | undefined;
}

/**
 * Paces datagrams per destination with a token bucket each, so that no remote node sees more
 * than `ratePerSecond` from this node. `acquire(key)` resolves when one datagram may be sent;
 * waiters are released in FIFO order by a clock timer, and the wait queue of each destination is
 * bounded (`OVERLOADED` beyond it). A destination whose bucket refilled and that nobody waits
 * for is forgotten by one pruning timer, so an idle node holds nothing.
 */
export class OutboundPacer {
  readonly #clock: Clock;
  readonly #perMs: number;
  readonly #burst: number;
  readonly #refillMs: Milliseconds;
  readonly #maxQueue: number;
  readonly #maxDestinations: number;
  // created on first use, and dropped when empty again: an idle pacer (or one that only talks to loopback) holds no map
  #destinationsStore: Map<EndpointId, Destination> | undefined;
  get #destinations(): Map<EndpointId, Destination> {
    return (this.#destinationsStore ??= new Map());
  }
  #pruneTimer: Timer | undefined;
  #queued = 0;
  #closed = false;

  constructor(options: OutboundPacerOptions = {}, deps: { readonly clock: Clock }) {
    const d = DEFAULT_OUTBOUND_PACER_OPTIONS;
    this.#perMs = positiveRate('ratePerSecond', options.ratePerSecond, d.ratePerSecond) / 1000;
    this.#burst = positiveNumber('burst', options.burst, d.burst);
    this.#refillMs = Math.ceil(this.#burst / this.#perMs);
    this.#maxQueue = integerAtLeast(
      'maxQueuePerDestination',
      options.maxQueuePerDestination,
      d.maxQueuePerDestination,
      0,
    );
    this.#maxDestinations = integerAtLeast('maxDestinations', options.maxDestinations, d.maxDestinations, 1);
    this.#clock = deps.clock;
  }

  /**
   * Takes a send slot for destination `key` at once when its bucket has a token (returns
   * `true`), else returns `false` without queueing. For callers that prefer not to await.
   */
  tryAcquire(key: EndpointId): boolean {
    if (this.#closed) return false;
    if (this.#perMs === Number.POSITIVE_INFINITY) return true;
    const destination = this.#destination(key);
    if (destination === undefined || destination.waiters !== undefined) return false;
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
  acquire(key: EndpointId, signal?: AbortSignal): Promise<void> {
    if (this.#closed) return Promise.reject(KadError.closed('pacer'));
    if (signal?.aborted === true) return Promise.reject(abortReason(signal));
    if (this.tryAcquire(key)) return Promise.resolve();
    const destination = this.#destination(key);
    if (destination === undefined) {
      return Promise.reject(KadError.overloaded(`outbound pacer tracks ${this.#maxDestinations} busy destinations`));
    }
    if ((destination.waiters?.length ?? 0) >= this.#maxQueue) {
      return Promise.reject(KadError.overloaded(`outbound queue for ${String(key)} is full (${this.#maxQueue})`));
    }
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        signal,
        onAbort: () => {
          this.#removeWaiter(destination, waiter);
          if (signal !== undefined) reject(abortReason(signal));
        },
      };
      signal?.addEventListener('abort', waiter.onAbort, { once: true });
      (destination.waiters ??= []).push(waiter);
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
    return this.#destinationsStore?.size ?? 0;
  }

  /** Rejects every waiter with `CLOSED` and cancels the timers; later calls reject too. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#pruneTimer?.cancel();
    const error = KadError.closed('pacer');
    for (const destination of this.#destinationsStore?.values() ?? []) {
      destination.timer?.cancel();
      for (const waiter of destination.waiters ?? []) {
        waiter.signal?.removeEventListener('abort', waiter.onAbort);
        waiter.reject(error);
      }
    }
    this.#destinationsStore = undefined;
    this.#queued = 0;
  }

  /** The state of `key`, created if needed; `undefined` when the map is full of busy ones. */
  #destination(key: EndpointId): Destination | undefined {
    const destinations = this.#destinations;
    const existing = destinations.get(key);
    if (existing !== undefined) {
      destinations.delete(key);
      destinations.set(key, existing);
      return existing;
    }
    if (destinations.size >= this.#maxDestinations && !this.#evictOne()) return undefined;
    const created: Destination = {
      tokens: this.#burst,
      updatedAt: this.#clock.now(),
      waiters: undefined,
      timer: undefined,
    };
    destinations.set(key, created);
    this.#pruneTimer ??= this.#clock.setTimeout(() => this.#prune(), this.#refillMs);
    return created;
  }

  /** Forgets the least recently used destination without waiters; `false` when none. */
  #evictOne(): boolean {
    for (const [key, destination] of this.#destinations) {
      if (destination.waiters === undefined) {
        this.#destinations.delete(key);
        return true;
      }
    }
    return false;
  }

  /** Forgets destinations nobody waits for whose bucket is full again; runs every refill period. */
  #prune(): void {
    this.#pruneTimer = undefined;
    for (const [key, destination] of this.#destinations) {
      if (destination.waiters !== undefined) continue;
      this.#refill(destination);
      if (destination.tokens >= this.#burst - EPSILON) this.#destinations.delete(key);
    }
    if (this.#destinations.size > 0) this.#pruneTimer = this.#clock.setTimeout(() => this.#prune(), this.#refillMs);
    else this.#destinationsStore = undefined;
  }

  #removeWaiter(destination: Destination, waiter: Waiter): void {
    const waiters = destination.waiters;
    const index = waiters === undefined ? -1 : waiters.indexOf(waiter);
    if (waiters === undefined || index === -1) return;
    waiters.splice(index, 1);
    this.#queued--;
    if (waiters.length === 0) destination.waiters = undefined;
  }

  #refill(destination: Destination): void {
    const now = this.#clock.now();
    const elapsed = now - destination.updatedAt;
    if (elapsed > 0) destination.tokens = Math.min(this.#burst, destination.tokens + elapsed * this.#perMs);
    destination.updatedAt = now;
  }

  #schedule(destination: Destination): void {
    if (destination.timer !== undefined || destination.waiters === undefined) return;
    this.#refill(destination);
    const waitMs = destination.tokens >= 1 - EPSILON ? 0 : Math.ceil((1 - destination.tokens) / this.#perMs);
    destination.timer = this.#clock.setTimeout(() => {
      destination.timer = undefined;
      this.#release(destination);
    }, waitMs);
  }

  #release(destination: Destination): void {
    this.#refill(destination);
    const waiters = destination.waiters;
    while (waiters !== undefined && waiters.length > 0 && destination.tokens >= 1 - EPSILON) {
      const waiter = waiters.shift() as Waiter;
      this.#queued--;
      destination.tokens -= 1;
      waiter.signal?.removeEventListener('abort', waiter.onAbort);
      waiter.resolve();
    }
    if (waiters !== undefined && waiters.length === 0) destination.waiters = undefined;
    this.#schedule(destination);
  }
}
