import type { Milliseconds } from '../../core/clock.js';
import { isKadError, KadError } from '../errors.js';
import { assertNodeId, bucketIndex, ID_BITS, type NodeId, randomIdInBucket } from '../id.js';
import { assertSalt, compareSeq, type ItemKeyPair, type Seq } from '../items.js';
import { integerInRange, optionError, seqOption } from '../option-checks.js';
import type { LookupDoneEvent, LookupEvent, LookupMethod, LookupResult } from '../lookup/events.js';
import { drainLookup, Lookup } from '../lookup/lookup.js';
import type { LookupLatency, LookupQuery } from '../lookup/lookup-init.js';
import {
  type LookupOptions,
  networkEstimate,
  type ResolvedLookupOptions,
  resolveLookupOptions,
  softDeadline,
} from '../lookup/options.js';
import { type Endpoint, endpointId, endpointKey } from '../transport/transport.js';
import type { BencodeDict, BencodeValue } from '../wire/bencode.js';
import { type Contact, familyOf, type PeerAddress } from '../wire/compact.js';
import { setMaxListeners } from 'node:events';
import { type Want, writeFindNodeArgs, writeGetArgs, writeGetPeersArgs } from '../wire/krpc-args.js';
import { type FamilyStack, stackFor } from './family-stack.js';
import type {
  AnnounceOptions,
  AnnounceResult,
  DhtCallOptions,
  GetMutableOptions,
  GetOptions,
  GetResult,
  LookupQueryOptions,
  PutItem,
  PutMutableOptions,
  PutOptions,
  PutResult,
} from './operation-types.js';
import { type DhtContext, noContacts } from './dht-context.js';
import { DhtStore } from './dht-store.js';

/** How a lookup starts, beyond its method. @internal */
interface LookupStart {
  readonly signal?: AbortSignal | undefined;
  readonly salt?: Uint8Array | undefined;
  readonly seq?: Seq | undefined;
  readonly disjointPaths?: number | undefined;
  /** Lookup tuning of this call, over the node's. */
  readonly lookup?: LookupOptions | undefined;
  readonly stopAtValue?: boolean;
  /** Contacts to start from instead of the routing tables' closest. */
  readonly seeds?: readonly Contact[];
  readonly responded?: readonly Contact[];
  /** Fewer requests per path than the lookup options allow. */
  readonly maxRequests?: number;
}

/** Most disjoint paths of one lookup. */
const MAX_DISJOINT_PATHS = 8;

/**
 * Empty buckets a join refreshes at most, per family, the farthest first (the largest parts of
 * the id space); the others are left to maintenance (a bucket idle for 15 minutes is refreshed).
 */
export const JOIN_REFRESH_BUCKETS = 3;

/**
 * Requests of one join refresh: two rounds of α = 3, then a few more. The point is a few live
 * contacts in the empty bucket (the second round asks nodes inside it, which enter the table as
 * they answer), not the k closest of a random id.
 */
export const JOIN_REFRESH_REQUESTS = 8;

/**
 * The DHT operations of a node: iterative lookups over its routing table(s) (one per family,
 * BEP 32, searched together with `want: ["n4","n6"]` on a dual-stack node), and what is built on
 * them: get, put, announce and find peers across the whole network. @internal
 */
export class DhtOperations {
  readonly #ctx: DhtContext;
  readonly #want: Want[] | undefined;
  readonly #store: DhtStore;

  constructor(ctx: DhtContext) {
    this.#ctx = ctx;
    this.#want = ctx.stacks.length > 1 ? ['n4', 'n6'] : undefined;
    this.#store = new DhtStore(ctx, (target, method, call, salt) => this.#collect(target, method, call, salt));
    // every running operation listens to the node's lifetime, and stops listening when it ends
    setMaxListeners(0, ctx.lifetime);
  }

  /** The events of a lookup of `target` (see `KadNode.query`). */
  query(target: NodeId, options: LookupQueryOptions): AsyncIterableIterator<LookupEvent> {
    assertNodeId(target, 'target');
    if (typeof options !== 'object' || options === null) throw optionError('options', 'an object', options);
    const { method } = options;
    if (method !== 'find_node' && method !== 'get_peers' && method !== 'get') {
      throw optionError('method', '"find_node", "get_peers" or "get"', method);
    }
    return this.#start(target, method, checkGetOptions(options));
  }

  /** A `find_node` lookup of `target` (see `KadNode.lookup`). */
  async lookup(target: NodeId, options: DhtCallOptions = {}): Promise<LookupResult> {
    assertNodeId(target, 'target');
    const done = await drainLookup(this.#start(target, 'find_node', callStart(options)));
    if (done.closest.length === 0) throw noContacts(done);
    const { closest, queried, responded, timedOut, durationMs } = done;
    return { closest, queried, responded, timedOut, durationMs };
  }

  /** The item stored under `target` (see `KadNode.get`). */
  async get(target: NodeId, options: GetOptions = {}): Promise<GetResult | undefined> {
    assertNodeId(target, 'target');
    const start = checkGetOptions(options);
    let best: { item: GetResult['item']; seq: Seq | undefined; from: Contact[] } | undefined;
    const done = await drainLookup(this.#start(target, 'get', start), (event) => {
      if (event.type !== 'value') return;
      if (best === undefined || (event.seq ?? -1) > (best.seq ?? -1)) {
        best = { item: event.item, seq: event.seq, from: [event.from] };
      } else if (
        event.seq === best.seq ||
        (event.seq !== undefined && best.seq !== undefined && compareSeq(event.seq, best.seq) === 0)
      ) {
        best.from.push(event.from);
      }
    });
    if (best === undefined) {
      if (done.responded === 0) throw noContacts(done);
      if (done.ended === 'deadline') throw KadError.timeout(`get found nothing within ${done.durationMs} ms`);
      return undefined;
    }
    const { queried, responded, timedOut, durationMs } = done;
    return { target, ...best, queried, responded, timedOut, durationMs };
  }

  /** A signed mutable item of `publicKey` (see `KadNode.getMutable`). */
  getMutable(publicKey: Uint8Array, options: GetMutableOptions = {}): Promise<GetResult | undefined> {
    return this.get(this.#store.mutableTargetOf(publicKey, options.salt), options);
  }

  /** Stores `item` on the k closest nodes (see `KadNode.put`). */
  put(item: PutItem, options: PutOptions = {}): Promise<PutResult> {
    return this.#store.put(item, options);
  }

  /** Signs and stores `v` under `keyPair` (see `KadNode.putMutable`). */
  putMutable(keyPair: ItemKeyPair, v: BencodeValue, options: PutMutableOptions = {}): Promise<PutResult> {
    return this.#store.putMutable(keyPair, v, options);
  }

  /** Announces this node as a peer of `infoHash` (see `KadNode.announce`). */
  announce(infoHash: NodeId, options: AnnounceOptions = {}): Promise<AnnounceResult> {
    return this.#store.announce(infoHash, options);
  }

  /** Peers of `infoHash`, each once, as they arrive (see `KadNode.findPeers`). */
  findPeers(infoHash: NodeId, options: DhtCallOptions = {}): AsyncIterableIterator<PeerAddress> {
    assertNodeId(infoHash, 'infoHash');
    return this.#findPeers(this.#start(infoHash, 'get_peers', callStart(options)));
  }

  /** Every peer of `infoHash` found by one lookup (see `KadNode.getPeersOf`). */
  async getPeersOf(infoHash: NodeId, options: DhtCallOptions = {}): Promise<PeerAddress[]> {
    const peers: PeerAddress[] = [];
    for await (const peer of this.findPeers(infoHash, options)) peers.push(peer);
    return peers;
  }

  /**
   * The Kademlia join: a lookup of this node's own id from `seeds` and the table's closest, with
   * the bootstrap nodes that already answered that query as `responded`; `onEvent` sees each
   * event as it happens, `onStart` gets the lookup at once (a join feeds it the bootstrap
   * answers that come later). Then a few empty buckets are refreshed (see `#refreshEmptyBuckets`).
   */
  async selfLookup(
    seeds: readonly Contact[],
    responded: readonly Contact[],
    signal?: AbortSignal,
    onEvent?: (event: LookupEvent) => void,
    onStart?: (lookup: Lookup) => void,
  ): Promise<LookupDoneEvent> {
    const table = this.#ctx.stacks.flatMap((stack) => stack.closest(this.#ctx.id, this.#ctx.k * 2));
    const lookup = this.#start(this.#ctx.id, 'find_node', { signal, seeds: [...seeds, ...table], responded });
    onStart?.(lookup);
    const done = await drainLookup(lookup, onEvent);
    if (done.closest.length > 0) await this.#refreshEmptyBuckets(done, signal);
    return done;
  }

  /**
   * The last step of a Kademlia join (§2.3), for the buckets the self-lookup could not fill: a
   * short lookup of a random id in an empty bucket, so the node knows (and is known by) the other
   * parts of the id space, not only its own region. Without it, in a network joined through one
   * entry node, most nodes on the entry's side of the space keep no contact on the other side,
   * and a lookup from them toward it converges among them, empty-handed.
   *
   * Only buckets nearer the root than the one holding the k-th closest node found: the self-
   * lookup asked the k closest nodes to our id, so a deeper bucket that is empty has no node to
   * hold (refreshing it would ask the same neighbours again). Of those, the
   * {@link JOIN_REFRESH_BUCKETS} farthest, each within {@link JOIN_REFRESH_REQUESTS} requests;
   * a table of fewer than k contacts is left as it is (the network is smaller than a bucket).
   */
  async #refreshEmptyBuckets(done: LookupDoneEvent, signal: AbortSignal | undefined): Promise<void> {
    const { id, k } = this.#ctx;
    const indices = new Set<number>();
    for (const stack of this.#ctx.stacks) {
      if (stack.table.size < k) continue;
      const table = stack.table.table;
      const kth = done.closest.filter((c) => familyOf(c.host) === stack.family)[k - 1];
      let deepest = -1;
      for (let i = 0; i < ID_BITS; i++) if (table.bucketSize(i) > 0) deepest = i;
      const reach = Math.min(deepest, kth === undefined ? ID_BITS : bucketIndex(id, kth.id));
      let chosen = 0;
      for (let i = 0; i < reach && chosen < JOIN_REFRESH_BUCKETS; i++) {
        if (table.bucketSize(i) > 0) continue;
        indices.add(i);
        chosen++;
      }
    }
    const refresh = (i: number): Lookup =>
      this.#start(randomIdInBucket(id, i, this.#ctx.randomBytes), 'find_node', {
        signal,
        maxRequests: JOIN_REFRESH_REQUESTS,
      });
    await Promise.allSettled([...indices].map((i) => drainLookup(refresh(i))));
  }

  async *#findPeers(events: AsyncIterableIterator<LookupEvent>): AsyncGenerator<PeerAddress, void, undefined> {
    const seen = new Set<string>();
    for await (const event of events) {
      if (event.type === 'peers') {
        for (const peer of event.peers) {
          const key = endpointKey(peer);
          if (seen.has(key)) continue;
          seen.add(key);
          yield { host: peer.host, port: peer.port };
        }
      } else if (event.type === 'done' && event.responded === 0 && seen.size === 0) {
        throw noContacts(event);
      }
    }
  }

  /**
   * Runs a lookup for a store: every response's token, the highest verified `seq` (a `get` of
   * a mutable target), and the summary; it does not stop at a value, since the k closest must be found.
   */
  async #collect(
    target: NodeId,
    method: 'get' | 'get_peers',
    call: DhtCallOptions,
    salt: Uint8Array | undefined,
  ): Promise<{ done: LookupDoneEvent; tokens: Map<string, Uint8Array>; highestSeq: Seq | undefined }> {
    const tokens = new Map<string, Uint8Array>();
    let highestSeq: Seq | undefined;
    const start = { ...callStart(call), salt, stopAtValue: false };
    const done = await drainLookup(this.#start(target, method, start), (event) => {
      if (event.type === 'response' && event.token !== undefined) tokens.set(endpointKey(event.from), event.token);
      if (event.type === 'value' && event.seq !== undefined && (highestSeq === undefined || event.seq > highestSeq)) {
        highestSeq = event.seq;
      }
    });
    return { done, tokens, highestSeq };
  }

  #start(target: NodeId, method: LookupMethod, start: LookupStart): Lookup {
    const ctx = this.#ctx;
    const args = this.#args(target, method, start.seq);
    const query: LookupQuery = async (to, signal) => {
      const stack = this.#stackOf(to);
      try {
        const { values } = await stack.query(to, method, args, signal, 0);
        return values;
      } catch (error) {
        // a node that stays silent twice in a row is bad: it leaves the table's closest()
        if (isKadError(error, 'TIMEOUT')) stack.table.table.markFailed(to.id);
        throw error;
      }
    };
    const { minSoftTimeoutMs } = ctx.options;
    const paths = start.disjointPaths ?? 1;
    const seedCount = ctx.k * Math.max(2, paths);
    return new Lookup({
      target,
      self: ctx.id,
      method,
      k: ctx.k,
      families: ctx.stacks.map((stack) => stack.family),
      seeds: start.seeds ?? ctx.stacks.flatMap((stack) => stack.closest(target, seedCount)),
      ...(start.responded === undefined ? {} : { responded: start.responded }),
      selfEndpoints: ctx.stacks.flatMap((stack) => {
        const external = stack.external.current();
        return external === undefined ? [stack.transport.address()] : [stack.transport.address(), external];
      }),
      query,
      softDeadline: (to) => softDeadline(this.#stackOf(to).rpc.rtt, to, minSoftTimeoutMs),
      ...this.#latency(),
      clock: ctx.clock,
      options:
        start.maxRequests === undefined
          ? tuned(ctx.options, start.lookup)
          : { ...tuned(ctx.options, start.lookup), maxRequests: start.maxRequests },
      signals: start.signal === undefined ? [ctx.lifetime] : [start.signal, ctx.lifetime],
      ...(start.salt === undefined ? {} : { salt: start.salt }),
      ...(start.stopAtValue === undefined ? {} : { stopAtValue: start.stopAtValue }),
      disjointPaths: paths,
    });
  }

  /**
   * The round-trip estimates a lookup weighs candidates with: the RPC layer's, with the network's
   * (the first family's that has enough samples) for nodes it has none of.
   */
  #latency(): { latency: LookupLatency } | Record<string, never> {
    for (const stack of this.#ctx.stacks) {
      const network = networkEstimate(stack.rpc.rtt);
      if (network === undefined) continue;
      const of = (to: Contact): Milliseconds | undefined => this.#stackOf(to).rpc.rtt.srttOf(endpointId(to));
      return { latency: { of, typicalMs: network.srttMs } };
    }
    return {};
  }

  #args(target: NodeId, method: LookupMethod, seq: Seq | undefined): BencodeDict {
    const id = this.#ctx.id;
    const want = this.#want === undefined ? {} : { want: this.#want };
    if (method === 'find_node') return writeFindNodeArgs({ id, target, ...want });
    if (method === 'get_peers') return writeGetPeersArgs({ id, infoHash: target, ...want });
    return writeGetArgs({ id, target, ...(seq === undefined ? {} : { seq }), ...want });
  }

  #stackOf(to: Endpoint): FamilyStack {
    // the lookup only asks contacts of the families it searches
    return (stackFor(this.#ctx.stacks, familyOf(to.host)) ?? this.#ctx.stacks[0]) as FamilyStack;
  }
}

/** Validates the options a `get` or `query` shares. @throws {KadError} `INVALID_OPTION` naming the option. */
function checkGetOptions(options: GetOptions): LookupStart {
  const { salt, seq, disjointPaths, signal, lookup } = options;
  if (salt !== undefined) {
    if (!(salt instanceof Uint8Array)) throw optionError('salt', 'a Uint8Array', salt);
    assertSalt(salt);
  }
  seqOption('seq', seq);
  integerInRange('disjointPaths', disjointPaths, 1, 1, MAX_DISJOINT_PATHS);
  return { signal, salt, seq, disjointPaths, lookup };
}

/** The lookup start of a plain call: its signal and tuning. */
function callStart(options: DhtCallOptions): LookupStart {
  if (typeof options !== 'object' || options === null) throw optionError('options', 'an object', options);
  return { signal: options.signal, lookup: options.lookup };
}

/**
 * The node's lookup options with a call's tuning over them; a `maxAlpha` the call leaves out is
 * raised to the call's `alpha` when below it.
 * @throws {KadError} `INVALID_OPTION` naming `lookup.<field>`.
 */
function tuned(base: ResolvedLookupOptions, lookup: LookupOptions | undefined): ResolvedLookupOptions {
  if (lookup === undefined) return base;
  if (typeof lookup !== 'object' || lookup === null) throw optionError('lookup', 'an object', lookup);
  const maxAlpha = lookup.maxAlpha ?? Math.max(base.maxAlpha, lookup.alpha ?? 0);
  return resolveLookupOptions({ ...base, ...lookup, maxAlpha });
}
