import type { OperationName } from './metrics.js';

/** One step of a lookup, as the dashboard lists it. */
export interface ActivityStep {
  /** `query`, `response`, `timeout`, `error`, `value`, `peers` or `done`. */
  readonly type: string;
  /** The contact as `host:port`, when the step has one. */
  readonly contact?: string;
  /** Round trip of a response, ms. */
  readonly rttMs?: number;
}

/** A DHT operation the API ran: what the dashboard's "recent lookups" show. */
export interface Activity {
  readonly operation: OperationName;
  /** The target, info-hash, node id or address, hex or `host:port`. */
  readonly target: string;
  /** Epoch ms when it started. */
  readonly startedAt: number;
  readonly durationMs: number;
  /** `ok`, or the error code. */
  readonly outcome: string;
  /** Queries sent. */
  readonly queried: number;
  /** The lookup's steps, for `lookup` (the first {@link MAX_STEPS}). */
  readonly steps?: readonly ActivityStep[];
}

/** Steps kept per lookup. */
export const MAX_STEPS = 64;

/** The last operations, and listeners that hear of each new one (the SSE streams). */
export class ActivityLog {
  readonly #recent: Activity[] = [];
  readonly #listeners = new Set<(activity: Activity) => void>();
  readonly #capacity: number;

  /** @param capacity operations kept. */
  constructor(capacity = 50) {
    this.#capacity = capacity;
  }

  /** Records `activity` and tells every listener. */
  add(activity: Activity): void {
    this.#recent.unshift(activity);
    if (this.#recent.length > this.#capacity) this.#recent.pop();
    for (const listener of this.#listeners) listener(activity);
  }

  /** The kept operations, newest first. */
  recent(): readonly Activity[] {
    return this.#recent;
  }

  /** Calls `listener` for each new operation until the returned function is called. */
  subscribe(listener: (activity: Activity) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}
