import { DeadlineHeap } from './deadline-heap.js';

// Float64 fields of a slot in `#meta`
const VERSION = 0;
const CREATED_AT = 1;
const UPDATED_AT = 2;
const META_STRIDE = 3;
// Int32 fields of a slot in `#links`: its neighbours in recency order, or in the free list
const PREV = 0;
const NEXT = 1;
const LINK_STRIDE = 2;
const NONE = -1;

/**
 * Slots the arrays get at the first record (an empty store has none). Not a power of
 * two, so that the arrays never grow on the same write as the key `Map`, whose table doubles at
 * powers of two: at 100 k records the Map's pause (~2 ms) and the arrays' (~1 ms) come apart
 * instead of adding up.
 */
const INITIAL_CAPACITY = 12;
// length 0: shared by every empty instance, never written
const EMPTY_FLOAT64 = new Float64Array(0);
const EMPTY_INT32 = new Int32Array(0);

/**
 * The records of the memory backend, struct-of-arrays: one integer slot per record, its
 * metadata in typed arrays, its recency in a doubly linked list threaded through those arrays
 * (least recently used first), its deadline in a {@link DeadlineHeap}, and a `Map` from key to
 * slot. Keeping metadata out of per-record objects keeps the overhead per record low (no object,
 * no boxed doubles); keeping recency in the same arrays means one slot index serves every
 * lookup, with no second structure to keep in step.
 *
 * The arrays grow geometrically (×2, up to `maxCapacity`) as records arrive, so memory follows
 * what is held and the copying is amortized O(1) per record; freed slots are reused first.
 */
export class RecordSlots {
  /** The key of each slot (`undefined` when free). */
  keys: (string | undefined)[] = [];
  /** The value of each slot (`undefined` when free). */
  values: (Uint8Array | undefined)[] = [];
  // created with the first record: an empty registry (a KAD node's that stores nothing) holds no map
  #indexStore: Map<string, number> | undefined;
  get #index(): Map<string, number> {
    return (this.#indexStore ??= new Map());
  }
  // assigned by #start, from the constructor on
  #meta!: Float64Array;
  #links!: Int32Array;
  #deadlines!: DeadlineHeap;
  #oldest = NONE;
  #newest = NONE;
  /** Head of the chain of freed slots (linked through NEXT). */
  #free = NONE;
  /** Slots below this were handed out at least once. */
  #used = 0;
  #capacity = 0;
  readonly #maxCapacity: number;

  constructor(maxCapacity: number) {
    this.#maxCapacity = maxCapacity;
    this.#start();
  }

  /** Records held. */
  get size(): number {
    return this.#indexStore?.size ?? 0;
  }

  /** Slots with a deadline. */
  get scheduled(): number {
    return this.#deadlines.size;
  }

  /** The slot holding `key`, without changing its recency. */
  find(key: string): number | undefined {
    return this.#indexStore?.get(key);
  }

  /**
   * A slot for a new `key`, most recently used, without a deadline; the caller stamps it next.
   * The caller makes room first: inserting beyond `maxCapacity` throws.
   */
  insert(key: string, value: Uint8Array): number {
    const slot = this.#allocate();
    this.keys[slot] = key;
    this.values[slot] = value;
    this.#linkNewest(slot);
    this.#index.set(key, slot);
    return slot;
  }

  /** Marks `slot` as the most recently used. */
  use(slot: number): void {
    if (slot === this.#newest) return;
    this.#unlink(slot);
    this.#linkNewest(slot);
  }

  /** Forgets the record in `slot` (key, value, deadline) and frees the slot. */
  remove(slot: number): void {
    this.#index.delete(this.keys[slot] as string);
    this.#unlink(slot);
    this.#deadlines.set(slot, 0);
    this.keys[slot] = undefined;
    this.values[slot] = undefined;
    this.#links[slot * LINK_STRIDE + NEXT] = this.#free;
    this.#free = slot;
  }

  /** The least recently used slot, or -1 when empty. */
  oldest(): number {
    return this.#oldest;
  }

  /** Every slot held, most recently used first. */
  *newestFirst(): IterableIterator<number> {
    for (let slot = this.#newest; slot !== NONE; slot = this.#links[slot * LINK_STRIDE + PREV] ?? NONE) yield slot;
  }

  /** The version of the record in `slot`. */
  version(slot: number): number {
    return this.#meta[slot * META_STRIDE + VERSION] ?? 0;
  }

  /** When the record in `slot` was created, epoch ms. */
  createdAt(slot: number): number {
    return this.#meta[slot * META_STRIDE + CREATED_AT] ?? 0;
  }

  /** When the record in `slot` was last written, epoch ms. */
  updatedAt(slot: number): number {
    return this.#meta[slot * META_STRIDE + UPDATED_AT] ?? 0;
  }

  /** The deadline of `slot` in epoch ms, 0 for none. */
  expiresAt(slot: number): number {
    return this.#deadlines.get(slot);
  }

  /** Sets the version and timestamps of `slot`. */
  stamp(slot: number, version: number, createdAt: number, updatedAt: number): void {
    const m = slot * META_STRIDE;
    this.#meta[m + VERSION] = version;
    this.#meta[m + CREATED_AT] = createdAt;
    this.#meta[m + UPDATED_AT] = updatedAt;
  }

  /** Sets (`at` > 0) or clears (`at` = 0) the deadline of `slot`. */
  setDeadline(slot: number, at: number): void {
    this.#deadlines.set(slot, at);
  }

  /** The earliest deadline of any slot, epoch ms, or 0 when none has one. */
  earliestDeadline(): number {
    return this.#deadlines.earliest();
  }

  /** The slot with the earliest deadline if that deadline is at or before `now`, else -1. */
  due(now: number): number {
    return this.#deadlines.due(now);
  }

  /** Forgets every record and shrinks the arrays back to their initial size. */
  reset(): void {
    this.keys = [];
    this.values = [];
    this.#indexStore = undefined;
    this.#oldest = NONE;
    this.#newest = NONE;
    this.#free = NONE;
    this.#used = 0;
    this.#start();
  }

  // no slot until the first record: an empty registry (say, a DHT node that stores nothing
  // yet) holds empty shared arrays, not INITIAL_CAPACITY slots
  #start(): void {
    this.#capacity = 0;
    this.#meta = EMPTY_FLOAT64;
    this.#links = EMPTY_INT32;
    this.#deadlines = new DeadlineHeap(0);
  }

  #allocate(): number {
    const reused = this.#free;
    if (reused !== NONE) {
      this.#free = this.#links[reused * LINK_STRIDE + NEXT] ?? NONE;
      return reused;
    }
    if (this.#used === this.#capacity) this.#grow();
    return this.#used++;
  }

  #grow(): void {
    const capacity = Math.min(Math.max(this.#capacity * 2, INITIAL_CAPACITY), this.#maxCapacity);
    if (capacity <= this.#capacity) throw new Error('record slots exhausted');
    const meta = new Float64Array(capacity * META_STRIDE);
    meta.set(this.#meta);
    this.#meta = meta;
    const links = new Int32Array(capacity * LINK_STRIDE);
    links.set(this.#links);
    this.#links = links;
    this.#deadlines.grow(capacity);
    this.#capacity = capacity;
  }

  #linkNewest(slot: number): void {
    const l = slot * LINK_STRIDE;
    this.#links[l + PREV] = this.#newest;
    this.#links[l + NEXT] = NONE;
    if (this.#newest === NONE) this.#oldest = slot;
    else this.#links[this.#newest * LINK_STRIDE + NEXT] = slot;
    this.#newest = slot;
  }

  #unlink(slot: number): void {
    const l = slot * LINK_STRIDE;
    const prev = this.#links[l + PREV] ?? NONE;
    const next = this.#links[l + NEXT] ?? NONE;
    if (prev === NONE) this.#oldest = next;
    else this.#links[prev * LINK_STRIDE + NEXT] = next;
    if (next === NONE) this.#newest = prev;
    else this.#links[next * LINK_STRIDE + PREV] = prev;
  }
}
