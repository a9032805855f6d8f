import type { Listener } from '../core/emitter.js';
import type { Milliseconds } from '../core/clock.js';
import type { RegistryEvents, RemovalReason } from './events.js';

/** A stored record as returned by reads and writes. */
export interface RegistryRecord<V = Uint8Array> {
  readonly key: string;
  readonly value: V;
  /** Starts at 1 when the key is created and increases by 1 on every write of that key. */
  readonly version: number;
  /** Absolute deadline (epoch ms), or `undefined` when the record never expires. */
  readonly expiresAt: Milliseconds | undefined;
  /** When this incarnation of the key was first written (epoch ms). */
  readonly createdAt: Milliseconds;
  /** When the value was last written (epoch ms). `touch` does not change it. */
  readonly updatedAt: Milliseconds;
}

/** Options every operation accepts. */
export interface OperationOptions {
  /** Aborting rejects the pending operation with `signal.reason`. */
  readonly signal?: AbortSignal | undefined;
}

/** Options of {@link Registry.set}. */
export interface SetOptions extends OperationOptions {
  /** Time to live in milliseconds (a positive safe integer). Without it the record does not expire. */
  readonly ttlMs?: Milliseconds | undefined;
  /**
   * Compare-and-set: write only if the stored version equals this one. `0` means "only if the
   * key is absent". A mismatch rejects with `VERSION_CONFLICT` and changes nothing.
   */
  readonly ifVersion?: number | undefined;
}

/** Options of {@link Registry.delete}. */
export interface DeleteOptions extends OperationOptions {
  /** Delete only if the stored version equals this one; a mismatch rejects with `VERSION_CONFLICT`. */
  readonly ifVersion?: number | undefined;
}

/** Options of {@link Registry.scan}. */
export interface ScanOptions extends OperationOptions {
  /** Only keys starting with this string (default: every key). */
  readonly prefix?: string | undefined;
}

/** Options of {@link Registry.restore}. */
export interface RestoreOptions extends OperationOptions {
  /**
   * Write only when the stored record is absent, expired or older than the one restored: a
   * lower version, or the same version with an earlier `updatedAt`. Otherwise nothing changes
   * and the call resolves `'kept'`. `false` overwrites unconditionally.
   * @default true
   */
  readonly ifNewer?: boolean | undefined;
}

/** Options of {@link Registry.watch}. */
export interface WatchOptions extends OperationOptions {
  /** Only changes of keys starting with this string (default: every key). */
  readonly prefix?: string | undefined;
  /**
   * Resume right after the change that carried this cursor (from a change or from
   * {@link Registry.cursor}): no change is skipped or repeated. A cursor the backend no longer
   * holds rejects with `COMPACTED`; one it never issued with `INVALID_OPTION`. Without it the
   * feed starts with the first change committed after the watch began.
   */
  readonly after?: string | undefined;
}

/**
 * One committed change in a {@link Registry.watch} feed. `cursor` is opaque and ordered within
 * one registry: pass it as `after` to resume right after this change.
 */
export type RegistryChange<V = Uint8Array> =
  /** A write (`set`, a batch entry, `restore`, or `touch`, which keeps the version and moves `expiresAt`). */
  | { readonly type: 'set'; readonly record: RegistryRecord<V>; readonly cursor: string }
  /** A record left the store; which reasons a backend reports is in its documentation. */
  | {
      readonly type: 'removed';
      readonly key: string;
      readonly version: number;
      readonly reason: RemovalReason;
      readonly cursor: string;
    };

/** What {@link Registry.restore} did: wrote the record, or kept what was stored. */
export type RestoreResult = 'written' | 'kept';

/** One write of {@link Registry.setMany}. */
export interface SetEntry<V = Uint8Array> {
  readonly key: string;
  readonly value: V;
  /** Time to live in milliseconds; without it the record does not expire. */
  readonly ttlMs?: Milliseconds | undefined;
}

/**
 * The contract every Nautilus Registry backend implements (memory, Redis, etcd, sharded), and the
 * storage port of a KAD node.
 *
 * Guarantees: a record is never returned at or after its deadline; invalid input rejects with a
 * typed {@link RegistryError} before anything is changed; every record that leaves the store
 * fires exactly one `record:removed` event with its reason. Backends store bytes
 * (`Registry<Uint8Array>`); `CodecRegistry` gives a typed view.
 */
export interface Registry<V = Uint8Array> {
  /** The record under `key`, or `undefined` when absent or expired. Counts as a use for LRU. */
  get(key: string, options?: OperationOptions): Promise<RegistryRecord<V> | undefined>;
  /** Whether a live record exists under `key`. Does not count as a use for LRU. */
  has(key: string, options?: OperationOptions): Promise<boolean>;
  /** Creates or overwrites the record under `key`; resolves to the stored record. */
  set(key: string, value: V, options?: SetOptions): Promise<RegistryRecord<V>>;
  /**
   * OPTIONAL (replication and migration): writes `record` verbatim — value, version, createdAt,
   * updatedAt and expiresAt as given, no version increment — so a copy keeps its identity and
   * compare-and-set keeps working on it. With `ifNewer` (the default) it writes only over an
   * absent, expired or older record (see {@link RestoreOptions.ifNewer}). A record whose
   * `expiresAt` is at or before now writes nothing and resolves `'kept'`. Validated like `set`
   * (key, value bytes, `version` a positive safe integer, times within ±2^54 epoch ms — what
   * every backend can store — else `INVALID_OPTION`); fires `record:set`
   * with the restored version when written. Backends without it are still valid registries:
   * callers check `typeof registry.restore === 'function'`.
   */
  restore?(record: RegistryRecord<V>, options?: RestoreOptions): Promise<RestoreResult>;
  /**
   * OPTIONAL (change feeds): every change of a key under `prefix`, in commit order, as it is
   * committed, from `after` on (see {@link WatchOptions}). Breaking out of the loop, or
   * aborting `signal` (the loop then rejects with `signal.reason`), ends the watch and frees
   * what it held; `close()` ends it with `CLOSED`. A consumer slower than the writers is never
   * served a gap: it is either served every change in order or, once the backend no longer
   * holds the changes it has not read, rejected with `COMPACTED` — it re-reads with
   * {@link Registry.scan} and watches again from {@link Registry.cursor}. Buffering per watch is
   * bounded (each backend documents its bound). Backends with `watch` also have `cursor`;
   * callers check `typeof registry.watch === 'function'`.
   */
  watch?(options?: WatchOptions): AsyncIterableIterator<RegistryChange<V>>;
  /**
   * OPTIONAL, with `watch`: the cursor of the latest committed change. Read it before a
   * `scan`, then watch `after` it: changes committed meanwhile are served again, none is lost.
   */
  cursor?(options?: OperationOptions): Promise<string>;
  /** Removes the record under `key`; resolves `true` if one was removed, `false` if none existed. */
  delete(key: string, options?: DeleteOptions): Promise<boolean>;
  /**
   * Renews the deadline of a live record to `ttlMs` from now without changing its value or
   * version. Resolves `false` when there is no live record under `key`.
   */
  touch(key: string, ttlMs: Milliseconds, options?: OperationOptions): Promise<boolean>;
  /** The records under `keys`, in the same order, `undefined` for each miss. */
  getMany(keys: readonly string[], options?: OperationOptions): Promise<(RegistryRecord<V> | undefined)[]>;
  /**
   * Writes every entry (unconditionally, in order; a repeated key is written twice). The whole
   * batch is validated first: one invalid entry rejects the batch and writes nothing.
   */
  setMany(entries: readonly SetEntry<V>[], options?: OperationOptions): Promise<RegistryRecord<V>[]>;
  /** Removes the records under `keys`; resolves to how many existed. */
  deleteMany(keys: readonly string[], options?: OperationOptions): Promise<number>;
  /**
   * Every live record whose key starts with `prefix`, in no particular order. Records present for
   * the whole scan are yielded exactly once; records written or removed meanwhile may or may not be.
   * Breaking out of the loop ends the scan.
   */
  scan(options?: ScanOptions): AsyncIterableIterator<RegistryRecord<V>>;
  /** Number of live records. */
  size(options?: OperationOptions): Promise<number>;
  /** Removes every record (each fires `record:removed` with reason `clear`). */
  clear(options?: OperationOptions): Promise<void>;
  /** Releases resources. Later calls reject with `CLOSED`; closing again resolves. */
  close(options?: OperationOptions): Promise<void>;
  /** Subscribes to `record:set` / `record:removed`. */
  on<E extends keyof RegistryEvents>(event: E, listener: Listener<RegistryEvents[E]>): this;
  /** Unsubscribes a listener added with `on`. */
  off<E extends keyof RegistryEvents>(event: E, listener: Listener<RegistryEvents[E]>): this;
}
