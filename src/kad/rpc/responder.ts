import type { BencodeDict } from '../wire/bencode.js';
import { isLoopback } from '../wire/ip-class.js';
import { toWireError, WireError } from '../errors.js';
import type { KrpcQuery } from '../wire/krpc.js';
import { encodeError, encodeResponse, requesterIp, responseEnvelopeBytes } from './reply.js';
import type { InboundLimiter } from './rate-limit.js';
import type { RpcCounters } from './stats.js';
import type { QueryContext, QueryHandler } from './options.js';
import { hostId, MAX_DATAGRAM_BYTES, type RemoteInfo, type Transport } from '../transport/transport.js';

/** What a query handler gets: its signal is made on first read (see `QueryContext`). */
class HandlerContext implements QueryContext {
  readonly #signal: () => AbortSignal;
  readonly maxResponseBytes: number;

  constructor(signal: () => AbortSignal, maxResponseBytes: number) {
    this.#signal = signal;
    this.maxResponseBytes = maxResponseBytes;
  }

  // a node that only ever served ping and find_node holds no abort controller
  get signal(): AbortSignal {
    return this.#signal();
  }
}

/** What a {@link Responder} answers with. @internal */
export interface ResponderInit {
  readonly transport: Transport;
  readonly family: 4 | 6;
  /** The counters of the RPC layer it belongs to. */
  readonly counters: RpcCounters;
  readonly inbound: InboundLimiter;
  /** Whether loopback senders are rate-limited like any other (`RpcOptions.limitLoopback`). */
  readonly limitLoopback: boolean;
  /** `v` of every reply; none when `undefined`. */
  readonly clientVersion: Uint8Array | undefined;
  /** Whether replies carry the requester's `ip` (BEP 42). */
  readonly reportIp: boolean;
  readonly isClosed: () => boolean;
}

/**
 * The serving half of the KRPC layer ({@link Rpc}): inbound queries within the inbound rate
 * limit, dispatched to the one {@link QueryHandler}, and the replies — a response, or an error
 * (a response too big to encode becomes 202). Handlers share one signal, made on first read and
 * aborted by {@link close}.
 * @internal
 */
export class Responder {
  readonly #init: ResponderInit;
  #handler: QueryHandler | undefined;
  // created when a handler first reads its signal: a node that served no storage query does not pay for it
  #lifetime: AbortController | undefined;
  readonly #handlerSignal = (): AbortSignal => (this.#lifetime ??= new AbortController()).signal;

  constructor(init: ResponderInit) {
    this.#init = init;
  }

  /** Sets (or with `undefined` clears) the function that serves inbound queries. */
  setHandler(handler: QueryHandler | undefined): void {
    this.#handler = handler;
  }

  /** Whether a datagram from `host` may be served now (loopback is exempt unless limited). */
  allowInbound(host: string): boolean {
    const { limitLoopback, inbound } = this.#init;
    return (!limitLoopback && isLoopback(host)) || inbound.allow(hostId(host));
  }

  /** Serves `query` from `from`: the handler's answer, or the error it threw or rejected with. */
  onQuery(query: KrpcQuery, from: RemoteInfo): void {
    const counters = this.#init.counters;
    if (!this.allowInbound(from.host)) {
      counters.droppedRateLimited++;
      return;
    }
    counters.countIn(query.q);
    const handler = this.#handler;
    if (handler === undefined) {
      this.reply(query.t, from, { error: [WireError.MethodUnknown, 'method unknown'] });
      return;
    }
    let result: BencodeDict | undefined | Promise<BencodeDict | undefined>;
    try {
      result = handler(query, from, new HandlerContext(this.#handlerSignal, this.#maxResponseBytes(query.t.length)));
    } catch (error) {
      this.reply(query.t, from, { error: toWireError(error) });
      return;
    }
    if (result instanceof Promise) {
      result.then(
        (r) => this.#answer(query, from, r),
        (error: unknown) => this.reply(query.t, from, { error: toWireError(error) }),
      );
    } else {
      this.#answer(query, from, result);
    }
  }

  /** Sends a response or an error reply; a response too big to encode becomes 202. */
  reply(t: Uint8Array, to: RemoteInfo, body: { readonly r: BencodeDict } | { readonly error: [number, string] }): void {
    const { transport, counters, clientVersion, reportIp } = this.#init;
    if (this.#init.isClosed()) return;
    const envelope = { clientVersion, ip: reportIp ? requesterIp(to) : undefined };
    if ('r' in body) {
      const datagram = encodeResponse(t, body.r, envelope);
      if (datagram !== undefined) {
        counters.responsesSent++;
        transport.send(datagram, to);
        return;
      }
      counters.handlerErrors++;
    }
    const datagram = encodeError(t, 'error' in body ? body.error : [WireError.Server, 'server error'], envelope);
    if (datagram === undefined) return;
    counters.errorsSent++;
    transport.send(datagram, to);
  }

  /** Aborts the handlers' signal with `reason` and stops the inbound limiter. */
  close(reason: Error): void {
    this.#init.inbound.close();
    this.#lifetime?.abort(reason);
  }

  #answer(query: KrpcQuery, from: RemoteInfo, r: BencodeDict | undefined): void {
    if (r === undefined) {
      this.#init.counters.unanswered++;
      return;
    }
    this.reply(query.t, from, { r });
  }

  /** Room for `r` in a reply with a `t` of `transactionIdBytes`, as {@link reply} will send it. */
  #maxResponseBytes(transactionIdBytes: number): number {
    const { clientVersion, reportIp, family } = this.#init;
    const sizes = {
      clientVersionBytes: clientVersion?.length,
      // the `ip` of a requester of this transport's family (a simulated named host gets none)
      ipBytes: reportIp ? (family === 4 ? 6 : 18) : undefined,
    };
    return MAX_DATAGRAM_BYTES - responseEnvelopeBytes(transactionIdBytes, sizes);
  }
}
