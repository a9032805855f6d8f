import { ipBytes, isIpv4Mapped, parseIp } from './compact.js';

// What kind of address an IP is: loopback, private or link-local (local), or public. The RPC
// layer exempts loopback peers from pacing and rate limits; the routing table exempts local
// addresses from the per-subnet limit; BEP 42 exempts them from secure ids.

/**
 * The address bytes of an IP text, with an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) as its
 * 4 IPv4 bytes: the address BEP 42 and the local-address check work on.
 * @throws {KadError} `INVALID_ADDRESS` if `host` is not an IP address.
 */
export function unmappedIpBytes(host: string): Uint8Array {
  const ip = ipBytes(host);
  return isIpv4Mapped(ip) ? ip.subarray(12) : ip;
}

/**
 * Whether `host` is a loopback address: 127.0.0.0/8, `::1`, or IPv4-mapped 127.x. A check on
 * the text, without parsing (it runs for every datagram), so it expects the canonical text
 * transports report.
 */
export function isLoopback(host: string): boolean {
  return host.startsWith('127.') || host === '::1' || host.toLowerCase().startsWith('::ffff:127.');
}

/**
 * Whether `host` is a loopback, private, link-local or unique-local address (127/8, 10/8,
 * 172.16/12, 192.168/16, 169.254/16; ::1, ::, fc00::/7, fe80::/10, and IPv4-mapped forms of the
 * IPv4 ranges): one no remote node can reach. BEP 42 exempts such addresses, so nodes at them
 * may use any id.
 * @throws {KadError} `INVALID_ADDRESS` if `host` is not an IP address.
 * @see BEP 42
 */
export function isLocalAddress(host: string): boolean {
  const ip = unmappedIpBytes(host);
  const [a = 0, b = 0] = ip;
  if (ip.length === 4) {
    return (
      a === 127 || a === 10 || (a === 172 && (b & 0xf0) === 16) || (a === 192 && b === 168) || (a === 169 && b === 254)
    );
  }
  if ((a & 0xfe) === 0xfc) return true; // fc00::/7 unique local
  if (a === 0xfe && (b & 0xc0) === 0x80) return true; // fe80::/10 link-local
  const zeroUpTo15 = ip.subarray(0, 15).every((x) => x === 0);
  return zeroUpTo15 && (ip[15] === 1 || ip[15] === 0); // ::1 loopback, :: unspecified
}

/**
 * Where an IPv4 address can be reached from: `loopback` (127/8: this machine), `local`
 * (10/8, 172.16/12, 192.168/16, 169.254/16 and carrier-grade 100.64/10: one site or one ISP),
 * `public`, or `reserved` (0/8, multicast 224/4, 240/4 and broadcast: no unicast host), and
 * `undefined` for what is not a dotted IPv4 address. The reachability relay probes a target
 * only in the scope of the node that asked for it, so a stranger cannot aim it into its own
 * network.
 */
export function ipv4Scope(host: string): 'loopback' | 'local' | 'public' | 'reserved' | undefined {
  const ip = parseIp(host);
  if (ip?.length !== 4) return undefined;
  const [a = 0, b = 0] = ip;
  if (a === 0 || a >= 224) return 'reserved';
  if (a === 127) return 'loopback';
  if ((a === 100 && (b & 0xc0) === 64) || isLocalAddress(host)) return 'local';
  return 'public';
}
