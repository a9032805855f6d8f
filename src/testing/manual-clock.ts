import type { Clock, Milliseconds, Timer } from '../core/clock.js';

/** A timer of a {@link ManualClock}: the handle the caller holds. */
class Scheduled implements Timer {
  /** `undefined` once cancelled. */
  callback: (() => void) | undefined;

  constructor(callback: () => void) {
    this.callback = callback;
  }

  /** Runs the callback once (a timer that ran counts as cancelled). */
  run(): void {
    const callback = this.callback;
    this.callback = undefined;
    callback?.();
  }

  get cancelled(): boolean {
    return this.callback === undefined;
  }

  // a cancelled timer stays in the heap until its deadline: dropping the callback lets what it
  // holds (a query timeout holds the whole request) be collected now, young, not at the deadline
  cancel(): void {
    this.callback = undefined;
  }
}

/** Immediates queued at once by the first batch of {@link ManualClock.advanceAsync}. */
const FIRST_BATCH = 16;
/** Most immediates one batch queues: each batch that runs full doubles the next, up to this. */
const MAX_BATCH = 1024;

/**
 * A {@link Clock} whose time moves only when told to, for deterministic tests of TTLs, timeouts
 * and whole simulated networks. Timers run in deadline order (ties in scheduling order), each
 * seeing `now()` equal to its own deadline.
 *
 * @example
 * const clock = new ManualClock();
 * const registry = new MemoryRegistry({}, { clock });
 * await registry.set('k', bytes, { ttlMs: 1000 });
 * clock.advance(1000); // the record is now expired
 */
export class ManualClock implements Clock {
  #now: Milliseconds;
  #seq = 0;
  // binary min-heap on (deadline, scheduling order), kept as three parallel arrays so that sifting
  // compares numbers side by side in memory instead of reading a timer object at each step (a
  // simulation holds a few timers per node); cancelled timers stay until they reach the top
  readonly #heap: Scheduled[] = [];
  readonly #at: Milliseconds[] = [];
  readonly #order: number[] = [];

  /** @param start initial time in epoch ms @default 1_700_000_000_000 */
  constructor(start: Milliseconds = 1_700_000_000_000) {
    this.#now = start;
  }

  now(): Milliseconds {
    return this.#now;
  }

  setTimeout(callback: () => void, delayMs: Milliseconds): Timer {
    const entry = new Scheduled(callback);
    this.#push(entry, this.#now + Math.max(0, delayMs), this.#seq++);
    return entry;
  }

  /** Number of timers scheduled and not yet run or cancelled. */
  get pendingTimers(): number {
    let pending = 0;
    for (const t of this.#heap) if (!t.cancelled) pending++;
    return pending;
  }

  /** Moves time forward by `ms`, running every timer that falls due, synchronously. */
  advance(ms: Milliseconds): void {
    if (!(ms >= 0)) throw new RangeError(`advance: ms must be >= 0 (got ${ms})`);
    const end = this.#now + ms;
    for (let t = this.#nextDue(end); t !== undefined; t = this.#nextDue(end)) t.run();
    this.#now = end;
  }

  /**
   * Like {@link advance}, but lets pending promise callbacks run after each timer, so async work
   * started by one timer completes before the next fires; I/O callbacks and immediates get a
   * turn of the event loop before the first timer, between batches of timers and at the end.
   *
   * Each timer runs in an immediate of its own, and Node.js runs every queued promise callback
   * (and `process.nextTick`) between two immediates: a batch of immediates queued at once runs
   * in one turn of the event loop, which costs a fraction of a turn per timer. The order of the
   * timers, and the promise callbacks that run before the next timer, are those of one turn per
   * timer; only immediates and I/O callbacks that a timer queues run later, between batches (of
   * 16 timers, doubling while batches run full, up to 1024). Rejects with what a timer's callback threw (the later timers stay scheduled).
   */
  async advanceAsync(ms: Milliseconds): Promise<void> {
    if (!(ms >= 0)) throw new RangeError(`advanceAsync: ms must be >= 0 (got ${ms})`);
    const end = this.#now + ms;
    await settle();
    let batch = FIRST_BATCH;
    let ran = 0;
    for (;;) {
      const inBatch = await this.#runBatch(end, batch);
      ran += inBatch;
      if (inBatch < batch) break;
      batch = Math.min(batch * 2, MAX_BATCH);
    }
    this.#now = end;
    // immediates and I/O queued by the last timers get their turn, as before the first
    if (ran > 0) await settle();
  }

  /** Runs up to `size` due timers, one per immediate; resolves with how many ran. */
  #runBatch(end: Milliseconds, size: number): Promise<number> {
    return new Promise((resolve, reject) => {
      let ran = 0;
      let over = false;
      const step = (): void => {
        if (over) return;
        const t = this.#nextDue(end);
        if (t === undefined) {
          over = true;
          resolve(ran);
          return;
        }
        ran++;
        try {
          t.run();
        } catch (error) {
          over = true;
          reject(error instanceof Error ? error : new Error(String(error)));
          return;
        }
        if (ran === size) {
          over = true;
          resolve(ran);
        }
      };
      for (let i = 0; i < size; i++) setImmediate(step);
    });
  }

  /** Takes the next timer due by `end` off the heap and moves time to its deadline; `undefined` when none is. */
  #nextDue(end: Milliseconds): Scheduled | undefined {
    const heap = this.#heap;
    for (;;) {
      const top = heap[0];
      const at = this.#at[0];
      if (top === undefined || at === undefined || at > end) return undefined;
      this.#pop();
      if (top.cancelled) continue;
      this.#now = at;
      return top;
    }
  }

  #push(entry: Scheduled, at: Milliseconds, order: number): void {
    const heap = this.#heap;
    const ats = this.#at;
    const orders = this.#order;
    let i = heap.length;
    heap.push(entry);
    ats.push(at);
    orders.push(order);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const above = ats[parent] as number;
      if (above < at || (above === at && (orders[parent] as number) < order)) break;
      heap[i] = heap[parent] as Scheduled;
      ats[i] = above;
      orders[i] = orders[parent] as number;
      i = parent;
    }
    heap[i] = entry;
    ats[i] = at;
    orders[i] = order;
  }

  #pop(): void {
    const heap = this.#heap;
    const ats = this.#at;
    const orders = this.#order;
    const last = heap.pop();
    const lastAt = ats.pop() as number;
    const lastOrder = orders.pop() as number;
    const n = heap.length;
    if (n === 0 || last === undefined) return;
    let i = 0;
    for (;;) {
      let m = 2 * i + 1;
      if (m >= n) break;
      let mAt = ats[m] as number;
      let mOrder = orders[m] as number;
      const r = m + 1;
      if (r < n) {
        const rAt = ats[r] as number;
        if (rAt < mAt || (rAt === mAt && (orders[r] as number) < mOrder)) {
          m = r;
          mAt = rAt;
          mOrder = orders[r] as number;
        }
      }
      if (lastAt < mAt || (lastAt === mAt && lastOrder < mOrder)) break;
      heap[i] = heap[m] as Scheduled;
      ats[i] = mAt;
      orders[i] = mOrder;
      i = m;
    }
    heap[i] = last;
    ats[i] = lastAt;
    orders[i] = lastOrder;
  }
}

/** Lets queued microtasks and one round of immediates run. */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
