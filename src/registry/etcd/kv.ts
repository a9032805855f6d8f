import { ConsecutiveBreaker, circuitBreaker, handleType, noop, retry } from 'cockatiel';
import {
  Etcd3,
  GRPCUnavailableError,
  type ICompare,
  type IKeyValue,
  type IOptions,
  type IRangeRequest,
  type IRangeResponse,
  type IRequestOp,
  type ITxnResponse,
} from 'etcd3';
import { LRUCache } from 'lru-cache';
import type { Clock } from '../../core/clock.js';
import { RegistryError } from '../errors.js';
import type { RemovalReason } from '../events.js';
import { isRecord, readRecord } from '../record-layout.js';
import type { RegistryRecord } from '../registry.js';
import { rangeEnd, REQUIRE_LEADER_CALL_OPTIONS, withDeadline } from './calls.js';
import { LeasePool } from './leases.js';
import type { ResolvedEtcdRegistryOptions } from './options.js';

/** Transactions of {@link EtcdKv.valuesAt} in flight at once. */
const READS_IN_FLIGHT = 4;

/** Bytes a range reply aims at: `scan` pages and the reads of `clear` shrink below it. */
const PAGE_BYTES = 4 * 1024 * 1024;

/** The gRPC channel options of a registry's clients: the receive limit (see {@link clientOptions}). */
export function channelOptions(options: ResolvedEtcdRegistryOptions): { 'grpc.max_receive_message_length': number } {
  const record = options.maxValueBytes + options.maxKeyBytes + Buffer.byteLength(options.keyPrefix) + 256;
  return { 'grpc.max_receive_message_length': Math.max(PAGE_BYTES * 2, options.maxTxnOps * record) };
}

/**
 * The `etcd3` client options of a registry on `hosts`.
 *
 * - Replies: gRPC refuses a reply over 4 MiB by default, and a transaction reading or deleting
 *   `maxTxnOps` records of up to `maxValueBytes` each needs more; the limit is what such a
 *   transaction can return, so that what the caller asked for is what bounds a reply.
 * - Faults: etcd3's default host policy is a circuit breaker that opens after 3 failures of
 *   any kind (a reply too large among them) and then refuses every call for 5 s, even on a
 *   cluster of one member that is back; its global policy retries such failures 3 times. Here
 *   only a member that cannot be reached (`UNAVAILABLE`) counts: the call moves to another
 *   member, and with several members one that failed 3 times in a row is skipped for 1 s.
 */
export function clientOptions(options: ResolvedEtcdRegistryOptions, hosts: readonly string[]): IOptions {
  const unreachable = handleType(GRPCUnavailableError);
  return {
    hosts: [...hosts],
    // a member without a leader refuses a call at once instead of holding it (see withDeadline)
    defaultCallOptions: REQUIRE_LEADER_CALL_OPTIONS,
    grpcOptions: channelOptions(options),
    faultHandling: {
      host: () =>
        hosts.length === 1
          ? noop
          : circuitBreaker(unreachable, { halfOpenAfter: 1000, breaker: new ConsecutiveBreaker(3) }),
      global: retry(unreachable, { maxAttempts: Math.max(2, Math.min(3, hosts.length)) }),
    },
  };
}

/** Why the removals of one transaction happened, in the marker put first in it (see {@link EtcdKv.marker}). */
const REMOVAL_MARKS = ['delete', 'clear'] as const;

/** What a removal marker says of the removals of its transaction (see {@link EtcdKv.marker}). */
export interface Marker {
  readonly reason: RemovalReason;
  /** The registry's time when it sent the transaction, in epoch ms. */
  readonly at: number;
}

/** A removal marker as {@link EtcdKv.marker} wrote it; `undefined` for other bytes. */
export function readMarker(value: Buffer): Marker | undefined {
  const reason = value.length === 9 ? REMOVAL_MARKS[value[0] as number] : undefined;
  return reason === undefined ? undefined : { reason, at: value.readDoubleLE(1) };
}

/** Whether `error` is etcd's refusal of a read at a revision it has compacted. */
const isCompacted = (error: unknown): boolean =>
  error instanceof RegistryError && /revision has been compacted/.test(error.message);

/** A record without its value: what the registry remembers of it (see {@link Known}). */
export type RecordMeta = Omit<RegistryRecord, 'value'>;

/**
 * What the registry remembers of a key, the guard and basis of its next write: the etcd
 * `mod_revision` (0: absent) and the record's metadata. No value: the cache of
 * `revisionCacheSize` keys would otherwise hold that many values (and the replies they are views of).
 */
export interface Known {
  readonly modRevision: string;
  readonly record: RecordMeta | undefined;
}

/** A {@link Known} in one object: its own `record` (a cache entry is one allocation, not two). */
class Remembered implements Known, RecordMeta {
  readonly version: number;
  readonly createdAt: number;
  readonly updatedAt: number;
  readonly expiresAt: number | undefined;

  constructor(
    readonly key: string,
    readonly modRevision: string,
    record: RecordMeta,
  ) {
    this.version = record.version;
    this.createdAt = record.createdAt;
    this.updatedAt = record.updatedAt;
    this.expiresAt = record.expiresAt;
  }

  get record(): RecordMeta {
    return this;
  }
}

/** A key as just read from etcd: a {@link Known} whose record has its value. */
export interface Seen extends Known {
  readonly record: RegistryRecord | undefined;
}

export const ABSENT: Seen = Object.freeze({ modRevision: '0', record: undefined });

/** How the store reports what it did to the registry's listeners. */
export interface KvEvents {
  set(record: RegistryRecord): void;
  removed(key: string, version: number, reason: RemovalReason): void;
}

/**
 * The records of one registry in etcd: key mapping, calls under the deadline, the cache of
 * the last seen `mod_revision` of each key (the guard of the next write), reads, and expiry
 * on read. Internal to {@link EtcdRegistry}; see `writes.ts` for the write path.
 */
export class EtcdKv {
  readonly options: ResolvedEtcdRegistryOptions;
  readonly clock: Clock;
  readonly client: Etcd3;
  readonly prefix: Buffer;
  /**
   * Where the records' keys start: after the namespace key itself (`keyPrefix` alone, the
   * key of an empty name, which no record has), which holds the removal marker.
   */
  readonly recordsStart: Buffer;
  readonly leases: LeasePool;
  readonly seen: LRUCache<string, Known>;
  readonly events: KvEvents;

  constructor(options: ResolvedEtcdRegistryOptions, clock: Clock, events: KvEvents) {
    this.options = options;
    this.clock = clock;
    this.events = events;
    this.client = new Etcd3(clientOptions(options, options.hosts));
    this.prefix = Buffer.from(options.keyPrefix);
    this.recordsStart = Buffer.concat([this.prefix, Buffer.from([0])]);
    this.leases = new LeasePool(this.client, clock, options.leaseWindowMs, options.expiryGraceMs);
    this.seen = new LRUCache({ max: options.revisionCacheSize });
  }

  etcdKey(key: string): Buffer {
    // one UTF-8 encoding into the shared pool, rather than two buffers and a copy
    return Buffer.from(this.options.keyPrefix + key);
  }

  call<T>(signal: AbortSignal | undefined, what: string, call: () => Promise<T>): Promise<T> {
    return withDeadline(this.clock, this.options.timeoutMs, signal, what, call);
  }

  range(
    key: Buffer,
    o: { end?: Buffer; limit?: number; revision?: number; signal: AbortSignal | undefined },
  ): Promise<IRangeResponse> {
    const request: IRangeRequest = { key, serializable: this.options.consistency === 'serializable' };
    if (o.end !== undefined) request.range_end = o.end;
    if (o.limit !== undefined) request.limit = o.limit;
    if (o.revision !== undefined) request.revision = o.revision;
    return this.call(o.signal, 'range', () => this.client.kv.range(request));
  }

  txn(
    compare: ICompare[],
    success: IRequestOp[],
    failure: IRequestOp[],
    signal: AbortSignal | undefined,
    what: string,
  ): Promise<ITxnResponse> {
    return this.call(signal, what, () => this.client.kv.txn({ compare, success, failure }));
  }

  /** The compare that holds while `key` is still as `basis` saw it. */
  guard(key: string | Buffer, basis: Known): ICompare {
    return {
      key: typeof key === 'string' ? this.etcdKey(key) : key,
      target: 'Mod',
      result: 'Equal',
      // a number, not etcd3's decimal string: protobuf.js then skips parsing it into a Long
      // (revisions stay far below 2^53: one per write, ~285 years at a million writes/s)
      mod_revision: Number(basis.modRevision),
    };
  }

  /** What the registry knows of `key` without asking: the cache, or "absent" as the first guess. */
  seenOf(key: string): Known {
    return this.seen.get(key) ?? ABSENT;
  }

  /** Remembers that `key` holds `record` at etcd revision `modRevision` (without its value). */
  remember(key: string, modRevision: string, record: RecordMeta): void {
    this.seen.set(key, new Remembered(key, modRevision, record));
  }

  /** Reads `key` from etcd and remembers what it found. */
  async read(key: string, signal: AbortSignal | undefined): Promise<Seen> {
    const response = await this.range(this.etcdKey(key), { signal });
    return this.learn(key, response.kvs[0]);
  }

  /** Reads `keys` (distinct, at most `maxTxnOps`) in one transaction and remembers what it found. */
  async readAll(keys: readonly string[], signal: AbortSignal | undefined): Promise<Seen[]> {
    if (keys.length === 1) return [await this.read(keys[0] as string, signal)];
    const ops = keys.map((key): IRequestOp => ({ request_range: { key: this.etcdKey(key) } }));
    const response = await this.txn([], ops, [], signal, 'read');
    return keys.map((key, i) => this.learn(key, response.responses[i]?.response_range.kvs[0]));
  }

  learn(key: string, kv: IKeyValue | undefined): Seen {
    if (kv === undefined) {
      this.seen.delete(key);
      return ABSENT;
    }
    if (!isRecord(kv.value)) throw RegistryError.codec(`the etcd value of "${key}" is not a Nautilus record`, key);
    const record = readRecord(key, kv.value);
    this.remember(key, kv.mod_revision, record);
    return { modRevision: kv.mod_revision, record };
  }

  /** `record` if it is live at `now` (the clock's time unless given); `undefined` when past its deadline. */
  liveRecord<R extends RecordMeta>(record: R | undefined, now?: number): R | undefined {
    if (record === undefined || record.expiresAt === undefined) return record;
    return record.expiresAt > (now ?? this.clock.now()) ? record : undefined;
  }

  /** The live record of `seen`, removing it (one `expire` event, by whoever removes it) when expired. */
  async live(key: string, seen: Seen, signal: AbortSignal | undefined): Promise<RegistryRecord | undefined> {
    const record = seen.record;
    if (record === undefined || this.liveRecord(record) !== undefined) return record;
    const response = await this.txn(
      [this.guard(key, seen)],
      [{ request_delete_range: { key: this.etcdKey(key) } }],
      [],
      signal,
      'expire',
    );
    this.seen.delete(key);
    if (response.succeeded) this.events.removed(key, record.version, 'expire');
    return undefined;
  }

  /**
   * The put that goes first in every transaction that removes records by a caller's `delete`
   * or `clear`: the namespace key, its value the reason and the registry's time. A watch reads
   * the removals of that revision by it (etcd does not say why a key went, nor when): a
   * removal in a marked revision is `expire` if the record's deadline had passed at that time,
   * the marked reason otherwise; an unmarked one was a lease running out, or the registry
   * removing a record it met past its deadline.
   */
  marker(reason: (typeof REMOVAL_MARKS)[number]): IRequestOp {
    const value = Buffer.allocUnsafe(9);
    value[0] = REMOVAL_MARKS.indexOf(reason);
    value.writeDoubleLE(this.clock.now(), 1);
    return { request_put: { key: this.prefix, value } };
  }

  /**
   * The key-values from `start` to `end` (at `revision`, or now), page by page: at most
   * `scanPageSize` each, and after a page of large values fewer, so that pages stay near 4 MiB.
   */
  async *pages(
    start: Buffer,
    end: Buffer,
    o: { revision?: number; signal: AbortSignal | undefined },
  ): AsyncGenerator<IKeyValue[]> {
    const most = this.options.scanPageSize;
    const recordBytes = this.options.maxValueBytes + this.options.maxKeyBytes;
    // the first page is small enough for the largest records; the next grow as they prove smaller
    let limit = Math.max(1, Math.min(most, Math.floor(PAGE_BYTES / recordBytes)));
    for (let from = start; ;) {
      const page = await this.range(from, { end, limit, ...o });
      yield page.kvs;
      const last = page.kvs[page.kvs.length - 1];
      if (!page.more || last === undefined) return;
      let bytes = 0;
      for (const kv of page.kvs) bytes += kv.key.length + kv.value.length;
      limit = Math.max(1, Math.min(most, Math.floor((limit * PAGE_BYTES) / Math.max(1, bytes))));
      from = Buffer.concat([last.key, Buffer.from([0])]);
    }
  }

  /**
   * The value each `reads[i].key` had at etcd revision `reads[i].revision` (`undefined`: absent
   * then), read in linearizable transactions of `maxTxnOps` ranges, a few at once; rejects with `COMPACTED`
   * (naming the revision before the first read) when etcd has compacted one of the revisions.
   */
  async valuesAt(
    reads: readonly { readonly key: Buffer; readonly revision: number }[],
    signal: AbortSignal | undefined,
  ): Promise<(Buffer | undefined)[]> {
    const chunk = this.options.maxTxnOps;
    const read = async (from: number): Promise<(Buffer | undefined)[]> => {
      const part = reads.slice(from, from + chunk);
      const ops = part.map(({ key, revision }): IRequestOp => ({ request_range: { key, revision } }));
      try {
        const response = await this.call(signal, 'watch read', () => this.client.kv.txn({ success: ops }));
        return part.map((_, j) => response.responses[j]?.response_range.kvs[0]?.value);
      } catch (error) {
        if (!isCompacted(error)) throw error;
        throw RegistryError.compacted(String(reads[0]?.revision ?? 0), error);
      }
    };
    // a few transactions in flight at once: a replay's removals are read while etcd sends the rest
    const values: (Buffer | undefined)[] = [];
    for (let i = 0; i < reads.length; i += chunk * READS_IN_FLIGHT) {
      const starts: number[] = [];
      for (let j = i; j < Math.min(reads.length, i + chunk * READS_IN_FLIGHT); j += chunk) starts.push(j);
      for (const part of await Promise.all(starts.map(read))) values.push(...part);
    }
    return values;
  }

  /**
   * Deletes every record (one transaction: one etcd revision) and reports each it removed, read
   * page by page at the revision before, when `report` is set (a revision compacted before the
   * read ends the reports early: etcd no longer holds what was removed).
   */
  async clear(signal: AbortSignal | undefined, report: boolean): Promise<void> {
    const end = rangeEnd(this.prefix);
    const response = await this.txn(
      [],
      [this.marker('clear'), { request_delete_range: { key: this.recordsStart, range_end: end } }],
      [],
      signal,
      'clear',
    );
    this.seen.clear();
    if (!report || response.responses[1]?.response_delete_range.deleted === '0') return;
    try {
      const revision = Number(response.header.revision) - 1;
      for await (const page of this.pages(this.recordsStart, end, { revision, signal })) {
        for (const kv of page) {
          if (!isRecord(kv.value)) continue;
          const record = readRecord(kv.key.toString('utf8', this.prefix.length), kv.value);
          this.events.removed(record.key, record.version, this.liveRecord(record) === undefined ? 'expire' : 'clear');
        }
      }
    } catch (error) {
      if (!isCompacted(error)) throw error;
    }
  }

  /**
   * Deletes `keys` (distinct) in transactions of `maxTxnOps` operations (the marker and the
   * deletes); resolves to how many were live.
   */
  async deleteKeys(keys: readonly string[], signal: AbortSignal | undefined): Promise<number> {
    let removed = 0;
    const chunk = Math.max(1, this.options.maxTxnOps - 1);
    for (let i = 0; i < keys.length; i += chunk) {
      const part = keys.slice(i, i + chunk);
      const ops = [this.marker('delete')];
      for (const key of part) ops.push({ request_delete_range: { key: this.etcdKey(key), prev_kv: true } });
      const response = await this.txn([], ops, [], signal, 'delete');
      part.forEach((key, j) => {
        this.seen.delete(key);
        const previous = response.responses[j + 1]?.response_delete_range.prev_kvs[0];
        if (previous === undefined || !isRecord(previous.value)) return;
        const record = readRecord(key, previous.value);
        const live = this.liveRecord(record) !== undefined;
        if (live) removed++;
        this.events.removed(key, record.version, live ? 'delete' : 'expire');
      });
    }
    return removed;
  }
}
