import { type Clock, systemClock } from '../../core/clock.js';
import { Emitter } from '../../core/emitter.js';
import type { AddressFamily, Contact } from '../wire/compact.js';
import { KadError } from '../errors.js';
import { assertNodeId, compareDistance, type NodeId } from '../id.js';
import { checkNodeOptions, DEFAULT_KAD_NODE_OPTIONS, type KadNodeOptions, wantsIpv6Socket } from './options.js';
import { type FamilyStack, stackFor } from './family-stack.js';
import type { Publication } from './publications.js';
import type { ReachabilityReport } from './reachability.js';
import type { KadNodeEvents } from './operation-types.js';
import { optionError } from '../option-checks.js';
import { openState } from './persistence.js';
import { type NodeParts, wireNode } from './node-wiring.js';
import type { FindNodeResult, GetItemResult, GetPeersResult, KadFamilyStats, KadNode, KadNodeStats } from './types.js';
import type { RpcStats } from '../rpc/stats.js';
import type { RemoteInfo, Transport } from '../transport/transport.js';
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
  /** Everything the node runs on, wired by `wireNode`. */
  readonly #parts: NodeParts;
  readonly #lifetime = new AbortController();
  #closed = false;

  constructor(
    options: KadNodeOptions,
    clock: Clock,
    transports: readonly Transport[],
    owned: readonly Transport[],
    state?: Awaited<ReturnType<typeof openState>>,
  ) {
    super();
    this.#parts = wireNode(
      {
        emit: (event, payload) => this.emit(event, payload),
        ping: (contact, { signal }) => this.ping(contact, { signal }),
        isClosed: () => this.#closed,
      },
      { options, clock, transports, owned, state, lifetime: this.#lifetime.signal },
    );
    this.id = this.#parts.id;
    this.bootstrapped = this.#parts.bootstrapped;
    this.ready = this.#parts.ready;
  }

  address(): RemoteInfo {
    return this.#first.transport.address();
  }

  addresses(): RemoteInfo[] {
    return this.#parts.stacks.map((stack) => stack.transport.address());
  }

  externalAddress(family: AddressFamily = this.#first.family): RemoteInfo | undefined {
    return stackFor(this.#parts.stacks, family)?.external.current();
  }

  stats(): KadNodeStats {
    const families: Partial<Record<AddressFamily, KadFamilyStats>> = {};
    let total: KadFamilyStats | undefined;
    for (const stack of this.#parts.stacks) {
      const own = stack.stats();
      families[stack.family] = own;
      total = total === undefined ? own : sumStats(total, own);
    }
    return {
      ...(total ?? this.#first.stats()),
      families,
      storage: this.#parts.handlers.storageStats(),
      maintenance: this.#parts.maintenance.stats(),
      reachability: this.#parts.nat.report(),
    };
  }

  reachability(): ReachabilityReport {
    return this.#parts.nat.report();
  }

  contacts(
    target: NodeId = this.id,
    count = Number.MAX_SAFE_INTEGER,
    options: { family?: AddressFamily; includeBad?: boolean } = {},
  ): Contact[] {
    assertNodeId(target, 'target');
    const includeBad = options.includeBad ?? false;
    if (options.family !== undefined)
      return stackFor(this.#parts.stacks, options.family)?.closest(target, count, includeBad) ?? [];
    if (this.#parts.stacks.length === 1) return this.#first.closest(target, count, includeBad);
    const all = this.#parts.stacks.flatMap((stack) => stack.closest(target, count, includeBad));
    return all.sort((a, b) => compareDistance(target, a.id, b.id)).slice(0, count);
  }

  ping(...args: Parameters<KadNode['ping']>): Promise<Contact> {
    return this.#parts.direct.ping(...args);
  }

  findNode(...args: Parameters<KadNode['findNode']>): Promise<FindNodeResult> {
    return this.#parts.direct.findNode(...args);
  }

  getPeers(...args: Parameters<KadNode['getPeers']>): Promise<GetPeersResult> {
    return this.#parts.direct.getPeers(...args);
  }

  announcePeer(...args: Parameters<KadNode['announcePeer']>): Promise<void> {
    return this.#parts.direct.announcePeer(...args);
  }

  getItem(...args: Parameters<KadNode['getItem']>): Promise<GetItemResult> {
    return this.#parts.direct.getItem(...args);
  }

  putItem(...args: Parameters<KadNode['putItem']>): Promise<void> {
    return this.#parts.direct.putItem(...args);
  }

  punch(...args: Parameters<KadNode['punch']>): ReturnType<KadNode['punch']> {
    if (this.#closed) return Promise.reject(KadError.closed('node'));
    return this.#parts.holePunch.punch(...args);
  }

  // the DHT operations (lookups across the network) live in dht-operations.ts
  query(...args: Parameters<KadNode['query']>): ReturnType<KadNode['query']> {
    return this.#parts.dht.query(...args);
  }

  lookup(...args: Parameters<KadNode['lookup']>): ReturnType<KadNode['lookup']> {
    return this.#parts.dht.lookup(...args);
  }

  get(...args: Parameters<KadNode['get']>): ReturnType<KadNode['get']> {
    return this.#parts.dht.get(...args);
  }

  getMutable(...args: Parameters<KadNode['getMutable']>): ReturnType<KadNode['getMutable']> {
    return this.#parts.dht.getMutable(...args);
  }

  // what put, putMutable and announce stored is recorded, to be republished (publications.ts)
  async put(...args: Parameters<KadNode['put']>): ReturnType<KadNode['put']> {
    const result = await this.#parts.dht.put(...args);
    if (!this.#closed) this.#parts.publications.addItem(result.item);
    return result;
  }

  async putMutable(...args: Parameters<KadNode['putMutable']>): ReturnType<KadNode['putMutable']> {
    const result = await this.#parts.dht.putMutable(...args);
    if (!this.#closed) this.#parts.publications.addItem(result.item);
    return result;
  }

  async announce(...args: Parameters<KadNode['announce']>): ReturnType<KadNode['announce']> {
    const [infoHash, options = {}] = args;
    const result = await this.#parts.dht.announce(infoHash, options);
    if (!this.#closed)
      this.#parts.publications.addAnnouncement(infoHash, options.port ?? 0, options.impliedPort ?? false);
    return result;
  }

  unpublish(target: NodeId): boolean {
    assertNodeId(target, 'target');
    return this.#parts.publications.removeItem(target);
  }

  stopAnnouncing(infoHash: NodeId): boolean {
    assertNodeId(infoHash, 'infoHash');
    return this.#parts.publications.removeAnnouncement(infoHash);
  }

  published(): Publication[] {
    return this.#parts.publications.all();
  }

  findPeers(...args: Parameters<KadNode['findPeers']>): ReturnType<KadNode['findPeers']> {
    return this.#parts.dht.findPeers(...args);
  }

  getPeersOf(...args: Parameters<KadNode['getPeersOf']>): ReturnType<KadNode['getPeersOf']> {
    return this.#parts.dht.getPeersOf(...args);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#parts.maintenance.stop();
    // the mapping goes first, while the socket it names still exists
    await this.#parts.nat.close();
    this.#lifetime.abort(KadError.closed('node'));
    // the last word on the table, before the stacks stop
    await this.#parts.persistence?.close();
    await Promise.all(this.#parts.stacks.map((stack) => stack.close()));
    await this.#parts.ownRegistry?.close();
  }

  get #first(): FamilyStack {
    return this.#parts.stacks[0] as FamilyStack;
  }
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
