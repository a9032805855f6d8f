/**
 * Struct-of-arrays storage for the memory backend: one integer slot per record, its metadata in
 * typed arrays, and an indexed min-heap of deadlines. Keeping metadata out of per-record objects
 * is what keeps the overhead near that of raw `lru-cache` (no object, no boxed doubles per record).
 */
export class RecordSlots {
  keys: (string | undefined)[] = [];
  values: (Uint8Array | undefined)[] = [];
  versions: Float64Array;
  createdAt: Float64Array;
  updatedAt: Float64Array;
  /** Deadline in epoch ms; 0 means none. */
  expiresAt: Float64Array;
  /** Position of each slot in `#heap`, -1 when it has no deadline. */
  #heapPos: Int32Array;
  /** Slots with a deadline, as a binary min-heap on `expiresAt`. */
  #heap: Uint32Array;
  #heapSize = 0;
  #free: number[] = [];
  #next = 0;
  #capacity: number;
  readonly #maxCapacity: number;

  constructor(initialCapacity: number, maxCapacity: number) {
    this.#maxCapacity = maxCapacity;
    this.#capacity = Math.max(1, Math.min(initialCapacity, maxCapacity));
    this.versions = new Float64Array(this.#capacity);
    this.createdAt = new Float64Array(this.#capacity);
    this.updatedAt = new Float64Array(this.#capacity);
    this.expiresAt = new Float64Array(this.#capacity);
    this.#heapPos = new Int32Array(this.#capacity).fill(-1);
    this.#heap = new Uint32Array(this.#capacity);
  }

  /** Number of slots with a deadline. */
  get scheduled(): number {
    return this.#heapSize;
  }

  /** A free slot, its metadata zeroed and its deadline unset. */
  allocate(): number {
    const reused = this.#free.pop();
    if (reused !== undefined) return reused;
    if (this.#next === this.#capacity) this.#grow();
    return this.#next++;
  }

  /** Returns `slot` to the free list and drops its deadline and value. */
  release(slot: number): void {
    if (this.#heapPos[slot] !== -1) this.#heapRemove(slot);
    this.keys[slot] = undefined;
    this.values[slot] = undefined;
    this.expiresAt[slot] = 0;
    this.#free.push(slot);
  }

  /** Forgets every slot. */
  reset(): void {
    this.keys = [];
    this.values = [];
    this.#heapPos.fill(-1);
    this.expiresAt.fill(0);
    this.#heapSize = 0;
    this.#free = [];
    this.#next = 0;
  }

  /** Sets (`at` > 0) or clears (`at` = 0) the deadline of `slot`. */
  setDeadline(slot: number, at: number): void {
    const before = this.expiresAt[slot] ?? 0;
    this.expiresAt[slot] = at;
    const pos = this.#heapPos[slot] ?? -1;
    if (pos === -1) {
      if (at !== 0) this.#heapPush(slot);
    } else if (at === 0) {
      this.#heapRemove(slot);
    } else if (at < before) {
      this.#siftUp(pos);
    } else if (at > before) {
      this.#siftDown(pos);
    }
  }

  /** The slot with the earliest deadline if that deadline is at or before `now`, else -1. */
  due(now: number): number {
    if (this.#heapSize === 0) return -1;
    const slot = this.#heap[0] ?? 0;
    return (this.expiresAt[slot] ?? 0) <= now ? slot : -1;
  }

  #grow(): void {
    const capacity = Math.min(this.#capacity * 2, this.#maxCapacity);
    if (capacity <= this.#capacity) throw new Error('record slots exhausted');
    this.versions = grown(this.versions, capacity);
    this.createdAt = grown(this.createdAt, capacity);
    this.updatedAt = grown(this.updatedAt, capacity);
    this.expiresAt = grown(this.expiresAt, capacity);
    const heapPos = new Int32Array(capacity).fill(-1);
    heapPos.set(this.#heapPos);
    this.#heapPos = heapPos;
    const heap = new Uint32Array(capacity);
    heap.set(this.#heap);
    this.#heap = heap;
    this.#capacity = capacity;
  }

  #heapPush(slot: number): void {
    const pos = this.#heapSize++;
    this.#heap[pos] = slot;
    this.#heapPos[slot] = pos;
    this.#siftUp(pos);
  }

  #heapRemove(slot: number): void {
    const pos = this.#heapPos[slot] ?? -1;
    this.#heapPos[slot] = -1;
    const last = --this.#heapSize;
    if (pos === last) return;
    const moved = this.#heap[last] ?? 0;
    this.#heap[pos] = moved;
    this.#heapPos[moved] = pos;
    this.#siftUp(pos);
    this.#siftDown(this.#heapPos[moved] ?? pos);
  }

  #less(a: number, b: number): boolean {
    return (this.expiresAt[this.#heap[a] ?? 0] ?? 0) < (this.expiresAt[this.#heap[b] ?? 0] ?? 0);
  }

  #swap(a: number, b: number): void {
    const heap = this.#heap;
    const sa = heap[a] ?? 0;
    const sb = heap[b] ?? 0;
    heap[a] = sb;
    heap[b] = sa;
    this.#heapPos[sb] = a;
    this.#heapPos[sa] = b;
  }

  #siftUp(pos: number): void {
    while (pos > 0) {
      const parent = (pos - 1) >> 1;
      if (!this.#less(pos, parent)) return;
      this.#swap(pos, parent);
      pos = parent;
    }
  }

  #siftDown(pos: number): void {
    const size = this.#heapSize;
    for (;;) {
      const left = 2 * pos + 1;
      if (left >= size) return;
      const right = left + 1;
      const child = right < size && this.#less(right, left) ? right : left;
      if (!this.#less(child, pos)) return;
      this.#swap(pos, child);
      pos = child;
    }
  }
}

function grown(array: Float64Array, capacity: number): Float64Array {
  const next = new Float64Array(capacity);
  next.set(array);
  return next;
}
