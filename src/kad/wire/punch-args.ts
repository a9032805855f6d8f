import type { BencodeDict } from './bencode.js';
import { decodePeer, encodePeer, type PeerAddress } from './compact.js';
import { KadError } from '../errors.js';
import type { NodeId } from '../id.js';
import { optionalBytes, optionalInteger, requireBytes, requireId } from './krpc.js';

// The hole-punching extension (a Nautilus KRPC extension: new query names, the envelope
// unchanged; other implementations answer 204). See docs/protocol.md "Hole punching".

/** Query a node sends a rendezvous to be introduced to a node behind a NAT. */
export const INTRODUCE_METHOD = 'nautilus_introduce';
/** Query a rendezvous sends the target: "this requester wants to reach you; punch toward it". */
export const PUNCH_METHOD = 'nautilus_punch';

/** Arguments of `nautilus_introduce`: the target by id (`target`), by external address (`addr`), or both. */
export interface IntroduceArgs {
  id: NodeId;
  target?: NodeId;
  addr?: PeerAddress;
  /** A write token the rendezvous issued to the requester's IP (proves the source address). */
  token?: Uint8Array;
}

/**
 * What a rendezvous answers: `introduced` (with the target's `addr` as the rendezvous sees it and
 * its `target` id), `token` (come back with the enclosed token), `unknown` (no such node has queried
 * it recently), `unreachable` (the target did not acknowledge), `busy` (a rate limit).
 */
export type IntroduceStatus = 'introduced' | 'token' | 'unknown' | 'unreachable' | 'busy';

const STATUSES: ReadonlySet<string> = new Set<IntroduceStatus>([
  'introduced',
  'token',
  'unknown',
  'unreachable',
  'busy',
]);

/** The response of `nautilus_introduce`. */
export interface IntroduceReply {
  status: IntroduceStatus;
  /** A token for the requester's next introduction (every reply carries one). */
  token?: Uint8Array;
  /** `introduced`: the target's external address as the rendezvous sees it. */
  addr?: PeerAddress;
  /** `introduced`: the target's node id. */
  target?: NodeId;
  /** `introduced`: the target reported an address-dependent (symmetric) NAT mapping. */
  symmetric?: boolean;
}

/** Arguments of `nautilus_punch`: the requester's external address as the rendezvous saw it, and its id. */
export interface PunchArgs {
  id: NodeId;
  addr: PeerAddress;
  peer: NodeId;
}

const text = new TextEncoder();
const untext = new TextDecoder();

function readAddr(dict: BencodeDict, key: string, context: string): PeerAddress | undefined {
  const bytes = optionalBytes(dict, key, context);
  if (bytes === undefined) return undefined;
  if (bytes.length !== 6 && bytes.length !== 18) {
    throw KadError.invalidMessage(`${context}"${key}" must be a compact address of 6 or 18 bytes`);
  }
  return decodePeer(bytes);
}

/** @throws {KadError} `INVALID_MESSAGE` naming the bad field. */
export function readIntroduceArgs(a: BencodeDict): IntroduceArgs {
  const context = `${INTRODUCE_METHOD}: `;
  const args: IntroduceArgs = { id: requireId(a, 'id', context) };
  if (a['target'] !== undefined) args.target = requireId(a, 'target', context);
  const addr = readAddr(a, 'addr', context);
  if (addr !== undefined) args.addr = addr;
  if (args.target === undefined && args.addr === undefined) {
    throw KadError.invalidMessage(`${context}"target" or "addr" is required`);
  }
  const token = optionalBytes(a, 'token', context);
  if (token !== undefined) args.token = token;
  return args;
}

/** The `a` dict of a `nautilus_introduce`. */
export function writeIntroduceArgs(args: IntroduceArgs): BencodeDict {
  const a: BencodeDict = { id: args.id };
  if (args.target !== undefined) a['target'] = args.target;
  if (args.addr !== undefined) a['addr'] = encodePeer(args.addr);
  if (args.token !== undefined) a['token'] = args.token;
  return a;
}

/** @throws {KadError} `INVALID_MESSAGE` naming the bad field. */
export function readIntroduceReply(r: BencodeDict): IntroduceReply {
  const context = `${INTRODUCE_METHOD} reply: `;
  const status = untext.decode(requireBytes(r, 'status', context));
  if (!STATUSES.has(status)) throw KadError.invalidMessage(`${context}unknown status ${JSON.stringify(status)}`);
  const reply: IntroduceReply = { status: status as IntroduceStatus };
  const token = optionalBytes(r, 'token', context);
  if (token !== undefined) reply.token = token;
  if (reply.status === 'introduced') {
    const addr = readAddr(r, 'addr', context);
    if (addr === undefined) throw KadError.invalidMessage(`${context}missing "addr"`);
    reply.addr = addr;
    reply.target = requireId(r, 'target', context);
    reply.symmetric = optionalInteger(r, 'nat', 0, 1, context) === 1;
  }
  return reply;
}

/** The `r` dict of a `nautilus_introduce` reply (without `id`). */
export function writeIntroduceReply(reply: IntroduceReply): BencodeDict {
  const r: BencodeDict = { status: text.encode(reply.status) };
  if (reply.token !== undefined) r['token'] = reply.token;
  if (reply.addr !== undefined) r['addr'] = encodePeer(reply.addr);
  if (reply.target !== undefined) r['target'] = reply.target;
  if (reply.symmetric === true) r['nat'] = 1;
  return r;
}

/** @throws {KadError} `INVALID_MESSAGE` naming the bad field. */
export function readPunchArgs(a: BencodeDict): PunchArgs {
  const context = `${PUNCH_METHOD}: `;
  const addr = readAddr(a, 'addr', context);
  if (addr === undefined) throw KadError.invalidMessage(`${context}missing "addr"`);
  return { id: requireId(a, 'id', context), addr, peer: requireId(a, 'peer', context) };
}

/** The `a` dict of a `nautilus_punch`. */
export function writePunchArgs(args: PunchArgs): BencodeDict {
  return { id: args.id, addr: encodePeer(args.addr), peer: args.peer };
}

/** `nat` of a `nautilus_punch` reply: whether the target's NAT mapping is address-dependent. */
export function readPunchReplySymmetric(r: BencodeDict): boolean {
  return optionalInteger(r, 'nat', 0, 1, `${PUNCH_METHOD} reply: `) === 1;
}
