import type { ConnectionOptions as TlsConnectionOptions } from 'node:tls';
import type { Clock, Milliseconds } from '../../core/clock.js';
import { RegistryError } from '../errors.js';
import { checkOptionsObject, integerOption, MAX_TIMER_MS, rejectUnknownOptions, stringOption } from '../validation.js';

/** Configuration of a {@link RedisRegistry}. Give exactly one of `url` and `cluster`. */
export interface RedisRegistryOptions {
  /**
   * A standalone server: `redis[s]://[[user][:password]@]host[:port][/db]`. `rediss://` turns
   * TLS on (with the system's trusted CAs unless `tls` gives a `ca`). Credentials in the URL
   * work like `username` and `password`; giving both is an `INVALID_OPTION`.
   */
  readonly url?: string;
  /**
   * Redis Cluster mode: URLs of some nodes (`redis://host:port`, or `rediss://` with `tls`),
   * used to discover the rest. Give at least two so discovery survives one node being down.
   * `username`, `password` and `tls` apply to every node, discovered ones included; the URLs
   * themselves must not carry credentials (`INVALID_OPTION`).
   */
  readonly cluster?: readonly string[];
  /**
   * ACL user name (`ACL SETUSER`), sent with `password` on every connection and reconnection.
   * @default 'default' (the user of `requirepass`)
   */
  readonly username?: string;
  /**
   * Password of `username` (or `requirepass` without a `username`), sent on every connection
   * and reconnection. Wrong or missing credentials make `connect()` reject with
   * `BACKEND_UNAVAILABLE` (the server is there but will not serve this client; the cause is the
   * `WRONGPASS`/`NOAUTH` reply) and a message that says so; no message includes the password.
   * @default none
   */
  readonly password?: string;
  /**
   * TLS: `true` (the system's trusted CAs), or Node.js `tls.connect` options for every
   * connection: `ca` to trust a private CA, `cert` + `key` for servers with
   * `tls-auth-clients yes`, `servername`… Implied by a `rediss://` URL. A failed handshake (an
   * untrusted or mismatching certificate, a missing client certificate) makes `connect()`
   * reject with `BACKEND_UNAVAILABLE` within `connectTimeoutMs`, naming the TLS error code.
   * Every URL must match: `rediss://` with TLS on, `redis://` with it off (`INVALID_OPTION`).
   * @default true with `rediss://` URLs, otherwise false
   */
  readonly tls?: boolean | TlsConnectionOptions;
  /**
   * Namespace of this registry: prepended to every key in Redis, and the only keys `scan`,
   * `size` and `clear` look at. Avoid `{…}` in it unless you want its hash tag: in a cluster it
   * puts every record in one slot (which a cluster `changefeed` requires).
   * @default 'nautilus:'
   */
  readonly keyPrefix?: string;
  /**
   * Deadline of each operation (a batch, a scan page) in ms: past it the operation rejects
   * with `TIMEOUT` (the command may still run on the server). Combined with the caller's
   * `signal`, whichever comes first. At most 2^31 − 1 − 1000 (~24.8 days): the change feed's
   * `XREAD` waits 1 s plus this, and a timer's delay is at most 2^31 − 1 ms.
   * @default 5000
   */
  readonly timeoutMs?: Milliseconds;
  /** Deadline of establishing a TCP (+TLS) connection, in ms; at most 2^31 − 1. @default 5000 */
  readonly connectTimeoutMs?: Milliseconds;
  /**
   * Longest pause between reconnection attempts, in ms (backoff starts at 50 ms and doubles).
   * Operations while disconnected reject at once with `BACKEND_UNAVAILABLE` (no offline queue).
   * From 50 to 2^31 − 1.
   * @default 2000
   */
  readonly reconnectMaxDelayMs?: Milliseconds;
  /**
   * Most commands waiting for a reply per connection; beyond it calls reject with
   * `BACKEND_UNAVAILABLE` instead of queueing without bound behind a stalled server.
   * @default 100_000
   */
  readonly maxQueuedCommands?: number;
  /**
   * How long after its deadline Redis itself deletes an unread record, in ms. Until then the
   * registry treats it as absent, and the first operation to meet it removes it and fires
   * `record:removed` with reason `expire`; afterwards it is gone without an event. The grace
   * also absorbs clock skew between this process and the Redis server.
   * @default 1000
   */
  readonly expiryGraceMs?: Milliseconds;
  /** Largest accepted value in bytes (checked before sending); `VALUE_TOO_LARGE` beyond. @default 1_048_576 (1 MiB) */
  readonly maxValueBytes?: number;
  /** Largest accepted key in UTF-8 bytes; `INVALID_KEY` beyond. @default 1024 */
  readonly maxKeyBytes?: number;
  /**
   * Most keys per command in a batch (`MGET` or one Lua call). A batch is split into chunks of
   * this size that are pipelined together: still one round trip per node, but no single
   * command blocks the server for long.
   * @default 256
   */
  readonly batchChunkSize?: number;
  /** `COUNT` hint of each `SCAN` step (keys per page, roughly). @default 512 */
  readonly scanCount?: number;
  /**
   * Turns on the change feed (`watch` and `cursor`): every write, delete, touch, restore and
   * expired-record removal the registry's scripts make also appends an entry to a Redis stream
   * in the same script, so a change and its entry are atomic. Costs one stream entry per change
   * (the key and, for writes, the whole record) and its write time (see `npm run bench --
   * registry-redis`). Every client of the namespace must turn it on: writes of a client without
   * it are not in the feed. On a Redis Cluster `keyPrefix` must carry a hash tag (`{app}:`), so
   * the records and their stream share one slot (`INVALID_OPTION` otherwise). See
   * `RedisRegistry.watch` for which removals appear.
   * @default undefined (off)
   */
  readonly changefeed?: RedisChangefeedOptions | undefined;
}

/** Options of the change feed of a {@link RedisRegistry} (`changefeed`). */
export interface RedisChangefeedOptions {
  /**
   * Changes the stream keeps (`XADD … MAXLEN ~`: Redis trims whole nodes, so it may keep up to
   * about 100 more). A watch that falls further behind, or resumes from an older cursor, rejects
   * with `COMPACTED`. Redis memory: about `maxLength` × (key + record bytes + ~50 B).
   * @default 10_000
   */
  readonly maxLength?: number | undefined;
}

/** The resolved change feed: its stream and epoch keys, outside the registry's namespace. */
export interface ResolvedChangefeed {
  readonly maxLength: number;
  /** The stream: `nautilus-feed:<keyPrefix>`. */
  readonly streamKey: string;
  /** The current epoch of the stream's IDs: `nautilus-feed-epoch:<keyPrefix>`. */
  readonly epochKey: string;
}

/** Default of {@link RedisChangefeedOptions.maxLength}. */
export const DEFAULT_CHANGEFEED_MAX_LENGTH = 10_000;

/** Counters of a {@link RedisRegistry} since it was created. */
export interface RedisRegistryStats {
  /**
   * Keys under `keyPrefix` that `scan` and `size` met and skipped because they are not Nautilus
   * records (another Redis type, or a string not in the record layout), once per meeting.
   */
  readonly foreignKeys: number;
}

/** Injected collaborators of a {@link RedisRegistry}. */
export interface RedisRegistryDeps {
  /**
   * Source of time (record timestamps and deadlines) and of the timers of operation deadlines.
   * @default systemClock
   */
  readonly clock?: Clock;
  /** Receives errors thrown by event listeners. @default rethrown on a microtask */
  readonly onListenerError?: (error: unknown) => void;
}

/** How long one change-feed `XREAD` waits for a change on the server, ms (then it is sent again). */
export const BLOCK_MS = 1000;

/** Defaults of {@link RedisRegistryOptions}. */
export const DEFAULT_REDIS_REGISTRY_OPTIONS = Object.freeze({
  keyPrefix: 'nautilus:',
  timeoutMs: 5000,
  connectTimeoutMs: 5000,
  reconnectMaxDelayMs: 2000,
  maxQueuedCommands: 100_000,
  expiryGraceMs: 1000,
  maxValueBytes: 1024 * 1024,
  maxKeyBytes: 1024,
  batchChunkSize: 256,
  scanCount: 512,
  tls: false,
} satisfies Omit<ResolvedRedisRegistryOptions, 'url' | 'cluster' | 'username' | 'password' | 'changefeed'>);

/** The validated configuration. */
export interface ResolvedRedisRegistryOptions {
  readonly url: string | undefined;
  readonly cluster: readonly string[] | undefined;
  readonly username: string | undefined;
  readonly password: string | undefined;
  readonly tls: boolean | TlsConnectionOptions;
  readonly keyPrefix: string;
  readonly timeoutMs: number;
  readonly connectTimeoutMs: number;
  readonly reconnectMaxDelayMs: number;
  readonly maxQueuedCommands: number;
  readonly expiryGraceMs: number;
  readonly maxValueBytes: number;
  readonly maxKeyBytes: number;
  readonly batchChunkSize: number;
  readonly scanCount: number;
  /** The change feed, or `undefined` when off. */
  readonly changefeed: ResolvedChangefeed | undefined;
}

const KNOWN = ['url', 'cluster', 'username', 'password', 'changefeed', ...Object.keys(DEFAULT_REDIS_REGISTRY_OPTIONS)];

/** Validates options once, at construction, with messages that name the option. */
export function resolveOptions(options: RedisRegistryOptions): ResolvedRedisRegistryOptions {
  checkOptionsObject('RedisRegistry', options);
  rejectUnknownOptions('RedisRegistry', options, KNOWN);
  const d = DEFAULT_REDIS_REGISTRY_OPTIONS;
  const { url, cluster } = options;
  if ((url === undefined) === (cluster === undefined)) {
    throw RegistryError.invalidOption('give exactly one of url (standalone) and cluster (a list of node URLs)');
  }
  if (url !== undefined) checkUrl('url', url);
  if (cluster !== undefined) {
    if (!Array.isArray(cluster) || cluster.length === 0) {
      throw RegistryError.invalidOptionValue('cluster', 'a non-empty array of node URLs', cluster);
    }
    cluster.forEach((u: unknown, i) => checkUrl(`cluster[${i}]`, u));
  }
  const username = stringOption('username', options.username, undefined);
  const password = stringOption('password', options.password, undefined);
  const keyPrefix = stringOption('keyPrefix', options.keyPrefix, d.keyPrefix);
  const named: [string, string][] =
    url !== undefined ? [['url', url]] : (cluster as string[]).map((u, i) => [`cluster[${i}]`, u]);
  checkCredentials(named, options);
  const tls: unknown = options.tls ?? (named.some(([, u]) => u.startsWith('rediss:')) || d.tls);
  if (typeof tls !== 'boolean' && (typeof tls !== 'object' || tls === null)) {
    throw RegistryError.invalidOptionValue('tls', 'a boolean or tls.connect options', tls);
  }
  // the client refuses a scheme that contradicts `tls` with an error quoting the whole URL
  // (password included), and a cluster would reach discovered nodes without TLS
  for (const [name, u] of named) {
    const secure = u.startsWith('rediss:');
    if (tls === false && secure) throw RegistryError.invalidOption(`${name} uses rediss:// but tls is false`);
    if (tls !== false && !secure)
      throw RegistryError.invalidOption(`tls is on, so ${name} must use rediss:// (it uses redis://)`);
  }
  return {
    url,
    cluster: cluster === undefined ? undefined : Object.freeze([...(cluster as readonly string[])]),
    username,
    password,
    tls,
    keyPrefix,
    // each becomes a timer's delay (see MAX_TIMER_MS)
    timeoutMs: integerOption('timeoutMs', options.timeoutMs, d.timeoutMs, { max: MAX_TIMER_MS - BLOCK_MS }),
    connectTimeoutMs: integerOption('connectTimeoutMs', options.connectTimeoutMs, d.connectTimeoutMs, {
      max: MAX_TIMER_MS,
    }),
    reconnectMaxDelayMs: integerOption('reconnectMaxDelayMs', options.reconnectMaxDelayMs, d.reconnectMaxDelayMs, {
      min: 50,
      max: MAX_TIMER_MS,
    }),
    maxQueuedCommands: integerOption('maxQueuedCommands', options.maxQueuedCommands, d.maxQueuedCommands),
    expiryGraceMs: integerOption('expiryGraceMs', options.expiryGraceMs, d.expiryGraceMs, { min: 0 }),
    maxValueBytes: integerOption('maxValueBytes', options.maxValueBytes, d.maxValueBytes, {
      min: 0,
      max: 512 * 1024 * 1024 - 64,
    }),
    maxKeyBytes: integerOption('maxKeyBytes', options.maxKeyBytes, d.maxKeyBytes),
    batchChunkSize: integerOption('batchChunkSize', options.batchChunkSize, d.batchChunkSize, { max: 10_000 }),
    scanCount: integerOption('scanCount', options.scanCount, d.scanCount, { max: 100_000 }),
    changefeed: resolveChangefeed(options.changefeed, keyPrefix, cluster !== undefined),
  };
}

function resolveChangefeed(value: unknown, keyPrefix: string, cluster: boolean): ResolvedChangefeed | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null) {
    throw RegistryError.invalidOptionValue('changefeed', 'an object ({ maxLength })', value);
  }
  rejectUnknownOptions('RedisRegistry changefeed', value, ['maxLength']);
  const maxLength = integerOption(
    'changefeed.maxLength',
    (value as RedisChangefeedOptions).maxLength,
    DEFAULT_CHANGEFEED_MAX_LENGTH,
  );
  if (cluster && !hasHashTag(keyPrefix)) {
    throw RegistryError.invalidOption(
      'changefeed on a Redis Cluster needs a keyPrefix with a hash tag (such as "{app}:"), so that the records and their stream share one slot',
    );
  }
  return { maxLength, streamKey: `nautilus-feed:${keyPrefix}`, epochKey: `nautilus-feed-epoch:${keyPrefix}` };
}

/** Whether every key starting with `prefix` has the same hash tag (a non-empty `{…}` in `prefix`). */
function hasHashTag(prefix: string): boolean {
  const open = prefix.indexOf('{');
  return open !== -1 && prefix.indexOf('}', open + 1) > open + 1;
}

/**
 * Credentials come from the options or from the one standalone URL, never both (the client
 * would silently prefer the URL's); cluster URLs carry none (they would reach the root nodes
 * only, not the nodes discovered from them).
 */
function checkCredentials(named: readonly [string, string][], options: RedisRegistryOptions): void {
  for (const [name, u] of named) {
    if (!/^rediss?:\/\/[^/]*@/.test(u)) continue;
    if (options.cluster !== undefined) {
      throw RegistryError.invalidOption(
        `${name} must not carry credentials (user:password@): give username and password`,
      );
    }
    if (options.username !== undefined || options.password !== undefined) {
      throw RegistryError.invalidOption(
        `give credentials either in ${name} (user:password@) or as username and password, not both`,
      );
    }
  }
}

function checkUrl(name: string, value: unknown): void {
  if (typeof value !== 'string' || !/^rediss?:\/\//.test(value)) {
    // never echo a password: `scheme://user:password@host` → `scheme://…@host`
    const shown = typeof value === 'string' ? value.replace(/\/\/[^/]*@/, '//…@') : value;
    throw RegistryError.invalidOptionValue(name, 'a redis:// or rediss:// URL', shown);
  }
}
