import { bencode, type BencodeDict, type BencodeValue, keyToBytes } from './bencode.js';
import { type Contact, decodeNodes, decodePeer, encodeNodes, encodePeer, type PeerAddress } from './compact.js';
import { KadError } from '../errors.js';
import type { NodeId } from '../id.js';
import {
  isSeq,
  MAX_SALT_BYTES,
  MAX_SEQ,
  MAX_VALUE_BYTES,
  PUBLIC_KEY_BYTES,
  type Seq,
  SIGNATURE_BYTES,
} from '../items.js';
import { optionalBytes, optionalInteger, requireBytes, requireId } from './krpc.js';

/** A BEP 32 `want` entry: the families whose nodes the querier wants back. */
export type Want = 'n4' | 'n6';

/** Arguments of `ping`. @see BEP 5 */
export interface PingArgs {
  id: NodeId;
}

/** Arguments of `find_node`. @see BEP 5, BEP 32 */
export interface FindNodeArgs {
  id: NodeId;
  target: NodeId;
  /** BEP 32: which families of nodes to return; absent means the family the query came in on. */
  want?: Want[];
}

/** Arguments of `get_peers`. @see BEP 5, BEP 32 */
export interface GetPeersArgs {
  id: NodeId;
  infoHash: NodeId;
  want?: Want[];
}

/** Arguments of `announce_peer`. @see BEP 5 */
export interface AnnouncePeerArgs {
  id: NodeId;
  infoHash: NodeId;
  /** The announced port; ignored in favour of the source port when `impliedPort` is true. */
  port: number;
  /** The write token from an earlier `get_peers` response. */
  token: Uint8Array;
  /** `implied_port: 1`: use the UDP source port instead of `port`. */
  impliedPort: boolean;
  /** `seed: 1`: the announcer is a seed (BEP 33 scrape support). */
  seed: boolean;
}

/** Arguments of `get`. @see BEP 44 */
export interface GetArgs {
  id: NodeId;
  target: NodeId;
  /** Only return a mutable item whose `seq` is greater than this. */
  seq?: Seq;
  /**
   * BEP 32 families of the `nodes` to return. BEP 44 does not define it for `get`, so
   * {@link readGetArgs} reads it leniently: a `want` that is not a list reads as absent, and
   * entries that are not strings are skipped (never a 203).
   */
  want?: Want[];
}

/** Arguments of an immutable `put`. @see BEP 44 */
export interface ImmutablePutArgs {
  kind: 'immutable';
  id: NodeId;
  token: Uint8Array;
  /** The value, at most 1000 bytes bencoded. */
  v: BencodeValue;
}

/** Arguments of a mutable `put`. @see BEP 44 */
export interface MutablePutArgs {
  kind: 'mutable';
  id: NodeId;
  token: Uint8Array;
  v: BencodeValue;
  /** ed25519 public key, 32 bytes. */
  k: Uint8Array;
  /** ed25519 signature, 64 bytes. */
  sig: Uint8Array;
  seq: Seq;
  /** At most 64 bytes. */
  salt?: Uint8Array;
  /** Compare-and-swap: the `seq` the writer expects to replace. */
  cas?: Seq;
}

/** Arguments of `put`. */
export type PutArgs = ImmutablePutArgs | MutablePutArgs;

/**
 * The return values a response may carry, all optional but `id`. One shape serves every method:
 * `find_node` fills `nodes`/`nodes6`; `get_peers` adds `token` and `values` or nodes; `get` adds
 * `token`, nodes, and `v` (with `k`, `sig`, `seq` for mutable items).
 */
export interface ResponseValues {
  id: NodeId;
  nodes?: Contact[];
  nodes6?: Contact[];
  token?: Uint8Array;
  /** Compact peers (`get_peers`). */
  values?: PeerAddress[];
  v?: BencodeValue;
  k?: Uint8Array;
  sig?: Uint8Array;
  seq?: Seq;
}

const MAX_TOKEN_BYTES = 64;

/**
 * BEP 32 `want`: its `n4` / `n6` entries in order, each once; unknown entries are ignored, as BEP
 * 32 asks. `malformed` says what a `want` that is not a list of strings does: `reject` it (203,
 * for `find_node` and `get_peers`, where BEP 32 defines it), or `ignore` it (BEP 44 `get`: a
 * non-list reads as absent, entries that are not strings are skipped).
 */
function readWant(a: BencodeDict, context: string, malformed: 'reject' | 'ignore'): Want[] | undefined {
  const want = a['want'];
  if (want === undefined) return undefined;
  if (!Array.isArray(want)) {
    if (malformed === 'ignore') return undefined;
    throw KadError.invalidMessage(`${context}"want" must be a list`);
  }
  const out: Want[] = [];
  for (const item of want) {
    if (!(item instanceof Uint8Array)) {
      if (malformed === 'ignore') continue;
      throw KadError.invalidMessage(`${context}"want" must be a list of strings`);
    }
    if (item.length === 2 && item[0] === 0x6e && (item[1] === 0x34 || item[1] === 0x36)) {
      const w: Want = item[1] === 0x34 ? 'n4' : 'n6';
      if (!out.includes(w)) out.push(w);
    }
  }
  return out;
}

function readToken(a: BencodeDict, context: string): Uint8Array {
  const token = requireBytes(a, 'token', context);
  if (token.length === 0 || token.length > MAX_TOKEN_BYTES) {
    throw KadError.invalidMessage(`${context}"token" must be 1..${MAX_TOKEN_BYTES} bytes`);
  }
  return token;
}

/** A BEP 44 sequence number (`seq`, `cas`): an integer in 0..2^63 − 1, or `undefined` when absent. */
function optionalSeq(a: BencodeDict, key: string, context: string): Seq | undefined {
  const value = a[key];
  if (value === undefined) return undefined;
  if (!isSeq(value)) throw KadError.invalidMessage(`${context}"${key}" must be an integer in 0..${MAX_SEQ}`);
  return value;
}

function bool(a: BencodeDict, key: string, context: string): boolean {
  const value = a[key];
  if (value === undefined) return false;
  if (typeof value !== 'number') throw KadError.invalidMessage(`${context}"${key}" must be an integer`);
  return value !== 0;
}

function dict(entries: Record<string, BencodeValue | undefined>): BencodeDict {
  const out = Object.create(null) as BencodeDict;
  for (const [key, value] of Object.entries(entries)) if (value !== undefined) out[key] = value;
  return out;
}

const wantList = (want: Want[] | undefined): BencodeValue[] | undefined => want?.map((w) => keyToBytes(w));

/** @throws {KadError} `INVALID_MESSAGE` naming the bad field. */
export function readPingArgs(a: BencodeDict): PingArgs {
  return { id: requireId(a, 'id', 'ping: ') };
}

/** @throws {KadError} `INVALID_MESSAGE` naming the bad field. */
export function readFindNodeArgs(a: BencodeDict): FindNodeArgs {
  const context = 'find_node: ';
  const args: FindNodeArgs = { id: requireId(a, 'id', context), target: requireId(a, 'target', context) };
  const want = readWant(a, context, 'reject');
  if (want !== undefined) args.want = want;
  return args;
}

/** @throws {KadError} `INVALID_MESSAGE` naming the bad field. */
export function readGetPeersArgs(a: BencodeDict): GetPeersArgs {
  const context = 'get_peers: ';
  const args: GetPeersArgs = { id: requireId(a, 'id', context), infoHash: requireId(a, 'info_hash', context) };
  const want = readWant(a, context, 'reject');
  if (want !== undefined) args.want = want;
  return args;
}

/** @throws {KadError} `INVALID_MESSAGE` naming the bad field. */
export function readAnnouncePeerArgs(a: BencodeDict): AnnouncePeerArgs {
  const context = 'announce_peer: ';
  const impliedPort = bool(a, 'implied_port', context);
  const port = optionalInteger(a, 'port', impliedPort ? 0 : 1, 65535, context);
  if (port === undefined && !impliedPort) throw KadError.invalidMessage(`${context}missing "port"`);
  return {
    id: requireId(a, 'id', context),
    infoHash: requireId(a, 'info_hash', context),
    port: port ?? 0,
    token: readToken(a, context),
    impliedPort,
    seed: bool(a, 'seed', context),
  };
}

/** @throws {KadError} `INVALID_MESSAGE` naming the bad field. */
export function readGetArgs(a: BencodeDict): GetArgs {
  const context = 'get: ';
  const args: GetArgs = { id: requireId(a, 'id', context), target: requireId(a, 'target', context) };
  const seq = optionalSeq(a, 'seq', context);
  if (seq !== undefined) args.seq = seq;
  const want = readWant(a, context, 'ignore');
  if (want !== undefined) args.want = want;
  return args;
}

/**
 * Reads and bounds the arguments of `put`: a `k` makes it mutable, and then `sig` and `seq` are
 * required. Does not verify the signature (see `verifyMutable` in items.ts).
 * @throws {KadError} `MESSAGE_TOO_BIG` (205) for a `v` over 1000 bytes, `SALT_TOO_BIG` (207)
 *   for a salt over 64 bytes, `INVALID_MESSAGE` (203) naming any other bad field.
 */
export function readPutArgs(a: BencodeDict): PutArgs {
  const context = 'put: ';
  const id = requireId(a, 'id', context);
  const token = readToken(a, context);
  const v = a['v'];
  if (v === undefined) throw KadError.invalidMessage(`${context}missing "v"`);
  const size = bencode(v).length;
  if (size > MAX_VALUE_BYTES) throw KadError.messageTooBig(size, MAX_VALUE_BYTES);
  const k = optionalBytes(a, 'k', context);
  if (k === undefined) return { kind: 'immutable', id, token, v };
  if (k.length !== PUBLIC_KEY_BYTES) throw KadError.invalidMessage(`${context}"k" must be ${PUBLIC_KEY_BYTES} bytes`);
  const sig = requireBytes(a, 'sig', context);
  if (sig.length !== SIGNATURE_BYTES) throw KadError.invalidMessage(`${context}"sig" must be ${SIGNATURE_BYTES} bytes`);
  const seq = optionalSeq(a, 'seq', context);
  if (seq === undefined) throw KadError.invalidMessage(`${context}missing "seq"`);
  const args: MutablePutArgs = { kind: 'mutable', id, token, v, k, sig, seq };
  const salt = optionalBytes(a, 'salt', context);
  if (salt !== undefined) {
    if (salt.length > MAX_SALT_BYTES) throw KadError.saltTooBig(salt.length, MAX_SALT_BYTES);
    if (salt.length > 0) args.salt = salt;
  }
  const cas = optionalSeq(a, 'cas', context);
  if (cas !== undefined) args.cas = cas;
  return args;
}

/** The `a` dict of a `ping`. */
export function writePingArgs(args: PingArgs): BencodeDict {
  return dict({ id: args.id });
}

/** The `a` dict of a `find_node`. */
export function writeFindNodeArgs(args: FindNodeArgs): BencodeDict {
  return dict({ id: args.id, target: args.target, want: wantList(args.want) });
}

/** The `a` dict of a `get_peers`. */
export function writeGetPeersArgs(args: GetPeersArgs): BencodeDict {
  return dict({ id: args.id, info_hash: args.infoHash, want: wantList(args.want) });
}

/** The `a` dict of an `announce_peer`. */
export function writeAnnouncePeerArgs(args: AnnouncePeerArgs): BencodeDict {
  return dict({
    id: args.id,
    info_hash: args.infoHash,
    port: args.port,
    token: args.token,
    implied_port: args.impliedPort ? 1 : undefined,
    seed: args.seed ? 1 : undefined,
  });
}

/** The `a` dict of a `get`. */
export function writeGetArgs(args: GetArgs): BencodeDict {
  return dict({ id: args.id, target: args.target, seq: args.seq, want: wantList(args.want) });
}

/** The `a` dict of a `put`. */
export function writePutArgs(args: PutArgs): BencodeDict {
  if (args.kind === 'immutable') return dict({ id: args.id, token: args.token, v: args.v });
  return dict({
    id: args.id,
    token: args.token,
    v: args.v,
    k: args.k,
    sig: args.sig,
    seq: args.seq,
    salt: args.salt,
    cas: args.cas,
  });
}

/**
 * Reads and validates the return values of any response.
 * @throws {KadError} `INVALID_MESSAGE` naming the bad field (wrong `nodes` length, a `values`
 *   entry that is not a 6/18-byte compact peer, a `k`/`sig` of the wrong size, ...).
 */
export function readResponse(r: BencodeDict): ResponseValues {
  const context = 'response: ';
  const out: ResponseValues = { id: requireId(r, 'id', context) };
  const nodes = optionalBytes(r, 'nodes', context);
  if (nodes !== undefined) out.nodes = decodeNodes(nodes, 4);
  const nodes6 = optionalBytes(r, 'nodes6', context);
  if (nodes6 !== undefined) out.nodes6 = decodeNodes(nodes6, 6);
  const token = optionalBytes(r, 'token', context);
  if (token !== undefined) out.token = token;
  const values = r['values'];
  if (values !== undefined) {
    if (!Array.isArray(values)) throw KadError.invalidMessage(`${context}"values" must be a list`);
    out.values = values.map((peer) => {
      if (!(peer instanceof Uint8Array)) throw KadError.invalidMessage(`${context}"values" must be a list of strings`);
      return decodePeer(peer);
    });
  }
  const v = r['v'];
  if (v !== undefined) out.v = v;
  const k = optionalBytes(r, 'k', context);
  if (k !== undefined) {
    if (k.length !== PUBLIC_KEY_BYTES) throw KadError.invalidMessage(`${context}"k" must be ${PUBLIC_KEY_BYTES} bytes`);
    out.k = k;
  }
  const sig = optionalBytes(r, 'sig', context);
  if (sig !== undefined) {
    if (sig.length !== SIGNATURE_BYTES)
      throw KadError.invalidMessage(`${context}"sig" must be ${SIGNATURE_BYTES} bytes`);
    out.sig = sig;
  }
  const seq = optionalSeq(r, 'seq', context);
  if (seq !== undefined) out.seq = seq;
  return out;
}

/**
 * The `r` dict of a response.
 * @throws {KadError} `INVALID_ADDRESS` / `INVALID_ID` for contacts that do not fit their field.
 */
export function writeResponse(values: ResponseValues): BencodeDict {
  return dict({
    id: values.id,
    nodes: values.nodes === undefined ? undefined : encodeNodes(values.nodes, 4),
    nodes6: values.nodes6 === undefined ? undefined : encodeNodes(values.nodes6, 6),
    token: values.token,
    values: values.values?.map((peer) => encodePeer(peer)),
    v: values.v,
    k: values.k,
    sig: values.sig,
    seq: values.seq,
  });
}
