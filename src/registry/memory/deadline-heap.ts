/**
 * Deadlines of record slots as an indexed binary min-heap in typed arrays: the earliest deadline
 * is found in O(1), set or cleared in O(log n). Each heap position keeps its deadline beside its
 * slot, so sifting reads only the heap's own memory. The arrays grow with the slots they serve
 * (see {@link RecordSlots}), never ahead of them.
 */
export class DeadlineHeap {
  /** Heap position + 1 of each slot; 0 when the slot has no deadline (so new memory needs no fill). */
  #place: Int32Array;
  /** The slot at each heap position. */
  #slot: Int32Array;
  /** The deadline at each heap position, epoch ms. */
  #at: Float64Array;
  #size = 0;

  constructor(capacity: number) {
    // an empty heap shares empty arrays (never written: it grows before its first slot)
    this.#place = capacity === 0 ? EMPTY_INT32 : new Int32Array(capacity);
    this.#slot = capacity === 0 ? EMPTY_INT32 : new Int32Array(capacity);
    this.#at = capacity === 0 ? EMPTY_FLOAT64 : new Float64Array(capacity);
  }

  /** Slots with a deadline. */
  get size(): number {
    return this.#size;
  }

  /** Makes room for slots `0 … capacity - 1`, keeping every deadline. */
  grow(capacity: number): void {
    this.#place = grown(this.#place, new Int32Array(capacity));
    this.#slot = grown(this.#slot, new Int32Array(capacity));
    this.#at = grown(this.#at, new Float64Array(capacity));
  }

  /** The deadline of `slot`, or 0 when it has none. */
  get(slot: number): number {
    const place = this.#place[slot] ?? 0;
    return place === 0 ? 0 : (this.#at[place - 1] ?? 0);
  }

  /** Sets (`at` > 0) or clears (`at` = 0) the deadline of `slot`. */
  set(slot: number, at: number): void {
    const place = this.#place[slot] ?? 0;
    if (place === 0) {
      if (at !== 0) this.#push(slot, at);
      return;
    }
    if (at === 0) return this.#remove(place - 1);
    const before = this.#at[place - 1] ?? 0;
    this.#at[place - 1] = at;
    if (at < before) this.#siftUp(place - 1);
    else if (at > before) this.#siftDown(place - 1);
  }

  /** The earliest deadline, epoch ms, or 0 when no slot has one. */
  earliest(): number {
    return this.#size === 0 ? 0 : (this.#at[0] ?? 0);
  }

  /** The slot with the earliest deadline if that deadline is at or before `now`, else -1. */
  due(now: number): number {
    if (this.#size === 0 || (this.#at[0] ?? 0) > now) return -1;
    return this.#slot[0] ?? -1;
  }

  #push(slot: number, at: number): void {
    const pos = this.#size++;
    this.#put(pos, slot, at);
    this.#siftUp(pos);
  }

  #remove(pos: number): void {
    this.#place[this.#slot[pos] ?? 0] = 0;
    const last = --this.#size;
    if (pos === last) return;
    this.#put(pos, this.#slot[last] ?? 0, this.#at[last] ?? 0);
    this.#siftUp(pos);
    this.#siftDown(pos);
  }

  #put(pos: number, slot: number, at: number): void {
    this.#slot[pos] = slot;
    this.#at[pos] = at;
    this.#place[slot] = pos + 1;
  }

  // sifts move a hole instead of swapping: one write per level
  #siftUp(pos: number): void {
    const slot = this.#slot[pos] ?? 0;
    const at = this.#at[pos] ?? 0;
    while (pos > 0) {
      const parent = (pos - 1) >> 1;
      const parentAt = this.#at[parent] ?? 0;
      if (at >= parentAt) break;
      this.#put(pos, this.#slot[parent] ?? 0, parentAt);
      pos = parent;
    }
    this.#put(pos, slot, at);
  }

  #siftDown(pos: number): void {
    const slot = this.#slot[pos] ?? 0;
    const at = this.#at[pos] ?? 0;
    const size = this.#size;
    for (;;) {
      const left = 2 * pos + 1;
      if (left >= size) break;
      const right = left + 1;
      const leftAt = this.#at[left] ?? 0;
      const child = right < size && (this.#at[right] ?? 0) < leftAt ? right : left;
      const childAt = child === left ? leftAt : (this.#at[right] ?? 0);
      if (childAt >= at) break;
      this.#put(pos, this.#slot[child] ?? 0, childAt);
      pos = child;
    }
    this.#put(pos, slot, at);
  }
}

/** `next` holding `array`'s elements first. */
const EMPTY_INT32 = new Int32Array(0);
const EMPTY_FLOAT64 = new Float64Array(0);

function grown<T extends Int32Array | Float64Array>(array: T, next: T): T {
  next.set(array);
  return next;
}
