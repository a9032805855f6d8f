import { isNodeId } from '../id.js';
import { hostId } from '../transport/transport.js';
import { type AddressFamily, type Contact, parseIp, type PeerAddress } from '../wire/compact.js';

/**
 * The family of `address` when a lookup may send to it: an IP literal with a port in 1..65535
 * that is not unspecified (`0.0.0.0/8`, `::`), multicast (`224.0.0.0/4`, `ff00::/8`), the
 * limited broadcast `255.255.255.255`, or an IPv4-mapped IPv6 address (which belongs in the
 * IPv4 DHT, BEP 32); `undefined` otherwise. Loopback and private addresses are routable (local
 * networks and tests use them).
 */
export function routableFamily(address: PeerAddress): AddressFamily | undefined {
  if (!Number.isInteger(address.port) || address.port < 1 || address.port > 65535) return undefined;
  if (typeof address.host !== 'string') return undefined;
  // canonical dotted quad (every contact a response names), read without allocating
  const v4 = hostId(address.host);
  if (typeof v4 === 'number') {
    const first = v4 >>> 24;
    return first === 0 || first >= 224 ? undefined : 4; // "this network", multicast, reserved and broadcast
  }
  const ip = parseIp(address.host);
  if (ip === undefined) return undefined;
  const a = ip[0] ?? 0;
  if (ip.length === 4) {
    if (a === 0 || a >= 224) return undefined; // "this network", multicast, reserved and broadcast
    return 4;
  }
  if (a === 0xff) return undefined; // multicast
  let zeros = 0;
  while (zeros < 16 && ip[zeros] === 0) zeros++;
  if (zeros === 16) return undefined; // unspecified ::
  if (zeros === 10 && ip[10] === 0xff && ip[11] === 0xff) return undefined; // IPv4-mapped
  return 6;
}

/** Whether `contact` has a 20-byte id and a {@link routableFamily routable} address. */
export function routableContact(contact: Contact): AddressFamily | undefined {
  return isNodeId(contact.id) ? routableFamily(contact) : undefined;
}
