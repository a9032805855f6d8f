import { isIP } from 'node:net';
import { KadError } from '../errors.js';
import { ID_BYTES, type NodeId } from '../id.js';

/** An IP address family: 4 for IPv4, 6 for IPv6 (BEP 32: one routing table and socket each). */
export type AddressFamily = 4 | 6;

/** A UDP endpoint. `host` is dotted-quad IPv4 or RFC 5952 IPv6 text (no brackets, no zone). */
export interface PeerAddress {
  host: string;
  /** UDP port, 1..65535 on the wire (0 decodes but is not a reachable port). */
  port: number;
}

/** A DHT node: its id and UDP endpoint. */
export interface Contact extends PeerAddress {
  id: NodeId;
}

/** Bytes of one compact node info: 20-byte id + 4-byte IPv4 + 2-byte port. @see BEP 5 */
export const COMPACT_NODE_V4_BYTES = ID_BYTES + 6;
/** Bytes of one compact IPv6 node info: 20-byte id + 16-byte IPv6 + 2-byte port. @see BEP 32 */
export const COMPACT_NODE_V6_BYTES = ID_BYTES + 18;

/**
 * The address bytes of an IP text: 4 bytes for IPv4, 16 for IPv6 (including IPv4-mapped
 * `::ffff:a.b.c.d`, which stays 16 bytes). Returns `undefined` for anything else, including
 * zone ids (`fe80::1%eth0`) and brackets.
 */
export function parseIp(host: string): Uint8Array | undefined {
  if (typeof host !== 'string') return undefined;
  return host.includes(':') ? parseIpv6(host) : parseIpv4(host);
}

/**
 * The family of an IP literal: 4 for dotted IPv4, 6 for IPv6 text, `undefined` for anything
 * else (host names, bracketed forms, garbage). Node's own parser, without allocating; unlike
 * {@link parseIp} it accepts an IPv6 zone id (`fe80::1%eth0`), which a socket may bind to but
 * which has no compact form.
 */
export function familyOf(host: string): AddressFamily | undefined {
  const version = isIP(host);
  return version === 4 || version === 6 ? version : undefined;
}

/** Whether 16 address bytes are an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`). */
export function isIpv4Mapped(bytes: Uint8Array): boolean {
  if (bytes.length !== 16) return false;
  for (let i = 0; i < 10; i++) if (bytes[i] !== 0) return false;
  return bytes[10] === 0xff && bytes[11] === 0xff;
}

/**
 * The canonical text of an IP text (lowercase, RFC 5952 zero compression), so addresses compare
 * as strings. @throws {KadError} `INVALID_ADDRESS` if `host` is not an IP address.
 */
export function normalizeIp(host: string): string {
  return formatIp(ipBytes(host));
}

/** @throws {KadError} `INVALID_ADDRESS` if `host` is not an IP address. */
export function ipBytes(host: string): Uint8Array {
  const bytes = parseIp(host);
  if (bytes === undefined)
    throw KadError.invalidAddress(`not an IP address: ${JSON.stringify(String(host).slice(0, 64))}`);
  return bytes;
}

function parseIpv4(host: string): Uint8Array | undefined {
  // one pass over the characters: this runs for every contact a lookup is offered
  const out = new Uint8Array(4);
  let part = 0;
  let value = 0;
  let digits = 0;
  for (let i = 0; i <= host.length; i++) {
    const c = i === host.length ? 0x2e : host.charCodeAt(i);
    if (c === 0x2e) {
      // '.' (or the end): a part of 1-3 digits, at most 255
      if (digits === 0 || value > 255 || part === 4) return undefined;
      out[part++] = value;
      value = 0;
      digits = 0;
    } else if (c >= 0x30 && c <= 0x39) {
      // decimal only, no leading zeros (those mean octal to some parsers)
      if (digits === 3 || (digits === 1 && value === 0)) return undefined;
      value = value * 10 + (c - 0x30);
      digits++;
    } else {
      return undefined;
    }
  }
  return part === 4 ? out : undefined;
}

function parseIpv6(host: string): Uint8Array | undefined {
  let text = host;
  const out = new Uint8Array(16);
  let tail: Uint8Array | undefined;
  const lastColon = text.lastIndexOf(':');
  if (text.includes('.', lastColon)) {
    tail = parseIpv4(text.slice(lastColon + 1));
    if (tail === undefined) return undefined;
    text = `${text.slice(0, lastColon + 1)}0:0`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const groups = (s: string): number[] | undefined => {
    if (s === '') return [];
    const list: number[] = [];
    for (const g of s.split(':')) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
      list.push(parseInt(g, 16));
    }
    return list;
  };
  const head = groups(halves[0] ?? '');
  const rest = halves.length === 2 ? groups(halves[1] ?? '') : [];
  if (head === undefined || rest === undefined) return undefined;
  if (halves.length === 2 ? head.length + rest.length > 7 : head.length !== 8) return undefined;
  const all = [...head, ...new Array<number>(8 - head.length - rest.length).fill(0), ...rest];
  all.forEach((g, i) => {
    out[2 * i] = g >> 8;
    out[2 * i + 1] = g & 0xff;
  });
  if (tail !== undefined) out.set(tail, 12);
  return out;
}

/**
 * The text of 4 or 16 address bytes: dotted quad, or RFC 5952 IPv6 (lowercase, longest run of
 * two or more zero groups as `::`, IPv4-mapped as `::ffff:a.b.c.d` the way Node.js reports it).
 * @throws {KadError} `INVALID_ADDRESS` for another length.
 */
export function formatIp(bytes: Uint8Array): string {
  if (bytes.length === 4) return formatIpv4At(bytes, 0);
  if (bytes.length !== 16) throw KadError.invalidAddress(`an IP address has 4 or 16 bytes, not ${bytes.length}`);
  if (isIpv4Mapped(bytes)) {
    return `::ffff:${bytes[12]}.${bytes[13]}.${bytes[14]}.${bytes[15]}`;
  }
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0));
  let bestStart = -1;
  let bestLength = 1; // RFC 5952: a single zero group is not compressed
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart === -1) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}

// the decimal text of every byte, so that an IPv4 address is four table reads and three joins
const DECIMAL = Array.from({ length: 256 }, (_, i) => String(i));

/** Dotted-quad text of the 4 address bytes at `offset` of `bytes`, without a view of them. */
function formatIpv4At(bytes: Uint8Array, offset: number): string {
  return `${DECIMAL[bytes[offset] ?? 0]}.${DECIMAL[bytes[offset + 1] ?? 0]}.${DECIMAL[bytes[offset + 2] ?? 0]}.${DECIMAL[bytes[offset + 3] ?? 0]}`;
}

function assertPort(port: number): void {
  if (!Number.isInteger(port) || port < 0 || port > 0xffff) {
    throw KadError.invalidAddress(`port must be an integer in 0..65535 (got ${String(port)})`);
  }
}

function writeAddress(out: Uint8Array, offset: number, ip: Uint8Array, port: number): void {
  out.set(ip, offset);
  out[offset + ip.length] = port >> 8;
  out[offset + ip.length + 1] = port & 0xff;
}

/**
 * Compact peer info / compact address: the IP bytes then the port big-endian (6 bytes for IPv4,
 * 18 for IPv6). Also the form of the BEP 42 `ip` field.
 * @throws {KadError} `INVALID_ADDRESS` for a bad host or port.
 * @see BEP 5 "Contact Encoding", BEP 42
 */
export function encodePeer(address: PeerAddress): Uint8Array {
  const ip = ipBytes(address.host);
  assertPort(address.port);
  const out = new Uint8Array(ip.length + 2);
  writeAddress(out, 0, ip, address.port);
  return out;
}

/**
 * Reads a compact peer info / compact address of 6 or 18 bytes.
 * @throws {KadError} `INVALID_MESSAGE` for another length.
 */
export function decodePeer(bytes: Uint8Array): PeerAddress {
  if (bytes.length !== 6 && bytes.length !== 18) {
    throw KadError.invalidMessage(`a compact address has 6 or 18 bytes, not ${bytes.length}`);
  }
  const ipLength = bytes.length - 2;
  return {
    host: formatIp(bytes.subarray(0, ipLength)),
    port: ((bytes[ipLength] ?? 0) << 8) | (bytes[ipLength + 1] ?? 0),
  };
}

/** Alias of {@link encodePeer} for the BEP 42 `ip` field. */
export const encodeAddress = encodePeer;
/** Alias of {@link decodePeer} for the BEP 42 `ip` field. */
export const decodeAddress = decodePeer;

/**
 * Concatenated compact node infos of one family (26 bytes each for IPv4, 38 for IPv6), the
 * `nodes` / `nodes6` fields. An IPv4-mapped IPv6 host counts as IPv6.
 * @throws {KadError} `INVALID_ID` / `INVALID_ADDRESS` for a contact that does not fit `family`.
 * @see BEP 5, BEP 32
 */
export function encodeNodes(contacts: readonly Contact[], family: AddressFamily): Uint8Array {
  const size = family === 4 ? COMPACT_NODE_V4_BYTES : COMPACT_NODE_V6_BYTES;
  const out = new Uint8Array(contacts.length * size);
  contacts.forEach((contact, i) => {
    if (!(contact.id instanceof Uint8Array) || contact.id.length !== ID_BYTES) {
      throw KadError.invalidId(`contact id must be ${ID_BYTES} bytes`);
    }
    const ip = ipBytes(contact.host);
    if (ip.length !== (family === 4 ? 4 : 16)) {
      throw KadError.invalidAddress(`${contact.host} is not an IPv${family} address`);
    }
    assertPort(contact.port);
    out.set(contact.id, i * size);
    writeAddress(out, i * size + ID_BYTES, ip, contact.port);
  });
  return out;
}

/**
 * Reads concatenated compact node infos of one family. Ids are fresh copies. Entries are
 * returned as they are (port 0 included): whether to use a contact is the caller's policy.
 * @throws {KadError} `INVALID_MESSAGE` if the length is not a multiple of 26 (IPv4) / 38 (IPv6).
 */
export function decodeNodes(bytes: Uint8Array, family: AddressFamily): Contact[] {
  const size = family === 4 ? COMPACT_NODE_V4_BYTES : COMPACT_NODE_V6_BYTES;
  if (bytes.length % size !== 0) {
    throw KadError.invalidMessage(
      `${family === 4 ? 'nodes' : 'nodes6'} length ${bytes.length} is not a multiple of ${size}`,
    );
  }
  const out: Contact[] = [];
  for (let offset = 0; offset < bytes.length; offset += size) {
    const ip = offset + ID_BYTES;
    const portAt = offset + size - 2;
    // the hot path of every lookup (8 contacts a response): one copy for the id, the IPv4 text from the bytes in place
    const host = family === 4 ? formatIpv4At(bytes, ip) : formatIp(bytes.subarray(ip, portAt));
    const port = ((bytes[portAt] ?? 0) << 8) | (bytes[portAt + 1] ?? 0);
    const id = new Uint8Array(ID_BYTES);
    for (let i = 0; i < ID_BYTES; i++) id[i] = bytes[offset + i] ?? 0;
    out.push({ id, host, port });
  }
  return out;
}
