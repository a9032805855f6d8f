/** What a write left undone on a shard, to be handed back when it serves again. */
export type Hint = 'set' | 'delete';

/**
 * The keys one shard missed while unavailable (or whose write to it failed), for hand-back: the
 * shard is stale for them. At most `max` are kept; past that the shard only knows it
 * overflowed, and a full resync hands back every key it owns.
 */
export class Hints {
  readonly #hints = new Map<string, Hint>();
  readonly #max: number;
  #overflowed = false;

  constructor(max: number) {
    this.#max = max;
  }

  get size(): number {
    return this.#hints.size;
  }

  /** More hints than `max` were needed (or the shard came back empty): only a full resync can hand back. */
  get overflowed(): boolean {
    return this.#overflowed;
  }

  /** Whether anything is left to hand back: a hinted key, or a full resync. */
  get pending(): boolean {
    return this.#hints.size > 0 || this.#overflowed;
  }

  has(key: string): boolean {
    return this.#hints.has(key);
  }

  get(key: string): Hint | undefined {
    return this.#hints.get(key);
  }

  keys(): IterableIterator<string> {
    return this.#hints.keys();
  }

  /** Records a missed write of `key`; `false` when full (then the overflow is recorded instead). */
  add(key: string, hint: Hint): boolean {
    if (this.#hints.size >= this.#max && !this.#hints.has(key)) {
      this.#overflowed = true;
      return false;
    }
    this.#hints.set(key, hint);
    return true;
  }

  /** `key` was handed back (or needs no hand-back any more): the shard is no longer stale for it. */
  drop(key: string): void {
    this.#hints.delete(key);
  }

  /** The shard was cleared: nothing is left to hand back for the keys hinted. */
  clear(): void {
    this.#hints.clear();
  }

  /** A full resync found `key` on another member and hands it back now: kept past `max`. */
  addForResync(key: string): void {
    this.#hints.set(key, 'set');
  }

  /** Every key the shard owns must be copied back (a full resync): it came back empty, or a resync was cut short. */
  markOverflowed(): void {
    this.#overflowed = true;
  }

  /** Whether a full resync is due; the hand-back that starts one takes it (clears the flag, marked again if cut short). */
  takeOverflowed(): boolean {
    const overflowed = this.#overflowed;
    this.#overflowed = false;
    return overflowed;
  }
}
