import { RegistryError } from './errors.js';
import type { RemovalReason } from './events.js';
import type { RegistryChange, RegistryRecord, WatchOptions } from './registry.js';
import { checkOpen } from './validation.js';

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
  /** Watches waiting for the next change; made by the first watch (nobody watches a KAD node's registry). */
  #waiters: Set<() => void> | undefined;

  constructor(capacity: number) {
    this.#capacity = capacity;
    // grown by push up to capacity: an idle registry allocates nothing for its feed
    this.#ring = [];
  }

  /** Watches waiting for a change now. */
  get watching(): number {
    return this.#waiters?.size ?? 0;
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
    if (waiters === undefined || waiters.size === 0) return;
    this.#waiters = new Set();
    for (const wake of waiters) wake();
  }

  /**
   * The feed of {@link WatchOptions}: `isClosed` tells whether the owner was closed. Validates
   * the options and the cursor when the first change is asked for.
   */
  async *watch(options: WatchOptions, isClosed: () => boolean): AsyncGenerator<RegistryChange> {
    const { prefix = '', after, signal } = options;
    checkOpen(isClosed(), signal);
    if (typeof prefix !== 'string') throw RegistryError.invalidOptionValue('prefix', 'a string', prefix);
    this.#arm();
    let last = after === undefined ? this.#head : this.#parse(after);
    for (;;) {
      checkOpen(isClosed(), signal);
      if (last < this.#head) {
        const seq = last + 1;
        if (seq <= this.#head - this.#capacity || seq <= this.#floor) throw RegistryError.compacted(String(last));
        const entry = this.#ring[(seq - this.#floor - 1) % this.#capacity] as RegistryRecord | Removal;
        last = seq;
        if (!entry.key.startsWith(prefix)) continue;
        const cursor = String(seq);
        yield entry instanceof Removal
          ? { type: 'removed', key: entry.key, version: entry.version, reason: entry.reason, cursor }
          : { type: 'set', record: entry, cursor };
        continue;
      }
      await this.#next(signal);
    }
  }

  /** Resolves on the next change, on `wakeAll`, or when `signal` aborts. */
  #next(signal: AbortSignal | undefined): Promise<void> {
    return new Promise((resolve) => {
      const wake = (): void => {
        signal?.removeEventListener('abort', wake);
        this.#waiters?.delete(wake);
        resolve();
      };
      (this.#waiters ??= new Set()).add(wake);
      signal?.addEventListener('abort', wake, { once: true });
    });
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
