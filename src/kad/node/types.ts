import type { BencodeValue } from '../wire/bencode.js';
import type { AddressFamily, Contact, PeerAddress } from '../wire/compact.js';
import type { NodeId } from '../id.js';
import type { MutableItem, Seq } from '../items.js';
import type { Want } from '../wire/krpc-args.js';
import type { RpcStats } from '../rpc/stats.js';
import type { StorageGateStats } from '../serve/storage-gate.js';
import type { Endpoint, RemoteInfo, TransportStats } from '../transport/transport.js';
import type { Listener } from '../../core/emitter.js';
import type { LookupEvent, LookupResult } from '../lookup/events.js';
import type { ItemKeyPair } from '../items.js';
import type { Publication } from './publications.js';
import type { PunchOptions, PunchResult, PunchTarget } from './hole-punch-options.js';
import type { MaintenanceStats } from './maintenance-types.js';
import type { ReachabilityReport } from './reachability-types.js';
import type {
  AnnounceOptions,
  AnnounceResult,
  DhtCallOptions,
  GetMutableOptions,
  GetOptions,
  GetResult,
  KadNodeEvents,
  LookupQueryOptions,
  PutItem,
  PutMutableOptions,
  PutOptions,
  PutResult,
} from './operation-types.js';

// The public shapes of a KadNode, apart from its implementation in node.ts.

/** Options every client call accepts. */
export interface CallOptions {
  /** Aborts the call: it rejects with `signal.reason`. Without one, RPC timeouts and retries bound it. */
  readonly signal?: AbortSignal;
  /**
   * The destination is behind a NAT and talks to this node (a rendezvous): the call first punches
   * a direct path through it (`node.punch()`, with the destination's `id` when it is a contact),
   * or reuses one punched within `holePunch.pathTtlMs`, then goes to the destination where it
   * answered. Rejects with `PUNCH_FAILED` (its `reason`) when no path opens.
   */
  readonly rendezvous?: Endpoint;
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
  readonly seq: Seq | undefined;
}

/** Counters of one address family of a {@link KadNode}: its transport, RPC layer and table. */
export interface KadFamilyStats {
  /** Contacts in this family's routing table. */
  readonly contacts: number;
  /** RPC counters: queries in and out by method, errors, drops. */
  readonly rpc: RpcStats;
  /** Datagram counters of the transport. */
  readonly transport: TransportStats;
}

/**
 * Counters of a {@link KadNode}: the top-level figures are sums over the families the node runs
 * (for a single-family node, that family's own), and `families` has them per family.
 */
export interface KadNodeStats extends KadFamilyStats {
  /** Per address family, present for the families the node runs (BEP 32). */
  readonly families: Readonly<Partial<Record<AddressFamily, KadFamilyStats>>>;
  /** Background upkeep: its requests, evictions, republishing, replication, offline and firewall states. */
  readonly maintenance: MaintenanceStats;
  /**
   * Inbound queries and storage, both families together: `waiting` on storage now, and since
   * start `refused` (`maxStorageWaiting` were waiting: answered 202) and `timedOut` (no answer
   * within `storageTimeoutMs`: answered 202).
   */
  readonly storage: StorageGateStats;
  /** How other nodes can reach this one, with the evidence ({@link KadNode.reachability}). */
  readonly reachability: ReachabilityReport;
}

/** A running Mainline DHT node. Create one with {@link createNode}. */
export interface KadNode {
  /** This node's id. */
  readonly id: NodeId;
  /**
   * Resolves with the number of contacts in the table(s) once the first join attempt ended
   * (the bootstrap round, within `bootstrapTimeoutMs`, then the lookup of its own id), whether or not it
   * reached anyone; 0 at once without `bootstrap`. Never rejects. A node restarted from saved
   * state (`stateDir`) resolves it when a saved contact answered, else after its first
   * bootstrap attempt.
   */
  readonly bootstrapped: Promise<number>;
  /**
   * Resolves once the node has joined: the lookup of its own id finished through at least one
   * live node (at once without `bootstrap`). While nothing answers, joining is retried with
   * capped backoff (`bootstrap:retry` events). Rejects with `CLOSED` if the node closes first.
   * A node restarted from saved state (`stateDir`) is ready at the first answer of a saved
   * contact, without asking its bootstrap nodes (they are asked only if none answers).
   */
  readonly ready: Promise<void>;
  /**
   * The first bound address: that of `host`/`transport` (for a wildcard bind, the wildcard and
   * the real port). A dual-stack node has a second one: see {@link addresses}.
   */
  address(): RemoteInfo;
  /** Every bound address, one per family the node runs, the first one ({@link address}) first. */
  addresses(): RemoteInfo[];
  /**
   * This node's address as other nodes see it (BEP 42), learned by a vote over the `ip` field of
   * responses from distinct responders; for `family` (default: that of {@link address}).
   * `undefined` until a responder of that family reported one. Learning it does not change the
   * node id (see `KadNodeOptions.id`).
   */
  externalAddress(family?: AddressFamily): RemoteInfo | undefined;
  /** Counters, summed and per family. */
  stats(): KadNodeStats;
  /**
   * How other nodes can reach this one (`public`, `mapped`, `firewalled` or `unknown`) and the
   * evidence: the address others see (BEP 42 votes) against the bound one, unsolicited queries
   * received, the BEP 43 firewall check, the port mapping and its verification from outside.
   * Changes are announced by `reachability:changed`. See docs/nat.md.
   */
  reachability(): ReachabilityReport;
  /**
   * Contacts in the routing table(s), closest to `target` first (default: this node's id): of
   * `options.family` only, or of every family the node runs. Contacts that failed twice in a row
   * (bad: left out of lookups until they answer or are replaced) only with `includeBad`.
   */
  contacts(target?: NodeId, count?: number, options?: { family?: AddressFamily; includeBad?: boolean }): Contact[];
  // Client calls go out over the transport of the destination's family; a destination of a family
  // the node does not run rejects with INVALID_ADDRESS at once.
  /** Sends `ping`; resolves with the responder as a contact. */
  ping(to: Endpoint, options?: CallOptions): Promise<Contact>;
  /** Sends `find_node` for `target`. */
  findNode(to: Endpoint, target: NodeId, options?: CallOptions & { want?: Want[] }): Promise<FindNodeResult>;
  /** Sends `get_peers` for `infoHash` (`want`: BEP 32 families of nodes, and of `values` from a Nautilus node). */
  getPeers(to: Endpoint, infoHash: NodeId, options?: CallOptions & { want?: Want[] }): Promise<GetPeersResult>;
  /** Sends `announce_peer`; with `impliedPort`, the responder uses our UDP source port. */
  announcePeer(
    to: Endpoint,
    infoHash: NodeId,
    port: number,
    token: Uint8Array,
    options?: CallOptions & { impliedPort?: boolean },
  ): Promise<void>;
  /** Sends a BEP 44 `get`; `salt` is needed to check a salted mutable item against `target`. */
  getItem(
    to: Endpoint,
    target: NodeId,
    options?: CallOptions & { seq?: Seq; salt?: Uint8Array; want?: Want[] },
  ): Promise<GetItemResult>;
  /** Sends a BEP 44 `put` of an immutable `{ v }` or a signed mutable item. */
  putItem(
    to: Endpoint,
    item: ImmutableItem | MutableItem,
    token: Uint8Array,
    options?: CallOptions & { cas?: Seq },
  ): Promise<void>;
  /**
   * Opens a direct path to a node behind a NAT through a rendezvous both talk to (a Nautilus
   * KRPC extension: `nautilus_introduce`, `nautilus_punch`): the rendezvous tells the target this
   * node's external address and this node the target's, and each sends `attempts` pings toward
   * the other, `intervalMs` apart. Works through cone NATs (endpoint-independent mapping); a
   * symmetric NAT on both sides fails at once with `symmetric`. Bounded by `deadlineMs`
   * (`holePunch.deadlineMs`, 5 s) and `attempts` (4).
   * Resolves with `{ ok: true, contact }` (send to `contact`), or `{ ok: false, reason }` for
   * every network outcome (see {@link PunchResult}).
   * @throws {KadError} `INVALID_OPTION` / `INVALID_ADDRESS` / `INVALID_ID` for bad arguments;
   *   `CLOSED`; `signal.reason` when aborted.
   */
  punch(target: PunchTarget, options?: PunchOptions): Promise<PunchResult>;
  // DHT operations: iterative lookups across the network (Kademlia §2.3), over every family the
  // node runs. Each rejects with `signal.reason` when aborted and with `CLOSED` once closed.
  /**
   * The events of a lookup of `target` with `method`, as they happen, ending with `done`;
   * breaking out of the loop aborts the queries in flight. Starts when iterated.
   */
  query(target: NodeId, options: LookupQueryOptions): AsyncIterableIterator<LookupEvent>;
  /**
   * Finds the k closest live nodes to `target` (per family) with `find_node`.
   * @throws {KadError} `NO_CONTACTS` when no node answered.
   */
  lookup(target: NodeId, options?: DhtCallOptions): Promise<LookupResult>;
  /**
   * Finds the BEP 44 item stored under `target`: an immutable item (ends at the first that hashes
   * to `target`), or the mutable item with the highest valid `seq` among the k closest nodes
   * (`salt` needed to verify a salted one). `undefined` when the k closest do not have it.
   * @throws {KadError} `NO_CONTACTS` when no node answered; `TIMEOUT` when the lookup deadline
   *   passed before it found anything.
   */
  get(target: NodeId, options?: GetOptions): Promise<GetResult | undefined>;
  /** {@link get} of the mutable item of `publicKey` (and `salt`). */
  getMutable(publicKey: Uint8Array, options?: GetMutableOptions): Promise<GetResult | undefined>;
  /**
   * Stores an immutable `{ v }` or a signed mutable item on the k closest nodes (per family): a
   * `get` lookup, then `put` with the token of each of the k closest that answered.
   * @throws {KadError} `MESSAGE_TOO_BIG`, `INVALID_SIGNATURE`, `SALT_TOO_BIG` before sending;
   *   `NO_CONTACTS`; `CAS_MISMATCH` / `SEQ_TOO_LOW` / `NOT_STORED` when no node accepted it.
   */
  put(item: PutItem, options?: PutOptions): Promise<PutResult>;
  /**
   * Signs `v` with `keyPair` (and `salt`) and stores it like {@link put}; `seq` defaults to one
   * above the highest found by the lookup.
   */
  putMutable(keyPair: ItemKeyPair, v: BencodeValue, options?: PutMutableOptions): Promise<PutResult>;
  /**
   * Announces this node as a peer of `infoHash` on the k closest nodes (per family): a
   * `get_peers` lookup, then `announce_peer` with each one's token.
   * @throws {KadError} `INVALID_OPTION` for a bad `port`; `NO_CONTACTS`; `NOT_STORED`.
   */
  announce(infoHash: NodeId, options?: AnnounceOptions): Promise<AnnounceResult>;
  /** Peers of `infoHash` as a `get_peers` lookup finds them, each once. @throws {KadError} `NO_CONTACTS`. */
  findPeers(infoHash: NodeId, options?: DhtCallOptions): AsyncIterableIterator<PeerAddress>;
  /** Every peer {@link findPeers} finds, once the lookup ended. */
  getPeersOf(infoHash: NodeId, options?: DhtCallOptions): Promise<PeerAddress[]>;
  // What the node published is kept alive: every item it stored with put/putMutable is put again
  // every `maintenance.republishMs`, every announcement made again every `maintenance.reannounceMs`.
  /**
   * Stops republishing the item of `target` (what the nodes hold expires in its own time).
   * Returns whether this node was republishing it.
   */
  unpublish(target: NodeId): boolean;
  /** Stops announcing this node as a peer of `infoHash`; returns whether it was announcing it. */
  stopAnnouncing(infoHash: NodeId): boolean;
  /** What this node published and keeps alive, each with its next due time. */
  published(): Publication[];
  /** Adds `listener` for `event` (see {@link KadNodeEvents}). */
  on<E extends keyof KadNodeEvents>(event: E, listener: Listener<KadNodeEvents[E]>): this;
  /** Removes one registration of `listener` for `event`. */
  off<E extends keyof KadNodeEvents>(event: E, listener: Listener<KadNodeEvents[E]>): this;
  /** Adds a listener that removes itself after its first call. */
  once<E extends keyof KadNodeEvents>(event: E, listener: Listener<KadNodeEvents[E]>): this;
  /** Stops answering, rejects pending calls with `CLOSED`, releases what the node owns. Idempotent. */
  close(): Promise<void>;
}
