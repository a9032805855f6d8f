import { type Clock, type Milliseconds, systemClock, type Timer } from '../../core/clock.js';
import type { BencodeDict } from '../wire/bencode.js';
import { normalizeIp, parseIp } from '../wire/compact.js';
import { isLoopback } from '../wire/ip-class.js';
import { KadError, WireError, withoutStackTrace } from '../errors.js';
import { InFlightLimiter } from './in-flight.js';
import {
  decodeMessage,
  encodeMessage,
  type KrpcErrorMessage,
  type KrpcMessage,
  type KrpcQuery,
  type KrpcResponse,
} from '../wire/krpc.js';
import { abortReason, integerAtLeast, integerInRange, optionError, positiveNumber } from '../option-checks.js';
import { InboundLimiter, OutboundPacer } from './rate-limit.js';
import { RpcCounters, type RpcStats } from './stats.js';
import {
  DEFAULT_RPC_OPTIONS,
  type QueryHandler,
  type QueryOptions,
  type QueryResult,
  type RpcDeps,
  type RpcOptions,
} from './options.js';
import { Responder } from './responder.js';
import { RttEstimator } from './rtt.js';
import { TransactionIds, transactionIdFromBytes, transactionIdToBytes } from './transaction-ids.js';
import {
  type Endpoint,
  type EndpointId,
  endpointId,
  endpointKey,
  type InboundDatagram,
  MAX_DATAGRAM_BYTES,
  MAX_UDP_PAYLOAD_BYTES,
  type RemoteInfo,
  type Transport,
} from '../transport/transport.js';
import { peekReplyTransactionId } from '../wire/reply-peek.js';

export type { QueryContext, QueryHandler, QueryOptions, QueryResult, RpcDeps, RpcOptions } from './options.js';
export { DEFAULT_RPC_OPTIONS } from './options.js';
export type { MethodCounts, RpcStats } from './stats.js';

// inbound datagrams are decoded within the datagram bound, not the codec's default; only
// replies to our own queries get the larger maxReplyBytes
const DECODE_OPTIONS = Object.freeze({ maxBytes: MAX_DATAGRAM_BYTES });

// a private copy of the default client version, which no caller can reach to change
const DEFAULT_VERSION = Uint8Array.from(DEFAULT_RPC_OPTIONS.clientVersion);

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

interface Request {
  readonly to: Endpoint;
  /** Map key of `to` for the RTT, pacing and in-flight state. */
  readonly key: EndpointId;
  readonly method: string;
  readonly args: BencodeDict;
  /** `ro` of this query, when it overrides the layer's. */
  readonly readOnly: boolean | undefined;
  readonly signal: AbortSignal | undefined;
  readonly resolve: (result: QueryResult) => void;
  readonly reject: (reason: unknown) => void;
  onAbort: (() => void) | undefined;
  /** Transaction ids of every attempt; all stay valid until the request settles. */
  readonly tids: number[];
  retriesLeft: number;
  timeoutMs: Milliseconds;
  timer: Timer | undefined;
  slotHeld: boolean;
  settled: boolean;
}

interface Transmission {
  readonly request: Request;
  readonly sentAt: Milliseconds;
}

/**
 * The KRPC request/response layer over a {@link Transport}: transaction ids, adaptive timeouts
 * with retries, in-flight caps, outbound pacing, inbound rate limits, and dispatch of inbound
 * queries to one {@link QueryHandler}.
 *
 * **Transaction ids** are 4 bytes: a 16-bit counter from a random start (unique among requests
 * in flight) followed by 16 random bits (so an off-path host cannot guess them); a reply must
 * also come from the queried address, or it is ignored and counted as unmatched. Each
 * retransmission gets a new id, and the ids of earlier attempts stay valid until the query
 * settles, so a late answer still completes it and every RTT sample is unambiguous (Karn).
 *
 * **Sizes.** Everything it sends fits 1500 bytes (`MAX_DATAGRAM_BYTES`). It accepts datagrams
 * over 1500 bytes only as replies to its own queries in flight, up to `maxReplyBytes` (65 507 by
 * default), as other implementations send them; a big query or unsolicited datagram is dropped
 * without being decoded (see `RpcOptions.maxReplyBytes`).
 *
 * **Malformed datagrams** are counted and dropped; when the decoder recovers a query's `t`, the
 * sender gets error 203 (within the inbound rate limit), as libtorrent does. Replies are never
 * answered, so two nodes cannot loop on errors. Nothing thrown escapes the receive path.
 *
 * @see BEP 5 "KRPC Protocol", BEP 42, BEP 43
 */
export class Rpc {
  readonly #transport: Transport;
  readonly #family: 4 | 6;
  readonly #clock: Clock;
  readonly #clientVersion: Uint8Array | undefined;
  #readOnly: boolean;
  readonly #retries: number;
  readonly #limitLoopback: boolean;
  readonly #replyDecodeOptions: { readonly maxBytes: number };
  readonly #rtt: RttEstimator;
  readonly #slots: InFlightLimiter;
  readonly #pacer: OutboundPacer;
  readonly #responder: Responder;
  // created on first use, and dropped when empty again: an idle layer holds no map
  #pendingStore: Map<number, Transmission> | undefined;
  get #pending(): Map<number, Transmission> {
    return (this.#pendingStore ??= new Map());
  }
  // created on first use, and dropped when empty again: an idle layer holds no set
  #requestsStore: Set<Request> | undefined;
  get #requests(): Set<Request> {
    return (this.#requestsStore ??= new Set());
  }
  readonly #counters = new RpcCounters();
  readonly #tids = new TransactionIds();
  #closed = false;

  constructor(options: RpcOptions = {}, deps: RpcDeps) {
    const d = DEFAULT_RPC_OPTIONS;
    const version = options.clientVersion === undefined ? d.clientVersion : options.clientVersion;
    if (version !== null && !(version instanceof Uint8Array)) {
      throw optionError('clientVersion', 'a Uint8Array or null', version);
    }
    // a copy: neither the caller nor anyone holding DEFAULT_RPC_OPTIONS can change what this node sends
    // the default is shared by every layer that sends it (nothing writes it), any other is copied
    this.#clientVersion =
      version === null ? undefined : sameBytes(version, DEFAULT_VERSION) ? DEFAULT_VERSION : Uint8Array.from(version);
    this.#readOnly = options.readOnly ?? d.readOnly;
    this.#retries = integerAtLeast('retries', options.retries, d.retries, 0);
    this.#limitLoopback = options.limitLoopback ?? d.limitLoopback;
    const maxReplyBytes = integerInRange(
      'maxReplyBytes',
      options.maxReplyBytes,
      d.maxReplyBytes,
      MAX_DATAGRAM_BYTES,
      MAX_UDP_PAYLOAD_BYTES,
    );
    this.#replyDecodeOptions = Object.freeze({ maxBytes: maxReplyBytes });
    this.#transport = deps.transport;
    this.#family = deps.transport.address().family;
    this.#clock = deps.clock ?? systemClock;
    this.#rtt = new RttEstimator(options.rtt);
    this.#slots = new InFlightLimiter(options.inFlight);
    this.#pacer = new OutboundPacer(options.pacing, { clock: this.#clock });
    this.#responder = new Responder({
      transport: this.#transport,
      family: this.#family,
      counters: this.#counters,
      inbound: new InboundLimiter(options.inboundLimit, { clock: this.#clock }),
      limitLoopback: this.#limitLoopback,
      clientVersion: this.#clientVersion,
      reportIp: options.reportRequesterIp ?? d.reportRequesterIp,
      isClosed: () => this.#closed,
    });
    this.#transport.on('message', this.#onMessage);
    this.#transport.on('close', this.#onTransportClose);
  }

  /** Whether outgoing queries are marked read-only (`ro: 1`, BEP 43). */
  get readOnly(): boolean {
    return this.#readOnly;
  }

  /** Marks the queries sent from now on read-only (`ro: 1`) or not (BEP 43; a firewalled node). */
  setReadOnly(readOnly: boolean): void {
    this.#readOnly = readOnly;
  }

  /** Sets (or with `undefined` clears) the function that serves inbound queries. */
  setQueryHandler(handler: QueryHandler | undefined): void {
    this.#responder.setHandler(handler);
  }

  /** The RTT estimator behind the adaptive timeouts (read it for diagnostics). */
  get rtt(): RttEstimator {
    return this.#rtt;
  }

  /** The transport's bound address. */
  address(): RemoteInfo {
    return this.#transport.address();
  }

  /** Whether {@link close} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Sends query `method` with arguments `args` (which must hold this node's `id`) to `to` and
   * resolves with the response. Rejects with `KadError`: `TIMEOUT` after the last retry,
   * `REMOTE_ERROR` (`wireCode`, message) for a KRPC error reply, `OVERLOADED` when the wait
   * queue or the pacing queue is full, `CLOSED` when closed, `INVALID_MESSAGE` when the query
   * cannot be encoded within 1500 bytes, `INVALID_ADDRESS` when `to` is of the other address
   * family than the transport; or with `signal.reason` when aborted.
   */
  query(to: Endpoint, method: string, args: BencodeDict, options: QueryOptions = {}): Promise<QueryResult> {
    if (this.#closed) return Promise.reject(KadError.closed('rpc'));
    const { signal } = options;
    if (signal?.aborted === true) return Promise.reject(abortReason(signal));
    let retries: number;
    let destination: Endpoint;
    try {
      retries = integerAtLeast('retries', options.retries, this.#retries, 0);
      if (options.timeoutMs !== undefined) positiveNumber('timeoutMs', options.timeoutMs, 0, ' of ms');
      // canonical IPv6 text, so that the reply's source address compares equal
      destination = {
        host: to.host.includes(':') && parseIp(to.host) !== undefined ? normalizeIp(to.host) : to.host,
        port: to.port,
      };
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : optionError('options', 'valid query options', error));
    }
    const key = endpointId(destination);
    const family = typeof key === 'number' ? 4 : destination.host.includes(':') ? 6 : undefined;
    if (family !== undefined && family !== this.#family) {
      // BEP 32: one RPC layer per family; a dual-stack node asks the other one
      return Promise.reject(
        KadError.invalidAddress(`${endpointKey(destination)} is not reachable over IPv${this.#family}`),
      );
    }
    const timeoutMs = options.timeoutMs ?? this.#rtt.timeoutFor(key);
    return new Promise<QueryResult>((resolve, reject) => {
      const request: Request = {
        to: destination,
        key,
        method,
        args,
        readOnly: options.readOnly,
        signal,
        resolve,
        reject,
        onAbort: undefined,
        tids: [],
        retriesLeft: retries,
        timeoutMs,
        timer: undefined,
        slotHeld: false,
        settled: false,
      };
      this.#requests.add(request);
      if (signal !== undefined) {
        request.onAbort = () => this.#settle(request, abortReason(signal));
        signal.addEventListener('abort', request.onAbort, { once: true });
      }
      if (this.#slots.tryAcquire(key)) {
        request.slotHeld = true;
        this.#transmit(request);
        return;
      }
      this.#slots.acquire(key, signal).then(
        () => {
          if (request.settled) {
            this.#slots.release(key);
            return;
          }
          request.slotHeld = true;
          this.#transmit(request);
        },
        (error: unknown) => this.#settle(request, error),
      );
    });
  }

  /** Counters since creation, plus the current in-flight and queued requests. */
  stats(): RpcStats {
    return this.#counters.snapshot(this.#slots.inFlight, this.#slots.queued + this.#pacer.queued);
  }

  /**
   * Rejects every pending and queued query with `CLOSED`, cancels their timers, aborts the
   * handlers' signal and stops listening to the transport (which stays open: close it apart).
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#transport.off('message', this.#onMessage);
    this.#transport.off('close', this.#onTransportClose);
    const error = KadError.closed('rpc');
    for (const request of [...(this.#requestsStore ?? [])]) this.#settle(request, error);
    this.#slots.close();
    this.#pacer.close();
    this.#responder.close(error);
  }

  /** Sends one attempt of `request` once pacing allows. The caller holds a slot. */
  #transmit(request: Request): void {
    if (request.settled) return;
    if ((!this.#limitLoopback && isLoopback(request.to.host)) || this.#pacer.tryAcquire(request.key)) {
      this.#send(request);
      return;
    }
    this.#pacer.acquire(request.key, request.signal).then(
      () => this.#send(request),
      (error: unknown) => this.#settle(request, error),
    );
  }

  #send(request: Request): void {
    if (request.settled) return;
    const t = this.#tids.next((id) => this.#pending.has(id));
    const query: KrpcQuery = { y: 'q', t: transactionIdToBytes(t), q: request.method, a: request.args };
    if (this.#clientVersion !== undefined) query.v = this.#clientVersion;
    if (request.readOnly ?? this.#readOnly) query.ro = true;
    let datagram: Uint8Array;
    try {
      datagram = encodeMessage(query);
    } catch (error) {
      this.#settle(request, error);
      return;
    }
    if (datagram.byteLength > MAX_DATAGRAM_BYTES) {
      this.#settle(
        request,
        KadError.invalidMessage(`query of ${datagram.byteLength} bytes exceeds ${MAX_DATAGRAM_BYTES}`),
      );
      return;
    }
    this.#pending.set(t, { request, sentAt: this.#clock.now() });
    request.tids.push(t);
    if (request.tids.length > 1) this.#counters.retransmits++;
    this.#counters.countOut(request.method);
    this.#transport.send(datagram, request.to);
    request.timer = this.#clock.setTimeout(() => this.#onTimeout(request), request.timeoutMs);
  }

  #onTimeout(request: Request): void {
    request.timer = undefined;
    if (request.settled) return;
    if (request.retriesLeft > 0) {
      request.retriesLeft--;
      // RFC 6298 §5.5 back-off, capped at maxTimeoutMs (an explicit longer timeout is kept)
      request.timeoutMs = Math.max(request.timeoutMs, Math.min(request.timeoutMs * 2, this.#rtt.bounds.maxTimeoutMs));
      this.#transmit(request);
      return;
    }
    this.#counters.timeouts++;
    const attempts = request.tids.length;
    // routine (a lossy network times out thousands of queries): no stack trace
    const error = withoutStackTrace(() =>
      KadError.timeout(`${request.method} to ${endpointKey(request.to)} timed out after ${attempts} attempt(s)`),
    );
    this.#settle(request, error);
  }

  /** Settles `request` once: rejects with `reason`, or resolves with `result`; frees everything it held. */
  #settle(request: Request, reason: unknown, result?: QueryResult): void {
    if (request.settled) return;
    request.settled = true;
    this.#requests.delete(request);
    if (this.#requestsStore?.size === 0) this.#requestsStore = undefined;
    request.timer?.cancel();
    if (request.onAbort !== undefined) request.signal?.removeEventListener('abort', request.onAbort);
    for (const t of request.tids) this.#pending.delete(t);
    if (this.#pendingStore?.size === 0) this.#pendingStore = undefined;
    if (request.slotHeld) this.#slots.release(request.key);
    if (result !== undefined) request.resolve(result);
    else request.reject(reason);
  }

  readonly #onTransportClose = (): void => {
    void this.close();
  };

  readonly #onMessage = ({ data, from }: InboundDatagram): void => {
    if (this.#closed) return;
    const counters = this.#counters;
    counters.received++;
    try {
      const large = data.byteLength > MAX_DATAGRAM_BYTES;
      if (large && !this.#awaitedReply(data, from)) {
        counters.droppedOversized++;
        return;
      }
      let message: KrpcMessage;
      try {
        message = decodeMessage(data, large ? this.#replyDecodeOptions : DECODE_OPTIONS);
      } catch (error) {
        counters.droppedMalformed++;
        const t = error instanceof KadError ? error.transactionId : undefined;
        if (t !== undefined && this.#responder.allowInbound(from.host)) {
          this.#responder.reply(t, from, {
            error: [WireError.Protocol, error instanceof Error ? error.message : 'protocol error'],
          });
        }
        return;
      }
      if (message.y === 'q') {
        if (large) counters.droppedOversized++;
        else this.#responder.onQuery(message, from);
      } else {
        if (large) counters.largeReplies++;
        this.#onReply(message, from);
      }
    } catch {
      // a bug below must not take the socket down; count it with the malformed input
      counters.internalErrors++;
    }
  };

  /**
   * Whether a datagram over 1500 bytes may be decoded: within `maxReplyBytes`, from an address
   * with a query in flight (a map lookup), and shaped like a reply with the transaction id of a
   * query in flight to that very address (a scan that builds nothing). Anything else is dropped
   * before any decoding.
   */
  #awaitedReply(data: Uint8Array, from: RemoteInfo): boolean {
    if (data.byteLength > this.#replyDecodeOptions.maxBytes) return false;
    const key = endpointId(from);
    if (this.#slots.inFlightTo(key) === 0) return false;
    const t = peekReplyTransactionId(data);
    const id = t === undefined ? undefined : transactionIdFromBytes(t);
    return id !== undefined && this.#pendingStore?.get(id)?.request.key === key;
  }

  #onReply(message: KrpcResponse | KrpcErrorMessage, from: RemoteInfo): void {
    const counters = this.#counters;
    const t = transactionIdFromBytes(message.t);
    const transmission = t === undefined ? undefined : this.#pendingStore?.get(t);
    if (transmission === undefined || endpointId(from) !== transmission.request.key) {
      counters.droppedUnmatched++;
      return;
    }
    const { request, sentAt } = transmission;
    const rttMs = this.#clock.now() - sentAt;
    this.#rtt.observe(request.key, rttMs);
    if (message.y === 'r') {
      counters.responsesReceived++;
      this.#settle(request, undefined, { response: message, from, rttMs });
    } else {
      counters.errorsReceived++;
      this.#settle(request, KadError.remote(message.e[0], message.e[1]));
    }
  }
}
