import type { Milliseconds } from '../../core/clock.js';
import { ID_BYTES, type NodeId } from '../id.js';
import { hostId } from '../transport/transport.js';
import { formatIp, parseIp } from '../wire/compact.js';

/** A contact as a {@link PackedContacts} gives it out: a fresh snapshot, not a live view. */
export interface PackedContact {
  readonly id: NodeId;
  readonly host: string;
  readonly port: number;
  readonly lastSeen: Milliseconds;
  readonly failures: number;
}

/** Most consecutive failures a slot counts (one byte); far above any `maxFailures` in use. */
const MAX_FAILURES = 255;

/** Bytes of a slot beyond its compact node info: flags, failures, lastSeen (a float64's 8 bytes, unaligned). */
const SLOT_STATE_BYTES = 10;

// one scratch float64 for the whole process: lastSeen is stored as its 8 bytes in the slot,
// so a list costs one byte array and no array of numbers beside it
const scratch = new Float64Array(1);
const scratchBytes = new Uint8Array(scratch.buffer);

/**
 * The byte array that the lists of one routing table share: every list's slots end to end, each
 * list's after those of the lists made before it. One array per table, not one per bucket: a
 * typed array and its buffer cost ~200 bytes of objects before their first slot, more than the
 * five or six contacts a bucket of a small table holds.
 */
class Arena {
  bytes: Uint8Array;
  /** Bytes in use, from 0. */
  used = 0;
  /** Most slots of every list together. */
  capacity = 0;
  readonly stride: number;
  /** In buffer order. */
  readonly lists: PackedContacts[] = [];

  constructor(stride: number, slots: number) {
    this.stride = stride;
    this.bytes = new Uint8Array(slots * stride);
  }

  /**
   * Makes room for one more slot (doubling while small, then by an eighth, at least 4 slots, up
   * to `capacity`): a table of a few hundred slots is copied a dozen times while it fills, not
   * once every few contacts, for at most an eighth of room to spare.
   */
  reserve(): void {
    const { bytes, stride, used } = this;
    if (used + stride <= bytes.length) return;
    // a full bucket with one candidate waiting should not carry room for k more
    const inUse = used / stride;
    const step = inUse < 4 ? Math.max(2, inUse) : Math.max(4, Math.ceil(inUse / 8));
    const slots = Math.max(Math.min(this.capacity, inUse + step), inUse + 1);
    const grown = new Uint8Array(slots * stride);
    grown.set(bytes.subarray(0, used));
    this.bytes = grown;
  }
}

/**
 * The contacts of one bucket (or of its replacement cache), packed: each slot is the contact's
 * compact node info as BEP 5 puts it on the wire (20-byte id, 4- or 16-byte IP, 2-byte port, 26
 * or 38 bytes), then a flags byte, a failure count and the `lastSeen` time (a float64). A contact
 * costs 36 or 48 bytes instead of an object, a 20-byte `Uint8Array` and two strings (~400
 * bytes), and a `nodes` list is a copy of slots. Slots keep list order (a bucket: least recently
 * seen first). The lists of one table share one byte array (see {@link Arena}), which grows by
 * a few slots at a time up to every list's `capacity`; an insert or removal shifts the slots of
 * the lists after it (a few hundred bytes: a `copyWithin`).
 * @internal
 */
export class PackedContacts {
  readonly #ipBytes: 4 | 16;
  readonly #stride: number;
  readonly #arena: Arena;
  /** Where this list's slots start in the arena's bytes. */
  #base: number;
  /** This list's place in the arena's lists. */
  readonly #position: number;
  #count = 0;

  /**
   * @param capacity most slots of this list
   * @param host a list of the same family to share the byte array of (the table's first bucket,
   *   say): this one's slots follow those of the lists already in it
   */
  constructor(ipBytes: 4 | 16, capacity: number, host?: PackedContacts) {
    this.#ipBytes = ipBytes;
    this.#stride = ID_BYTES + ipBytes + 2 + SLOT_STATE_BYTES;
    if (host !== undefined && host.#stride !== this.#stride)
      throw new Error('a list shares the bytes of its family only');
    const arena = host === undefined ? new Arena(this.#stride, Math.min(capacity, 2)) : host.#arena;
    this.#arena = arena;
    this.#base = arena.used;
    this.#position = arena.lists.length;
    arena.lists.push(this);
    arena.capacity += capacity;
  }

  get #bytes(): Uint8Array {
    return this.#arena.bytes;
  }

  /** Moves the start of every list after this one by `delta` bytes (one slot in or out). */
  #shiftLater(delta: number): void {
    const { lists } = this.#arena;
    for (let i = this.#position + 1; i < lists.length; i++) (lists[i] as PackedContacts).#base += delta;
    this.#arena.used += delta;
  }

  /** Slots in use. */
  get length(): number {
    return this.#count;
  }

  /** The backing bytes (slot `i` starts at `offset(i)`); valid until the next change. */
  get bytes(): Uint8Array {
    return this.#bytes;
  }

  /** Where slot `i` starts in {@link bytes}. */
  offset(i: number): number {
    return this.#base + i * this.#stride;
  }

  /** Bytes of a slot's compact node info: 26 (IPv4) or 38 (IPv6). */
  get compactBytes(): number {
    return ID_BYTES + this.#ipBytes + 2;
  }

  /** The slot holding `id`, or -1. */
  indexOfId(id: NodeId): number {
    const bytes = this.#bytes;
    for (let i = 0, at = this.#base; i < this.#count; i++, at += this.#stride) {
      let j = 0;
      while (j < ID_BYTES && bytes[at + j] === id[j]) j++;
      if (j === ID_BYTES) return i;
    }
    return -1;
  }

  /** The slot at IP `ip` (4 or 16 bytes) and `port`, or -1. */
  indexOfAddress(ip: Uint8Array, port: number): number {
    for (let i = 0; i < this.#count; i++) if (this.sameAddress(i, ip, port)) return i;
    return -1;
  }

  /** Whether slot `i` has the same id as slot `j` of `other`. */
  sameId(i: number, other: PackedContacts, j: number): boolean {
    const a = this.#bytes;
    const b = other.#bytes;
    const x = this.offset(i);
    const y = other.offset(j);
    for (let n = 0; n < ID_BYTES; n++) if (a[x + n] !== b[y + n]) return false;
    return true;
  }

  /** Whether slot `i` is at IP `ip` and `port`. */
  sameAddress(i: number, ip: Uint8Array, port: number): boolean {
    const bytes = this.#bytes;
    const at = this.offset(i) + ID_BYTES;
    for (let n = 0; n < this.#ipBytes; n++) if (bytes[at + n] !== ip[n]) return false;
    return this.port(i) === port;
  }

  /**
   * Whether slot `i` is at `host` (IP text) and `port`: for IPv4 text without building anything,
   * since it runs for every message from a known contact.
   */
  sameAddressAs(i: number, host: string, port: number): boolean {
    if (this.port(i) !== port) return false;
    if (this.#ipBytes === 4) {
      const v4 = hostId(host);
      if (typeof v4 !== 'number') return false;
      const at = this.offset(i) + ID_BYTES;
      const bytes = this.#bytes;
      const value =
        (bytes[at] as number) * 0x1000000 +
        (((bytes[at + 1] as number) << 16) | ((bytes[at + 2] as number) << 8) | (bytes[at + 3] as number));
      return value === v4;
    }
    const ip = parseIp(host);
    return ip !== undefined && this.sameAddress(i, ip, port);
  }

  /** Copies the compact node info of slot `i` into `out` at `at`. */
  copyCompact(i: number, out: Uint8Array, at: number): void {
    const bytes = this.#bytes;
    const from = this.offset(i);
    for (let n = 0; n < this.compactBytes; n++) out[at + n] = bytes[from + n] as number;
  }

  /** Whether slot `i` and `ip` share their first `prefixBytes` bytes (a /24 or /64). */
  samePrefix(i: number, ip: Uint8Array, prefixBytes: number): boolean {
    const bytes = this.#bytes;
    const at = this.offset(i) + ID_BYTES;
    for (let n = 0; n < prefixBytes; n++) if (bytes[at + n] !== ip[n]) return false;
    return true;
  }

  /** The IP bytes of slot `i` (a view, valid until the next change). */
  ip(i: number): Uint8Array {
    const at = this.offset(i) + ID_BYTES;
    return this.#bytes.subarray(at, at + this.#ipBytes);
  }

  port(i: number): number {
    const at = this.offset(i) + ID_BYTES + this.#ipBytes;
    return ((this.#bytes[at] as number) << 8) | (this.#bytes[at + 1] as number);
  }

  /** Whether slot `i`'s address is exempt from the subnet diversity limit. */
  exempt(i: number): boolean {
    return ((this.#bytes[this.offset(i) + this.compactBytes] as number) & 1) === 1;
  }

  failures(i: number): number {
    return this.#bytes[this.offset(i) + this.compactBytes + 1] as number;
  }

  setFailures(i: number, failures: number): void {
    this.#bytes[this.offset(i) + this.compactBytes + 1] = Math.min(failures, MAX_FAILURES);
  }

  lastSeen(i: number): Milliseconds {
    const at = this.offset(i) + this.compactBytes + 2;
    const bytes = this.#bytes;
    // byte by byte: a subarray to copy from would be an object per read
    for (let b = 0; b < 8; b++) scratchBytes[b] = bytes[at + b] as number;
    return scratch[0] as number;
  }

  setLastSeen(i: number, time: Milliseconds): void {
    scratch[0] = time;
    this.#bytes.set(scratchBytes, this.offset(i) + this.compactBytes + 2);
  }

  /** Inserts a contact at slot `at` (0..length), shifting the later ones up. */
  insert(at: number, id: NodeId, ip: Uint8Array, port: number, exempt: boolean, lastSeen: Milliseconds): void {
    const stride = this.#stride;
    this.#arena.reserve();
    const bytes = this.#bytes;
    const o = this.offset(at);
    bytes.copyWithin(o + stride, o, this.#arena.used);
    bytes.set(id, o);
    bytes.set(ip, o + ID_BYTES);
    bytes[o + ID_BYTES + this.#ipBytes] = port >> 8;
    bytes[o + ID_BYTES + this.#ipBytes + 1] = port & 0xff;
    bytes[o + this.compactBytes] = exempt ? 1 : 0;
    bytes[o + this.compactBytes + 1] = 0;
    this.#count++;
    this.#shiftLater(stride);
    this.setLastSeen(at, lastSeen);
  }

  /** Copies slot `j` of `other` (same family) in at slot `at`, with `lastSeen`. */
  insertFrom(at: number, other: PackedContacts, j: number, lastSeen: Milliseconds): void {
    // copies: the two lists may share a buffer, which the insert shifts
    this.insert(at, other.id(j).slice(), other.ip(j).slice(), other.port(j), other.exempt(j), lastSeen);
  }

  /** Removes slot `i`, shifting the later ones down. */
  removeAt(i: number): void {
    const o = this.offset(i);
    this.#bytes.copyWithin(o, o + this.#stride, this.#arena.used);
    this.#count--;
    this.#shiftLater(-this.#stride);
  }

  /** Moves slot `i` to the end (most recently seen). */
  moveToEnd(i: number): void {
    if (i === this.#count - 1) return;
    const o = this.offset(i);
    const slot = this.#bytes.slice(o, o + this.#stride);
    // the slot leaves, the ones after it in this list move down; it goes back in at this list's end
    const bytes = this.#bytes;
    const end = this.offset(this.#count);
    bytes.copyWithin(o, o + this.#stride, end);
    bytes.set(slot, end - this.#stride);
  }

  /** The id of slot `i` as a view (valid until the next change; copy it to keep it). */
  id(i: number): Uint8Array {
    const at = this.offset(i);
    return this.#bytes.subarray(at, at + ID_BYTES);
  }

  /** A fresh snapshot of slot `i`. */
  contact(i: number): PackedContact {
    const at = this.offset(i);
    return {
      id: this.#bytes.slice(at, at + ID_BYTES),
      host: formatIp(this.ip(i)),
      port: this.port(i),
      lastSeen: this.lastSeen(i),
      failures: this.failures(i),
    };
  }

  /** Snapshots of every slot, in order. */
  snapshots(): PackedContact[] {
    const out: PackedContact[] = [];
    for (let i = 0; i < this.#count; i++) out.push(this.contact(i));
    return out;
  }
}

/** XOR distance order of slot `i` of `a` and slot `j` of `b` to `target` (negative: `a` closer). */
export function compareSlots(target: NodeId, a: PackedContacts, i: number, b: PackedContacts, j: number): number {
  const x = a.bytes;
  const y = b.bytes;
  const ox = a.offset(i);
  const oy = b.offset(j);
  for (let n = 0; n < ID_BYTES; n++) {
    const t = target[n] as number;
    const dx = t ^ (x[ox + n] as number);
    const dy = t ^ (y[oy + n] as number);
    if (dx !== dy) return dx - dy;
  }
  return 0;
}

/** One slot of one list. */
export interface SlotRef {
  readonly list: PackedContacts;
  readonly slot: number;
}

/**
 * The `count` slots of `buckets` (indexed by common prefix length with the own id) closest to
 * `target`, closest first, leaving out those with `maxFailures` failures or more. `c` is
 * `bucketIndex(self, target)`. It walks outward from the target's bucket and stops as soon as
 * no farther bucket can hold a closer contact: bucket c shares more than c bits with the
 * target, every deeper bucket exactly c, and bucket i < c exactly i.
 */
export function closestSlots(
  buckets: readonly (PackedContacts | undefined)[],
  c: number,
  target: NodeId,
  count: number,
  maxFailures: number,
): SlotRef[] {
  const out: SlotRef[] = [];
  if (count <= 0) return out;
  const consider = (list: PackedContacts, slot: number): void => {
    if (list.failures(slot) >= maxFailures) return;
    const last = out[count - 1];
    if (last !== undefined && compareSlots(target, last.list, last.slot, list, slot) <= 0) return;
    // binary insertion into the sorted prefix
    let lo = 0;
    let hi = out.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const at = out[mid] as SlotRef;
      if (compareSlots(target, at.list, at.slot, list, slot) < 0) lo = mid + 1;
      else hi = mid;
    }
    out.splice(lo, 0, { list, slot });
    if (out.length > count) out.pop();
  };
  const visit = (i: number): void => {
    const list = buckets[i];
    if (list !== undefined) for (let slot = 0; slot < list.length; slot++) consider(list, slot);
  };
  if (c < buckets.length) visit(c);
  if (out.length < count) for (let i = c + 1; i < buckets.length; i++) visit(i);
  for (let i = Math.min(c, buckets.length) - 1; i >= 0 && out.length < count; i--) visit(i);
  return out;
}
