import { type Clock, type Milliseconds, systemClock, type Timer } from '../../core/clock.js';
import { KadError } from '../errors.js';
import { integerAtLeast, positiveNumber } from '../option-checks.js';

/** Configuration of a {@link StorageGate}. */
export interface StorageGateOptions {
  /**
   * Most inbound queries waiting on storage at once. One more is answered 202 at once, without
   * touching storage, and counted in `refused`. A query holds its place until its storage calls
   * settle, so a backend that stops answering holds at most this many calls from this node.
   * @default 256
   */
  readonly maxWaiting?: number | undefined;
  /**
   * Longest an inbound query waits on storage, in ms: then its storage calls are aborted through
   * their signal and it is answered 202, counted in `timedOut`. Queriers give up after a few
   * seconds, so an answer later than that helps no one.
   * @default 1000
   */
  readonly timeoutMs?: Milliseconds | undefined;
}

/** Defaults of {@link StorageGateOptions}. */
export const DEFAULT_STORAGE_GATE_OPTIONS = Object.freeze({
  maxWaiting: 256,
  timeoutMs: 1000,
} satisfies Required<StorageGateOptions>);

/** Counters of a {@link StorageGate}. */
export interface StorageGateStats {
  /** Inbound queries waiting on storage now. */
  readonly waiting: number;
  /** Queries answered 202 at once because `maxWaiting` were already waiting. */
  readonly refused: number;
  /** Queries answered 202 because storage did not answer within `timeoutMs`. */
  readonly timedOut: number;
}

interface Waiter {
  readonly controller: AbortController;
  readonly parent: AbortSignal | undefined;
  /** When the query stops waiting, in clock ms. */
  readonly deadline: Milliseconds;
  /** Settles the query's promise with `error` (a no-op once it settled). */
  readonly fail: (error: Error) => void;
}

/**
 * Admission of inbound queries to storage: at most `maxWaiting` at once, each within `timeoutMs`.
 * Each query gets its own signal, aborted at its deadline or when the caller's signal aborts, so
 * storage calls never listen on the caller's long-lived signal: that one gets a single listener
 * however many queries wait, then and later (no `MaxListenersExceededWarning`), removed when it
 * fires. Deadlines share one timer: queries wait in arrival order, which is deadline order.
 * @internal
 */
export class StorageGate {
  readonly #clock: Clock;
  readonly #maxWaiting: number;
  readonly #timeoutMs: Milliseconds;
  // waiters whose deadline has not passed, earliest first
  // created on first use (and kept: a gate in use would make one per query): a gate never used holds no set
  #queueStore: Set<Waiter> | undefined;
  get #queue(): Set<Waiter> {
    return (this.#queueStore ??= new Set());
  }
  // waiters by the caller's signal: a signal gets one listener and one set on first use, kept
  // until it aborts (a node's queries share one long-lived signal: adding and removing a listener
  // per query cost more than the storage call); weak, so the gate keeps no signal alive
  // created on first use (and kept): a gate never used holds no map
  #byParentStore: WeakMap<AbortSignal, Set<Waiter>> | undefined;
  get #byParent(): WeakMap<AbortSignal, Set<Waiter>> {
    return (this.#byParentStore ??= new WeakMap());
  }
  #timer: Timer | undefined;
  #waiting = 0;
  #refused = 0;
  #timedOut = 0;

  /** @throws {KadError} `INVALID_OPTION` naming the option. */
  constructor(options: StorageGateOptions = {}, deps: { readonly clock?: Clock | undefined } = {}) {
    const d = DEFAULT_STORAGE_GATE_OPTIONS;
    this.#maxWaiting = integerAtLeast('maxStorageWaiting', options.maxWaiting, d.maxWaiting, 1);
    this.#timeoutMs = positiveNumber('storageTimeoutMs', options.timeoutMs, d.timeoutMs, ' of ms');
    this.#clock = deps.clock ?? systemClock;
  }

  /**
   * Runs `work` with a signal of its own, and settles with it or at the deadline, whichever
   * comes first. Rejects at once with `OVERLOADED` (wire 202) when `maxWaiting` are waiting;
   * with `TIMEOUT` (202) at the deadline; with `signal.reason` when `signal` aborts.
   */
  run<T>(signal: AbortSignal | undefined, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
    if (signal?.aborted === true) return Promise.reject(signal.reason as Error);
    if (this.#waiting >= this.#maxWaiting) {
      this.#refused++;
      return Promise.reject(KadError.overloaded(`${this.#maxWaiting} queries already wait on storage`));
    }
    return new Promise<T>((resolve, reject) => {
      const waiter: Waiter = {
        controller: new AbortController(),
        parent: signal,
        deadline: this.#clock.now() + this.#timeoutMs,
        fail: reject,
      };
      this.#waiting++;
      this.#enter(waiter);
      let settled: Promise<T>;
      try {
        settled = Promise.resolve(work(waiter.controller.signal));
      } catch (error) {
        settled = Promise.reject(error instanceof Error ? error : new Error(String(error)));
      }
      // the place is held until storage answers, even after the querier got its 202
      const leave = (): void => this.#leave(waiter);
      settled.then(leave, leave);
      settled.then(resolve, reject);
    });
  }

  /** Counters since creation, and the queries waiting now. */
  stats(): StorageGateStats {
    return { waiting: this.#waiting, refused: this.#refused, timedOut: this.#timedOut };
  }

  #enter(waiter: Waiter): void {
    this.#queue.add(waiter);
    // one timer at a time, never cancelled: it finds the next deadline when it fires
    if (this.#timer === undefined) this.#timer = this.#clock.setTimeout(this.#onTimer, this.#timeoutMs);
    const parent = waiter.parent;
    if (parent === undefined) return;
    let waiters = this.#byParent.get(parent);
    if (waiters === undefined) {
      waiters = new Set();
      this.#byParent.set(parent, waiters);
      parent.addEventListener('abort', this.#onParentAbort, { once: true });
    }
    waiters.add(waiter);
  }

  #leave(waiter: Waiter): void {
    this.#queueStore?.delete(waiter);
    this.#waiting--;
    if (waiter.parent !== undefined) this.#byParentStore?.get(waiter.parent)?.delete(waiter);
  }

  readonly #onTimer = (): void => {
    this.#timer = undefined;
    const now = this.#clock.now();
    for (const waiter of this.#queueStore ?? []) {
      if (waiter.deadline > now) {
        this.#timer = this.#clock.setTimeout(this.#onTimer, waiter.deadline - now);
        return;
      }
      this.#queue.delete(waiter);
      this.#timedOut++;
      const error = KadError.timeout(`storage did not answer within ${this.#timeoutMs} ms`);
      waiter.controller.abort(error);
      waiter.fail(error);
    }
  };

  readonly #onParentAbort = (event: Event): void => {
    const parent = event.target as AbortSignal;
    const waiters = this.#byParentStore?.get(parent);
    this.#byParentStore?.delete(parent);
    for (const waiter of waiters ?? []) {
      this.#queue.delete(waiter);
      waiter.controller.abort(parent.reason);
      waiter.fail(parent.reason as Error);
    }
  };
}
