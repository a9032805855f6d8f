import type { Clock } from '../../core/clock.js';
import { MemoryRegistry } from '../../registry/memory/memory-registry.js';
import type { Registry } from '../../registry/registry.js';
import { randomId, type NodeId } from '../id.js';
import { resolveLookupOptions } from '../lookup/options.js';
import { QueryHandlers } from '../serve/handlers.js';
import { KadStorage } from '../serve/storage.js';
import { WriteTokens } from '../serve/tokens.js';
import type { Endpoint, RemoteInfo, Transport } from '../transport/transport.js';
import type { AddressFamily, Contact } from '../wire/compact.js';
import { systemResolver } from './bootstrap-entries.js';
import { DhtOperations } from './dht-operations.js';
import { DirectQueries } from './direct-queries.js';
import { FamilyStack, stackFor } from './family-stack.js';
import { HolePunch } from './hole-punch.js';
import { resolveHolePunchOptions } from './hole-punch-options.js';
import { Join } from './join.js';
import { Maintenance } from './maintenance.js';
import { newMaintenanceCounters } from './maintenance-context.js';
import { resolveMaintenanceOptions } from './maintenance-options.js';
import { NatSupport } from './nat-support.js';
import type { KadNodeEvents } from './operation-types.js';
import { DEFAULT_KAD_NODE_OPTIONS, DEFAULT_KAD_NODE_STORAGE_OPTIONS, type KadNodeOptions } from './options.js';
import { DEFAULT_KAD_NODE_STATE_OPTIONS, NodePersistence, type openState } from './persistence.js';
import { Publications } from './publications.js';

/** What the parts of a node call back on it (its events, its ping, whether it closed). @internal */
export interface NodeHost {
  readonly emit: <E extends keyof KadNodeEvents>(event: E, payload: KadNodeEvents[E]) => void;
  readonly ping: (contact: Contact, options: { signal: AbortSignal }) => Promise<unknown>;
  readonly isClosed: () => boolean;
}

/** What a node is built from (see {@link wireNode}). @internal */
export interface NodeInit {
  readonly options: KadNodeOptions;
  readonly clock: Clock;
  /** One per family, the IPv4 one first; at most two. */
  readonly transports: readonly Transport[];
  /** The transports the node opened itself, and closes with it. */
  readonly owned: readonly Transport[];
  readonly state: Awaited<ReturnType<typeof openState>> | undefined;
  /** Aborted when the node closes. */
  readonly lifetime: AbortSignal;
}

/** The parts of a running node, wired together (see {@link wireNode}). @internal */
export interface NodeParts {
  readonly id: NodeId;
  /** One per family, the first transport's first. */
  readonly stacks: FamilyStack[];
  readonly handlers: QueryHandlers;
  /** The in-memory registry made because none was injected; closed with the node. */
  readonly ownRegistry: Registry<Uint8Array> | undefined;
  /** What the node published (put, putMutable, announce), for republishing and saving. */
  readonly publications: Publications;
  readonly holePunch: HolePunch;
  readonly direct: DirectQueries;
  readonly nat: NatSupport;
  readonly dht: DhtOperations;
  readonly persistence: NodePersistence | undefined;
  readonly maintenance: Maintenance;
  readonly bootstrapped: Promise<number>;
  readonly ready: Promise<void>;
}

/**
 * Builds and starts the parts of a node from its options, once its transports are open: its id
 * (given, saved or random), one RPC stack and routing table per family, storage and the query
 * handlers, NAT support, hole punching, direct queries, lookups, persistence, the join (started
 * at once, in the background) and maintenance. Closes what it made if an option turns out bad.
 * @throws {KadError} `INVALID_OPTION` naming the option.
 * @internal
 */
export function wireNode(host: NodeHost, init: NodeInit): NodeParts {
  const { options, clock, transports, owned, state, lifetime } = init;
  const stackOf = (family: AddressFamily | undefined): FamilyStack | undefined => stackFor(stacks, family);
  const saved = state?.loaded.kind === 'restored' ? state.loaded.state : undefined;
  const id = options.id === undefined ? (saved?.id ?? randomId(options.randomBytes)) : Uint8Array.from(options.id);
  const k = options.k ?? DEFAULT_KAD_NODE_OPTIONS.k;
  // 'auto' starts writable; maintenance turns `ro` on while the node is firewalled (BEP 43)
  const readOnlyMode = options.readOnly ?? DEFAULT_KAD_NODE_OPTIONS.readOnly;
  const readOnly = readOnlyMode === true;
  const maintenance = resolveMaintenanceOptions(options.maintenance);
  const counters = newMaintenanceCounters(readOnly);
  const holePunchOptions = resolveHolePunchOptions(options.holePunch);
  const nat = new NatSupport({
    id,
    clock,
    options,
    firewallCheckMs: maintenance.enabled ? maintenance.firewallCheckMs : Infinity,
    lifetime,
    randomBytes: options.randomBytes ?? ((size) => crypto.getRandomValues(new Uint8Array(size))),
    onFirewall: (firewalled) => {
      counters.firewalled = firewalled;
      host.emit('firewall:changed', { firewalled, readOnly: counters.readOnly });
    },
    onReachability: (event) => {
      // 'auto': read-only (BEP 43) exactly while firewalled; a verified mapping makes it writable
      if (readOnlyMode === 'auto') {
        const ro = event.report.reachability === 'firewalled';
        counters.readOnly = ro;
        for (const stack of stacks) stack.rpc.setReadOnly(ro);
      }
      host.emit('reachability:changed', event);
    },
  });
  const watch = nat.watch;
  // the stacks tell the reachability tracker of their traffic, and hole punching of read-only queriers
  const tracker = nat.observer;
  const observer = {
    sent: (to: Endpoint) => tracker.sent(to),
    queried: (from: RemoteInfo) => tracker.queried(from),
    unheldQuerier: (querier: NodeId, from: RemoteInfo) => holePunch.unheldQuerier(querier, from),
  };
  // options that validate themselves first, before anything listens on a transport
  const tokens = new WriteTokens(
    { rotateMs: options.tokenRotateMs ?? DEFAULT_KAD_NODE_OPTIONS.tokenRotateMs },
    options.randomBytes === undefined ? { clock } : { clock, randomBytes: options.randomBytes },
  );
  // the one place kad picks a registry backend: a node stores in memory unless given a registry
  const registry = options.registry ?? new MemoryRegistry(defaultRegistryBounds(options.storage), { clock });
  const ownRegistry = options.registry === undefined ? registry : undefined;
  const rpc = {
    ...options.rpc,
    readOnly,
    clientVersion: options.version === undefined ? DEFAULT_KAD_NODE_OPTIONS.version : options.version,
  };
  const ping = (contact: Contact, signal: AbortSignal): Promise<boolean> =>
    host.ping(contact, { signal }).then(
      () => true,
      () => false,
    );
  const stacks: FamilyStack[] = [];
  // a restarted node carries on with what it published before (its next due times included)
  const publications =
    (state?.loaded.kind === 'restored' ? state.loaded.publications : undefined) ??
    new Publications(maintenance, { clock });
  let storage: KadStorage;
  try {
    storage = new KadStorage(options.storage, { clock, registry });
    for (const transport of transports) {
      const ownsTransport = owned.includes(transport);
      stacks.push(new FamilyStack({ id, k, transport, ownsTransport, clock, rpc, ping, observer }));
    }
  } catch (error) {
    for (const stack of stacks) void stack.rpc.close();
    void ownRegistry?.close();
    throw error;
  }
  const holePunch = new HolePunch({
    id,
    clock,
    stacks,
    tokens,
    lifetime,
    options: holePunchOptions,
    sentRecently: (host) => watch.sentRecently(host),
  });
  const direct = new DirectQueries({
    id,
    stackOf,
    holePunch,
    isClosed: host.isClosed,
  });
  const handlers = new QueryHandlers(
    {
      extensions: holePunch.extensions(),
      id,
      storage,
      tokens,
      closest: (target, family, count) => stackOf(family)?.closest(target, count) ?? [],
      closestNodes: (target, family, count) => stackOf(family)?.closestCompact(target, count),
      clock,
      reachability: nat.handlers,
    },
    {
      k,
      enforceSecureIds: options.enforceSecureIds ?? DEFAULT_KAD_NODE_OPTIONS.enforceSecureIds,
      maxStorageWaiting: options.maxStorageWaiting ?? DEFAULT_KAD_NODE_OPTIONS.maxStorageWaiting,
      storageTimeoutMs: options.storageTimeoutMs ?? DEFAULT_KAD_NODE_OPTIONS.storageTimeoutMs,
    },
  );
  for (const stack of stacks) stack.serve(handlers, readOnly);
  const dht = new DhtOperations({
    id,
    k,
    clock,
    stacks,
    lifetime,
    options: resolveLookupOptions(options.lookup),
    randomBytes: options.randomBytes,
  });
  const persistence =
    state === undefined
      ? undefined
      : new NodePersistence({
          ...state,
          clock,
          intervalMs: options.stateSaveIntervalMs ?? DEFAULT_KAD_NODE_STATE_OPTIONS.stateSaveIntervalMs,
          id,
          stacks,
          publications,
          emit: (event, payload) => host.emit(event, payload),
        });
  const restored = persistence?.restore() ?? 0;
  const defaults = DEFAULT_KAD_NODE_OPTIONS;
  const bootstrap = options.bootstrap ?? [];
  const retryMs = options.bootstrapRetryMs ?? defaults.bootstrapRetryMs;
  const retryMaxMs = Math.max(options.bootstrapRetryMaxMs ?? defaults.bootstrapRetryMaxMs, retryMs);
  // a re-join after the network came back goes to the bootstrap nodes: the table is still there
  const joinThrough = (signal: AbortSignal, warm: boolean): Join =>
    new Join(bootstrap, {
      id,
      stacks,
      clock,
      lifetime: signal,
      resolver: options.resolver ?? systemResolver,
      timeoutMs: options.bootstrapTimeoutMs ?? defaults.bootstrapTimeoutMs,
      retryMs,
      retryMaxMs,
      selfLookup: (seeds, responded, s, onEvent, onStart) => dht.selfLookup(seeds, responded, s, onEvent, onStart),
      onRetry: (event) => host.emit('bootstrap:retry', event),
      warm,
    });
  const join = joinThrough(lifetime, restored > 0);
  const upkeep = new Maintenance(
    {
      id,
      k,
      clock,
      stacks,
      lifetime,
      dht,
      publications,
      storage,
      options: maintenance,
      counters,
      emit: (event, payload) => host.emit(event, payload),
      rejoin: bootstrap.length === 0 ? undefined : (signal) => joinThrough(signal, false).ready,
      retryMs,
      retryMaxMs,
      probeWritable: () => readOnlyMode === 'auto' && counters.firewalled,
      randomBytes: options.randomBytes,
    },
    watch,
  );
  nat.start(stackOf(4), join.ready);
  if (persistence !== undefined) {
    persistence.start(restored);
    // once joined the table is worth keeping: save it then rather than a minute later
    join.ready.then(
      () => persistence.save(),
      () => undefined,
    );
  }
  const { bootstrapped, ready } = join;
  return {
    id,
    stacks,
    handlers,
    ownRegistry,
    publications,
    holePunch,
    direct,
    nat,
    dht,
    persistence,
    maintenance: upkeep,
    bootstrapped,
    ready,
  };
}

/**
 * Bounds of the in-memory registry a node creates: by default the sums of the storage budgets of
 * peers and items, so that the registry never evicts one kind to make room for the other.
 */
function defaultRegistryBounds(storage: KadNodeOptions['storage']): { maxEntries: number; maxBytes: number } {
  const d = DEFAULT_KAD_NODE_STORAGE_OPTIONS;
  const maxEntries = (storage?.maxInfoHashes ?? d.maxInfoHashes) + (storage?.maxItems ?? d.maxItems);
  const maxBytes = (storage?.maxPeerBytes ?? d.maxPeerBytes) + (storage?.maxItemBytes ?? d.maxItemBytes);
  return { maxEntries: storage?.maxEntries ?? maxEntries, maxBytes: storage?.maxBytes ?? maxBytes };
}
