import type { BencodeDict } from './bencode.js';
import { KadError } from '../errors.js';
import { formatIp, parseIp } from './compact.js';
import type { NodeId } from '../id.js';

/**
 * The Nautilus reachability extension: three KRPC query names of its own (never a changed BEP 5
 * message), answered `{ id }` like `ping`; other implementations answer 204 (method unknown).
 * See docs/protocol.md, "Nautilus extension: reachability dial-back".
 *
 * - `nautilus_reach` `{ id, port, nonce }` (requester → contact): "have a third node send a
 *   `nautilus_probe` with this nonce to my IP (the source address of this query) at `port`" (the
 *   port the node believes its router maps). The contact does not probe itself: its own probe
 *   would come from an endpoint the requester has just sent to, which a NAT lets in as a reply.
 * - `nautilus_relay` `{ id, ip, port, nonce }` (contact → third node): "send a `nautilus_probe`
 *   with this nonce to `ip:port`", `ip` being the requester's address as the contact saw it.
 *   One probe per relay, of the relay's size or less, at most once per
 *   {@link REACH_PROBE_INTERVAL_MS} per target IP and port.
 * - `nautilus_probe` `{ id, nonce }` (third node → requester): the dial-back itself; its arrival
 *   at the mapped port from a host the requester never sent to shows that the router lets
 *   unsolicited traffic in.
 */
export const NAUTILUS_REACH = 'nautilus_reach';
/** The query a contact forwards a `nautilus_reach` as, to a third node. */
export const NAUTILUS_RELAY = 'nautilus_relay';
/** The dial-back query a `nautilus_relay` asks for. */
export const NAUTILUS_PROBE = 'nautilus_probe';
/** Most bytes of a nonce. */
export const MAX_NONCE_BYTES = 20;
/**
 * A contact relays at most one `nautilus_reach` per requester IP and port this often, and a
 * third node sends at most one probe to one target IP and port this often, ms.
 */
export const REACH_PROBE_INTERVAL_MS = 10_000;

/** Arguments of `nautilus_reach`. */
export interface ReachArgs {
  readonly id: NodeId;
  readonly port: number;
  readonly nonce: Uint8Array;
}

/** Arguments of `nautilus_relay`. */
export interface RelayArgs {
  readonly id: NodeId;
  /** The requester's IPv4 address, as the relaying contact saw it (dotted quad). */
  readonly ip: string;
  readonly port: number;
  readonly nonce: Uint8Array;
}

/** Arguments of `nautilus_probe`. */
export interface ProbeArgs {
  readonly id: NodeId;
  readonly nonce: Uint8Array;
}

export function writeReachArgs(args: ReachArgs): BencodeDict {
  return { id: args.id, nonce: args.nonce, port: args.port };
}

/** @throws {KadError} `INVALID_ADDRESS` if `args.ip` is not an IPv4 address. */
export function writeRelayArgs(args: RelayArgs): BencodeDict {
  const ip = parseIp(args.ip);
  if (ip?.length !== 4) throw KadError.invalidAddress(`${NAUTILUS_RELAY}: ip must be IPv4, not ${args.ip}`);
  return { id: args.id, ip, nonce: args.nonce, port: args.port };
}

export function writeProbeArgs(args: ProbeArgs): BencodeDict {
  return { id: args.id, nonce: args.nonce };
}

function readNonce(a: BencodeDict, method: string): Uint8Array {
  const nonce = a['nonce'];
  if (!(nonce instanceof Uint8Array) || nonce.length === 0 || nonce.length > MAX_NONCE_BYTES) {
    throw KadError.invalidMessage(`${method}: a.nonce must be 1-${MAX_NONCE_BYTES} bytes`);
  }
  return nonce;
}

function readPort(a: BencodeDict, method: string): number {
  const port = a['port'];
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw KadError.invalidMessage(`${method}: a.port must be an integer in [1, 65535]`);
  }
  return port;
}

/** The port and nonce of a `nautilus_reach` query. @throws {KadError} `INVALID_MESSAGE` (wire 203). */
export function readReachArgs(a: BencodeDict): { port: number; nonce: Uint8Array } {
  return { port: readPort(a, NAUTILUS_REACH), nonce: readNonce(a, NAUTILUS_REACH) };
}

/**
 * The target (`ip`: exactly 4 bytes, IPv4; `port`) and nonce of a `nautilus_relay` query.
 * @throws {KadError} `INVALID_MESSAGE` (wire 203).
 */
export function readRelayArgs(a: BencodeDict): { target: { host: string; port: number }; nonce: Uint8Array } {
  const ip = a['ip'];
  if (!(ip instanceof Uint8Array) || ip.length !== 4) {
    throw KadError.invalidMessage(`${NAUTILUS_RELAY}: a.ip must be 4 bytes (an IPv4 address)`);
  }
  const port = readPort(a, NAUTILUS_RELAY);
  return { target: { host: formatIp(ip), port }, nonce: readNonce(a, NAUTILUS_RELAY) };
}

/** The nonce of a `nautilus_probe` query. @throws {KadError} `INVALID_MESSAGE` (wire 203). */
export function readProbeArgs(a: BencodeDict): { nonce: Uint8Array } {
  return { nonce: readNonce(a, NAUTILUS_PROBE) };
}
