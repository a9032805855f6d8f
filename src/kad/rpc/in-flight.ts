import { KadError } from '../errors.js';
import { abortReason, integerAtLeast } from '../option-checks.js';
import type { EndpointId } from '../transport/transport.js';

/** Configuration of an {@link InFlightLimiter}. */
export interface InFlightLimiterOptions {
  /** Most requests in flight over all destinations. @default 256 */
  readonly maxInFlight?: number;
  /** Most requests in flight to one destination. @default 8 */
  readonly maxInFlightPerDestination?: number;
  /**
   * Most requests waiting for a slot; one more fails at once with `OVERLOADED`.
   * @default 1024
   */
  readonly maxQueued?: number;
}

/** Defaults of {@link InFlightLimiterOptions}. */
export const DEFAULT_IN_FLIGHT_LIMITER_OPTIONS = Object.freeze({
  maxInFlight: 256,
  maxInFlightPerDestination: 8,
  maxQueued: 1024,
} satisfies Required<InFlightLimiterOptions>);

interface Waiter {
  readonly key: EndpointId;
  readonly resolve: () => void;
  readonly reject: (reason: unknown) => void;
  readonly signal: AbortSignal | undefined;
  readonly onAbort: () => void;
}

/**
 * Caps requests in flight, globally and per destination, with one bounded FIFO wait queue. A
 * freed slot goes to the oldest waiter whose destination has room, so a busy destination does
 * not hold up requests to others.
 */
export class InFlightLimiter {
  readonly #maxInFlight: number;
  readonly #maxPerDestination: number;
  readonly #maxQueued: number;
  // created on first use, and dropped when empty again: an idle limiter holds no map
  #perDestinationStore: Map<EndpointId, number> | undefined;
  get #perDestination(): Map<EndpointId, number> {
    return (this.#perDestinationStore ??= new Map());
  }
  readonly #queue: Waiter[] = [];
  #inFlight = 0;
  #closed = false;

  constructor(options: InFlightLimiterOptions = {}) {
    const d = DEFAULT_IN_FLIGHT_LIMITER_OPTIONS;
    this.#maxInFlight = integerAtLeast('maxInFlight', options.maxInFlight, d.maxInFlight, 1);
    this.#maxPerDestination = integerAtLeast(
      'maxInFlightPerDestination',
      options.maxInFlightPerDestination,
      d.maxInFlightPerDestination,
      1,
    );
    this.#maxQueued = integerAtLeast('maxQueued', options.maxQueued, d.maxQueued, 0);
  }

  /** Takes a slot for `key` now if one is free and nobody waits for it; says whether it did. */
  tryAcquire(key: EndpointId): boolean {
    if (this.#closed || !this.#fits(key) || this.#queue.some((waiter) => waiter.key === key)) return false;
    this.#take(key);
    return true;
  }

  /**
   * Resolves once a slot for `key` is held (release it with {@link release}). Rejects with
   * `OVERLOADED` when the wait queue is full, `CLOSED` after {@link close}, `signal.reason` on
   * abort.
   */
  acquire(key: EndpointId, signal?: AbortSignal): Promise<void> {
    if (this.#closed) return Promise.reject(KadError.closed('rpc'));
    if (signal?.aborted === true) return Promise.reject(abortReason(signal));
    if (this.tryAcquire(key)) return Promise.resolve();
    if (this.#queue.length >= this.#maxQueued) {
      return Promise.reject(
        KadError.overloaded(`${this.#inFlight} requests in flight and ${this.#queue.length} waiting (maxQueued)`),
      );
    }
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        key,
        resolve,
        reject,
        signal,
        onAbort: () => {
          const index = this.#queue.indexOf(waiter);
          if (index !== -1) this.#queue.splice(index, 1);
          if (signal !== undefined) reject(abortReason(signal));
        },
      };
      signal?.addEventListener('abort', waiter.onAbort, { once: true });
      this.#queue.push(waiter);
    });
  }

  /** Gives back a slot of `key` and hands free slots to waiters. */
  release(key: EndpointId): void {
    const count = this.#perDestinationStore?.get(key) ?? 0;
    if (count <= 0) return;
    if (count === 1) {
      this.#perDestination.delete(key);
      if (this.#perDestination.size === 0) this.#perDestinationStore = undefined;
    } else this.#perDestination.set(key, count - 1);
    this.#inFlight--;
    this.#grant();
  }

  /** Requests holding a slot. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** Requests waiting for a slot. */
  get queued(): number {
    return this.#queue.length;
  }

  /** Requests holding a slot for `key`. */
  inFlightTo(key: EndpointId): number {
    return this.#perDestinationStore?.get(key) ?? 0;
  }

  /** Rejects every waiter with `CLOSED`; later acquisitions reject too. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const error = KadError.closed('rpc');
    for (const waiter of this.#queue.splice(0)) {
      waiter.signal?.removeEventListener('abort', waiter.onAbort);
      waiter.reject(error);
    }
  }

  #fits(key: EndpointId): boolean {
    return this.#inFlight < this.#maxInFlight && (this.#perDestinationStore?.get(key) ?? 0) < this.#maxPerDestination;
  }

  #take(key: EndpointId): void {
    this.#inFlight++;
    this.#perDestination.set(key, (this.#perDestination.get(key) ?? 0) + 1);
  }

  #grant(): void {
    const queue = this.#queue;
    // the queue is bounded by maxQueued, so this scan is too
    for (let i = 0; i < queue.length && this.#inFlight < this.#maxInFlight;) {
      const waiter = queue[i] as Waiter;
      if (!this.#fits(waiter.key)) {
        i++;
        continue;
      }
      queue.splice(i, 1);
      this.#take(waiter.key);
      waiter.signal?.removeEventListener('abort', waiter.onAbort);
      waiter.resolve();
    }
  }
}
