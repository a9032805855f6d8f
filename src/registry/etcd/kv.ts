import { Etcd3, type ICompare, type IKeyValue, type IRangeResponse, type IRequestOp, type ITxnResponse } from 'etcd3';
import { LRUCache } from 'lru-cache';
import type { Clock } from '../../core/clock.js';
import { RegistryError } from '../errors.js';
import type { RemovalReason } from '../events.js';
import { isRecord, readRecord } from '../record-layout.js';
import type { RegistryRecord } from '../registry.js';
import { withDeadline } from './calls.js';
import { LeasePool } from './leases.js';
import type { ResolvedEtcdRegistryOptions } from './options.js';

/** What the registry last saw of a key: its etcd `mod_revision` (0: absent) and record. */
export interface Seen {
  readonly modRevision: string;
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
  readonly leases: LeasePool;
  readonly seen: LRUCache<string, Seen>;
  readonly events: KvEvents;

  constructor(options: ResolvedEtcdRegistryOptions, clock: Clock, events: KvEvents) {
    this.options = options;
    this.clock = clock;
    this.events = events;
    this.client = new Etcd3({ hosts: [...options.hosts] });
    this.prefix = Buffer.from(options.keyPrefix);
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

  range(key: Buffer, o: { end?: Buffer; limit?: number; signal: AbortSignal | undefined }): Promise<IRangeResponse> {
    return this.call(o.signal, 'range', () =>
      this.client.kv.range({
        key,
        ...(o.end === undefined ? {} : { range_end: o.end }),
        ...(o.limit === undefined ? {} : { limit: o.limit }),
        serializable: this.options.consistency === 'serializable',
      }),
    );
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
  guard(key: string | Buffer, basis: Seen): ICompare {
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
  seenOf(key: string): Seen {
    return this.seen.get(key) ?? ABSENT;
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
    const seen: Seen = {
      modRevision: kv.mod_revision,
      record: isRecord(kv.value) ? readRecord(key, kv.value) : undefined,
    };
    if (seen.record === undefined) {
      throw RegistryError.codec(`the etcd value of "${key}" is not a Nautilus record`, key);
    }
    this.seen.set(key, seen);
    return seen;
  }

  liveRecord(record: RegistryRecord | undefined): RegistryRecord | undefined {
    if (record === undefined) return undefined;
    return record.expiresAt === undefined || record.expiresAt > this.clock.now() ? record : undefined;
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
   * The value each `reads[i].key` had at etcd revision `reads[i].revision` (`undefined`: absent
   * then), read in linearizable transactions of `maxTxnOps` ranges; a revision etcd has
   * compacted reads as `undefined` (what etcd's own `prev_kv` gives then).
   */
  async valuesAt(
    reads: readonly { readonly key: Buffer; readonly revision: number }[],
    signal: AbortSignal | undefined,
  ): Promise<(Buffer | undefined)[]> {
    const values: (Buffer | undefined)[] = [];
    const chunk = this.options.maxTxnOps;
    for (let i = 0; i < reads.length; i += chunk) {
      const part = reads.slice(i, i + chunk);
      const ops = part.map(({ key, revision }): IRequestOp => ({ request_range: { key, revision } }));
      try {
        const response = await this.call(signal, 'watch read', () => this.client.kv.txn({ success: ops }));
        for (let j = 0; j < part.length; j++) values.push(response.responses[j]?.response_range.kvs[0]?.value);
      } catch (error) {
        if (!(error instanceof RegistryError && /revision has been compacted/.test(error.message))) throw error;
        for (let j = 0; j < part.length; j++) values.push(undefined);
      }
    }
    return values;
  }

  /** Deletes `keys` (distinct) in transactions of `maxTxnOps`; resolves to how many were live. */
  async deleteKeys(keys: readonly string[], signal: AbortSignal | undefined, reason: RemovalReason): Promise<number> {
    let removed = 0;
    const chunk = this.options.maxTxnOps;
    for (let i = 0; i < keys.length; i += chunk) {
      const part = keys.slice(i, i + chunk);
      const ops = part.map((key): IRequestOp => ({ request_delete_range: { key: this.etcdKey(key), prev_kv: true } }));
      const response = await this.txn([], ops, [], signal, 'delete');
      part.forEach((key, j) => {
        this.seen.delete(key);
        const previous = response.responses[j]?.response_delete_range.prev_kvs[0];
        if (previous === undefined || !isRecord(previous.value)) return;
        const record = readRecord(key, previous.value);
        const live = this.liveRecord(record) !== undefined;
        if (live) removed++;
        this.events.removed(key, record.version, live ? reason : 'expire');
      });
    }
    return removed;
  }
}
