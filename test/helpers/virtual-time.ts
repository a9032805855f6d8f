import type { ManualClock } from '../../src/testing/index.js';

type Settled<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: unknown };

/**
 * Advances `clock` in small steps (letting promises settle between timers) until `promise`
 * settles, then returns its value or throws its error. Fails after `maxMs` of virtual time.
 */
export async function drive<T>(clock: ManualClock, promise: Promise<T>, maxMs = 60_000, stepMs = 5): Promise<T> {
  const box: { settled?: Settled<T> } = {};
  promise.then(
    (value) => {
      box.settled = { ok: true, value };
    },
    (error: unknown) => {
      box.settled = { ok: false, error };
    },
  );
  for (let elapsed = 0; elapsed <= maxMs; elapsed += stepMs) {
    await clock.advanceAsync(stepMs);
    const s = box.settled;
    if (s !== undefined) {
      if (s.ok) return s.value;
      throw s.error;
    }
  }
  throw new Error(`promise still pending after ${maxMs} ms of virtual time`);
}

/**
 * Awaits `promise` while moving `clock` forward in `stepMs` steps for as long as it is pending
 * (a call waiting on a hung backend's deadline or a backoff needs virtual time to pass). Throws
 * instead of hanging when it is still pending after `maxMs` of virtual time.
 */
export async function awaitAdvancing<T>(
  clock: ManualClock,
  promise: Promise<T>,
  stepMs: number,
  maxMs = 60_000,
): Promise<T> {
  let done = false;
  const settled = promise.finally(() => {
    done = true;
  });
  settled.catch(() => undefined); // a rejection surfaces where the result is awaited
  for (let elapsed = 0; !done && elapsed < maxMs; elapsed += stepMs) await clock.advanceAsync(stepMs);
  if (!done) throw new Error(`still pending after ${maxMs} ms of virtual time`);
  return settled;
}
