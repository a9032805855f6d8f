import { RegistryError } from './errors.js';
import type { RemovalReason } from './events.js';
import type { RegistryChange, RegistryRecord, WatchOptions } from './registry.js';
import { checkOpen } from './validation.js';

/** A change as a backend hands it to a {@link ChangeLog}: the log assigns the cursor. */
export type UncursoredChange =
  | { readonly type: 'set'; readonly record: RegistryRecord }
  | { readonly type: 'removed'; readonly key: string; readonly version: number; readonly reason: RemovalReason };

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
  readonly #ring: (RegistryChange | undefined)[];
  /** Sequence number of the latest change; 0 before the first. */
  #head = 0;
  readonly #waiters = new Set<() => void>();

  constructor(capacity: number) {
    this.#capacity = capacity;
    this.#ring = new Array<RegistryChange | undefined>(capacity);
  }

  /** Watches waiting for a change now. */
  get watching(): number {
    return this.#waiters.size;
  }

  /** The cursor of the latest change. */
  cursor(): string {
    return String(this.#head);
  }

  /** Records `change` as the next one and wakes the watches waiting for it. */
  append(change: UncursoredChange): void {
    const seq = ++this.#head;
    this.#ring[seq % this.#capacity] = { ...change, cursor: String(seq) };
    if (this.#waiters.size === 0) return;
    const waiters = [...this.#waiters];
    this.#waiters.clear();
    for (const wake of waiters) wake();
  }

  /** Wakes every watch (after the owner closed: they then reject with `CLOSED`). */
  wakeAll(): void {
    const waiters = [...this.#waiters];
    this.#waiters.clear();
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
    let last = after === undefined ? this.#head : this.#parse(after);
    for (;;) {
      checkOpen(isClosed(), signal);
      if (last < this.#head) {
        const seq = last + 1;
        if (seq <= this.#head - this.#capacity) throw RegistryError.compacted(String(last));
        const change = this.#ring[seq % this.#capacity] as RegistryChange;
        last = seq;
        const key = change.type === 'set' ? change.record.key : change.key;
        if (key.startsWith(prefix)) yield change;
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
        this.#waiters.delete(wake);
        resolve();
      };
      this.#waiters.add(wake);
      signal?.addEventListener('abort', wake, { once: true });
    });
  }

  #parse(after: unknown): number {
    const seq = typeof after === 'string' && /^(0|[1-9][0-9]{0,15})$/.test(after) ? Number(after) : Number.NaN;
    if (!Number.isSafeInteger(seq) || seq > this.#head) {
      throw RegistryError.invalidOptionValue('after', 'a cursor this registry issued', after);
    }
    if (seq < this.#head - this.#capacity) throw RegistryError.compacted(after as string);
    return seq;
  }
}
