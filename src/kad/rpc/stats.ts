/** Query names counted individually; any other name is counted under `other`. */
export const COUNTED_METHODS = Object.freeze([
  'ping',
  'find_node',
  'get_peers',
  'announce_peer',
  'get',
  'put',
  'sample_infohashes',
] as const);

/** Per-method counts: one entry per {@link COUNTED_METHODS} name plus `other`. */
export type MethodCounts = Readonly<Record<(typeof COUNTED_METHODS)[number] | 'other', number>>;

/** Counters of an `Rpc`, monotonic since creation except the two gauges. */
export interface RpcStats {
  /** Query datagrams sent, retransmissions included. */
  readonly queriesSent: number;
  /** Retransmissions after a timeout. */
  readonly retransmits: number;
  /** Queries that failed with `TIMEOUT` after their last attempt. */
  readonly timeouts: number;
  /** Responses (`y: "r"`) that completed a query. */
  readonly responsesReceived: number;
  /** Error replies (`y: "e"`) that completed a query. */
  readonly errorsReceived: number;
  /** Responses sent to inbound queries. */
  readonly responsesSent: number;
  /** Error replies sent (handler errors, 203 for malformed queries, 204 without a handler). */
  readonly errorsSent: number;
  /** Inbound queries the handler chose not to answer (it returned `undefined`). */
  readonly unanswered: number;
  /** Handler results that could not be encoded within 1500 bytes (answered 202). */
  readonly handlerErrors: number;
  /** Datagrams received from the transport. */
  readonly received: number;
  /** Replies over 1500 bytes (up to `maxReplyBytes`) to this node's own queries, decoded. */
  readonly largeReplies: number;
  /** Datagrams dropped, by reason. */
  readonly dropped: {
    /** Not a valid KRPC message. */
    readonly malformed: number;
    /** Queries over the per-IP inbound limit. */
    readonly rateLimited: number;
    /**
     * Over 1500 bytes and not a reply to a query in flight to its sender (queries, unsolicited or
     * unreadable datagrams), or over `maxReplyBytes`: dropped without decoding.
     */
    readonly oversized: number;
    /** Replies with an unknown transaction id, or from another address than the one queried. */
    readonly unmatched: number;
  };
  /** Failures inside the receive path that were caught (should stay 0). */
  readonly internalErrors: number;
  /** Inbound queries by method. */
  readonly queriesIn: MethodCounts;
  /** Outbound query datagrams by method. */
  readonly queriesOut: MethodCounts;
  /** Gauge: queries holding an in-flight slot. */
  readonly inFlight: number;
  /** Gauge: queries waiting for a slot or for pacing. */
  readonly queued: number;
}

type Counts = Record<(typeof COUNTED_METHODS)[number] | 'other', number>;

function zeroCounts(): Counts {
  const counts = { other: 0 } as Counts;
  for (const method of COUNTED_METHODS) counts[method] = 0;
  return counts;
}

/** Mutable counters behind {@link RpcStats}. @internal */
export class RpcCounters {
  queriesSent = 0;
  retransmits = 0;
  timeouts = 0;
  responsesReceived = 0;
  errorsReceived = 0;
  responsesSent = 0;
  errorsSent = 0;
  unanswered = 0;
  handlerErrors = 0;
  received = 0;
  largeReplies = 0;
  droppedMalformed = 0;
  droppedRateLimited = 0;
  droppedOversized = 0;
  droppedUnmatched = 0;
  internalErrors = 0;
  readonly #in = zeroCounts();
  readonly #out = zeroCounts();

  countIn(method: string): void {
    this.#in[bucketOf(method)]++;
  }

  countOut(method: string): void {
    this.queriesSent++;
    this.#out[bucketOf(method)]++;
  }

  snapshot(inFlight: number, queued: number): RpcStats {
    return {
      queriesSent: this.queriesSent,
      retransmits: this.retransmits,
      timeouts: this.timeouts,
      responsesReceived: this.responsesReceived,
      errorsReceived: this.errorsReceived,
      responsesSent: this.responsesSent,
      errorsSent: this.errorsSent,
      unanswered: this.unanswered,
      handlerErrors: this.handlerErrors,
      received: this.received,
      largeReplies: this.largeReplies,
      dropped: {
        malformed: this.droppedMalformed,
        rateLimited: this.droppedRateLimited,
        oversized: this.droppedOversized,
        unmatched: this.droppedUnmatched,
      },
      internalErrors: this.internalErrors,
      queriesIn: { ...this.#in },
      queriesOut: { ...this.#out },
      inFlight,
      queued,
    };
  }
}

function bucketOf(method: string): keyof Counts {
  return (COUNTED_METHODS as readonly string[]).includes(method) ? (method as keyof Counts) : 'other';
}
