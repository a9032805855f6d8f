import type { Clock, Milliseconds, Timer } from '../core/clock.js';

interface Scheduled {
  readonly at: Milliseconds;
  readonly seq: number;
  readonly callback: () => void;
  cancelled: boolean;
}

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
  // binary min-heap on (at, seq)
  readonly #heap: Scheduled[] = [];

  /** @param start initial time in epoch ms @default 1_700_000_000_000 */
  constructor(start: Milliseconds = 1_700_000_000_000) {
    this.#now = start;
  }

  now(): Milliseconds {
    return this.#now;
  }

  setTimeout(callback: () => void, delayMs: Milliseconds): Timer {
    const entry: Scheduled = { at: this.#now + Math.max(0, delayMs), seq: this.#seq++, callback, cancelled: false };
    this.#push(entry);
    return {
      cancel: () => {
        entry.cancelled = true;
      },
    };
  }

  /** Number of timers scheduled and not yet run or cancelled. */
  get pendingTimers(): number {
    return this.#heap.filter((t) => !t.cancelled).length;
  }

  /** Moves time forward by `ms`, running every timer that falls due, synchronously. */
  advance(ms: Milliseconds): void {
    if (!(ms >= 0)) throw new RangeError(`advance: ms must be >= 0 (got ${ms})`);
    const end = this.#now + ms;
    for (let t = this.#nextDue(end); t !== undefined; t = this.#nextDue(end)) {
      this.#now = t.at;
      t.callback();
    }
    this.#now = end;
  }

  /**
   * Like {@link advance}, but lets pending promise callbacks and I/O callbacks run after each
   * timer, so async work started by one timer completes before the next fires.
   */
  async advanceAsync(ms: Milliseconds): Promise<void> {
    if (!(ms >= 0)) throw new RangeError(`advanceAsync: ms must be >= 0 (got ${ms})`);
    const end = this.#now + ms;
    await settle();
    for (let t = this.#nextDue(end); t !== undefined; t = this.#nextDue(end)) {
      this.#now = t.at;
      t.callback();
      await settle();
    }
    this.#now = end;
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
    heap.push(entry);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(heap[i] as Scheduled, heap[parent] as Scheduled)) break;
      [heap[i], heap[parent]] = [heap[parent] as Scheduled, heap[i] as Scheduled];
      i = parent;
    }
  }

  #pop(): void {
    const heap = this.#heap;
    const last = heap.pop();
    if (heap.length === 0 || last === undefined) return;
    heap[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < heap.length && before(heap[l] as Scheduled, heap[m] as Scheduled)) m = l;
      if (r < heap.length && before(heap[r] as Scheduled, heap[m] as Scheduled)) m = r;
      if (m === i) return;
      [heap[i], heap[m]] = [heap[m] as Scheduled, heap[i] as Scheduled];
      i = m;
    }
  }
}

function before(a: Scheduled, b: Scheduled): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}

/** Lets queued microtasks and one round of immediates run. */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
