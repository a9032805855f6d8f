import type { Clock, Milliseconds } from '../../core/clock.js';
import { RegistryError } from '../errors.js';
import {
  checkOptionsObject,
  integerOption,
  MAX_TIMER_MS,
  oneOfOption,
  option,
  rejectUnknownOptions,
} from '../validation.js';

/** Configuration of an {@link EtcdRegistry}. */
export interface EtcdRegistryOptions {
  /**
   * Client URLs of etcd members (`http://host:port`); requests are spread over them and move
   * to another member when one fails. Give every member of the cluster.
   */
  readonly hosts: string | readonly string[];
  /**
   * Namespace of this registry: prepended to every key in etcd, and the only keys `scan`,
   * `size`, `clear` and `watch` look at. Must not be empty: the registry's range would then be
   * all of etcd, locks and elections and other applications' keys included.
   * @default 'nautilus:'
   */
  readonly keyPrefix?: string;
  /**
   * Deadline of each operation (a transaction, a scan page) in ms: past it with no answer the
   * operation rejects with `TIMEOUT`; a cluster that says it cannot serve (members refused or
   * reset) rejects with `BACKEND_UNAVAILABLE` sooner, and one without a leader at the deadline.
   * Combined with the caller's `signal`, whichever comes first. At most 2^31 − 1 (~24.8 days),
   * the longest delay of a Node.js timer.
   * @default 5000
   */
  readonly timeoutMs?: Milliseconds;
  /**
   * `linearizable` reads go through the leader's quorum (a read sees every write acknowledged
   * before it); `serializable` reads are answered by whichever member serves the call from
   * its local state: faster, possibly stale, and still served by a member cut off from the
   * quorum. Writes and compare-and-set are always linearizable.
   * @default 'linearizable'
   */
  readonly consistency?: 'linearizable' | 'serializable';
  /**
   * Width of the expiry windows, in ms: records whose deadlines fall in the same window share
   * one etcd lease, granted to end `expiryGraceMs` after the window, so the number of leases
   * follows the spread of deadlines, not the number of records.
   * @default 10_000
   */
  readonly leaseWindowMs?: Milliseconds;
  /**
   * How long after the end of its expiry window etcd itself deletes an unread record, in ms.
   * Until then the registry treats it as absent from its deadline on (checked on every read
   * with the injected clock) and the first operation to meet it removes it, firing
   * `record:removed` with reason `expire`.
   * @default 1000
   */
  readonly expiryGraceMs?: Milliseconds;
  /**
   * Most operations in one etcd transaction: etcd's `--max-txn-ops` (128 unless the cluster
   * was started with another). Batches are split into transactions of at most this many keys.
   * @default 128
   */
  readonly maxTxnOps?: number;
  /**
   * Largest etcd request in bytes: etcd's `--max-request-bytes` (1.5 MiB unless the cluster was
   * started with another). Batches and grouped writes are split so that no transaction is
   * larger; `maxValueBytes` and `maxKeyBytes` must leave room for one record under it.
   * @default 1_572_864
   */
  readonly maxRequestBytes?: number;
  /**
   * Most records fetched per `scan` page (one range request each). Pages also stay near
   * 4 MiB: after a page of large values the next asks for fewer records.
   * @default 500
   */
  readonly scanPageSize?: number;
  /**
   * Changes a watch reads ahead of its consumer before it stops reading its stream, etcd then
   * holding the rest (see `watch`). Checked after each message from etcd, so the read-ahead can
   * pass this by that message's changes: one revision's when live (a transaction, or a `clear`
   * of many keys), up to 1000 revisions' in a replay of history.
   * @default 1000
   */
  readonly watchBuffer?: number;
  /**
   * Liveness of watch streams, in ms: a stream silent this long is asked for a progress report
   * (etcd answers at once), one silent twice this long counts as broken and the watch resumes
   * on the next member from its last change. A paused or cut-off member keeps the connection
   * up and reports no error, so this bounds how long a watch stalls on one (about 2–3× this;
   * up to 4× while etcd prepares a replay of history, when the member is asked for a read).
   * At most 2^30 − 1 (~12.4 days): twice it is a timer's delay.
   * @default 1000
   */
  readonly watchProgressMs?: Milliseconds;
  /**
   * Keys whose last seen etcd revision is remembered, so that a write is one transaction
   * guarded by that revision instead of a read and a transaction (least recently used are
   * forgotten; a stale entry costs one more round trip, never a wrong write). An entry holds the
   * revision and the record's version and times, never its value.
   * @default 10_000
   */
  readonly revisionCacheSize?: number;
  /** Largest accepted value in bytes; `VALUE_TOO_LARGE` beyond (a record must fit in `maxRequestBytes`). @default 1_048_576 */
  readonly maxValueBytes?: number;
  /** Largest accepted key in UTF-8 bytes; longer ones reject with `INVALID_KEY`. @default 1024 */
  readonly maxKeyBytes?: number;
}

/** Injected collaborators of an {@link EtcdRegistry}. */
export interface EtcdRegistryDeps {
  /** Source of time (record times and deadlines) and timers (operation deadlines). @default systemClock */
  readonly clock?: Clock;
  /** Receives errors thrown by event listeners. @default rethrows on a microtask */
  readonly onListenerError?: (error: unknown) => void;
}

/** Defaults of {@link EtcdRegistryOptions} (every option but `hosts`). */
export const DEFAULT_ETCD_REGISTRY_OPTIONS = Object.freeze({
  keyPrefix: 'nautilus:',
  timeoutMs: 5000,
  consistency: 'linearizable',
  leaseWindowMs: 10_000,
  expiryGraceMs: 1000,
  maxTxnOps: 128,
  maxRequestBytes: 1536 * 1024,
  scanPageSize: 500,
  watchBuffer: 1000,
  watchProgressMs: 1000,
  revisionCacheSize: 10_000,
  maxValueBytes: 1024 * 1024,
  maxKeyBytes: 1024,
} satisfies Required<Omit<EtcdRegistryOptions, 'hosts'>>);

/** The options in effect: defaults filled in, `hosts` as a list. */
export type ResolvedEtcdRegistryOptions = Required<Omit<EtcdRegistryOptions, 'hosts'>> & {
  readonly hosts: readonly string[];
};

/** Validates `options` (messages name the option) and fills in the defaults. */
export function resolveEtcdOptions(options: EtcdRegistryOptions): ResolvedEtcdRegistryOptions {
  checkOptionsObject('EtcdRegistry', options);
  rejectUnknownOptions('EtcdRegistry', options, ['hosts', ...Object.keys(DEFAULT_ETCD_REGISTRY_OPTIONS)]);
  const hosts: unknown = typeof options.hosts === 'string' ? [options.hosts] : options.hosts;
  if (!Array.isArray(hosts) || hosts.length === 0) {
    throw RegistryError.invalidOptionValue('hosts', 'a URL or a non-empty list of URLs', options.hosts);
  }
  for (const host of hosts as unknown[]) {
    if (typeof host !== 'string' || !/^https?:\/\/[^/\s]+\/?$/.test(host)) {
      throw RegistryError.invalidOptionValue('hosts', 'http(s)://host:port URLs', host);
    }
  }
  const d = DEFAULT_ETCD_REGISTRY_OPTIONS;
  const resolved: ResolvedEtcdRegistryOptions = {
    hosts: [...(hosts as string[])],
    keyPrefix: option('keyPrefix', options.keyPrefix, d.keyPrefix, 'a non-empty string', isNonEmptyString),
    timeoutMs: integerOption('timeoutMs', options.timeoutMs, d.timeoutMs, { max: MAX_TIMER_MS }),
    consistency: oneOfOption('consistency', options.consistency, d.consistency as 'linearizable', [
      'linearizable',
      'serializable',
    ]),
    leaseWindowMs: integerOption('leaseWindowMs', options.leaseWindowMs, d.leaseWindowMs),
    expiryGraceMs: integerOption('expiryGraceMs', options.expiryGraceMs, d.expiryGraceMs, { min: 0 }),
    maxTxnOps: integerOption('maxTxnOps', options.maxTxnOps, d.maxTxnOps, { min: 2 }),
    scanPageSize: integerOption('scanPageSize', options.scanPageSize, d.scanPageSize),
    watchBuffer: integerOption('watchBuffer', options.watchBuffer, d.watchBuffer),
    watchProgressMs: integerOption('watchProgressMs', options.watchProgressMs, d.watchProgressMs, {
      max: Math.floor(MAX_TIMER_MS / 2),
    }),
    revisionCacheSize: integerOption('revisionCacheSize', options.revisionCacheSize, d.revisionCacheSize),
    maxValueBytes: integerOption('maxValueBytes', options.maxValueBytes, d.maxValueBytes, { min: 0 }),
    maxKeyBytes: integerOption('maxKeyBytes', options.maxKeyBytes, d.maxKeyBytes),
    maxRequestBytes: integerOption('maxRequestBytes', options.maxRequestBytes, d.maxRequestBytes),
  };
  if (
    recordRequestBytes(resolved.keyPrefix, resolved.maxKeyBytes, resolved.maxValueBytes) + REQUEST_SLACK_BYTES >
    resolved.maxRequestBytes
  ) {
    throw RegistryError.invalidOption(
      `maxValueBytes (${resolved.maxValueBytes}) and maxKeyBytes (${resolved.maxKeyBytes}) leave no room for a record ` +
        `in an etcd request of maxRequestBytes (${resolved.maxRequestBytes})`,
    );
  }
  return resolved;
}

/** Bytes of an etcd transaction beyond its operations (header, framing), kept free in every request. */
export const REQUEST_SLACK_BYTES = 4096;

/**
 * Upper bound, in bytes, of what one guarded put of a record adds to an etcd transaction: the
 * key twice (the compare and the put), the 33-byte record header, the value, and framing.
 */
export function recordRequestBytes(keyPrefix: string, keyBytes: number, valueBytes: number): number {
  return 2 * (Buffer.byteLength(keyPrefix) + keyBytes) + valueBytes + 33 + 64;
}

const isNonEmptyString = (value: unknown): value is string => typeof value === 'string' && value !== '';
