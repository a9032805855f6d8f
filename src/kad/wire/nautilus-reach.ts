import type { BencodeDict } from './bencode.js';
import { KadError } from '../errors.js';
import type { NodeId } from '../id.js';

/**
 * The Nautilus reachability extension: two KRPC query names of its own (never a changed BEP 5
 * message), answered `{ id }` like `ping`; other implementations answer 204 (method unknown).
 * See docs/protocol.md, "Nautilus extension: reachability dial-back".
 *
 * - `nautilus_reach` `{ id, port, nonce }`: "send a `nautilus_probe` with this nonce to my IP (the
 *   source address of this query) at `port`" (the port the node believes its router maps). The
 *   probe goes only to the querier's own IP, at most once per {@link REACH_PROBE_INTERVAL_MS} per
 *   IP and port, one probe per query of the same size: nothing to amplify.
 * - `nautilus_probe` `{ id, nonce }`: the dial-back itself; its arrival at the mapped port shows
 *   that the router lets unsolicited traffic in.
 */
export const NAUTILUS_REACH = 'nautilus_reach';
/** The dial-back query a `nautilus_reach` asks for. */
export const NAUTILUS_PROBE = 'nautilus_probe';
/** Most bytes of a nonce. */
export const MAX_NONCE_BYTES = 20;
/** A responder sends at most one probe to one querier IP and port this often, ms. */
export const REACH_PROBE_INTERVAL_MS = 10_000;

/** Arguments of `nautilus_reach`. */
export interface ReachArgs {
  readonly id: NodeId;
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

/** The port and nonce of a `nautilus_reach` query. @throws {KadError} `INVALID_MESSAGE` (wire 203). */
export function readReachArgs(a: BencodeDict): { port: number; nonce: Uint8Array } {
  const port = a['port'];
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw KadError.invalidMessage(`${NAUTILUS_REACH}: a.port must be an integer in [1, 65535]`);
  }
  return { port, nonce: readNonce(a, NAUTILUS_REACH) };
}

/** The nonce of a `nautilus_probe` query. @throws {KadError} `INVALID_MESSAGE` (wire 203). */
export function readProbeArgs(a: BencodeDict): { nonce: Uint8Array } {
  return { nonce: readNonce(a, NAUTILUS_PROBE) };
}
