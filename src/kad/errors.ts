/**
 * Error numbers carried on the wire in a KRPC error message (`y: "e"`, `e: [code, text]`).
 * They are a separate vocabulary from {@link KadErrorCode}: a local failure maps to at most one
 * wire number (see {@link KadError.wireCode}).
 *
 * @see BEP 5 "Errors", BEP 44 "Errors"
 */
export enum WireError {
  /** 201: generic error. */
  Generic = 201,
  /** 202: server error. */
  Server = 202,
  /** 203: protocol error, such as a malformed packet, invalid arguments, or bad token. */
  Protocol = 203,
  /** 204: method unknown. */
  MethodUnknown = 204,
  /** 205: message (BEP 44 `v`) too big. */
  MessageTooBig = 205,
  /** 206: invalid signature. */
  InvalidSignature = 206,
  /** 207: salt (BEP 44) too big. */
  SaltTooBig = 207,
  /** 301: the CAS hash mismatched, re-read value and try again. */
  CasMismatch = 301,
  /** 302: sequence number less than current. */
  SeqTooLow = 302,
}

/**
 * Every failure in the KAD domain, named by a stable string code. Check `code`, never the message.
 *
 * - `INVALID_MESSAGE`: bytes that are not a well-formed, canonical, bounded KRPC message, or a
 *   query whose arguments are missing or malformed (wire 203).
 * - `MESSAGE_TOO_BIG`: a BEP 44 value over 1000 bytes (wire 205).
 * - `METHOD_UNKNOWN`: a query name this node does not serve (wire 204).
 * - `INVALID_SIGNATURE`: a BEP 44 signature that does not verify (wire 206).
 * - `SALT_TOO_BIG`: a BEP 44 salt over 64 bytes (wire 207).
 * - `CAS_MISMATCH`: a BEP 44 `cas` that does not match the stored `seq` (wire 301).
 * - `SEQ_TOO_LOW`: a BEP 44 `seq` lower than the stored one (wire 302).
 * - `INVALID_TOKEN`: an announce/put token this node did not issue or that expired (wire 203).
 * - `INVALID_OPTION`: a constructor or call option out of its documented range.
 * - `INVALID_ID`: a node id or target that is not 20 bytes / 40 hex digits.
 * - `INVALID_ADDRESS`: a host or port that is not a valid IPv4/IPv6 address / port number.
 * - `INVALID_KEY`: a BEP 44 public or secret key of the wrong size or shape.
 * - `TIMEOUT`: no answer within the deadline.
 * - `CLOSED`: the node, transport or table was closed.
 * - `REMOTE_ERROR`: the remote node answered with a KRPC error; `wireCode` holds its number.
 * - `OVERLOADED`: a local bound (queue, in-flight cap, rate limit) refused the work.
 * - `ABORTED`: the caller's `AbortSignal` fired.
 * - `NOT_FOUND`: a lookup ended without the value.
 * - `CORRUPT_ITEM`: a stored item whose bytes do not decode (a shared registry written by
 *   something else); a query that meets one is answered 202 "server error", without details.
 * - `NO_CONTACTS`: a lookup found no live node: the routing table is empty, or no node asked answered.
 * - `NOT_STORED`: no node accepted a `put` or `announce_peer` (and none refused it for its `cas` or `seq`).
 * - `PUNCH_FAILED`: a call through a rendezvous (`rendezvous` option) found no direct path to a
 *   node behind a NAT; `reason` and `cause` (the `PunchResult`) say why (see `node.punch()`).
 * - `CORRUPT_STATE`: saved node state (what it published, its table) that does not read back:
 *   malformed, truncated, of another version, or with an item whose signature or target is wrong.
 * - `PORT_MAPPING_FAILED`: no router answered a UPnP-IGD / NAT-PMP request within the deadline,
 *   or it refused the mapping (see `portMapping` of `KadNodeOptions`).
 */
export type KadErrorCode =
  | 'INVALID_MESSAGE'
  | 'MESSAGE_TOO_BIG'
  | 'METHOD_UNKNOWN'
  | 'INVALID_SIGNATURE'
  | 'SALT_TOO_BIG'
  | 'CAS_MISMATCH'
  | 'SEQ_TOO_LOW'
  | 'INVALID_TOKEN'
  | 'INVALID_OPTION'
  | 'INVALID_ID'
  | 'INVALID_ADDRESS'
  | 'INVALID_KEY'
  | 'TIMEOUT'
  | 'CLOSED'
  | 'REMOTE_ERROR'
  | 'OVERLOADED'
  | 'ABORTED'
  | 'NOT_FOUND'
  | 'CORRUPT_ITEM'
  | 'NO_CONTACTS'
  | 'NOT_STORED'
  | 'PUNCH_FAILED'
  | 'CORRUPT_STATE'
  | 'PORT_MAPPING_FAILED';

/** Extra facts attached to a {@link KadError}, where they apply. */
export interface KadErrorDetails {
  /** The KRPC error number to answer with, or the number a remote node answered with. */
  readonly wireCode?: number;
  /** The underlying error, if any (ES2022 `cause`). */
  readonly cause?: unknown;
  /** For `INVALID_MESSAGE` on a query: its transaction id, so the receiver can answer 203. */
  readonly transactionId?: Uint8Array;
  /** For `PUNCH_FAILED`: why (a `PunchFailureReason`: `symmetric`, `timeout`, …). */
  readonly reason?: string;
}

/** Wire number implied by a local code when a handler turns the error into a KRPC error reply. */
const WIRE_CODE_OF: Partial<Record<KadErrorCode, WireError>> = {
  INVALID_MESSAGE: WireError.Protocol,
  INVALID_TOKEN: WireError.Protocol,
  INVALID_ID: WireError.Protocol,
  INVALID_KEY: WireError.Protocol,
  INVALID_ADDRESS: WireError.Protocol,
  METHOD_UNKNOWN: WireError.MethodUnknown,
  MESSAGE_TOO_BIG: WireError.MessageTooBig,
  INVALID_SIGNATURE: WireError.InvalidSignature,
  SALT_TOO_BIG: WireError.SaltTooBig,
  CAS_MISMATCH: WireError.CasMismatch,
  SEQ_TOO_LOW: WireError.SeqTooLow,
  OVERLOADED: WireError.Server,
};

/**
 * Makes an error without capturing a stack trace, for failures that happen by the thousand in
 * normal operation — a query that timed out, the queries a finished lookup abandons. Their trace
 * would show only a timer or the lookup's internals, and capturing it costs more than the rest
 * of the error. The `stack` is then just the `name: message` line.
 * @internal
 */
export function withoutStackTrace<T extends Error>(make: () => T): T {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return make();
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/** The one error class of the KAD domain. Check `code`, never the message. */
export class KadError extends Error {
  override readonly name = 'KadError';
  readonly code: KadErrorCode;
  /**
   * The KRPC error number: for `REMOTE_ERROR` the number the remote node sent; otherwise the
   * number this node should answer with when the error comes from handling a query
   * (`undefined` for purely local failures such as `TIMEOUT`).
   */
  readonly wireCode: number | undefined;
  /**
   * Set by `decodeMessage` when a malformed message was recognisably a query with a usable `t`:
   * the transaction id to echo in a 203 error reply. `undefined` otherwise.
   */
  readonly transactionId: Uint8Array | undefined;
  /** For `PUNCH_FAILED`: the `PunchFailureReason` (`symmetric`, `timeout`, …); `undefined` otherwise. */
  readonly reason: string | undefined;

  constructor(code: KadErrorCode, message: string, details: KadErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.code = code;
    this.wireCode = details.wireCode ?? WIRE_CODE_OF[code];
    this.transactionId = details.transactionId;
    this.reason = details.reason;
  }

  /** Malformed, non-canonical or oversized bytes, or bad query arguments (wire 203). */
  static invalidMessage(reason: string, cause?: unknown): KadError {
    return new KadError('INVALID_MESSAGE', reason, { cause });
  }

  /**
   * A malformed message that was recognisably a query with a usable `t`: `transactionId` is
   * that `t`, so the receiver can answer 203.
   */
  static invalidQuery(reason: string, transactionId: Uint8Array): KadError {
    return new KadError('INVALID_MESSAGE', reason, { transactionId });
  }

  /** A BEP 44 value larger than the limit (wire 205). */
  static messageTooBig(bytes: number, limit: number): KadError {
    return new KadError('MESSAGE_TOO_BIG', `value of ${bytes} bytes exceeds ${limit} bytes`);
  }

  /** A query name this node does not serve (wire 204). */
  static methodUnknown(method: string): KadError {
    return new KadError('METHOD_UNKNOWN', `method unknown: ${JSON.stringify(method.slice(0, 32))}`);
  }

  /** A BEP 44 signature that does not verify (wire 206). */
  static invalidSignature(reason = 'invalid signature'): KadError {
    return new KadError('INVALID_SIGNATURE', reason);
  }

  /** A BEP 44 salt over the limit (wire 207). */
  static saltTooBig(bytes: number, limit: number): KadError {
    return new KadError('SALT_TOO_BIG', `salt of ${bytes} bytes exceeds ${limit} bytes`);
  }

  /**
   * A BEP 44 `cas` that does not match the stored sequence number (wire 301). Without the
   * numbers, the message is BEP 44's own text.
   */
  static casMismatch(expected?: number | bigint, actual?: number | bigint): KadError {
    const message =
      expected === undefined || actual === undefined
        ? 'the CAS hash mismatched, re-read value and try again'
        : `cas mismatch: expected seq ${expected}, stored seq is ${actual}`;
    return new KadError('CAS_MISMATCH', message);
  }

  /**
   * A BEP 44 `seq` lower than the stored one (wire 302). Without the numbers, the message is
   * BEP 44's own text.
   */
  static seqTooLow(seq?: number | bigint, current?: number | bigint): KadError {
    const message =
      seq === undefined || current === undefined
        ? 'sequence number less than current'
        : `sequence number ${seq} less than current ${current}`;
    return new KadError('SEQ_TOO_LOW', message);
  }

  /** A token this node did not issue or that expired (wire 203). */
  static invalidToken(reason = 'bad token'): KadError {
    return new KadError('INVALID_TOKEN', reason);
  }

  /** An option out of range; the message names the option (`"k must be a positive integer"`). */
  static invalidOption(message: string): KadError {
    return new KadError('INVALID_OPTION', message);
  }

  /** An id or target that is not 20 bytes. */
  static invalidId(reason: string): KadError {
    return new KadError('INVALID_ID', reason);
  }

  /**
   * A querier's id that does not match its public IP as BEP 42 specifies, so nothing is stored
   * for it: answered 201 (generic), not 203, since the query itself is well formed.
   * @see BEP 42
   */
  static insecureId(reason = 'node id does not match the IP (BEP 42): not stored'): KadError {
    return new KadError('INVALID_ID', reason, { wireCode: WireError.Generic });
  }

  /** A host or port that is not a valid address, or that cannot be bound. */
  static invalidAddress(reason: string, cause?: unknown): KadError {
    return new KadError('INVALID_ADDRESS', reason, { cause });
  }

  /** A key of the wrong size or shape. */
  static invalidKey(reason: string, cause?: unknown): KadError {
    return new KadError('INVALID_KEY', reason, { cause });
  }

  /** No answer within the deadline. */
  static timeout(message = 'timed out', cause?: unknown): KadError {
    return new KadError('TIMEOUT', message, { cause });
  }

  /** The node, transport or table was closed. */
  static closed(what = 'node'): KadError {
    return new KadError('CLOSED', `the ${what} is closed`);
  }

  /** A remote node answered with a KRPC error `[wireCode, text]`. */
  static remote(wireCode: number, text: string): KadError {
    return new KadError('REMOTE_ERROR', `remote error ${wireCode}: ${text}`, { wireCode });
  }

  /** A local bound refused the work. */
  static overloaded(message: string): KadError {
    return new KadError('OVERLOADED', message);
  }

  /** The caller aborted; `cause` is the signal's reason. */
  static aborted(reason?: unknown): KadError {
    return new KadError('ABORTED', 'the operation was aborted', { cause: reason });
  }

  /** A lookup ended without the value. */
  static notFound(message = 'not found'): KadError {
    return new KadError('NOT_FOUND', message);
  }

  /** A stored item whose bytes do not decode; answered 202 "server error" (no wire number of its own). */
  static corruptItem(reason: string, cause?: unknown): KadError {
    return new KadError('CORRUPT_ITEM', reason, { cause });
  }

  /** A lookup found no live node to ask or to store on. */
  static noContacts(message = 'no node answered'): KadError {
    return new KadError('NO_CONTACTS', message);
  }

  /** No node accepted a store (`put`, `announce_peer`); `cause` is the first refusal. */
  static notStored(message: string, cause?: unknown): KadError {
    return new KadError('NOT_STORED', message, { cause });
  }

  /** No direct path to a node behind a NAT (`reason`, e.g. `symmetric`); `cause` is the punch result. */
  static punchFailed(reason: string, message: string, cause?: unknown): KadError {
    return new KadError('PUNCH_FAILED', `hole punch failed (${reason}): ${message}`, { reason, cause });
  }

  /** A router absent or refusing a port mapping. */
  static portMappingFailed(reason: string, cause?: unknown): KadError {
    return new KadError('PORT_MAPPING_FAILED', reason, { cause });
  }

  /** Saved state that does not read back (`reason` names the bad part). */
  static corruptState(reason: string, cause?: unknown): KadError {
    return new KadError('CORRUPT_STATE', reason, { cause });
  }
}

/** Is `error` a {@link KadError}, optionally with the given code? */
export function isKadError(error: unknown, code?: KadErrorCode): error is KadError {
  return error instanceof KadError && (code === undefined || error.code === code);
}

/**
 * The `[number, text]` pair to send back when handling a query failed with `error`.
 * A {@link KadError} with a wire number keeps its message; anything else becomes
 * `[202, "server error"]` so that internal details never leak onto the wire.
 */
export function toWireError(error: unknown): [code: number, message: string] {
  if (error instanceof KadError && error.wireCode !== undefined && error.code !== 'REMOTE_ERROR') {
    return [error.wireCode, error.message];
  }
  return [WireError.Server, 'server error'];
}
