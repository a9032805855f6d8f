import { bdecode, bencode, type BencodeDict, type BencodeValue, bytesToKey, keyToBytes } from './bencode.js';
import { decodeAddress } from './compact.js';
import { KadError } from '../errors.js';
import { ID_BYTES, type NodeId } from '../id.js';

/**
 * Largest message {@link decodeMessage} accepts unless told otherwise, in bytes: a KRPC message
 * travels in one UDP datagram, and every Mainline message fits a 1500-byte Ethernet frame. The
 * transports' own bound, `MAX_DATAGRAM_BYTES`, lives in `transport/` (the layer above, which this
 * one cannot import); the RPC layer hands it to `decodeMessage` as `maxBytes`, so on the network
 * path the transport's figure is the one that counts.
 */
export const MAX_MESSAGE_BYTES = 1500;

/** Longest accepted transaction id `t`, in bytes (clients use 2–8). */
export const MAX_TRANSACTION_ID_BYTES = 16;

/** Longest accepted query name `q`, in bytes (the longest standard one, "announce_peer", has 13). */
export const MAX_QUERY_NAME_BYTES = 32;

/** Deepest nesting accepted in a datagram (a BEP 44 `v` may nest; KRPC itself needs 3). */
export const MAX_MESSAGE_DEPTH = 16;

/** A query (`y: "q"`). @see BEP 5 "KRPC Protocol" */
export interface KrpcQuery {
  y: 'q';
  /** Transaction id chosen by the querier, 1..16 bytes, echoed in the reply. */
  t: Uint8Array;
  /** Method name: `ping`, `find_node`, `get_peers`, `announce_peer`, `get`, `put`, or other. */
  q: string;
  /** Arguments; always holds `id`, the querier's 20-byte node id. */
  a: BencodeDict;
  /** Client version, conventionally 2 letters + 2 version bytes. */
  v?: Uint8Array;
  /** BEP 43: the querier is read-only and must not be added to routing tables. */
  ro?: boolean;
}

/** A response (`y: "r"`). */
export interface KrpcResponse {
  y: 'r';
  t: Uint8Array;
  /** Return values; always holds `id`, the responder's 20-byte node id. */
  r: BencodeDict;
  v?: Uint8Array;
  /** BEP 42: the querier's address as the responder saw it (compact, 6 or 18 bytes). */
  ip?: Uint8Array;
}

/** An error reply (`y: "e"`). */
export interface KrpcErrorMessage {
  y: 'e';
  t: Uint8Array;
  /** Wire error number (see `WireError`) and a human-readable text. */
  e: [code: number, message: string];
  v?: Uint8Array;
  ip?: Uint8Array;
}

/** Any KRPC message. */
export type KrpcMessage = KrpcQuery | KrpcResponse | KrpcErrorMessage;

/** Bounds of {@link decodeMessage}. */
export interface DecodeMessageOptions {
  /** Largest accepted message, in bytes; larger input is refused before parsing. @default 1500 ({@link MAX_MESSAGE_BYTES}) */
  readonly maxBytes?: number;
}

const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8', { fatal: false });

/**
 * Encodes a message as a bencoded dict. Does not bound its size: callers bound what they put in
 * (e.g. at most k nodes, a capped `values` list) and check the result against the transport's
 * `MAX_DATAGRAM_BYTES`.
 * @throws {KadError} `INVALID_MESSAGE` if a field holds something without a bencoding.
 */
export function encodeMessage(message: KrpcMessage): Uint8Array {
  // keys written in their bencoded (sorted) order, so that the encoder's sort has nothing to move
  const dict = Object.create(null) as BencodeDict;
  switch (message.y) {
    case 'q':
      dict['a'] = message.a;
      dict['q'] = queryNameBytes(message.q);
      if (message.ro === true) dict['ro'] = 1;
      break;
    case 'r':
      if (message.ip !== undefined) dict['ip'] = message.ip;
      dict['r'] = message.r;
      break;
    case 'e':
      dict['e'] = [message.e[0], utf8.encode(message.e[1])];
      if (message.ip !== undefined) dict['ip'] = message.ip;
      break;
  }
  dict['t'] = message.t;
  if (message.v !== undefined) dict['v'] = message.v;
  dict['y'] = Y_BYTES[message.y];
  return bencode(dict);
}

// the encoder only reads what it is given: one copy of each constant field for every message
const Y_BYTES = { q: keyToBytes('q'), r: keyToBytes('r'), e: keyToBytes('e') } as const;
const QUERY_NAMES = new Map<string, Uint8Array>();
/** Query names kept as bytes: the few a node sends, not whatever a caller makes up. */
const MAX_QUERY_NAMES = 32;

function queryNameBytes(name: string): Uint8Array {
  let bytes = QUERY_NAMES.get(name);
  if (bytes === undefined) {
    bytes = keyToBytes(name);
    if (QUERY_NAMES.size < MAX_QUERY_NAMES) QUERY_NAMES.set(name, bytes);
  }
  return bytes;
}

/**
 * Decodes and validates one datagram: a canonical bencoded dict of at most `maxBytes`
 * ({@link MAX_MESSAGE_BYTES} by default) with `t` (1..16 bytes), `y` in q/r/e, and for queries `q` and an
 * `a` dict with a 20-byte `id`; for responses an `r` dict with a 20-byte `id`; for errors an `e`
 * list `[int, bytes]`. Optional `v` must be bytes, `ip` a 6/18-byte compact address; `ro` is
 * read-only when it is the integer 1. Other keys are ignored (forward compatibility, BEP 5).
 *
 * @throws {KadError} `INVALID_MESSAGE` for the datagram. When it was a dict with a usable `t`
 *   and `y: "q"`, the error's `transactionId` is set so the caller may answer 203.
 *   `INVALID_OPTION` for a `maxBytes` that is not a positive integer.
 */
export function decodeMessage(datagram: Uint8Array, options: DecodeMessageOptions = {}): KrpcMessage {
  const maxBytes = options.maxBytes ?? MAX_MESSAGE_BYTES;
  const root = bdecode(datagram, { maxBytes, maxDepth: MAX_MESSAGE_DEPTH });
  if (!isDict(root)) throw KadError.invalidMessage('message is not a dictionary');
  const t = root['t'];
  if (!(t instanceof Uint8Array) || t.length === 0 || t.length > MAX_TRANSACTION_ID_BYTES) {
    throw KadError.invalidMessage(`"t" must be 1..${MAX_TRANSACTION_ID_BYTES} bytes`);
  }
  const y = root['y'];
  const kind = y instanceof Uint8Array && y.length === 1 ? String.fromCharCode(y[0] ?? 0) : '';
  try {
    const v = optionalBytes(root, 'v');
    switch (kind) {
      case 'q': {
        const q = root['q'];
        if (!(q instanceof Uint8Array) || q.length === 0 || q.length > MAX_QUERY_NAME_BYTES) {
          throw KadError.invalidMessage(`"q" must be 1..${MAX_QUERY_NAME_BYTES} bytes`);
        }
        const a = root['a'];
        if (!isDict(a)) throw KadError.invalidMessage('"a" must be a dictionary');
        requireId(a, 'id');
        const query: KrpcQuery = { y: 'q', t, q: bytesToKey(q), a };
        if (v !== undefined) query.v = v;
        if (root['ro'] === 1) query.ro = true;
        return query;
      }
      case 'r': {
        const r = root['r'];
        if (!isDict(r)) throw KadError.invalidMessage('"r" must be a dictionary');
        requireId(r, 'id');
        const response: KrpcResponse = { y: 'r', t, r };
        if (v !== undefined) response.v = v;
        const ip = optionalAddress(root);
        if (ip !== undefined) response.ip = ip;
        return response;
      }
      case 'e': {
        const e = root['e'];
        if (!Array.isArray(e) || typeof e[0] !== 'number' || !(e[1] instanceof Uint8Array)) {
          throw KadError.invalidMessage('"e" must be a list [integer, string]');
        }
        const error: KrpcErrorMessage = { y: 'e', t, e: [e[0], utf8Decoder.decode(e[1])] };
        if (v !== undefined) error.v = v;
        const ip = optionalAddress(root);
        if (ip !== undefined) error.ip = ip;
        return error;
      }
      default:
        throw KadError.invalidMessage('"y" must be "q", "r" or "e"');
    }
  } catch (error) {
    if (kind === 'q' && error instanceof KadError) {
      throw KadError.invalidQuery(error.message, t);
    }
    throw error;
  }
}

function optionalAddress(root: BencodeDict): Uint8Array | undefined {
  const ip = optionalBytes(root, 'ip');
  if (ip === undefined) return undefined;
  decodeAddress(ip); // validates the length
  return ip;
}

/** Whether a decoded value is a dictionary. */
export function isDict(value: BencodeValue | undefined): value is BencodeDict {
  return typeof value === 'object' && !(value instanceof Uint8Array) && !Array.isArray(value);
}

/**
 * Reads `dict[key]` as a byte string, or `undefined` when absent.
 * @throws {KadError} `INVALID_MESSAGE` naming the key when present with another type.
 */
export function optionalBytes(dict: BencodeDict, key: string, context = ''): Uint8Array | undefined {
  const value = dict[key];
  if (value === undefined) return undefined;
  if (!(value instanceof Uint8Array)) throw KadError.invalidMessage(`${context}"${key}" must be a string`);
  return value;
}

/** @throws {KadError} `INVALID_MESSAGE` naming the key when absent or not a byte string. */
export function requireBytes(dict: BencodeDict, key: string, context = ''): Uint8Array {
  const value = optionalBytes(dict, key, context);
  if (value === undefined) throw KadError.invalidMessage(`${context}missing "${key}"`);
  return value;
}

/** @throws {KadError} `INVALID_MESSAGE` naming the key when absent or not 20 bytes. */
export function requireId(dict: BencodeDict, key: string, context = ''): NodeId {
  const value = requireBytes(dict, key, context);
  if (value.length !== ID_BYTES) {
    throw KadError.invalidMessage(`${context}"${key}" must be ${ID_BYTES} bytes, not ${value.length}`);
  }
  return value;
}

/**
 * Reads `dict[key]` as an integer within `min..max`, or `undefined` when absent.
 * @throws {KadError} `INVALID_MESSAGE` naming the key otherwise.
 */
export function optionalInteger(
  dict: BencodeDict,
  key: string,
  min = Number.MIN_SAFE_INTEGER,
  max = Number.MAX_SAFE_INTEGER,
  context = '',
): number | undefined {
  const value = dict[key];
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || value < min || value > max) {
    throw KadError.invalidMessage(`${context}"${key}" must be an integer in ${min}..${max}`);
  }
  return value;
}
