import type { BencodeDict } from '../wire/bencode.js';
import { encodePeer } from '../wire/compact.js';
import { encodeMessage, type KrpcErrorMessage, type KrpcMessage, type KrpcResponse } from '../wire/krpc.js';
import { type Endpoint, MAX_DATAGRAM_BYTES } from '../transport/transport.js';

/** What every reply of a node carries besides its body. @internal */
export interface ReplyEnvelope {
  /** The client version `v`, if sent. */
  readonly clientVersion: Uint8Array | undefined;
  /** BEP 42: the requester's compact address as this node sees it, if reported. */
  readonly ip: Uint8Array | undefined;
}

// error texts are for humans and must not push the datagram over the limit
const MAX_ERROR_TEXT = 200;

/** The requester's compact address for the BEP 42 `ip` field; `undefined` for a non-IP host. */
export function requesterIp(to: Endpoint): Uint8Array | undefined {
  try {
    return encodePeer(to);
  } catch {
    return undefined; // a named host of a simulated network
  }
}

/**
 * Bytes of a response datagram besides the value of its `r` dictionary: `d`, `1:ip<ip>` when
 * reported, `1:r`, `1:t<t>`, `1:v<version>` when sent, `1:y1:r`, `e`. So `r` may take
 * `MAX_DATAGRAM_BYTES` minus this.
 */
export function responseEnvelopeBytes(
  transactionIdBytes: number,
  sizes: { readonly clientVersionBytes: number | undefined; readonly ipBytes: number | undefined },
): number {
  const string = (n: number): number => String(n).length + 1 + n;
  let size = 2 + 3 + 6 + 3 + string(transactionIdBytes); // d e, 1:r, 1:y1:r, 1:t<t>
  if (sizes.ipBytes !== undefined) size += 4 + string(sizes.ipBytes);
  if (sizes.clientVersionBytes !== undefined) size += 3 + string(sizes.clientVersionBytes);
  return size;
}

/** A response datagram, or `undefined` when `r` cannot be encoded within 1500 bytes. */
export function encodeResponse(t: Uint8Array, r: BencodeDict, envelope: ReplyEnvelope): Uint8Array | undefined {
  const response: KrpcResponse = { y: 'r', t, r };
  if (envelope.clientVersion !== undefined) response.v = envelope.clientVersion;
  if (envelope.ip !== undefined) response.ip = envelope.ip;
  return tryEncode(response);
}

/** An error datagram `[code, text]` (text cut to 200 characters). */
export function encodeError(
  t: Uint8Array,
  [code, text]: readonly [number, string],
  envelope: ReplyEnvelope,
): Uint8Array | undefined {
  const error: KrpcErrorMessage = { y: 'e', t, e: [code, text.slice(0, MAX_ERROR_TEXT)] };
  if (envelope.clientVersion !== undefined) error.v = envelope.clientVersion;
  if (envelope.ip !== undefined) error.ip = envelope.ip;
  return tryEncode(error);
}

function tryEncode(message: KrpcMessage): Uint8Array | undefined {
  try {
    const datagram = encodeMessage(message);
    return datagram.byteLength > MAX_DATAGRAM_BYTES ? undefined : datagram;
  } catch {
    return undefined;
  }
}
