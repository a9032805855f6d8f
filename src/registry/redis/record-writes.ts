import type { Clock, Milliseconds } from '../../core/clock.js';
import { RegistryError } from '../errors.js';
import type { RemovalReason } from '../events.js';
import type { RegistryRecord, RestoreResult, SetEntry } from '../registry.js';
import type { Coalescer } from './coalescer.js';
import type { RedisConnection } from './connection.js';
import type { Deadlines } from './deadlines.js';
import { bufferOf, type RecordStore, type WriteManyResult } from './record-store.js';
import { replyNumber, type WriteScripts } from './scripts.js';

/** How the write paths report what they did; the registry turns it into events. */
export interface WriteEvents {
  /** `record` was stored (written, or restored verbatim): fires `record:set`. */
  written(record: RegistryRecord): void;
  /** A record was removed (deleted, cleared, or found expired and removed). */
  removed(key: string, reason: RemovalReason, version: number): void;
}

/** What {@link RecordWrites} works with: the registry's own collaborators. */
export interface RecordWritesDeps {
  readonly connection: RedisConnection;
  readonly store: RecordStore;
  readonly batcher: Coalescer;
  readonly deadlines: Deadlines;
  readonly clock: Clock;
  readonly prefix: string;
  /** `expiryGraceMs` as the scripts take it. */
  readonly grace: string;
  readonly events: WriteEvents;
  /** The write scripts: with the registry's change feed, or without. */
  readonly scripts: WriteScripts;
}

/**
 * The write paths of a {@link RedisRegistry} (set, restore, delete, touch, setMany, deleteMany
 * and the deletes of `clear`), on arguments the registry has validated: each runs its Lua
 * script under the operation's deadline and turns the script's reply into the result and the
 * events. Anything sent directly first sends the coalesced batch open (`batcher.flush()`), so
 * operations reach Redis in the order they were issued.
 */
export class RecordWrites {
  readonly #d: RecordWritesDeps;

  constructor(deps: RecordWritesDeps) {
    this.#d = deps;
  }

  /** `set` of `entry`: unconditional ones of the same tick share one script call per server. */
  set(entry: SetEntry, ifVersion: number | undefined, signal: AbortSignal | undefined): Promise<RegistryRecord> {
    const { batcher, deadlines, clock } = this.#d;
    if (ifVersion === undefined) {
      const { result, index, now } = batcher.write(entry);
      return deadlines.track(result, (r) => this.#afterBatchedSet(entry, now, r, index), signal);
    }
    batcher.flush();
    const now = clock.now();
    const { key, value, ttlMs } = entry;
    const redisKey = this.#d.prefix + key;
    const args = [
      String(now),
      this.#d.grace,
      String(ifVersion),
      redisKey,
      bufferOf(value),
      ttlMs === undefined ? '0' : String(ttlMs),
    ];
    const { scripts } = this.#d;
    const reply = this.#d.connection.eval(scripts.write, [redisKey, ...scripts.feedKeys], args) as Promise<unknown[]>;
    return deadlines.track(reply, (r) => this.#afterSet(entry, ifVersion, now, r), signal);
  }

  /** `restore` of a record not expired at `now` (see `RedisRegistry.restore`). */
  async restore(
    record: RegistryRecord,
    ifNewer: boolean,
    now: number,
    signal: AbortSignal | undefined,
  ): Promise<RestoreResult> {
    const { key, value, version, createdAt, updatedAt, expiresAt } = record;
    this.#d.batcher.flush();
    const args = [
      String(now),
      this.#d.grace,
      ifNewer ? '1' : '0',
      String(version),
      String(createdAt),
      String(updatedAt),
      String(expiresAt ?? 0),
      bufferOf(value),
    ];
    const { scripts } = this.#d;
    const reply = this.#d.connection.eval(
      scripts.restore,
      [this.#d.prefix + key, ...scripts.feedKeys],
      args,
    ) as Promise<unknown[]>;
    const [state = 0, expired = 0] = (await this.#d.deadlines.run(reply, signal)).map(replyNumber);
    if (expired !== 0) this.#d.events.removed(key, 'expire', expired);
    if (state === -2) throw foreignKey(key);
    if (state !== 1) return 'kept';
    this.#d.events.written(record);
    return 'written';
  }

  delete(key: string, ifVersion: number | undefined, signal: AbortSignal | undefined): Promise<boolean> {
    return this.#d.deadlines.run(this.#delete(key, ifVersion), signal);
  }

  touch(key: string, ttlMs: Milliseconds, signal: AbortSignal | undefined): Promise<boolean> {
    return this.#d.deadlines.run(this.#touch(key, ttlMs), signal);
  }

  setMany(entries: readonly SetEntry[], signal: AbortSignal | undefined): Promise<RegistryRecord[]> {
    this.#d.batcher.flush();
    return this.#d.deadlines.run(this.#setMany(entries), signal);
  }

  /** Deletes `keys`; `reason` is what their removal events say (`delete`, or `clear`). */
  deleteMany(keys: readonly string[], reason: 'delete' | 'clear', signal: AbortSignal | undefined): Promise<number> {
    return this.#d.deadlines.run(this.#deleteMany(keys, reason), signal);
  }

  #afterSet(entry: SetEntry, ifVersion: number, now: number, reply: unknown[]): RegistryRecord {
    const { key } = entry;
    // [new version, createdAt, expired version] or, on a conflict, [-1, actual version, expired version]
    const [version = 0, createdAt = now, expired = 0] = reply.map(replyNumber);
    if (expired !== 0) this.#d.events.removed(key, 'expire', expired);
    if (version === -1) throw RegistryError.versionConflict(key, ifVersion, createdAt);
    if (version === -3) throw RegistryError.versionExhausted(key, createdAt);
    if (version === -2) throw foreignKey(key);
    return this.#written(entry, version, createdAt, now);
  }

  #afterBatchedSet(entry: SetEntry, now: number, result: WriteManyResult, index: number): RegistryRecord {
    const { key } = entry;
    const reply = result.replies[index];
    if (reply === undefined) throw result.failure ?? RegistryError.unavailable('the write got no reply');
    const [version, createdAt, expired] = reply;
    if (expired !== 0) this.#d.events.removed(key, 'expire', expired);
    if (version === -3) throw RegistryError.versionExhausted(key, createdAt);
    if (version === -2) throw foreignKey(key);
    return this.#written(entry, version, createdAt, now);
  }

  /** The record a script stored for `entry` (at `version`, created at `createdAt`, updated at `now`), reported. */
  #written(entry: SetEntry, version: number, createdAt: number, now: number): RegistryRecord {
    const { key, value, ttlMs } = entry;
    const expiresAt = ttlMs === undefined ? undefined : now + ttlMs;
    const record: RegistryRecord = { key, value, version, expiresAt, createdAt, updatedAt: now };
    this.#d.events.written(record);
    return record;
  }

  async #delete(key: string, ifVersion: number | undefined): Promise<boolean> {
    const { batcher, connection, clock, events } = this.#d;
    batcher.flush();
    const cond = ifVersion === undefined ? '' : String(ifVersion);
    const redisKey = this.#d.prefix + key;
    const { scripts } = this.#d;
    const reply = (await connection.eval(
      scripts.delete,
      [redisKey, ...scripts.feedKeys],
      [String(clock.now()), cond, 'delete', redisKey],
    )) as unknown[];
    const [state = 0, version = 0, expired = 0] = reply.map(replyNumber);
    if (state === -1) {
      if (expired !== 0) events.removed(key, 'expire', expired);
      throw RegistryError.versionConflict(key, ifVersion ?? 0, version);
    }
    if (state === 2) events.removed(key, 'expire', version);
    if (state !== 1) return false;
    events.removed(key, 'delete', version);
    return true;
  }

  async #touch(key: string, ttlMs: Milliseconds): Promise<boolean> {
    this.#d.batcher.flush();
    const args = [String(this.#d.clock.now()), String(ttlMs), this.#d.grace];
    const { scripts } = this.#d;
    const reply = (await this.#d.connection.eval(
      scripts.touch,
      [this.#d.prefix + key, ...scripts.feedKeys],
      args,
    )) as unknown[];
    const [touched = 0, version = 0] = reply.map(replyNumber);
    if (touched === 1) return true;
    if (version !== 0) this.#d.events.removed(key, 'expire', version);
    return false;
  }

  async #setMany(entries: readonly SetEntry[]): Promise<RegistryRecord[]> {
    const now = this.#d.clock.now();
    const { replies, failure } = await this.#d.store.writeMany(entries, now, this.#d.grace);
    // report every write that happened, in entry order, even if another group failed
    const records = new Array<RegistryRecord>(entries.length);
    let error = failure;
    const events = this.#d.events;
    entries.forEach((entry, i) => {
      const reply = replies[i];
      if (reply === undefined) return;
      if (reply[2] !== 0) events.removed(entry.key, 'expire', reply[2]);
      if (reply[0] === -3) {
        error ??= RegistryError.versionExhausted(entry.key, reply[1]);
        return;
      }
      if (reply[0] === -2) error ??= foreignKey(entry.key);
      else records[i] = this.#written(entry, reply[0], reply[1], now);
    });
    if (error !== undefined) throw error;
    return records;
  }

  async #deleteMany(keys: readonly string[], reason: 'delete' | 'clear'): Promise<number> {
    this.#d.batcher.flush();
    const results = await this.#d.store.deleteMany(keys, this.#d.clock.now(), reason);
    let removed = 0;
    results.forEach(([state, version], i) => {
      if (state === 0) return;
      if (state === 1) removed++;
      this.#d.events.removed(keys[i] as string, state === 1 ? reason : 'expire', version);
    });
    return removed;
  }
}

/** The error of a write to a key that holds another Redis type. */
export function foreignKey(key: string): RegistryError {
  return RegistryError.codec(`the Redis key of "${key}" holds another Redis type, not a Nautilus record`, key);
}
