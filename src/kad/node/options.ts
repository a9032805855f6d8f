import type { Clock, Milliseconds } from '../../core/clock.js';
import type { Registry } from '../../registry/registry.js';
import { KadError } from '../errors.js';
import { isNodeId, type NodeId } from '../id.js';
import {
  boolean,
  implementing,
  integerAtLeast,
  integerInRange,
  optionError,
  positiveNumber,
  positiveOrInfinite,
} from '../option-checks.js';
import { DEFAULT_RPC_OPTIONS, type RpcOptions } from '../rpc/rpc.js';
import { DEFAULT_ROUTING_TABLE_OPTIONS } from '../routing/routing-types.js';
import { DEFAULT_QUERY_HANDLERS_OPTIONS } from '../serve/handlers.js';
import { DEFAULT_WRITE_TOKEN_OPTIONS } from '../serve/tokens.js';
import { DEFAULT_KAD_STORAGE_OPTIONS, type KadStorageOptions } from '../serve/storage.js';
import type { Endpoint, Transport } from '../transport/transport.js';
import { familyOf } from '../wire/compact.js';
import { type LookupOptions, resolveLookupOptions } from '../lookup/options.js';
import { type BootstrapEntry, type HostResolver, parseBootstrapString } from './bootstrap-entries.js';
import { type MaintenanceOptions, resolveMaintenanceOptions } from './maintenance-options.js';
import { type HolePunchOptions, resolveHolePunchOptions } from './hole-punch-options.js';
import { DEFAULT_KAD_NODE_STATE_OPTIONS } from './persistence.js';
import type { StateStore } from './state-store.js';
import type { PortMapperFactory, PortMappingMode } from '../nat/port-mapper.js';
import { DEFAULT_PORT_MAPPING_OPTIONS, type PortMappingOptions } from '../nat/port-mapping.js';

/** Configuration of {@link createNode}. Every field is optional. */
export interface KadNodeOptions {
  /**
   * Local IP literal to bind the node's first UDP socket to (ignored when `transport` is given):
   * usually IPv4. An IPv6 literal makes an IPv6-only node (then `host6`, `port6` and
   * `transport6` must be absent).
   * @default "0.0.0.0"
   */
  readonly host?: string;
  /** Local UDP port of that socket; 0 lets the system pick (read it from `node.address()`). @default 0 */
  readonly port?: number;
  /**
   * Local IPv6 literal of a second, IPv6 socket: giving `host6`, `port6` or `transport6` makes a
   * dual-stack node (BEP 32) with one RPC layer and one routing table per family, sharing its
   * id, storage and write tokens. The socket is bound IPv6-only (ignored when `transport6` is
   * given).
   * @default "::" when `port6` is given, else no IPv6 socket
   * @see BEP 32
   */
  readonly host6?: string;
  /** Local UDP port of the IPv6 socket; 0 lets the system pick (see `node.addresses()`). @default 0 when `host6` is given */
  readonly port6?: number;
  /**
   * The IPv6 datagram transport of a dual-stack node (for example a `MemoryNetwork` transport
   * created with `family: 6`); its `address().family` must be 6 and the first transport's 4. Not
   * owned: `close()` leaves it open. @default a UDP socket on `host6:port6` when either is given
   */
  readonly transport6?: Transport;
  /**
   * Nodes to join the network through: `Endpoint`s or `'host:port'` strings (a DNS name is
   * resolved to its IPv4 and IPv6 addresses with `resolver`; IPv6 literals in brackets). At start
   * the node sends each a `find_node` for its own id (at most 32 per family, each over the
   * transport of its family, a dual-stack node asking for both families with `want`) and waits
   * up to `bootstrapTimeoutMs` for them, then looks up its own id iteratively from what they
   * returned and what its table holds (Kademlia join, within the lookup deadline): see
   * `node.bootstrapped` and `node.ready`. While nothing answers, it tries again after
   * `bootstrapRetryMs`, doubling up to `bootstrapRetryMaxMs` (event `bootstrap:retry`). To join
   * the public Mainline DHT, pass `MAINLINE_BOOTSTRAP` (never a default).
   * @default []
   */
  readonly bootstrap?: readonly BootstrapEntry[];
  /** Resolves the DNS names of `bootstrap` to IP literals. @default the system resolver (`dns.lookup`, both families) */
  readonly resolver?: HostResolver;
  /** Delay before the first retry of a join that reached nobody, ms; doubles on each failure. @default 1000 */
  readonly bootstrapRetryMs?: Milliseconds;
  /** Longest delay between join attempts, ms. @default 60_000 */
  readonly bootstrapRetryMaxMs?: Milliseconds;
  /** Iterative lookups: parallelism, bounds and deadline (see {@link LookupOptions}). */
  readonly lookup?: LookupOptions;
  /**
   * This node's 160-bit id, the same in both families (BEP 32). It never changes while the node
   * runs, not even when the external address is learned (`node.externalAddress()`): for a BEP 42
   * secure id, compute it from the public address with `secureId(host)` and pass it here.
   * @default random
   * @see BEP 42
   */
  readonly id?: NodeId;
  /**
   * Bucket size and number of contacts per `nodes` list.
   * @default 8
   * @see BEP 5
   */
  readonly k?: number;
  /**
   * Read-only node (BEP 43): `true` marks its queries `ro: 1` (other nodes then leave it out of
   * their tables) and answers no query. `'auto'` runs normally until maintenance finds the node
   * firewalled (no unsolicited query for `maintenance.firewallCheckMs`), then marks its queries
   * `ro: 1` (still answering what arrives) until an unsolicited query shows it is reachable
   * again; meanwhile its liveness pings go without `ro`, so that reachable nodes learn of it.
   * `false` keeps it writable even while firewalled.
   * @default 'auto'
   * @see BEP 43
   */
  readonly readOnly?: boolean | 'auto';
  /**
   * Refuse to store peers and items for a querier whose id does not match its public IP
   * (answered with error 201); loopback and private addresses are exempt. Routing tolerates
   * such nodes either way.
   * @default true
   * @see BEP 42
   */
  readonly enforceSecureIds?: boolean;
  /**
   * Most inbound queries waiting on storage at once (both families together): one more is
   * answered 202 at once and counted in `stats().storage.refused`. Bounds the memory a flood can
   * pin while the registry is slow or stalled.
   * @default 256
   */
  readonly maxStorageWaiting?: number;
  /**
   * Longest an inbound query waits on storage, in ms; then it is answered 202 and counted in
   * `stats().storage.timedOut`.
   * @default 1000
   */
  readonly storageTimeoutMs?: Milliseconds;
  /** Client version `v` on outgoing messages (4 bytes by convention); `null` for none. @default "NA" 0x00 0x01 */
  readonly version?: Uint8Array | null;
  /**
   * Where stored peers and items live (shared, not owned: `close()` leaves it open).
   * @default a MemoryRegistry bounded by `storage.maxEntries` / `storage.maxBytes`, created and
   *   closed by the node
   */
  readonly registry?: Registry<Uint8Array>;
  /** Expiry and bounds of stored peers and items. */
  readonly storage?: KadNodeStorageOptions;
  /**
   * The datagram transport (for example a `MemoryNetwork` transport in tests). An injected
   * transport is not owned: `close()` leaves it open. @default a UDP socket on `host:port`
   */
  readonly transport?: Transport;
  /** Source of time and timers. @default systemClock */
  readonly clock?: Clock;
  /** How often the write-token secret rotates, in ms. @default 300_000 (5 minutes) */
  readonly tokenRotateMs?: Milliseconds;
  /** Deadline of the bootstrap round (`find_node` to the bootstrap nodes) of each join attempt, in ms. @default 5000 */
  readonly bootstrapTimeoutMs?: Milliseconds;
  /** RPC tuning: timeouts, retries, in-flight caps, pacing and inbound rate limits. */
  readonly rpc?: Omit<RpcOptions, 'clientVersion' | 'readOnly'>;
  /** Aborts start-up (reading the saved state, binding the socket): `createNode` rejects with `signal.reason`. */
  readonly signal?: AbortSignal;
  /**
   * Directory where the node keeps its state across restarts: its id, its routing table(s)
   * (contacts per family with the time each was last seen) and what it publishes with its
   * schedule, in `<stateDir>/kad-state.json`. Read at start: the node takes the saved id (unless
   * `id` is given: a file of another id is set aside) and contacts, and joins through them
   * instead of its `bootstrap` nodes, which it asks only if none of them answers. Written
   * atomically (temporary file, fsync, rename) every `stateSaveIntervalMs`, once joined, and on
   * `close()`. A file that cannot be used is renamed aside (`kad-state.json.<reason>-<time>`) and
   * reported by a `state:discarded` event; the node then starts afresh. One directory per node.
   * @default none: nothing is saved
   */
  readonly stateDir?: string;
  /**
   * Where the state goes instead of a `stateDir` (for example a `MemoryStateStore` from
   * `nautilus/testing`); not both. @default a `FileStateStore` on `stateDir` when it is given
   */
  readonly stateStore?: StateStore;
  /**
   * How often the state is written while the node runs, ms (it is also written once joined and
   * on `close()`). Ignored without `stateDir` or `stateStore`.
   * @default 60_000 (1 minute)
   */
  readonly stateSaveIntervalMs?: Milliseconds;
  /**
   * Background upkeep on the node's clock: bucket refresh and liveness pings, republishing what
   * the node published, replicating what it stores for others, the firewall check (see
   * {@link MaintenanceOptions}).
   */
  readonly maintenance?: MaintenanceOptions;
  /**
   * Hole punching (a Nautilus KRPC extension, `node.punch()`): serving as a rendezvous, acting on
   * introductions, and the bounds of both (see {@link HolePunchOptions}).
   */
  readonly holePunch?: HolePunchOptions;
  /**
   * Source of the node's random bytes: its id (when none is given or restored), its write-token
   * secrets and the random targets of bucket refreshes. A seeded source makes a whole simulated
   * network reproducible (`simulate()` in `nautilus/testing` passes one); it also makes tokens
   * predictable, so leave it out outside simulations.
   * @default crypto.getRandomValues / crypto.randomBytes
   */
  readonly randomBytes?: (size: number) => Uint8Array;
  /**
   * Map the node's UDP port on the home router so that it is reachable behind a NAT: `'auto'`
   * tries NAT-PMP, then UPnP-IGD; `'natpmp'` / `'upnp'` only that one; `'off'` none. The mapping
   * asks for the node's own port, is renewed at half its lease on the node's clock, deleted on
   * `close()`, and counts (`reachability() === 'mapped'`) only once a contact's dial-back shows it
   * from outside (docs/nat.md). IPv4 only. An absent or refusing router yields a `failed` mapping
   * within `portMappingOptions.timeoutMs` per protocol, retried every `retryMs`.
   * @default 'off' (`nautilus start` uses 'auto')
   */
  readonly portMapping?: PortMappingMode;
  /** Lease, deadline and retry of port mapping ({@link PortMappingOptions}). */
  readonly portMappingOptions?: PortMappingOptions;
  /**
   * Makes the client of each port-mapping protocol (tests inject faulty ones).
   * @default an adapter over `@silentbot1/nat-api`
   */
  readonly portMapper?: PortMapperFactory;
}

/**
 * What a node stores for others: expiry and per-info-hash bounds ({@link KadStorageOptions}),
 * and the bounds of the in-memory registry the node creates when no `registry` is given.
 */
export interface KadNodeStorageOptions extends KadStorageOptions {
  /**
   * Most records of the default in-memory registry (ignored when `registry` is given). Below
   * `maxInfoHashes + maxItems`, the registry's own LRU may evict one kind for the other.
   * @default maxInfoHashes + maxItems (50_000)
   */
  readonly maxEntries?: number;
  /**
   * Most bytes (keys + values) of the default in-memory registry (ignored when `registry` is
   * given); `Infinity` for no bound.
   * @default maxPeerBytes + maxItemBytes (33_554_432, 32 MiB)
   */
  readonly maxBytes?: number;
}

/** Defaults of {@link KadNodeStorageOptions}. */
export const DEFAULT_KAD_NODE_STORAGE_OPTIONS = Object.freeze({
  ...DEFAULT_KAD_STORAGE_OPTIONS,
  maxEntries: DEFAULT_KAD_STORAGE_OPTIONS.maxInfoHashes + DEFAULT_KAD_STORAGE_OPTIONS.maxItems,
  maxBytes: DEFAULT_KAD_STORAGE_OPTIONS.maxPeerBytes + DEFAULT_KAD_STORAGE_OPTIONS.maxItemBytes,
} satisfies Required<KadNodeStorageOptions>);

/**
 * Defaults of the scalar {@link KadNodeOptions}; those of the layers the node composes are
 * theirs (`version` is the RPC layer's `clientVersion`, `tokenRotateMs` the write tokens'
 * `rotateMs`, `enforceSecureIds` the query handlers', `k` the routing table's).
 */
export const DEFAULT_KAD_NODE_OPTIONS = Object.freeze({
  host: '0.0.0.0',
  port: 0,
  host6: '::',
  port6: 0,
  k: DEFAULT_ROUTING_TABLE_OPTIONS.k,
  readOnly: 'auto',
  portMapping: 'off',
  enforceSecureIds: DEFAULT_QUERY_HANDLERS_OPTIONS.enforceSecureIds,
  maxStorageWaiting: DEFAULT_QUERY_HANDLERS_OPTIONS.maxStorageWaiting,
  storageTimeoutMs: DEFAULT_QUERY_HANDLERS_OPTIONS.storageTimeoutMs,
  version: DEFAULT_RPC_OPTIONS.clientVersion,
  tokenRotateMs: DEFAULT_WRITE_TOKEN_OPTIONS.rotateMs,
  bootstrapTimeoutMs: 5000,
  bootstrapRetryMs: 1000,
  bootstrapRetryMaxMs: 60_000,
});

/** Most bootstrap contacts used at start, per family. */
export const MAX_BOOTSTRAP_CONTACTS = 32;

/** Validates `options` once; every message names the option. @internal */
export function checkNodeOptions(options: KadNodeOptions): void {
  if (typeof options !== 'object' || options === null) throw optionError('options', 'an object', options);
  const { host, port, host6, port6, bootstrap, id, k, version } = options;
  const d = DEFAULT_KAD_NODE_OPTIONS;
  if (host !== undefined && (typeof host !== 'string' || familyOf(host) === undefined)) {
    throw optionError('host', 'an IPv4 or IPv6 literal', host);
  }
  if (host6 !== undefined && (typeof host6 !== 'string' || familyOf(host6) !== 6)) {
    throw optionError('host6', 'an IPv6 literal', host6);
  }
  integerInRange('port', port, d.port, 0, 65535);
  integerInRange('port6', port6, d.port6, 0, 65535);
  if (wantsIpv6Socket(options) && options.transport === undefined && host !== undefined && familyOf(host) === 6) {
    throw optionError(
      'host',
      'IPv4 when host6, port6 or transport6 is given: a dual-stack node needs an IPv4 host',
      host,
    );
  }
  if (bootstrap !== undefined) {
    if (!Array.isArray(bootstrap))
      throw optionError('bootstrap', 'an array of { host, port } or "host:port"', bootstrap);
    for (const b of bootstrap as unknown[]) {
      if (typeof b === 'string') parseBootstrapString(b, 'bootstrap');
      else checkEndpoint(b, 'bootstrap');
    }
  }
  if (options.randomBytes !== undefined && typeof options.randomBytes !== 'function') {
    throw optionError('randomBytes', 'a function (size) => Uint8Array', options.randomBytes);
  }
  if (options.resolver !== undefined && typeof options.resolver !== 'function') {
    throw optionError('resolver', 'a function (hostname) => Promise<string[]>', options.resolver);
  }
  resolveLookupOptions(options.lookup);
  resolvePortMappingOptions(options);
  if (id !== undefined && !isNodeId(id)) throw optionError('id', 'a 20-byte Uint8Array', id);
  integerInRange('k', k, d.k, 1, 64);
  const { readOnly } = options;
  if (readOnly !== undefined && readOnly !== 'auto' && typeof readOnly !== 'boolean') {
    throw optionError('readOnly', 'a boolean or "auto"', readOnly);
  }
  boolean('enforceSecureIds', options.enforceSecureIds, d.enforceSecureIds);
  if (version !== undefined && version !== null && !(version instanceof Uint8Array)) {
    throw optionError('version', 'a Uint8Array or null', version);
  }
  integerAtLeast('bootstrapTimeoutMs', options.bootstrapTimeoutMs, d.bootstrapTimeoutMs, 1);
  integerAtLeast('tokenRotateMs', options.tokenRotateMs, d.tokenRotateMs, 1);
  integerAtLeast('maxStorageWaiting', options.maxStorageWaiting, d.maxStorageWaiting, 1);
  positiveNumber('storageTimeoutMs', options.storageTimeoutMs, d.storageTimeoutMs, ' of ms');
  integerAtLeast('bootstrapRetryMs', options.bootstrapRetryMs, d.bootstrapRetryMs, 1);
  integerAtLeast('bootstrapRetryMaxMs', options.bootstrapRetryMaxMs, d.bootstrapRetryMaxMs, 1);
  for (const [name, value, contract, method] of [
    ['transport', options.transport, 'Transport', 'send'],
    ['transport6', options.transport6, 'Transport', 'send'],
    ['clock', options.clock, 'Clock', 'setTimeout'],
    ['registry', options.registry, 'Registry', 'get'],
  ] as const) {
    if (value !== undefined) implementing(name, value, contract, method);
  }
  if (options.stateDir !== undefined && (typeof options.stateDir !== 'string' || options.stateDir.length === 0)) {
    throw optionError('stateDir', 'a non-empty directory path', options.stateDir);
  }
  if (options.stateStore !== undefined) {
    implementing('stateStore', options.stateStore, 'StateStore', 'write');
    if (options.stateDir !== undefined) throw optionError('stateStore', 'absent when stateDir is given');
  }
  const s = DEFAULT_KAD_NODE_STATE_OPTIONS;
  integerAtLeast('stateSaveIntervalMs', options.stateSaveIntervalMs, s.stateSaveIntervalMs, 1);
  resolveMaintenanceOptions(options.maintenance);
  resolveHolePunchOptions(options.holePunch);
  const storage = options.storage ?? {};
  const ds = DEFAULT_KAD_NODE_STORAGE_OPTIONS;
  integerAtLeast('storage.maxEntries', storage.maxEntries, ds.maxEntries, 1);
  positiveOrInfinite('storage.maxBytes', storage.maxBytes, ds.maxBytes);
  // the budgets bound the default registry too, so they are checked before it is made
  integerAtLeast('storage.maxInfoHashes', storage.maxInfoHashes, ds.maxInfoHashes, 1);
  integerAtLeast('storage.maxItems', storage.maxItems, ds.maxItems, 1);
  positiveOrInfinite('storage.maxPeerBytes', storage.maxPeerBytes, ds.maxPeerBytes);
  positiveOrInfinite('storage.maxItemBytes', storage.maxItemBytes, ds.maxItemBytes);
}

/** Whether `options` ask for a second, IPv6 transport (a dual-stack node). @internal */
export function wantsIpv6Socket(options: KadNodeOptions): boolean {
  return options.host6 !== undefined || options.port6 !== undefined || options.transport6 !== undefined;
}

/** Checks an endpoint argument (`name` for the message). @internal */
export function checkEndpoint(value: unknown, name: string, code: 'option' | 'address' = 'option'): Endpoint {
  const e = value as Partial<Endpoint> | null;
  if (
    typeof e !== 'object' ||
    e === null ||
    typeof e.host !== 'string' ||
    familyOf(e.host) === undefined ||
    !Number.isInteger(e.port) ||
    (e.port ?? 0) < 1 ||
    (e.port ?? 0) > 65535
  ) {
    const expected = '{ host: IP literal, port: 1..65535 }';
    throw code === 'option'
      ? optionError(name, expected, value)
      : KadError.invalidAddress(`${name} must be ${expected}`);
  }
  return { host: e.host, port: e.port as number };
}

/** The port-mapping settings of `options`, validated. @internal */
export function resolvePortMappingOptions(options: KadNodeOptions): Required<PortMappingOptions> & {
  mode: PortMappingMode;
} {
  const mode = options.portMapping ?? DEFAULT_KAD_NODE_OPTIONS.portMapping;
  if (!['auto', 'upnp', 'natpmp', 'off'].includes(mode)) {
    throw optionError('portMapping', '"auto", "upnp", "natpmp" or "off"', mode);
  }
  if (options.portMapper !== undefined && typeof options.portMapper !== 'function') {
    throw optionError('portMapper', 'a function (protocol) => PortMapper', options.portMapper);
  }
  const o = options.portMappingOptions ?? {};
  const d = DEFAULT_PORT_MAPPING_OPTIONS;
  return {
    mode,
    lifetimeMs: integerAtLeast('portMappingOptions.lifetimeMs', o.lifetimeMs, d.lifetimeMs, 2000),
    timeoutMs: integerAtLeast('portMappingOptions.timeoutMs', o.timeoutMs, d.timeoutMs, 1),
    retryMs: integerAtLeast('portMappingOptions.retryMs', o.retryMs, d.retryMs, 1),
  };
}
