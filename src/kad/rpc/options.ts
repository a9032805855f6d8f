import type { Clock, Milliseconds } from '../../core/clock.js';
import type { BencodeDict } from '../wire/bencode.js';
import type { InFlightLimiterOptions } from './in-flight.js';
import type { KrpcQuery, KrpcResponse } from '../wire/krpc.js';
import type { InboundLimiterOptions, OutboundPacerOptions } from './rate-limit.js';
import type { RttEstimatorOptions } from './rtt.js';
import type { RemoteInfo, Transport } from '../transport/transport.js';

/** Configuration of an `Rpc`. */
export interface RpcOptions {
  /**
   * Client version `v` put on every outgoing message: two letters and two version bytes by
   * convention; `null` to send none.
   * @default "NA" 0x00 0x01
   */
  readonly clientVersion?: Uint8Array | null;
  /** Marks outgoing queries `ro: 1`: remote nodes will not add this node to their tables. @see BEP 43 @default false */
  readonly readOnly?: boolean;
  /**
   * Retransmissions of a query that timed out, each with a fresh transaction id and twice the
   * previous timeout (RFC 6298 back-off). A lookup that has other nodes to ask may pass 0.
   * @default 1
   */
  readonly retries?: number;
  /** Puts the requester's compact address `ip` in every reply (BEP 42). @default true */
  readonly reportRequesterIp?: boolean;
  /** Adaptive timeouts: see {@link RttEstimatorOptions}. */
  readonly rtt?: RttEstimatorOptions;
  /** In-flight caps and wait queue: see {@link InFlightLimiterOptions}. */
  readonly inFlight?: InFlightLimiterOptions;
  /** Outbound pacing per destination (queries and retransmissions): see {@link OutboundPacerOptions}. */
  readonly pacing?: OutboundPacerOptions;
  /** Inbound per-IP limit on queries; excess queries are dropped unanswered. See {@link InboundLimiterOptions}. */
  readonly inboundLimit?: InboundLimiterOptions;
  /**
   * Applies pacing and the inbound limit to loopback peers (127.0.0.0/8, ::1) too. Off by
   * default: loopback traffic never leaves the machine, so no remote node can ban us for it and
   * no remote host can spoof it, while local test networks and benchmarks put hundreds of
   * nodes on 127.0.0.1.
   * @default false
   */
  readonly limitLoopback?: boolean;
  /**
   * Largest reply (response or error) to one of this node's own outstanding queries that is
   * accepted, in bytes, in `[1500, 65507]`. Other implementations answer with more than 1500
   * bytes (bittorrent-dht puts up to its whole routing table in `nodes`, 40–110 contacts), and
   * dropping those would make them look silent. A datagram over 1500 bytes is decoded only when
   * it comes from a queried address with the transaction id of a query in flight to it (checked
   * by a scan that builds nothing); queries and everything else over 1500 bytes are dropped
   * undecoded, and what this node sends stays within 1500 bytes whatever this is.
   * @default 65507 (the largest UDP payload, `MAX_UDP_PAYLOAD_BYTES`)
   */
  readonly maxReplyBytes?: number;
}

/** Defaults of the scalar {@link RpcOptions}. */
export const DEFAULT_RPC_OPTIONS = Object.freeze({
  clientVersion: Uint8Array.of(0x4e, 0x41, 0x00, 0x01),
  readOnly: false,
  retries: 1,
  reportRequesterIp: true,
  limitLoopback: false,
  maxReplyBytes: 65_507,
});

/** Injected collaborators of an `Rpc`. */
export interface RpcDeps {
  /** Where datagrams go and come from. The RPC layer listens to it but does not own it. */
  readonly transport: Transport;
  /** Source of time and timers. @default systemClock */
  readonly clock?: Clock;
}

/** Per-call options of `Rpc.query`. */
export interface QueryOptions {
  /** Aborts the query: it rejects with `signal.reason`. */
  readonly signal?: AbortSignal;
  /** Timeout of the first attempt in ms, instead of the adaptive one from the RTT estimator. */
  readonly timeoutMs?: Milliseconds;
  /** Retransmissions after a timeout. @default RpcOptions.retries */
  readonly retries?: number;
  /** Marks this query `ro: 1` (BEP 43) or not, whatever the layer's `readOnly`. @default the layer's */
  readonly readOnly?: boolean;
}

/** What a successful `Rpc.query` gives. */
export interface QueryResult {
  /** The response; `response.r` holds the return values, `response.ip` our address as seen by the responder. */
  readonly response: KrpcResponse;
  /** Who answered (the queried endpoint). */
  readonly from: RemoteInfo;
  /** Round trip of the answered transmission, ms. */
  readonly rttMs: Milliseconds;
}

/** Context given to a {@link QueryHandler}. */
export interface QueryContext {
  /** Aborted when the RPC layer closes; pass it on to storage calls (created on first read). */
  readonly signal: AbortSignal;
  /**
   * Most bytes the bencoded response dictionary `r` may take: what is left of one 1500-byte
   * datagram beside this reply's `t`, `v`, `ip` and `y`. A larger `r` is answered 202.
   */
  readonly maxResponseBytes: number;
}

/**
 * Serves one inbound query: returns the response dict `r` (with this node's `id`), or
 * `undefined` to leave the query unanswered. A thrown {@link KadError} with a `wireCode`
 * (201–207, 301, 302) becomes that KRPC error; any other throw becomes 202 "server error".
 * Unknown methods are the handler's call (throw `KadError.methodUnknown` for 204).
 */
export type QueryHandler = (
  query: KrpcQuery,
  from: RemoteInfo,
  context: QueryContext,
) => BencodeDict | undefined | Promise<BencodeDict | undefined>;
