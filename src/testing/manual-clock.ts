import type { Clock, Milliseconds, Timer } from '../core/clock.js';

/** A timer of a {@link ManualClock}: the heap entry is the handle (one object per timer). */
class Scheduled implements Timer {
  readonly at: Milliseconds;
  readonly seq: number;
  /** `undefined` once cancelled. */
  callback: (() => void) | undefined;

  constructor(at: Milliseconds, seq: number, callback: () => void) {
    this.at = at;
    this.seq = seq;
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
  // binary min-heap on (at, seq); cancelled timers stay until they reach the top
  readonly #heap: Scheduled[] = [];

  /** @param start initial time in epoch ms @default 1_700_000_000_000 */
  constructor(start: Milliseconds = 1_700_000_000_000) {
    this.#now = start;
  }

  now(): Milliseconds {
    return this.#now;
  }

  setTimeout(callback: () => void, delayMs: Milliseconds): Timer {
    const entry = new Scheduled(this.#now + Math.max(0, delayMs), this.#seq++, callback);
    this.#push(entry);
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
    for (let t = this.#nextDue(end); t !== undefined; t = this.#nextDue(end)) {
      this.#now = t.at;
      t.run();
    }
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
        this.#now = t.at;
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

  #nextDue(end: Milliseconds): Scheduled | undefined {
    for (;;) {
      const top = this.#heap[0];
      if (top === undefined || top.at > end) return undefined;
      this.#pop();
      if (!top.cancelled) return top;
    }
  }

  #push(entry: Scheduled): void {
    const heap = this.#heap;
    let i = heap.length;
    heap.push(entry);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const above = heap[parent] as Scheduled;
      if (!before(entry, above)) break;
      heap[i] = above;
      i = parent;
    }
    heap[i] = entry;
  }

  #pop(): void {
    const heap = this.#heap;
    const last = heap.pop();
    const n = heap.length;
    if (n === 0 || last === undefined) return;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      let child = heap[l] as Scheduled;
      let m = l;
      if (r < n && before(heap[r] as Scheduled, child)) {
        child = heap[r] as Scheduled;
        m = r;
      }
      if (!before(child, last)) break;
      heap[i] = child;
      i = m;
    }
    heap[i] = last;
  }
}

function before(a: Scheduled, b: Scheduled): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}

/** Lets queued microtasks and one round of immediates run. */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
