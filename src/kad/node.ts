import { setMaxListeners } from 'node:events';
import { type Clock, systemClock, type Timer } from '../registry/clock.js';
import type { BencodeDict, BencodeValue } from './bencode.js';
import type { Contact, IpFamily, PeerAddress } from './compact.js';
import { KadError } from './errors.js';
import { QueryHandlers } from './handlers.js';
import { assertNodeId, type NodeId, randomId } from './id.js';
import { immutableTarget, type MutableItem, mutableTarget, verifyMutable } from './items.js';
import {
  readResponse,
  type ResponseValues,
  type Want,
  writeAnnouncePeerArgs,
  writeFindNodeArgs,
  writeGetArgs,
  writeGetPeersArgs,
  writePingArgs,
  writePutArgs,
} from './krpc-args.js';
import { checkEndpoint, checkNodeOptions, DEFAULT_KAD_NODE_OPTIONS, type KadNodeOptions, MAX_BOOTSTRAP_CONTACTS } from './node-options.js';
import { NodeTable } from './node-table.js';
import { Rpc } from './rpc.js';
import type { RpcStats } from './rpc-stats.js';
import { KadStorage } from './storage.js';
import { WriteTokens } from './tokens.js';
import type { Endpoint, RemoteInfo, Transport, TransportStats } from './transport.js';
import { createUdpTransport } from './udp-transport.js';

/** Options every client call accepts. */
export interface CallOptions {
  /** Aborts the call: it rejects with `signal.reason`. Without one, RPC timeouts and retries bound it. */
  readonly signal?: AbortSignal;
}

/** Answer of {@link KadNode.findNode}. */
export interface FindNodeResult {
  /** The responder's id. */
  readonly id: NodeId;
  /** IPv4 contacts closest to the target that the responder knows. */
  readonly nodes: Contact[];
  /** IPv6 contacts (BEP 32), when asked for with `want`. */
  readonly nodes6: Contact[];
}

/** Answer of {@link KadNode.getPeers}. */
export interface GetPeersResult extends FindNodeResult {
  /** Write token for a following `announcePeer` to the same node. */
  readonly token: Uint8Array | undefined;
  /** Peers of the info-hash the responder knows (empty when it gave nodes instead). */
  readonly values: PeerAddress[];
}

/** An immutable BEP 44 item: its target is SHA-1 of bencoded `v`. */
export interface ImmutableItem {
  readonly v: BencodeValue;
}

/** Answer of {@link KadNode.getItem}. */
export interface GetItemResult extends FindNodeResult {
  /** Write token for a following `putItem` to the same node. */
  readonly token: Uint8Array | undefined;
  /** The stored item, checked against the target (and its signature), when the responder has one. */
  readonly item: ImmutableItem | MutableItem | undefined;
  /** Sequence number of a stored mutable item (present even when `v` was withheld). */
  readonly seq: number | undefined;
}

/** Counters of a {@link KadNode}. */
export interface KadNodeStats {
  /** Contacts in the routing table. */
  readonly contacts: number;
  /** RPC counters: queries in and out by method, errors, drops. */
  readonly rpc: RpcStats;
  /** Datagram counters of the transport. */
  readonly transport: TransportStats;
}

/** A running Mainline DHT node. Create one with {@link createNode}. */
export interface KadNode {
  /** This node's id. */
  readonly id: NodeId;
  /** Resolves with the number of contacts in the table once the start-up bootstrap ended (never rejects). */
  readonly bootstrapped: Promise<number>;
  /** The bound address (for a wildcard bind, the wildcard and the real port). */
  address(): RemoteInfo;
  /** Counters. */
  stats(): KadNodeStats;
  /** Contacts in the routing table, closest to `target` first (default: this node's id). */
  contacts(target?: NodeId, count?: number): Contact[];
  /** Sends `ping`; resolves with the responder as a contact. */
  ping(to: Endpoint, options?: CallOptions): Promise<Contact>;
  /** Sends `find_node` for `target`. */
  findNode(to: Endpoint, target: NodeId, options?: CallOptions & { want?: Want[] }): Promise<FindNodeResult>;
  /** Sends `get_peers` for `infoHash`. */
  getPeers(to: Endpoint, infoHash: NodeId, options?: CallOptions): Promise<GetPeersResult>;
  /** Sends `announce_peer`; with `impliedPort`, the responder uses our UDP source port. */
  announcePeer(
    to: Endpoint,
    infoHash: NodeId,
    port: number,
    token: Uint8Array,
    options?: CallOptions & { impliedPort?: boolean },
  ): Promise<void>;
  /** Sends a BEP 44 `get`; `salt` is needed to check a salted mutable item against `target`. */
  getItem(to: Endpoint, target: NodeId, options?: CallOptions & { seq?: number; salt?: Uint8Array }): Promise<GetItemResult>;
  /** Sends a BEP 44 `put` of an immutable `{ v }` or a signed mutable item. */
  putItem(
    to: Endpoint,
    item: ImmutableItem | MutableItem,
    token: Uint8Array,
    options?: CallOptions & { cas?: number },
  ): Promise<void>;
  /** Stops answering, rejects pending calls with `CLOSED`, releases what the node owns. Idempotent. */
  close(): Promise<void>;
}

/**
 * Starts a Mainline DHT node that listens on `host:port` (or an injected transport) and answers
 * every query (BEP 5, 32, 43, 44). Resolves once it listens; bootstrapping runs in the background
 * (`node.bootstrapped`).
 *
 * @throws {KadError} `INVALID_OPTION` naming a bad option; `INVALID_ADDRESS` when binding fails.
 * @example
 * const node = await createNode({ host: '127.0.0.1', port: 0, bootstrap: [] });
 * console.log(node.address());
 * await node.close();
 */
export async function createNode(options: KadNodeOptions = {}): Promise<KadNode> {
  checkNodeOptions(options);
  const { signal } = options;
  signal?.throwIfAborted();
  const clock = options.clock ?? systemClock;
  const owned = options.transport === undefined;
  const transport =
    options.transport ??
    (await createUdpTransport({
      host: options.host ?? DEFAULT_KAD_NODE_OPTIONS.host,
      port: options.port ?? DEFAULT_KAD_NODE_OPTIONS.port,
      ...(signal === undefined ? {} : { signal }),
    }));
  try {
    return new Node(options, clock, transport, owned);
  } catch (error) {
    // a bad nested option (rpc, storage): release the socket we opened before rejecting
    if (owned) await transport.close();
    throw error;
  }
}

class Node implements KadNode {
  readonly id: NodeId;
  readonly bootstrapped: Promise<number>;
  readonly #clock: Clock;
  readonly #transport: Transport;
  readonly #ownsTransport: boolean;
  readonly #family: IpFamily;
  readonly #rpc: Rpc;
  readonly #storage: KadStorage;
  readonly #table: NodeTable;
  readonly #lifetime = new AbortController();
  #closed = false;

  constructor(options: KadNodeOptions, clock: Clock, transport: Transport, ownsTransport: boolean) {
    this.id = options.id === undefined ? randomId() : Uint8Array.from(options.id);
    this.#clock = clock;
    this.#transport = transport;
    this.#ownsTransport = ownsTransport;
    this.#family = transport.address().family;
    const k = options.k ?? DEFAULT_KAD_NODE_OPTIONS.k;
    const readOnly = options.readOnly ?? DEFAULT_KAD_NODE_OPTIONS.readOnly;
    this.#rpc = new Rpc(
      { ...options.rpc, readOnly, ...(options.version === undefined ? {} : { clientVersion: options.version }) },
      { transport, clock },
    );
    this.#storage = new KadStorage(options.storage, {
      clock,
      ...(options.registry === undefined ? {} : { registry: options.registry }),
    });
    this.#table = new NodeTable({ id: this.id, k, family: this.#family, clock }, (contact, signal) =>
      this.ping(contact, { signal }).then(() => true, () => false),
    );
    const tokens = new WriteTokens(
      options.tokenRotateMs === undefined ? {} : { rotateMs: options.tokenRotateMs },
      { clock },
    );
    const handlers = new QueryHandlers(
      {
        id: this.id,
        storage: this.#storage,
        tokens,
        closest: (target, family, count) => (family === this.#family ? this.#table.closest(target, count) : []),
      },
      { k, ...(options.enforceSecureIds === undefined ? {} : { enforceSecureIds: options.enforceSecureIds }) },
    );
    // BEP 43: a read-only node answers nothing
    this.#rpc.setQueryHandler(
      readOnly
        ? () => undefined
        : (query, from, context) => {
            const id = query.a['id'];
            if (query.ro !== true && id instanceof Uint8Array) this.#table.observe({ id, host: from.host, port: from.port });
            return handlers.respond(query, from, context.signal);
          },
    );
    const bootstrap = (options.bootstrap ?? []).slice(0, MAX_BOOTSTRAP_CONTACTS);
    this.bootstrapped =
      bootstrap.length === 0
        ? Promise.resolve(0)
        : this.#bootstrap(bootstrap, options.bootstrapTimeoutMs ?? DEFAULT_KAD_NODE_OPTIONS.bootstrapTimeoutMs);
  }

  address(): RemoteInfo {
    return this.#transport.address();
  }

  stats(): KadNodeStats {
    return { contacts: this.#table.size, rpc: this.#rpc.stats(), transport: this.#transport.stats() };
  }

  contacts(target: NodeId = this.id, count = Number.MAX_SAFE_INTEGER): Contact[] {
    return this.#table.closest(assertNodeId(target, 'target'), count);
  }

  async ping(to: Endpoint, options: CallOptions = {}): Promise<Contact> {
    const { values, from } = await this.#query(to, 'ping', writePingArgs({ id: this.id }), options);
    return { id: values.id, host: from.host, port: from.port };
  }

  async findNode(to: Endpoint, target: NodeId, options: CallOptions & { want?: Want[] } = {}): Promise<FindNodeResult> {
    assertNodeId(target, 'target');
    const args = writeFindNodeArgs({ id: this.id, target, ...(options.want === undefined ? {} : { want: options.want }) });
    const { values } = await this.#query(to, 'find_node', args, options);
    return { id: values.id, nodes: values.nodes ?? [], nodes6: values.nodes6 ?? [] };
  }

  async getPeers(to: Endpoint, infoHash: NodeId, options: CallOptions = {}): Promise<GetPeersResult> {
    assertNodeId(infoHash, 'infoHash');
    const { values } = await this.#query(to, 'get_peers', writeGetPeersArgs({ id: this.id, infoHash }), options);
    return {
      id: values.id,
      token: values.token,
      values: values.values ?? [],
      nodes: values.nodes ?? [],
      nodes6: values.nodes6 ?? [],
    };
  }

  async announcePeer(
    to: Endpoint,
    infoHash: NodeId,
    port: number,
    token: Uint8Array,
    options: CallOptions & { impliedPort?: boolean } = {},
  ): Promise<void> {
    assertNodeId(infoHash, 'infoHash');
    const impliedPort = options.impliedPort ?? false;
    if (!impliedPort && !(Number.isInteger(port) && port >= 1 && port <= 65535)) {
      throw KadError.invalidAddress(`port must be an integer in [1, 65535] (got ${String(port)})`);
    }
    const args = writeAnnouncePeerArgs({ id: this.id, infoHash, port, token, impliedPort, seed: false });
    await this.#query(to, 'announce_peer', args, options);
  }

  async getItem(
    to: Endpoint,
    target: NodeId,
    options: CallOptions & { seq?: number; salt?: Uint8Array } = {},
  ): Promise<GetItemResult> {
    assertNodeId(target, 'target');
    const args = writeGetArgs({ id: this.id, target, ...(options.seq === undefined ? {} : { seq: options.seq }) });
    const { values } = await this.#query(to, 'get', args, options);
    return {
      id: values.id,
      token: values.token,
      nodes: values.nodes ?? [],
      nodes6: values.nodes6 ?? [],
      item: checkedItem(values, target, options.salt),
      seq: values.seq,
    };
  }

  async putItem(
    to: Endpoint,
    item: ImmutableItem | MutableItem,
    token: Uint8Array,
    options: CallOptions & { cas?: number } = {},
  ): Promise<void> {
    const base = { id: this.id, token, v: item.v };
    const args =
      'k' in item
        ? writePutArgs({
            kind: 'mutable',
            ...base,
            k: item.k,
            sig: item.sig,
            seq: item.seq,
            ...(item.salt === undefined || item.salt.length === 0 ? {} : { salt: item.salt }),
            ...(options.cas === undefined ? {} : { cas: options.cas }),
          })
        : writePutArgs({ kind: 'immutable', ...base });
    await this.#query(to, 'put', args, options);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#lifetime.abort(KadError.closed('node'));
    this.#table.close();
    await this.#rpc.close();
    await this.#storage.close();
    if (this.#ownsTransport) await this.#transport.close();
  }

  async #query(
    to: Endpoint,
    method: string,
    args: BencodeDict,
    options: CallOptions,
  ): Promise<{ values: ResponseValues; from: RemoteInfo }> {
    if (this.#closed) throw KadError.closed('node');
    const endpoint = checkEndpoint(to, 'to', 'address');
    // close() rejects pending calls through the RPC layer, so only the caller's signal is needed
    const { response, from } = await this.#rpc.query(endpoint, method, args, options.signal === undefined ? {} : { signal: options.signal });
    const values = readResponse(response.r);
    // it answered: a good contact (unless it is us, which the table refuses)
    this.#table.observe({ id: values.id, host: from.host, port: from.port });
    return { values, from };
  }

  /** One `find_node` for our own id to each bootstrap node, then a ping to what they return. */
  async #bootstrap(endpoints: readonly Endpoint[], timeoutMs: number): Promise<number> {
    const deadline = new AbortController();
    const timer: Timer = this.#clock.setTimeout(() => deadline.abort(KadError.timeout('bootstrap timed out')), timeoutMs);
    const signal = AbortSignal.any([deadline.signal, this.#lifetime.signal]);
    // one listener per concurrent call: up to 2 × MAX_BOOTSTRAP_CONTACTS at once
    setMaxListeners(2 * MAX_BOOTSTRAP_CONTACTS + 8, signal);
    try {
      const found = await Promise.allSettled(endpoints.map((to) => this.findNode(to, this.id, { signal })));
      const seen = new Set<string>();
      const candidates: Contact[] = [];
      for (const result of found) {
        if (result.status !== 'fulfilled') continue;
        for (const contact of result.value.nodes) {
          const key = `${contact.host}:${contact.port}`;
          if (seen.has(key) || candidates.length >= MAX_BOOTSTRAP_CONTACTS) continue;
          seen.add(key);
          candidates.push(contact);
        }
      }
      await Promise.allSettled(candidates.map((contact) => this.ping(contact, { signal })));
    } finally {
      timer.cancel();
    }
    return this.#table.size;
  }
}

/** The item of a `get` response if it matches `target` (and, when mutable, its signature); else undefined. */
function checkedItem(values: ResponseValues, target: NodeId, salt: Uint8Array | undefined): ImmutableItem | MutableItem | undefined {
  const { v, k, sig, seq } = values;
  if (v === undefined) return undefined;
  try {
    if (k === undefined || sig === undefined || seq === undefined) {
      return sameBytes(immutableTarget(v), target) ? { v } : undefined;
    }
    const item: MutableItem = { v, k, sig, seq, ...(salt === undefined || salt.length === 0 ? {} : { salt }) };
    return sameBytes(mutableTarget(k, salt), target) && verifyMutable(item) ? item : undefined;
  } catch {
    return undefined; // a value over 1000 bytes, or a bad key: not an item we accept
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
