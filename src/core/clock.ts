/** A duration or an instant in milliseconds. Instants are Unix epoch milliseconds. */
export type Milliseconds = number;

/** A scheduled callback that can be cancelled. Cancelling twice, or after it ran, is harmless. */
export interface Timer {
  cancel(): void;
}

/**
 * The source of time and timers. Everything in `registry/` and `kad/` takes one by injection,
 * so whole networks of nodes and stores run deterministically on virtual time in tests
 * (see `ManualClock` in `nautilus/testing`).
 */
export interface Clock {
  /** Current time as Unix epoch milliseconds. */
  now(): Milliseconds;
  /**
   * Runs `callback` once, `delayMs` milliseconds from now. Timers never keep the process alive
   * on their own.
   */
  setTimeout(callback: () => void, delayMs: Milliseconds): Timer;
}

/** The real clock: `Date.now()` and unref'd Node.js timers. */
export const systemClock: Clock = Object.freeze({
  now: () => Date.now(),
  setTimeout(callback: () => void, delayMs: Milliseconds): Timer {
    const handle = setTimeout(callback, delayMs);
    handle.unref();
    return { cancel: () => clearTimeout(handle) };
  },
});
