import { RegistryError } from './errors.js';
import type { RemovalReason } from './events.js';
import type { RegistryChange, RegistryRecord, WatchOptions } from './registry.js';
import { checkOpen } from './validation.js';

/** A promise rejected with `error` as it is (an abort's reason need not be an `Error`). */
const rejectWith = async (error: unknown): Promise<never> => {
  throw error;
};

/** A removal as a {@link ChangeLog} holds it. */
export class Removal {
  constructor(
    readonly key: string,
    readonly version: number,
    readonly reason: RemovalReason,
  ) {}
}

/**
 * The last `capacity` changes of an in-process registry, in commit order, and the watches that
 * read them. Cursors are sequence numbers in decimal (`"0"` before the first change).
 *
 * Watches hold no buffer of their own: each keeps only its position and reads the shared ring
 * as its consumer pulls. A consumer that falls more than `capacity` changes behind finds its
 * next change overwritten and gets `COMPACTED` (the documented slow-consumer policy), so
 * memory is bounded by `capacity` whatever the number or speed of watches.
 */
export class ChangeLog {
  readonly #capacity: number;
  // a written record itself (no wrapper: a write allocates nothing for the feed), or a removal;
  // the change object and its cursor are made when a watch reads it
  readonly #ring: (RegistryRecord | Removal | undefined)[];
  /** Sequence number of the latest change; 0 before the first. */
  #head = 0;
  /**
   * Changes are kept only from the first `cursor()` or `watch()` on: before that no cursor
   * exists to resume from, so a registry nobody watches pays a counter per write and holds
   * nothing. Changes up to `#floor` were never kept.
   */
  #armed = false;
  #floor = 0;
  /**
   * The watches waiting for a change, as their wake callbacks (one per watch, made when it
   * starts), and a spare array for `wakeAll` to swap in: a change allocates nothing here.
   */
  #waiters: (() => void)[] = [];
  #spare: (() => void)[] = [];

  constructor(capacity: number) {
    this.#capacity = capacity;
    // grown by push up to capacity: an idle registry allocates nothing for its feed
    this.#ring = [];
  }

  /** Watches waiting for a change now. */
  get watching(): number {
    return this.#waiters.length;
  }

  /** The cursor of the latest change. */
  cursor(): string {
    this.#arm();
    return String(this.#head);
  }

  /** Records a write (of `record`, as stored) or a removal as the next change; wakes the watches. */
  append(change: RegistryRecord | Removal): void {
    const seq = ++this.#head;
    if (!this.#armed) return;
    const ring = this.#ring;
    if (ring.length < this.#capacity) ring.push(change);
    else ring[(seq - this.#floor - 1) % this.#capacity] = change;
    this.wakeAll();
  }

  /** Wakes every watch (after the owner closed: they then reject with `CLOSED`). */
  wakeAll(): void {
    const waiters = this.#waiters;
    if (waiters.length === 0) return;
    // a watch that finds nothing for it (another prefix) waits again, in the swapped-in array
    this.#waiters = this.#spare;
    this.#spare = waiters;
    for (const wake of waiters) wake();
    waiters.length = 0;
  }

  /**
   * The feed of {@link WatchOptions}: `isClosed` tells whether the owner was closed. Validates
   * the options and the cursor when the first change is asked for.
   *
   * An iterator written out rather than an async generator (which costs a few promise turns per
   * change): a change already in the ring is handed over in one resolved promise, and one that
   * a waiting `next()` gets is handed to it by the write itself (`wakeAll`), with no other turn.
   */
  watch(options: WatchOptions, isClosed: () => boolean): AsyncIterableIterator<RegistryChange> {
    const { prefix = '', after, signal } = options;
    let state: 'new' | 'open' | 'done' = 'new';
    // the sequence number of the last change this watch passed (served or filtered out)
    let last = 0;
    // the waiting `next()` call, if any: its promise and how to settle it
    let pending: Promise<IteratorResult<RegistryChange>> | undefined;
    let resolvePending: ((result: IteratorResult<RegistryChange>) => void) | undefined;
    let rejectPending: ((error: unknown) => void) | undefined;
    const settle = (): void => {
      pending = undefined;
      resolvePending = undefined;
      rejectPending = undefined;
    };
    const finish = (): void => {
      state = 'done';
      signal?.removeEventListener('abort', wake);
    };
    const start = (): void => {
      checkOpen(isClosed(), signal);
      if (typeof prefix !== 'string') throw RegistryError.invalidOptionValue('prefix', 'a string', prefix);
      this.#arm();
      last = after === undefined ? this.#head : this.#parse(after);
      // one listener per watch, not one per wait
      signal?.addEventListener('abort', wake, { once: true });
      state = 'open';
    };
    // the next change under `prefix` if the ring has one; undefined when the watch must wait
    const take = (): IteratorResult<RegistryChange> | undefined => {
      checkOpen(isClosed(), signal);
      while (last < this.#head) {
        const seq = last + 1;
        if (seq <= this.#head - this.#capacity || seq <= this.#floor) throw RegistryError.compacted(String(last));
        const entry = this.#ring[(seq - this.#floor - 1) % this.#capacity] as RegistryRecord | Removal;
        last = seq;
        if (!entry.key.startsWith(prefix)) continue;
        const cursor = String(seq);
        return {
          value:
            entry instanceof Removal
              ? { type: 'removed', key: entry.key, version: entry.version, reason: entry.reason, cursor }
              : { type: 'set', record: entry, cursor },
          done: false,
        };
      }
      return undefined;
    };
    // on a change, `close()` or an abort: settles the waiting call, or waits again
    function wake(this: void): void {
      const resolve = resolvePending;
      const reject = rejectPending;
      if (resolve === undefined || reject === undefined) return;
      let taken: IteratorResult<RegistryChange> | undefined;
      try {
        taken = take();
      } catch (error) {
        settle();
        finish();
        reject(error);
        return;
      }
      if (taken === undefined) {
        waiters().push(wake);
        return;
      }
      settle();
      resolve(taken);
    }
    const waiters = (): (() => void)[] => this.#waiters;
    const next = (): Promise<IteratorResult<RegistryChange>> => {
      if (state === 'done') return Promise.resolve({ value: undefined, done: true });
      // calls that overlap are served in order, each after the one before
      if (pending !== undefined) return pending.then(next, next);
      try {
        if (state === 'new') start();
        const taken = take();
        if (taken !== undefined) return Promise.resolve(taken);
      } catch (error) {
        finish();
        return rejectWith(error);
      }
      pending = new Promise((resolve, reject) => {
        resolvePending = resolve;
        rejectPending = reject;
      });
      this.#waiters.push(wake);
      return pending;
    };
    return {
      next,
      return: (): Promise<IteratorResult<RegistryChange>> => {
        finish();
        const resolve = resolvePending;
        if (resolve !== undefined) {
          // a call waiting for a change ends now, done
          const waiting = this.#waiters.indexOf(wake);
          if (waiting >= 0) this.#waiters.splice(waiting, 1);
          settle();
          resolve({ value: undefined, done: true });
        }
        return Promise.resolve({ value: undefined, done: true });
      },
      [Symbol.asyncIterator]() {
        return this;
      },
    };
  }

  #parse(after: unknown): number {
    const seq = typeof after === 'string' && /^(0|[1-9][0-9]{0,15})$/.test(after) ? Number(after) : Number.NaN;
    if (!Number.isSafeInteger(seq) || seq > this.#head) {
      throw RegistryError.invalidOptionValue('after', 'a cursor this registry issued', after);
    }
    if (seq < this.#head - this.#capacity || seq < this.#floor) throw RegistryError.compacted(after as string);
    return seq;
  }

  #arm(): void {
    if (this.#armed) return;
    this.#armed = true;
    this.#floor = this.#head;
  }
}
