import type { Clock, Milliseconds } from '../../core/clock.js';
import { bdecode, type BencodeDict, bencodedSize, type BencodeValue, bencode } from '../wire/bencode.js';
import {
  type AddressFamily,
  COMPACT_NODE_V4_BYTES,
  COMPACT_NODE_V6_BYTES,
  type Contact,
  encodeNodes,
  encodePeer,
} from '../wire/compact.js';
import { KadError, toWireError, WireError } from '../errors.js';
import { isNodeId, type NodeId } from '../id.js';
import { immutableTarget, MAX_VALUE_BYTES, mutableTarget, verifyMutable } from '../items.js';
import {
  readAnnouncePeerArgs,
  readFindNodeArgs,
  readGetArgs,
  readGetPeersArgs,
  readPutArgs,
  type Want,
} from '../wire/krpc-args.js';
import {
  NAUTILUS_PROBE,
  NAUTILUS_REACH,
  NAUTILUS_RELAY,
  readProbeArgs,
  readReachArgs,
  readRelayArgs,
} from '../wire/nautilus-reach.js';
import { DEFAULT_ROUTING_TABLE_OPTIONS } from '../routing/routing-types.js';
import { isSecureId } from '../routing/secure-id.js';
import { responseEnvelopeBytes } from '../rpc/reply.js';
import { MAX_DATAGRAM_BYTES } from '../transport/transport.js';
import { boolean, integerAtLeast } from '../option-checks.js';
import { DEFAULT_STORAGE_GATE_OPTIONS, StorageGate, type StorageGateStats } from './storage-gate.js';
import type { KadStorage } from './storage.js';
import type { WriteTokens } from './tokens.js';

/** Who sent a query: the UDP source address and its family. */
export interface QuerySource {
  readonly host: string;
  readonly port: number;
  readonly family: AddressFamily;
}

/** A query as the handlers see it: method name and arguments (already a decoded dictionary). */
export interface IncomingQuery {
  /** The method, e.g. `"find_node"`. */
  readonly q: string;
  /** The arguments dictionary `a`. */
  readonly a: BencodeDict;
  /** The transaction id, used only to budget the response size. */
  readonly t: Uint8Array;
}

/** Per-query context of {@link QueryHandlers.respond}. */
export interface RespondContext {
  /** Aborted when the node closes: storage calls stop waiting. */
  readonly signal?: AbortSignal | undefined;
  /**
   * Most bytes the bencoded `r` may take (the RPC layer's `QueryContext.maxResponseBytes`).
   * `nodes` / `nodes6` and `values` are trimmed to fit; the item, token and id never are.
   * @default what a 1500-byte datagram leaves beside the query's `t`, a 4-byte `v` and an 18-byte `ip`
   */
  readonly maxResponseBytes?: number | undefined;
}

/** What to send back: a response dictionary `r`, or a KRPC error `[code, text]`. */
export type HandlerOutcome =
  | { readonly kind: 'response'; readonly r: BencodeDict }
  | { readonly kind: 'error'; readonly e: [code: number, message: string] };

/** Collaborators of {@link QueryHandlers}. */
export interface QueryHandlersDeps {
  /** This node's id, put in every response. */
  readonly id: NodeId;
  /** Peers and items stored for others. */
  readonly storage: KadStorage;
  /** Write tokens for announce_peer and put. */
  readonly tokens: WriteTokens;
  /**
   * Up to `count` contacts of `family` closest to `target` from the routing table(s); an empty
   * list for a family this node does not serve.
   */
  readonly closest: (target: NodeId, family: AddressFamily, count: number) => Contact[];
  /**
   * The same contacts as compact node info, concatenated (26 bytes each for IPv4, 38 for IPv6),
   * or `undefined` for a family this node does not serve: a routing table that holds contacts in
   * that form answers `find_node` without building contact objects. Without it, `closest` is
   * encoded.
   */
  readonly closestNodes?: (target: NodeId, family: AddressFamily, count: number) => Uint8Array | undefined;
  /** Source of time for the storage deadline. @default systemClock */
  readonly clock?: Clock;
  /**
   * Handlers of Nautilus extension queries (new query names beside BEP 5 and 44, such as hole
   * punching's `nautilus_introduce`), by method name; called once `a.id` is checked. Any other
   * unknown method is answered 204.
   */
  readonly extensions?: ReadonlyMap<string, ExtensionHandler>;
  /**
   * Serves the Nautilus reachability extension (wire/nautilus-reach.ts). Without it the three
   * queries are answered 204 (method unknown), as by other implementations.
   */
  readonly reachability?: {
    /**
     * `from` (node `requester`) asks to have its IP probed at `port` by a third node; `false`
     * (no third node to relay to) is answered 201.
     */
    reach(from: QuerySource, requester: NodeId, port: number, nonce: Uint8Array): boolean;
    /** A contact relays a reach: probe `target`; `'refused'` (a target out of scope) is answered 201. */
    relay(
      from: QuerySource,
      target: { host: string; port: number },
      nonce: Uint8Array,
    ): 'probed' | 'rate-limited' | 'refused';
    /** A dial-back arrived. */
    probe(from: QuerySource, nonce: Uint8Array): void;
  };
}

/** Serves one extension query: the response `r` (without `id`), or a rejection as {@link QueryHandlers.respond}'s. */
export type ExtensionHandler = (
  query: IncomingQuery,
  from: QuerySource,
  context: RespondContext,
) => BencodeDict | Promise<BencodeDict>;

/** Configuration of {@link QueryHandlers}. */
export interface QueryHandlersOptions {
  /**
   * Contacts per `nodes` / `nodes6` list.
   * @default 8
   * @see BEP 5 "find_node"
   */
  readonly k?: number;
  /**
   * Bytes of a response set aside for `values` in `get_peers` (8 bytes per IPv4 peer, 21 per
   * IPv6 peer), so that the response fits one 1500-byte datagram with room for the rest.
   * @default 1000
   */
  readonly valuesBudgetBytes?: number;
  /**
   * Refuse to store peers (`announce_peer`) and items (`put`) for a querier whose id does not
   * match its IP as BEP 42 specifies, answering 201; loopback and private addresses are exempt.
   * Routing tolerates such nodes either way.
   * @default true
   * @see BEP 42
   */
  readonly enforceSecureIds?: boolean;
  /**
   * Most inbound queries waiting on storage at once (`get_peers`, `announce_peer`, `get`,
   * `put`). One more is answered 202 at once, without touching storage, and counted in
   * `storageStats().refused`; a query keeps its place until its storage calls settle, so a
   * backend that stops answering holds at most this many calls (and their memory).
   * @default 256
   */
  readonly maxStorageWaiting?: number;
  /**
   * Longest an inbound query waits on storage, in ms: then its storage calls are aborted and it
   * is answered 202, counted in `storageStats().timedOut`.
   * @default 1000
   */
  readonly storageTimeoutMs?: Milliseconds;
}

/** Defaults of {@link QueryHandlersOptions}. */
export const DEFAULT_QUERY_HANDLERS_OPTIONS = Object.freeze({
  k: DEFAULT_ROUTING_TABLE_OPTIONS.k,
  valuesBudgetBytes: 1000,
  enforceSecureIds: true,
  maxStorageWaiting: DEFAULT_STORAGE_GATE_OPTIONS.maxWaiting,
  storageTimeoutMs: DEFAULT_STORAGE_GATE_OPTIONS.timeoutMs,
} satisfies Required<QueryHandlersOptions>);

// at most this many peers per get_peers response, whatever the budget
const MAX_VALUES = 100;
// "6:values" and the list's "l" … "e"
const VALUES_LIST_BYTES = 10;

/**
 * Answers every Mainline DHT query as BEP 5, 32, 43 and 44 specify. Pure request → outcome:
 * sending, routing-table updates and rate limits live in the node and RPC layers.
 *
 * Malformed arguments are 203, storage failures and corrupt stored items 202, unknown methods 204.
 *
 * BEP 32: `nodes` / `nodes6` follow `want` (default: the family the query came over), each from
 * `closest` of that family. Every response fits one datagram (`maxResponseBytes`): the value of
 * a BEP 44 item, its key, signature, seq and the token come first, and the node lists get the
 * room left, the closest contacts of each wanted family in turn (a dual-stack `get` of a
 * 1000-byte item still carries a few of each). `get_peers` `values` follow `want` the same way: by default only
 * peers of the query's family (the IPv4 and IPv6 DHTs are independent, and IPv4-only clients
 * expect 6-byte peers); a querier that asks for both gets peers of both families.
 */
export class QueryHandlers {
  readonly #deps: QueryHandlersDeps;
  readonly #k: number;
  readonly #valuesBudget: number;
  readonly #enforceSecureIds: boolean;
  readonly #gate: StorageGate;

  /** @throws {KadError} `INVALID_OPTION` naming the option. */
  constructor(deps: QueryHandlersDeps, options: QueryHandlersOptions = {}) {
    const d = DEFAULT_QUERY_HANDLERS_OPTIONS;
    this.#deps = deps;
    this.#k = integerAtLeast('k', options.k, d.k, 1);
    this.#valuesBudget = integerAtLeast('valuesBudgetBytes', options.valuesBudgetBytes, d.valuesBudgetBytes, 0);
    this.#enforceSecureIds = boolean('enforceSecureIds', options.enforceSecureIds, d.enforceSecureIds);
    this.#gate = new StorageGate(
      { maxWaiting: options.maxStorageWaiting, timeoutMs: options.storageTimeoutMs },
      { clock: deps.clock },
    );
  }

  /** Inbound queries waiting on storage now, and those refused (`maxStorageWaiting`) or timed out since creation. */
  storageStats(): StorageGateStats {
    return this.#gate.stats();
  }

  /**
   * The response dictionary `r` for `query` from `from`. Rejects with a {@link KadError} whose
   * `wireCode` is the KRPC error to send (the contract of the RPC layer's query handler);
   * anything else (a storage failure) is a 202. `ping` and `find_node` answer synchronously
   * (no promise, no extra turn), the methods that touch storage asynchronously.
   */
  respond(query: IncomingQuery, from: QuerySource, context: RespondContext = {}): BencodeDict | Promise<BencodeDict> {
    if (!isNodeId(query.a['id'])) throw KadError.invalidMessage('a.id must be 20 bytes');
    // the signal only where storage is touched: reading it may create it (see QueryContext)
    const room =
      context.maxResponseBytes ??
      MAX_DATAGRAM_BYTES - responseEnvelopeBytes(query.t.length, { clientVersionBytes: 4, ipBytes: 18 });
    switch (query.q) {
      case 'ping':
        return this.#ok({});
      case 'find_node':
        return this.#findNode(query.a, from, room);
      case 'get_peers':
        return this.#getPeers(query, from, room, context.signal);
      case 'announce_peer':
        return this.#announcePeer(query.a, from, context.signal);
      case 'get':
        return this.#get(query.a, from, room, context.signal);
      case 'put':
        return this.#put(query.a, from, context.signal);
      case NAUTILUS_REACH:
      case NAUTILUS_RELAY:
      case NAUTILUS_PROBE:
        return this.#reachability(query, from);
      default: {
        const extension = this.#deps.extensions?.get(query.q);
        if (extension === undefined) throw KadError.methodUnknown(query.q);
        const result = extension(query, from, context);
        return result instanceof Promise ? result.then((r) => this.#ok(r)) : this.#ok(result);
      }
    }
  }

  #reachability(query: IncomingQuery, from: QuerySource): BencodeDict {
    const extension = this.#deps.reachability;
    if (extension === undefined) throw KadError.methodUnknown(query.q);
    if (query.q === NAUTILUS_REACH) {
      const { port, nonce } = readReachArgs(query.a);
      if (!extension.reach(from, query.a['id'] as NodeId, port, nonce)) {
        throw new KadError('NO_CONTACTS', `${NAUTILUS_REACH}: no third node to relay to`, {
          wireCode: WireError.Generic,
        });
      }
    } else if (query.q === NAUTILUS_RELAY) {
      const { target, nonce } = readRelayArgs(query.a);
      if (extension.relay(from, target, nonce) === 'refused') {
        throw new KadError('INVALID_ADDRESS', `${NAUTILUS_RELAY}: target not probed from here`, {
          wireCode: WireError.Generic,
        });
      }
    } else {
      extension.probe(from, readProbeArgs(query.a).nonce);
    }
    return this.#ok({});
  }

  /** Like {@link respond}, as a value: the response, or the `[code, text]` error to send. Never rejects. */
  async handle(query: IncomingQuery, from: QuerySource, context: RespondContext = {}): Promise<HandlerOutcome> {
    try {
      return { kind: 'response', r: await this.respond(query, from, context) };
    } catch (error) {
      return { kind: 'error', e: toWireError(error) };
    }
  }

  #ok(fields: BencodeDict): BencodeDict {
    const r: BencodeDict = Object.create(null) as BencodeDict;
    r['id'] = this.#deps.id;
    Object.assign(r, fields);
    return r;
  }

  #findNode(a: BencodeDict, from: QuerySource, room: number): BencodeDict {
    const args = readFindNodeArgs(a);
    return this.#withNodes(this.#ok({}), args.target, families(args.want, from.family), room);
  }

  async #getPeers(query: IncomingQuery, from: QuerySource, room: number, signal?: AbortSignal): Promise<BencodeDict> {
    const args = readGetPeersArgs(query.a);
    const token = this.#deps.tokens.issue(from.host);
    const wanted = families(args.want, from.family);
    const base = this.#ok({ token });
    const valuesRoom = Math.min(this.#valuesBudget - query.t.length, room - bencodedSize(base) - VALUES_LIST_BYTES);
    // each wanted family gets an equal share of the budget, so one cannot crowd out the other
    const share = Math.floor(valuesRoom / wanted.length);
    const values = await this.#gate.run(signal, async (scoped) => {
      let found: Uint8Array[] = [];
      for (const family of wanted) {
        const max = Math.min(Math.floor(MAX_VALUES / wanted.length), Math.floor(share / (family === 4 ? 8 : 21)));
        if (max <= 0) continue;
        const peers = await this.#deps.storage.getPeers(args.infoHash, { family, max, signal: scoped });
        found = found.length === 0 ? peers : found.concat(peers);
      }
      return found;
    });
    if (values.length > 0) return this.#ok({ token, values });
    return this.#withNodes(base, args.infoHash, wanted, room);
  }

  async #announcePeer(a: BencodeDict, from: QuerySource, signal?: AbortSignal): Promise<BencodeDict> {
    const args = readAnnouncePeerArgs(a);
    // implied_port (BEP 5): the UDP source port, for peers behind a NAT that maps ports
    const port = args.impliedPort ? from.port : args.port;
    this.#checkSecureId(args.id, from);
    if (!this.#deps.tokens.verify(from.host, args.token)) throw KadError.invalidToken('bad token');
    const peer = encodePeer({ host: from.host, port });
    await this.#gate.run(signal, (scoped) => this.#deps.storage.announcePeer(args.infoHash, peer, { signal: scoped }));
    return this.#ok({});
  }

  async #get(a: BencodeDict, from: QuerySource, room: number, signal?: AbortSignal): Promise<BencodeDict> {
    const args = readGetArgs(a);
    const fields: BencodeDict = Object.create(null) as BencodeDict;
    fields['token'] = this.#deps.tokens.issue(from.host);
    const item = await this.#gate.run(signal, (scoped) => this.#deps.storage.getItem(args.target, { signal: scoped }));
    if (item !== undefined) {
      if (!item.mutable) fields['v'] = storedValue(item.v);
      else {
        fields['seq'] = item.seq;
        // BEP 44: a querier that already has this seq or a newer one gets no value back
        if (args.seq === undefined || item.seq > args.seq) {
          fields['v'] = storedValue(item.v);
          fields['k'] = item.k;
          fields['sig'] = item.sig;
        }
      }
    }
    // the item first: the node lists get what room it leaves
    return this.#withNodes(this.#ok(fields), args.target, families(args.want, from.family), room);
  }

  async #put(a: BencodeDict, from: QuerySource, signal?: AbortSignal): Promise<BencodeDict> {
    // shape and size first (205, 207), then the token (203), then the costly signature (206)
    const args = readPutArgs(a);
    this.#checkSecureId(args.id, from);
    if (!this.#deps.tokens.verify(from.host, args.token)) throw KadError.invalidToken('bad token');
    const v = bencode(args.v);
    if (args.kind === 'immutable') {
      const target = immutableTarget(args.v);
      await this.#gate.run(signal, (scoped) => this.#deps.storage.putImmutable(target, v, { signal: scoped }));
      return this.#ok({});
    }
    const salt = args.salt ?? new Uint8Array(0);
    if (!verifyMutable({ k: args.k, sig: args.sig, seq: args.seq, salt, v: args.v })) {
      throw KadError.invalidSignature('invalid signature');
    }
    const target = mutableTarget(args.k, salt);
    const item = { v, k: args.k, sig: args.sig, seq: args.seq, salt };
    const result = await this.#gate.run(signal, (scoped) =>
      this.#deps.storage.putMutable(target, item, { cas: args.cas, signal: scoped }),
    );
    if (result === 'cas-mismatch') throw KadError.casMismatch();
    if (result === 'seq-too-low') throw KadError.seqTooLow();
    return this.#ok({});
  }

  /** BEP 42 for storage: 201 for a public querier whose id was not derived from its IP. */
  #checkSecureId(id: NodeId, from: QuerySource): void {
    if (!this.#enforceSecureIds || isSecureId(id, from.host)) return;
    throw KadError.insecureId();
  }

  /**
   * Adds to `r` the `nodes` / `nodes6` of `families` that fit in `room` bytes with it: the
   * closest contact of each family in turn while one more fits, up to k per family. Every wanted
   * family gets its key, if need be with an empty list.
   */
  #withNodes(r: BencodeDict, target: NodeId, families: readonly AddressFamily[], room: number): BencodeDict {
    const lists = families.map((family) => {
      const size = family === 4 ? COMPACT_NODE_V4_BYTES : COMPACT_NODE_V6_BYTES;
      const nodes =
        this.#deps.closestNodes?.(target, family, this.#k) ??
        encodeNodes(this.#deps.closest(target, family, this.#k), family);
      return { family, nodes, available: Math.floor(nodes.length / size), count: 0 };
    });
    let free = room - bencodedSize(r);
    for (const list of lists) free -= nodeListBytes(list.family, 0);
    for (let grew = true; grew;) {
      grew = false;
      for (const list of lists) {
        if (list.count >= list.available) continue;
        const cost = nodeListBytes(list.family, list.count + 1) - nodeListBytes(list.family, list.count);
        if (cost > free) continue;
        free -= cost;
        list.count++;
        grew = true;
      }
    }
    for (const { family, nodes, count } of lists) {
      const size = family === 4 ? COMPACT_NODE_V4_BYTES : COMPACT_NODE_V6_BYTES;
      r[family === 4 ? 'nodes' : 'nodes6'] = nodes.subarray(0, count * size);
    }
    return r;
  }
}

/** Bytes of a `nodes` (IPv4) or `nodes6` entry holding `count` compact nodes, key included. */
function nodeListBytes(family: AddressFamily, count: number): number {
  const bytes = count * (family === 4 ? COMPACT_NODE_V4_BYTES : COMPACT_NODE_V6_BYTES);
  const keyBytes = family === 4 ? 7 : 8; // "5:nodes", "6:nodes6"
  return keyBytes + String(bytes).length + 1 + bytes;
}

/**
 * The value of a stored item. Bytes that do not decode were corrupted in storage (a shared
 * backend): our failure, answered 202, not the querier's (203).
 */
function storedValue(v: Uint8Array): BencodeValue {
  try {
    return bdecode(v, { maxBytes: MAX_VALUE_BYTES });
  } catch (cause) {
    throw KadError.corruptItem('stored item value is not bencoded', cause);
  }
}

/** BEP 32 `want`: absent or empty means the family the query came over. */
function families(want: readonly Want[] | undefined, fallback: AddressFamily): AddressFamily[] {
  if (want === undefined || want.length === 0) return [fallback];
  return want.map((w) => (w === 'n4' ? 4 : 6));
}
