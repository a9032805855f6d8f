import type { Clock, Milliseconds, Timer } from '../../core/clock.js';
import type { RecordSlots } from './record-slots.js';

/** What an {@link ExpirySweeper} runs on. @internal */
export interface ExpirySweeperDeps {
  readonly clock: Clock;
  /** The records whose deadlines it watches. */
  readonly slots: RecordSlots;
  /** Least time between two wake-ups, ms (`sweepIntervalMs`). */
  readonly intervalMs: Milliseconds;
  /** Most records one wake-up removes (`sweepBatchSize`). */
  readonly batchSize: number;
  /** Removes up to `limit` records whose deadline is at or before `now`; returns how many it removed. */
  readonly sweep: (now: Milliseconds, limit: number) => number;
}

/**
 * The expiry timer of a `MemoryRegistry`: one timer at a time, armed for the earliest deadline
 * and never sooner than `intervalMs` from now, so an unread record leaves at most that long
 * after its deadline, and a store whose records live for hours wakes when one is due, not every
 * interval. A wake-up removes at most `batchSize` records, and continues on the next turn while
 * more are due instead of running long. @internal
 */
export class ExpirySweeper {
  readonly #deps: ExpirySweeperDeps;
  #timer: Timer | undefined;
  /** When `#timer` fires, clock ms. */
  #at = 0;
  #stopped = false;

  constructor(deps: ExpirySweeperDeps) {
    this.#deps = deps;
  }

  /** Arms the timer for the earliest deadline held (or keeps an earlier one); none when none. */
  schedule(): void {
    if (this.#stopped) return;
    const { clock, slots, intervalMs } = this.#deps;
    const earliest = slots.earliestDeadline();
    if (earliest === 0) return;
    const now = clock.now();
    const at = Math.max(earliest, now + intervalMs);
    if (this.#timer !== undefined) {
      if (this.#at <= at) return;
      this.#timer.cancel();
    }
    this.#at = at;
    this.#timer = clock.setTimeout(this.#tick, at - now);
  }

  /** Cancels the timer: the records were dropped; {@link schedule} arms it again. */
  cancel(): void {
    this.#timer?.cancel();
    this.#timer = undefined;
  }

  /** Cancels the timer for good (the registry closed). */
  stop(): void {
    this.#stopped = true;
    this.cancel();
  }

  readonly #tick = (): void => {
    this.#timer = undefined;
    if (this.#stopped) return;
    const { clock, slots, batchSize, sweep } = this.#deps;
    const now = clock.now();
    const removed = sweep(now, batchSize);
    if (removed === batchSize && slots.due(now) !== -1) {
      // a full batch and more due: continue on the next turn instead of running long
      this.#at = now;
      this.#timer = clock.setTimeout(this.#tick, 0);
      return;
    }
    this.schedule();
  };
}
