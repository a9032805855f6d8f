import type { Clock } from '../../core/clock.js';
import type { BencodeDict } from '../wire/bencode.js';
import type { AddressFamily, Contact } from '../wire/compact.js';
import { toWireError, WireError } from '../errors.js';
import { ExternalAddressVote } from '../routing/external-address.js';
import { NatMappingVote } from '../routing/nat-mapping.js';
import type { QueryHandlers } from '../serve/handlers.js';
import type { NodeId } from '../id.js';
import { readResponse, type ResponseValues } from '../wire/krpc-args.js';
import type { KrpcQuery } from '../wire/krpc.js';
import { NodeTable, type Pinger } from '../routing/node-table.js';
import type { KadFamilyStats } from './types.js';
import { Rpc, type RpcOptions } from '../rpc/rpc.js';
import type { Endpoint, RemoteInfo, Transport } from '../transport/transport.js';

/** What a {@link FamilyStack} is built from. @internal */
export interface FamilyStackInit {
  readonly id: NodeId;
  readonly k: number;
  readonly transport: Transport;
  /** Whether the stack closes the transport when it closes. */
  readonly ownsTransport: boolean;
  readonly clock: Clock;
  readonly rpc: RpcOptions;
  /** Pings a contact for the table's ping-before-evict. */
  readonly ping: Pinger;
  /** Told of every query sent and received (the firewall check, BEP 43). */
  readonly observer?: TrafficObserver;
}

/** What a {@link FamilyStack} reports of its queries. @internal */
export interface TrafficObserver {
  /** A query is about to be sent to `to`. */
  sent(to: Endpoint): void;
  /** A query arrived from `from` (before it is served). */
  queried(from: RemoteInfo): void;
  /**
   * A query from node `id` at `from` was served, and the routing table does not hold its sender:
   * it was read-only (BEP 43), its subnet is full in its bucket, or the table knows it at another
   * address (a rendezvous remembers it for hole punching).
   */
  unheldQuerier?(id: NodeId, from: RemoteInfo): void;
}

/**
 * Wire errors that mean the query itself did not validate (malformed or oversized arguments, bad
 * token, unknown method, forged signature): its sender is not added to the routing table. The
 * others (201 BEP 42 storage refusal, 202, 301, 302) answer a well-formed query.
 */
const INVALID_QUERY_CODES: ReadonlySet<number> = new Set([
  WireError.Protocol,
  WireError.MethodUnknown,
  WireError.MessageTooBig,
  WireError.InvalidSignature,
  WireError.SaltTooBig,
]);

/**
 * One address family of a node (BEP 32): its transport, RPC layer, routing table and external
 * address vote. A dual-stack node runs two, sharing id, storage, tokens and handlers.
 * @internal
 */
export class FamilyStack {
  readonly family: AddressFamily;
  readonly transport: Transport;
  readonly rpc: Rpc;
  readonly table: NodeTable;
  readonly external: ExternalAddressVote;
  /** Whether responders see this node at one external port or a port per destination (hole punching). */
  readonly mapping: NatMappingVote;
  readonly #ownsTransport: boolean;
  readonly #observer: TrafficObserver | undefined;

  constructor(init: FamilyStackInit) {
    this.transport = init.transport;
    this.family = init.transport.address().family;
    this.#ownsTransport = init.ownsTransport;
    this.rpc = new Rpc(init.rpc, { transport: init.transport, clock: init.clock });
    this.table = new NodeTable({ id: init.id, k: init.k, family: this.family, clock: init.clock }, init.ping);
    this.external = new ExternalAddressVote(this.family);
    this.mapping = new NatMappingVote(this.family);
    this.#observer = init.observer;
  }

  /**
   * Answers inbound queries with `handlers`; a read-only node (BEP 43) answers nothing. A querier
   * (without `ro`) enters the routing table only once its query validated, so malformed or
   * forged queries cannot push contacts into it.
   */
  serve(handlers: QueryHandlers, readOnly: boolean): void {
    if (readOnly) {
      this.rpc.setQueryHandler(() => undefined);
      return;
    }
    const refused = (query: KrpcQuery, from: RemoteInfo, error: unknown): never => {
      if (!INVALID_QUERY_CODES.has(toWireError(error)[0])) this.#observeQuerier(query, from);
      throw error;
    };
    this.rpc.setQueryHandler((query, from, context) => {
      this.#observer?.queried(from);
      let result: BencodeDict | Promise<BencodeDict>;
      try {
        result = handlers.respond(query, from, context);
      } catch (error) {
        return refused(query, from, error);
      }
      if (!(result instanceof Promise)) {
        this.#observeQuerier(query, from);
        return result;
      }
      return result.then(
        (r) => {
          this.#observeQuerier(query, from);
          return r;
        },
        (error: unknown) => refused(query, from, error),
      );
    });
  }

  /**
   * Sends a query and reads the response; the responder is a good contact, and the `ip` it saw
   * us at is a vote for our external address (BEP 42). `retries` overrides the RPC layer's
   * (a lookup, which has other nodes to ask, passes 0); `readOnly` overrides its `ro` flag.
   */
  async query(
    to: Endpoint,
    method: string,
    args: BencodeDict,
    signal: AbortSignal | undefined,
    retries?: number,
    readOnly?: boolean,
  ): Promise<{ values: ResponseValues; from: RemoteInfo }> {
    this.#observer?.sent(to);
    const { response, from } = await this.rpc.query(to, method, args, {
      ...(signal === undefined ? {} : { signal }),
      ...(retries === undefined ? {} : { retries }),
      ...(readOnly === undefined ? {} : { readOnly }),
    });
    const values = readResponse(response.r);
    if (response.ip !== undefined) {
      this.external.record(from.host, response.ip);
      this.mapping.record(from.host, response.ip);
    }
    // it answered: a good contact (unless it is us, which the table refuses)
    this.table.observe({ id: values.id, host: from.host, port: from.port });
    return { values, from };
  }

  /**
   * Sends a query without the side effects of {@link query}: the responder does not enter the
   * table and its `ip` is no vote (hole punching: a peer behind a NAT, or a target told to punch).
   * Counts as sent for the firewall check, so the answers it opens the way for are not unsolicited.
   * With `vote`, the `ip` it reports counts (a public node, such as a rendezvous).
   */
  probe(
    to: Endpoint,
    method: string,
    args: BencodeDict,
    options: { signal?: AbortSignal; timeoutMs?: number; retries?: number; vote?: boolean },
  ): Promise<{ values: ResponseValues; from: RemoteInfo; rttMs: number; r: BencodeDict }> {
    this.#observer?.sent(to);
    const { vote, ...rest } = options;
    return this.rpc.query(to, method, args, rest).then(({ response, from, rttMs }) => {
      const values = readResponse(response.r);
      if (vote === true && response.ip !== undefined) {
        this.external.record(from.host, response.ip);
        this.mapping.record(from.host, response.ip);
      }
      return { values, from, rttMs, r: response.r };
    });
  }

  /** Records that this node sent to `to` (for the firewall check) without sending anything. */
  noteSent(to: Endpoint): void {
    this.#observer?.sent(to);
  }

  /** Contacts closest to `target`. */
  closest(target: NodeId, count: number, includeBad = false): Contact[] {
    return this.table.closest(target, count, includeBad);
  }

  /** Compact node info (`nodes` / `nodes6` format) of the contacts closest to `target`. */
  closestCompact(target: NodeId, count: number): Uint8Array {
    return this.table.closestCompact(target, count);
  }

  stats(): KadFamilyStats {
    return { contacts: this.table.size, rpc: this.rpc.stats(), transport: this.transport.stats() };
  }

  /** Stops probing and answering, rejects pending queries with `CLOSED`, closes an owned transport. */
  async close(): Promise<void> {
    this.table.close();
    await this.rpc.close();
    if (this.#ownsTransport) await this.transport.close();
  }

  #observeQuerier(query: KrpcQuery, from: RemoteInfo): void {
    const id = query.a['id'];
    if (!(id instanceof Uint8Array)) return;
    // a querier the table does not hold as it is now (read-only, one subnet too many, or known at
    // an older address: a NAT that rebound) may still need an introduction
    const status = query.ro === true ? 'read-only' : this.table.observe({ id, host: from.host, port: from.port });
    const held = status !== 'read-only' && status !== 'rejected-diversity' && status !== 'conflict';
    if (!held) this.#observer?.unheldQuerier?.(id, from);
  }
}

/**
 * The stack of `family` among a node's `stacks` (one per address family), or `undefined` when
 * the node runs none for it.
 * @internal
 */
export function stackFor(stacks: readonly FamilyStack[], family: AddressFamily | undefined): FamilyStack | undefined {
  return stacks.find((stack) => stack.family === family);
}
