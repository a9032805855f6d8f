import { RegistryError } from '../errors.js';
import type { RemovalReason } from '../events.js';
import { isRecord, readHeader, readRecord } from '../record-layout.js';
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
  return stored !== undefined && isRecord(stored) ? readHeader('', stored) : NO_RECORD;
}

/**
 * A change in a watch's read-ahead queue, kept as etcd's bytes until the consumer takes it
 * (then decoded: queued changes are plain bytes, not records that outlive collections). A
 * removal is ready once what it removed is known: remembered from the stream, or read from
 * etcd at the revision before (the stream carries no previous values: see `watchEtcd`).
 */
export class QueuedChange {
  /** For a removal: the record it removed, once known. */
  removed: Removed | undefined;
  constructor(
    /** The etcd key, namespace included. */
    readonly etcdKey: Buffer,
    /** A set's stored record; `undefined` for a removal. */
    readonly stored: Buffer | undefined,
    readonly revision: number,
    readonly index: number,
    /** For a removal: its transaction's marker (`undefined`: unmarked; see `EtcdKv.marker`). */
    readonly marker: Marker | undefined,
  ) {}

  get ready(): boolean {
    return this.stored !== undefined || this.removed !== undefined;
  }
}

/** The change `entry` stands for (`keyStart`: the length of the registry's namespace). */
export function decodeChange(entry: QueuedChange, keyStart: number): RegistryChange {
  const key = entry.etcdKey.toString('utf8', keyStart);
  const cursor = cursorOf(entry);
  if (entry.stored !== undefined) return { type: 'set', record: readRecord(key, entry.stored), cursor };
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
