import type { Clock } from '../../core/clock.js';
import type { RemovalReason } from '../events.js';
import { isExpired, isRecord, readHeader, readRecord, toRecord } from '../record-layout.js';
import type { RegistryRecord } from '../registry.js';
import type { Coalescer } from './coalescer.js';
import { type Expired, OTHER_TYPE, type RecordStore } from './record-store.js';

/** What {@link RecordReads} works with: the registry's own collaborators. */
export interface RecordReadsDeps {
  readonly store: RecordStore;
  readonly batcher: Coalescer;
  readonly clock: Clock;
  /** A record found expired was removed by this registry: fires `record:removed`. */
  removed(key: string, reason: RemovalReason, version: number): void;
  /** A key under the prefix that is not a record was met (`stats().foreignKeys`). */
  foreign(): void;
}

/** A page of `scan`: its live records, and the expired ones to remove. */
export interface ScanPage {
  readonly live: RegistryRecord[];
  readonly expired: Expired[];
}

/**
 * The read side of a {@link RedisRegistry}: turns what Redis returned into results, and removes
 * (with their events) the records it finds past their deadline, so none is ever returned.
 */
export class RecordReads {
  readonly #d: RecordReadsDeps;

  constructor(deps: RecordReadsDeps) {
    this.#d = deps;
  }

  /** The result of a `get` of `key` that read `stored` at `now`. */
  readOne(key: string, stored: Buffer | null, now: number): RegistryRecord | undefined | Promise<undefined> {
    if (stored === null) return undefined;
    const record = readRecord(key, stored);
    const expiresAt = record.expiresAt;
    if (expiresAt === undefined || expiresAt > now) return record;
    return this.reap([{ key, version: record.version }], now).then(() => undefined);
  }

  /** The result of a `has` of `key` that read the header `head`. */
  hasOne(key: string, head: Buffer | null): boolean | Promise<boolean> {
    if (head === null || head.length === 0) return false;
    const header = readHeader(key, head);
    const now = this.#d.clock.now();
    if (!isExpired(header.expiresAt, now)) return true;
    return this.reap([{ key, version: header.version }], now).then(() => false);
  }

  /** The result of a `getMany` of `keys` that read `stored`. */
  afterGetMany(
    keys: readonly string[],
    stored: readonly (Buffer | null)[],
  ): (RegistryRecord | undefined)[] | Promise<(RegistryRecord | undefined)[]> {
    const now = this.#d.clock.now();
    const out = new Array<RegistryRecord | undefined>(keys.length).fill(undefined);
    let expired: Expired[] | undefined;
    for (let i = 0; i < keys.length; i++) {
      const bytes = stored[i];
      if (bytes === null || bytes === undefined) continue;
      const key = keys[i] as string;
      const record = readRecord(key, bytes);
      if (record.expiresAt === undefined || record.expiresAt > now) out[i] = record;
      else (expired ??= []).push({ key, version: record.version });
    }
    if (expired === undefined) return out;
    return this.reap(expired, now).then(() => out);
  }

  /** Sorts a page of `scan` (whole records) read at `now`; foreign keys are counted and skipped. */
  scanPage(page: readonly [string, Buffer | null][], now: number): ScanPage {
    const live: RegistryRecord[] = [];
    const expired: Expired[] = [];
    for (const [key, stored] of page) {
      if (stored === null) continue; // removed since SCAN listed it
      if (!isRecord(stored)) {
        this.#d.foreign(); // another Redis type, or a string not in the layout: not a record
        continue;
      }
      const header = readHeader(key, stored);
      if (isExpired(header.expiresAt, now)) expired.push({ key, version: header.version });
      else live.push(toRecord(key, stored, header));
    }
    return { live, expired };
  }

  /** Counts the live records of a page of `size` (headers) read at `now`; `expired` gets the rest. */
  sizePage(page: readonly [string, Buffer | null][], now: number, expired: Expired[]): number {
    let count = 0;
    for (const [key, head] of page) {
      if (head === null || (head.length === 0 && head !== OTHER_TYPE)) continue; // removed since SCAN listed it
      if (!isRecord(head)) {
        this.#d.foreign();
        continue;
      }
      const header = readHeader(key, head);
      if (isExpired(header.expiresAt, now)) expired.push({ key, version: header.version });
      else count++;
    }
    return count;
  }

  /** Removes records a read found expired (if still that version) and reports those removed. */
  async reap(expired: readonly Expired[], now: number): Promise<void> {
    this.#d.batcher.flush();
    for (const e of await this.#d.store.reap(expired, now)) this.#d.removed(e.key, 'expire', e.version);
  }
}
