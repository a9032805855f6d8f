import { lookup } from 'node:dns/promises';
import { KadError } from '../errors.js';
import type { Endpoint } from '../transport/transport.js';
import { familyOf } from '../wire/compact.js';

/**
 * A bootstrap contact: an `Endpoint` (an IP literal and a port), or a `'host:port'` string whose
 * host is an IP literal (IPv6 in brackets: `'[::1]:6881'`) or a DNS name, resolved to its IPv4
 * and IPv6 addresses each time the node joins.
 */
export type BootstrapEntry = Endpoint | string;

/**
 * Resolves a DNS name to IP literals of either family (unknown or unreachable names resolve to
 * `[]` or reject; both leave the entry out of that join attempt).
 */
export type HostResolver = (hostname: string) => Promise<readonly string[]>;

/**
 * The well-known routers of the BitTorrent Mainline DHT, for joining the public network:
 * `createNode({ bootstrap: MAINLINE_BOOTSTRAP })`. Never a default: a node contacts nobody
 * unless told to.
 */
export const MAINLINE_BOOTSTRAP: readonly string[] = Object.freeze([
  'router.bittorrent.com:6881',
  'dht.transmissionbt.com:6881',
  'router.utorrent.com:6881',
  'dht.libtorrent.org:25401',
]);

/** The system resolver (`getaddrinfo`, as `dns.lookup` does: hosts file, then DNS), both families. */
export const systemResolver: HostResolver = async (hostname) =>
  (await lookup(hostname, { all: true, verbatim: true })).map((address) => address.address);

/** A `'host:port'` bootstrap string, read: `name` is set when the host is a DNS name to resolve. */
export interface ParsedBootstrapString {
  /** An IP literal (without brackets), or the DNS name to resolve. */
  readonly host: string;
  /** UDP port, 1–65535. */
  readonly port: number;
  /** Whether `host` is a DNS name. */
  readonly name: boolean;
}

const DNS_NAME = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*\.?$/i;

/**
 * Reads a `'host:port'` bootstrap string.
 * @throws {KadError} `INVALID_OPTION` naming `name` for anything else.
 */
export function parseBootstrapString(entry: string, name = 'bootstrap'): ParsedBootstrapString {
  const bad = (): KadError =>
    KadError.invalidOption(
      `${name} entries must be { host: IP literal, port: 1..65535 } or "host:port" (got ${JSON.stringify(entry.slice(0, 300))})`,
    );
  const bracketed = /^\[([^\]]+)\]:(\d{1,5})$/.exec(entry);
  const plain = bracketed === null ? /^([^:[\]]+):(\d{1,5})$/.exec(entry) : null;
  const match = bracketed ?? plain;
  if (match === null) throw bad();
  const host = match[1] as string;
  const port = Number(match[2]);
  if (!(port >= 1 && port <= 65535)) throw bad();
  const family = familyOf(host);
  if (bracketed !== null) {
    if (family !== 6) throw bad();
    return { host, port, name: false };
  }
  if (family === 4) return { host, port, name: false };
  if (!DNS_NAME.test(host)) throw bad();
  return { host, port, name: true };
}
