import { RegistryError } from '../errors.js';
import type { RemovalReason } from '../events.js';
import { EXPIRES_AT, isRecord, readRecordAt, VERSION_AT } from '../record-layout.js';
import type { RegistryChange } from '../registry.js';
import type { Marker } from './kv.js';

/** Position in etcd's history: after event `index` of revision `revision` (`Infinity`: all of it). */
export interface Position {
  readonly revision: number;
  readonly index: number;
}

/**
 * Cursors are `R` (after every change of etcd revision R) or `R.i` (after the i-th change,
 * from 0, of revision R under the registry's namespace: one transaction can change many keys).
 */
export function parseCursor(after: unknown): Position {
  const match = typeof after === 'string' ? /^(0|[1-9][0-9]{0,15})(?:\.(0|[1-9][0-9]{0,8}))?$/.exec(after) : null;
  if (match === null) throw RegistryError.invalidOptionValue('after', 'a cursor this registry issued', after);
  return { revision: Number(match[1]), index: match[2] === undefined ? Number.POSITIVE_INFINITY : Number(match[2]) };
}

export const cursorOf = (p: Position): string =>
  p.index === Number.POSITIVE_INFINITY ? `${p.revision}` : `${p.revision}.${p.index}`;

/** What a removal reports of the record it removed: its version and deadline (`expiresAt` 0: none). */
export interface Removed {
  readonly version: number;
  readonly expiresAt: number;
}

const NO_RECORD: Removed = Object.freeze({ version: 0, expiresAt: 0 });

/** The {@link Removed} of a record's stored bytes (of none, or of bytes not a record: version 0). */
export function removedOf(stored: Buffer | undefined): Removed {
  // the two fields only: a replay remembers one per write
  return stored !== undefined && isRecord(stored)
    ? { version: stored.readDoubleLE(VERSION_AT), expiresAt: stored.readDoubleLE(EXPIRES_AT) }
    : NO_RECORD;
}

/** Where a watch event's bytes are: a view of a whole received message, and a range of it. */
export interface Slice {
  readonly view: Buffer;
  readonly start: number;
  readonly end: number;
}

/**
 * Buffers over whole received messages, one per message: a queued change keeps its key and
 * value as ranges of one of them, so that it holds no buffer object of its own (a replay's
 * response brings tens of thousands of events at once).
 */
export class MessageViews {
  #of: ArrayBufferLike | undefined;
  #view: Buffer = Buffer.alloc(0);

  /** The range of `bytes` in a view of its whole message. */
  slice(bytes: Buffer): Slice {
    if (bytes.buffer !== this.#of) {
      this.#of = bytes.buffer;
      this.#view = Buffer.from(bytes.buffer);
    }
    return { view: this.#view, start: bytes.byteOffset, end: bytes.byteOffset + bytes.length };
  }

  /** Lets go of the last message. */
  clear(): void {
    this.#of = undefined;
    this.#view = Buffer.alloc(0);
  }
}

/**
 * A change in a watch's read-ahead queue, kept as ranges of received bytes until the consumer
 * takes it (then decoded: queued changes are plain numbers and a shared view, not records that
 * outlive collections). A removal is ready once what it removed is known: remembered from the
 * stream, or read from etcd at the revision before (the stream carries no previous values: see
 * `watchEtcd`).
 */
export class QueuedChange {
  /** For a removal: the record it removed, once known. */
  removed: Removed | undefined;
  /** The view holding the etcd key (namespace included) from `keyStart` to `keyEnd`. */
  readonly keys: Buffer;
  readonly keyStart: number;
  readonly keyEnd: number;
  /** For a set: the view holding the stored record from `valueStart` to `valueEnd`. */
  readonly values: Buffer | undefined;
  readonly valueStart: number;
  readonly valueEnd: number;

  constructor(
    key: Slice,
    /** A set's stored record; `undefined` for a removal. */
    value: Slice | undefined,
    readonly revision: number,
    readonly index: number,
    /** For a removal: its transaction's marker (`undefined`: unmarked; see `EtcdKv.marker`). */
    readonly marker: Marker | undefined,
  ) {
    this.keys = key.view;
    this.keyStart = key.start;
    this.keyEnd = key.end;
    this.values = value?.view;
    this.valueStart = value?.start ?? 0;
    this.valueEnd = value?.end ?? 0;
  }

  get ready(): boolean {
    return this.values !== undefined || this.removed !== undefined;
  }

  /** The etcd key, namespace included (a view of the received bytes). */
  get etcdKey(): Buffer {
    return this.keys.subarray(this.keyStart, this.keyEnd);
  }
}

/** The change `entry` stands for (`keyStart`: the length of the registry's namespace). */
export function decodeChange(entry: QueuedChange, keyStart: number): RegistryChange {
  const key = entry.keys.toString('utf8', entry.keyStart + keyStart, entry.keyEnd);
  const cursor = cursorOf(entry);
  if (entry.values !== undefined) {
    return { type: 'set', record: readRecordAt(key, entry.values, entry.valueStart, entry.valueEnd), cursor };
  }
  const { version, expiresAt } = entry.removed ?? NO_RECORD;
  return { type: 'removed', key, version, reason: removalReason(expiresAt, entry.marker), cursor };
}

/**
 * Why a record with deadline `expiresAt` (0: none) went. Marked: a caller's delete or clear, of
 * a record then live or already past its deadline. Unmarked: a lease that ran out, or the
 * registry removing a record it met expired (or a client other than a Nautilus registry
 * deleting a record that has no deadline).
 */
function removalReason(expiresAt: number, marker: Marker | undefined): RemovalReason {
  if (marker === undefined) return expiresAt !== 0 ? 'expire' : 'delete';
  return expiresAt !== 0 && expiresAt <= marker.at ? 'expire' : marker.reason;
}
