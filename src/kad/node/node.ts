import { type Clock, systemClock } from '../../core/clock.js';
import { Emitter } from '../../core/emitter.js';
import { MemoryRegistry } from '../../registry/memory/memory-registry.js';
import type { Registry } from '../../registry/registry.js';
import { type AddressFamily, type Contact } from '../wire/compact.js';
import { KadError } from '../errors.js';
import { QueryHandlers } from '../serve/handlers.js';
import { assertNodeId, compareDistance, type NodeId, randomId } from '../id.js';
import {
  checkNodeOptions,
  DEFAULT_KAD_NODE_OPTIONS,
  DEFAULT_KAD_NODE_STORAGE_OPTIONS,
  type KadNodeOptions,
  wantsIpv6Socket,
} from './options.js';
import { FamilyStack } from './family-stack.js';
import { resolveLookupOptions } from '../lookup/options.js';
import { systemResolver } from './bootstrap-entries.js';
import { DhtOperations } from './dht-operations.js';
import { Join } from './join.js';
import { type Publication, Publications } from './publications.js';
import { HolePunch } from './hole-punch.js';
import { DirectQueries } from './direct-queries.js';
import { resolveHolePunchOptions } from './hole-punch-options.js';
import { NatSupport } from './nat-support.js';
import type { ReachabilityReport } from './reachability.js';
import { Maintenance } from './maintenance.js';
import { newMaintenanceCounters } from './maintenance-context.js';
import { resolveMaintenanceOptions } from './maintenance-options.js';
import type { KadNodeEvents } from './operation-types.js';
import { optionError } from '../option-checks.js';
import { DEFAULT_KAD_NODE_STATE_OPTIONS, NodePersistence, openState } from './persistence.js';
import type { FindNodeResult, GetItemResult, GetPeersResult, KadFamilyStats, KadNode, KadNodeStats } from './types.js';
import type { RpcStats } from '../rpc/stats.js';
import { KadStorage } from '../serve/storage.js';
import { WriteTokens } from '../serve/tokens.js';
import type { Endpoint, RemoteInfo, Transport } from '../transport/transport.js';
import { createUdpTransport } from '../transport/udp-transport.js';

// the node's public types live in types.ts; KadNode is re-exported for convenience
export type { KadNode } from './types.js';

/**
 * Starts a Mainline DHT node that listens on `host:port` (or an injected transport) and answers
 * every query (BEP 5, 32, 43, 44). With `host6`, `port6` or `transport6` it also listens on IPv6
 * and runs both families (BEP 32 dual stack). Resolves once it listens; bootstrapping runs in the
 * background (`node.bootstrapped`).
 *
 * @throws {KadError} `INVALID_OPTION` naming a bad option; `INVALID_ADDRESS` when binding fails.
 * @example
 * const node = await createNode({ host: '127.0.0.1', port: 0, host6: '::1', port6: 0, bootstrap: [] });
 * console.log(node.addresses()); // [{ host: '127.0.0.1', … family: 4 }, { host: '::1', … family: 6 }]
 * await node.close();
 */
export async function createNode(options: KadNodeOptions = {}): Promise<KadNode> {
  checkNodeOptions(options);
  const { signal } = options;
  signal?.throwIfAborted();
  const clock = options.clock ?? systemClock;
  // the saved state first: it decides the id, and nothing is bound yet if reading it is aborted
  const state = await openState(options, clock, signal);
  const owned: Transport[] = [];
  const open = async (host: string, port: number): Promise<Transport> => {
    const transport = await createUdpTransport({ host, port, ...(signal === undefined ? {} : { signal }) });
    owned.push(transport);
    return transport;
  };
  try {
    const first =
      options.transport ??
      (await open(options.host ?? DEFAULT_KAD_NODE_OPTIONS.host, options.port ?? DEFAULT_KAD_NODE_OPTIONS.port));
    const transports = [first];
    if (wantsIpv6Socket(options)) {
      const second =
        options.transport6 ??
        (await open(options.host6 ?? DEFAULT_KAD_NODE_OPTIONS.host6, options.port6 ?? DEFAULT_KAD_NODE_OPTIONS.port6));
      if (first.address().family !== 4) {
        throw optionError(
          'transport',
          'IPv4 when host6, port6 or transport6 is given: a dual-stack node needs an IPv4 first transport',
        );
      }
      if (second.address().family !== 6) {
        throw optionError('transport6', 'an IPv6 transport, whose address().family is 6', second.address().family);
      }
      transports.push(second);
    }
    return new Node(options, clock, transports, owned, state);
  } catch (error) {
    // a bad option found late (a transport's family, rpc, storage): release the sockets we opened
    await Promise.all(owned.map((t) => t.close()));
    throw error;
  }
}

class Node extends Emitter<KadNodeEvents> implements KadNode {
  readonly id: NodeId;
  readonly bootstrapped: Promise<number>;
  readonly ready: Promise<void>;
  readonly #dht: DhtOperations;
  /** One per family, the first transport's first; at most two. */
  readonly #stacks: FamilyStack[];
  readonly #storage: KadStorage;
  readonly #handlers: QueryHandlers;
  /** The in-memory registry this node created because none was injected; closed with the node. */
  readonly #ownRegistry: Registry<Uint8Array> | undefined;
  readonly #lifetime = new AbortController();
  readonly #persistence: NodePersistence | undefined;
  /** What this node published (put, putMutable, announce), for republishing and saving. */
  readonly #publications: Publications;
  readonly #maintenance: Maintenance;
  readonly #holePunch: HolePunch;
  readonly #direct: DirectQueries;
  readonly #nat: NatSupport;
  #closed = false;

  constructor(
    options: KadNodeOptions,
    clock: Clock,
    transports: readonly Transport[],
    owned: readonly Transport[],
    state?: Awaited<ReturnType<typeof openState>>,
  ) {
    super();
    const saved = state?.loaded.kind === 'restored' ? state.loaded.state : undefined;
    this.id = options.id === undefined ? (saved?.id ?? randomId(options.randomBytes)) : Uint8Array.from(options.id);
    const k = options.k ?? DEFAULT_KAD_NODE_OPTIONS.k;
    // 'auto' starts writable; maintenance turns `ro` on while the node is firewalled (BEP 43)
    const readOnlyMode = options.readOnly ?? DEFAULT_KAD_NODE_OPTIONS.readOnly;
    const readOnly = readOnlyMode === true;
    const maintenance = resolveMaintenanceOptions(options.maintenance);
    const counters = newMaintenanceCounters(readOnly);
    const holePunch = resolveHolePunchOptions(options.holePunch);
    const nat = new NatSupport({
      id: this.id,
      clock,
      options,
      firewallCheckMs: maintenance.enabled ? maintenance.firewallCheckMs : Infinity,
      lifetime: this.#lifetime.signal,
      randomBytes: options.randomBytes ?? ((size) => crypto.getRandomValues(new Uint8Array(size))),
      onFirewall: (firewalled) => {
        counters.firewalled = firewalled;
        this.emit('firewall:changed', { firewalled, readOnly: counters.readOnly });
      },
      onReachability: (event) => {
        // 'auto': read-only (BEP 43) exactly while firewalled; a verified mapping makes it writable
        if (readOnlyMode === 'auto') {
          const ro = event.report.reachability === 'firewalled';
          counters.readOnly = ro;
          for (const stack of this.#stacks) stack.rpc.setReadOnly(ro);
        }
        this.emit('reachability:changed', event);
      },
    });
    this.#nat = nat;
    const watch = nat.watch;
    // the stacks tell the reachability tracker of their traffic, and hole punching of read-only queriers
    const tracker = nat.observer;
    const observer = {
      sent: (to: Endpoint) => tracker.sent(to),
      queried: (from: RemoteInfo) => tracker.queried(from),
      unheldQuerier: (id: NodeId, from: RemoteInfo) => this.#holePunch.unheldQuerier(id, from),
    };
    // options that validate themselves first, before anything listens on a transport
    const tokens = new WriteTokens(
      { rotateMs: options.tokenRotateMs ?? DEFAULT_KAD_NODE_OPTIONS.tokenRotateMs },
      options.randomBytes === undefined ? { clock } : { clock, randomBytes: options.randomBytes },
    );
    // the one place kad picks a registry backend: a node stores in memory unless given a registry
    const registry = options.registry ?? new MemoryRegistry(defaultRegistryBounds(options.storage), { clock });
    this.#ownRegistry = options.registry === undefined ? registry : undefined;
    const rpc = {
      ...options.rpc,
      readOnly,
      clientVersion: options.version === undefined ? DEFAULT_KAD_NODE_OPTIONS.version : options.version,
    };
    const ping = (contact: Contact, signal: AbortSignal): Promise<boolean> =>
      this.ping(contact, { signal }).then(
        () => true,
        () => false,
      );
    this.#stacks = [];
    // a restarted node carries on with what it published before (its next due times included)
    this.#publications =
      (state?.loaded.kind === 'restored' ? state.loaded.publications : undefined) ??
      new Publications(maintenance, { clock });
    try {
      this.#storage = new KadStorage(options.storage, { clock, registry });
      for (const transport of transports) {
        const ownsTransport = owned.includes(transport);
        this.#stacks.push(new FamilyStack({ id: this.id, k, transport, ownsTransport, clock, rpc, ping, observer }));
      }
    } catch (error) {
      for (const stack of this.#stacks) void stack.rpc.close();
      void this.#ownRegistry?.close();
      throw error;
    }
    this.#holePunch = new HolePunch({
      id: this.id,
      clock,
      stacks: this.#stacks,
      tokens,
      lifetime: this.#lifetime.signal,
      options: holePunch,
      sentRecently: (host) => watch.sentRecently(host),
    });
    this.#direct = new DirectQueries({
      id: this.id,
      stackOf: (family) => this.#stack(family),
      holePunch: this.#holePunch,
      isClosed: () => this.#closed,
    });
    const handlers = new QueryHandlers(
      {
        extensions: this.#holePunch.extensions(),
        id: this.id,
        storage: this.#storage,
        tokens,
        closest: (target, family, count) => this.#stack(family)?.closest(target, count) ?? [],
        closestNodes: (target, family, count) => this.#stack(family)?.closestCompact(target, count),
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
    this.#handlers = handlers;
    for (const stack of this.#stacks) stack.serve(handlers, readOnly);
    const lifetime = this.#lifetime.signal;
    this.#dht = new DhtOperations({
      id: this.id,
      k,
      clock,
      stacks: this.#stacks,
      lifetime,
      options: resolveLookupOptions(options.lookup),
      randomBytes: options.randomBytes,
    });
    this.#persistence =
      state === undefined
        ? undefined
        : new NodePersistence({
            ...state,
            clock,
            intervalMs: options.stateSaveIntervalMs ?? DEFAULT_KAD_NODE_STATE_OPTIONS.stateSaveIntervalMs,
            id: this.id,
            stacks: this.#stacks,
            publications: this.#publications,
            emit: (event, payload) => this.emit(event, payload),
          });
    const restored = this.#persistence?.restore() ?? 0;
    const defaults = DEFAULT_KAD_NODE_OPTIONS;
    const bootstrap = options.bootstrap ?? [];
    const retryMs = options.bootstrapRetryMs ?? defaults.bootstrapRetryMs;
    const retryMaxMs = Math.max(options.bootstrapRetryMaxMs ?? defaults.bootstrapRetryMaxMs, retryMs);
    // a re-join after the network came back goes to the bootstrap nodes: the table is still there
    const joinThrough = (signal: AbortSignal, warm: boolean): Join =>
      new Join(bootstrap, {
        id: this.id,
        stacks: this.#stacks,
        clock,
        lifetime: signal,
        resolver: options.resolver ?? systemResolver,
        timeoutMs: options.bootstrapTimeoutMs ?? defaults.bootstrapTimeoutMs,
        retryMs,
        retryMaxMs,
        selfLookup: (seeds, responded, s, onEvent, onStart) =>
          this.#dht.selfLookup(seeds, responded, s, onEvent, onStart),
        onRetry: (event) => this.emit('bootstrap:retry', event),
        warm,
      });
    const join = joinThrough(lifetime, restored > 0);
    this.bootstrapped = join.bootstrapped;
    this.ready = join.ready;
    this.#maintenance = new Maintenance(
      {
        id: this.id,
        k,
        clock,
        stacks: this.#stacks,
        lifetime,
        dht: this.#dht,
        publications: this.#publications,
        storage: this.#storage,
        options: maintenance,
        counters,
        emit: (event, payload) => this.emit(event, payload),
        rejoin: bootstrap.length === 0 ? undefined : (signal) => joinThrough(signal, false).ready,
        retryMs,
        retryMaxMs,
        probeWritable: () => readOnlyMode === 'auto' && counters.firewalled,
        randomBytes: options.randomBytes,
      },
      watch,
    );
    nat.start(this.#stack(4), this.ready);
    if (this.#persistence !== undefined) {
      const persistence = this.#persistence;
      persistence.start(restored);
      // once joined the table is worth keeping: save it then rather than a minute later
      this.ready.then(
        () => persistence.save(),
        () => undefined,
      );
    }
  }

  address(): RemoteInfo {
    return this.#first.transport.address();
  }

  addresses(): RemoteInfo[] {
    return this.#stacks.map((stack) => stack.transport.address());
  }

  externalAddress(family: AddressFamily = this.#first.family): RemoteInfo | undefined {
    return this.#stack(family)?.external.current();
  }

  stats(): KadNodeStats {
    const families: Partial<Record<AddressFamily, KadFamilyStats>> = {};
    let total: KadFamilyStats | undefined;
    for (const stack of this.#stacks) {
      const own = stack.stats();
      families[stack.family] = own;
      total = total === undefined ? own : sumStats(total, own);
    }
    return {
      ...(total ?? this.#first.stats()),
      families,
      storage: this.#handlers.storageStats(),
      maintenance: this.#maintenance.stats(),
      reachability: this.#nat.report(),
    };
  }

  reachability(): ReachabilityReport {
    return this.#nat.report();
  }

  contacts(
    target: NodeId = this.id,
    count = Number.MAX_SAFE_INTEGER,
    options: { family?: AddressFamily; includeBad?: boolean } = {},
  ): Contact[] {
    assertNodeId(target, 'target');
    const includeBad = options.includeBad ?? false;
    if (options.family !== undefined) return this.#stack(options.family)?.closest(target, count, includeBad) ?? [];
    if (this.#stacks.length === 1) return this.#first.closest(target, count, includeBad);
    const all = this.#stacks.flatMap((stack) => stack.closest(target, count, includeBad));
    return all.sort((a, b) => compareDistance(target, a.id, b.id)).slice(0, count);
  }

  ping(...args: Parameters<KadNode['ping']>): Promise<Contact> {
    return this.#direct.ping(...args);
  }

  findNode(...args: Parameters<KadNode['findNode']>): Promise<FindNodeResult> {
    return this.#direct.findNode(...args);
  }

  getPeers(...args: Parameters<KadNode['getPeers']>): Promise<GetPeersResult> {
    return this.#direct.getPeers(...args);
  }

  announcePeer(...args: Parameters<KadNode['announcePeer']>): Promise<void> {
    return this.#direct.announcePeer(...args);
  }

  getItem(...args: Parameters<KadNode['getItem']>): Promise<GetItemResult> {
    return this.#direct.getItem(...args);
  }

  putItem(...args: Parameters<KadNode['putItem']>): Promise<void> {
    return this.#direct.putItem(...args);
  }

  punch(...args: Parameters<KadNode['punch']>): ReturnType<KadNode['punch']> {
    if (this.#closed) return Promise.reject(KadError.closed('node'));
    return this.#holePunch.punch(...args);
  }

  // the DHT operations (lookups across the network) live in dht-operations.ts
  query(...args: Parameters<KadNode['query']>): ReturnType<KadNode['query']> {
    return this.#dht.query(...args);
  }

  lookup(...args: Parameters<KadNode['lookup']>): ReturnType<KadNode['lookup']> {
    return this.#dht.lookup(...args);
  }

  get(...args: Parameters<KadNode['get']>): ReturnType<KadNode['get']> {
    return this.#dht.get(...args);
  }

  getMutable(...args: Parameters<KadNode['getMutable']>): ReturnType<KadNode['getMutable']> {
    return this.#dht.getMutable(...args);
  }

  // what put, putMutable and announce stored is recorded, to be republished (publications.ts)
  async put(...args: Parameters<KadNode['put']>): ReturnType<KadNode['put']> {
    const result = await this.#dht.put(...args);
    if (!this.#closed) this.#publications.addItem(result.item);
    return result;
  }

  async putMutable(...args: Parameters<KadNode['putMutable']>): ReturnType<KadNode['putMutable']> {
    const result = await this.#dht.putMutable(...args);
    if (!this.#closed) this.#publications.addItem(result.item);
    return result;
  }

  async announce(...args: Parameters<KadNode['announce']>): ReturnType<KadNode['announce']> {
    const [infoHash, options = {}] = args;
    const result = await this.#dht.announce(infoHash, options);
    if (!this.#closed) this.#publications.addAnnouncement(infoHash, options.port ?? 0, options.impliedPort ?? false);
    return result;
  }

  unpublish(target: NodeId): boolean {
    assertNodeId(target, 'target');
    return this.#publications.removeItem(target);
  }

  stopAnnouncing(infoHash: NodeId): boolean {
    assertNodeId(infoHash, 'infoHash');
    return this.#publications.removeAnnouncement(infoHash);
  }

  published(): Publication[] {
    return this.#publications.all();
  }

  findPeers(...args: Parameters<KadNode['findPeers']>): ReturnType<KadNode['findPeers']> {
    return this.#dht.findPeers(...args);
  }

  getPeersOf(...args: Parameters<KadNode['getPeersOf']>): ReturnType<KadNode['getPeersOf']> {
    return this.#dht.getPeersOf(...args);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#maintenance.stop();
    // the mapping goes first, while the socket it names still exists
    await this.#nat.close();
    this.#lifetime.abort(KadError.closed('node'));
    // the last word on the table, before the stacks stop
    await this.#persistence?.close();
    await Promise.all(this.#stacks.map((stack) => stack.close()));
    await this.#ownRegistry?.close();
  }

  get #first(): FamilyStack {
    return this.#stacks[0] as FamilyStack;
  }

  #stack(family: AddressFamily | undefined): FamilyStack | undefined {
    for (const stack of this.#stacks) if (stack.family === family) return stack;
    return undefined;
  }
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

/** Counters of two families added up. */
function sumStats(a: KadFamilyStats, b: KadFamilyStats): KadFamilyStats {
  return {
    contacts: a.contacts + b.contacts,
    rpc: sumCounters(a.rpc, b.rpc),
    transport: sumCounters(a.transport, b.transport),
  };
}

/** Field-wise sum of two counter records of the same shape (nested records included). */
function sumCounters<T extends RpcStats | KadFamilyStats['transport']>(a: T, b: T): T {
  const add = (x: unknown, y: unknown): unknown => {
    if (typeof x === 'number') return x + (typeof y === 'number' ? y : 0);
    if (typeof x !== 'object' || x === null) return x;
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(x)) out[key] = add(value, (y as Record<string, unknown>)[key]);
    return out;
  };
  return add(a, b) as T;
}
