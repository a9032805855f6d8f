import type { Milliseconds } from '../../core/clock.js';
import { ID_BYTES, type NodeId } from '../id.js';
import { type AddressFamily, type Contact, formatIp, isIpv4Mapped, parseIp } from '../wire/compact.js';
import { isLocalAddress } from '../wire/ip-class.js';
import { PackedContacts } from './packed-contacts.js';
import type { RoutingContact } from './routing-types.js';

/** A candidate's address, parsed once. @internal */
export interface Parsed {
  readonly ip: Uint8Array;
  /** A local address (`limitLocalAddresses` off): a group of its own for the subnet limit. */
  readonly exempt: boolean;
}

/**
 * The address of `contact` if it can enter a table of `family`: a 20-byte id, a port in
 * 1..65535, an IP literal of that family (no IPv4-mapped address in an IPv6 table); else
 * `undefined`. A local address is `exempt` unless `limitLocalAddresses`. @internal
 */
export function parseCandidate(
  contact: Contact,
  family: AddressFamily,
  limitLocalAddresses: boolean,
): Parsed | undefined {
  if (!(contact.id instanceof Uint8Array) || contact.id.length !== ID_BYTES) return undefined;
  if (!Number.isInteger(contact.port) || contact.port < 1 || contact.port > 0xffff) return undefined;
  const ip = parseIp(contact.host);
  if (ip === undefined || ip.length !== (family === 4 ? 4 : 16)) return undefined;
  if (family === 6 && isIpv4Mapped(ip)) return undefined;
  // exempt addresses each form their own group (see Bucket.diverse)
  return { ip, exempt: !limitLocalAddresses && isLocalAddress(formatIp(ip)) };
}

/**
 * A bucket of a routing table: its contacts (least recently seen first, at most k) are the list
 * itself; its replacement cache (most recent last), created on first use, and when its contents
 * last changed. The subnet limit and the replacement cache's rules live here; what enters and
 * leaves the table, and its events, in `RoutingTable`. @internal
 */
export class Bucket extends PackedContacts {
  /** Most recent last; at most `replacementCacheSize`; created on first use. */
  replacements: PackedContacts | undefined = undefined;
  lastChanged: Milliseconds;

  /** @param host a bucket of the same table, whose byte array this one shares */
  constructor(ipBytes: 4 | 16, k: number, now: Milliseconds, host?: Bucket) {
    super(ipBytes, k, host);
    this.lastChanged = now;
  }

  /** The contacts (the bucket is their list: one object, not two). */
  get contacts(): PackedContacts {
    return this;
  }

  /**
   * Whether a candidate at `candidate.ip` fits the subnet limit (slot `ignoring` left out): at
   * most `maxPerSubnet` contacts per /24 (IPv4) or /64 (IPv6). An exempt (local) address is a
   * group of its own, so it only counts against an entry at the very same address and `port`.
   */
  diverse(candidate: Parsed, ignoring: number, maxPerSubnet: number, port?: number): boolean {
    const prefix = this.compactBytes === 26 ? 3 : 8;
    let same = 0;
    for (let i = 0; i < this.length; i++) {
      if (i === ignoring || this.exempt(i) !== candidate.exempt) continue;
      if (
        candidate.exempt
          ? port !== undefined && this.sameAddress(i, candidate.ip, port)
          : this.samePrefix(i, candidate.ip, prefix)
      )
        same++;
    }
    return same < maxPerSubnet;
  }

  /**
   * Queues a candidate for a full bucket (most recent last, the oldest dropped past `size`; none
   * with `size` 0) and returns it as a snapshot.
   */
  cacheReplacement(id: NodeId, parsed: Parsed, port: number, now: Milliseconds, size: number): RoutingContact {
    if (size === 0) return { id: Uint8Array.from(id), host: formatIp(parsed.ip), port, lastSeen: now, failures: 0 };
    // the cache lives in the table's byte array, with the buckets
    const cache = (this.replacements ??= new PackedContacts(this.compactBytes === 26 ? 4 : 16, size, this));
    cache.insert(cache.length, id, parsed.ip, port, parsed.exempt, now);
    if (cache.length > size) cache.removeAt(0);
    return cache.contact(cache.length - 1);
  }

  /**
   * The slot in the replacement cache of the freshest candidate that may take the place of
   * contact `leaving`, or undefined. Candidates last seen before `oldest` are dropped instead:
   * one may be long gone, and it would take the slot of a newcomer that is surely alive.
   */
  takeReplacement(leaving: number, oldest: Milliseconds, maxPerSubnet: number): number | undefined {
    const cache = this.replacements;
    if (cache === undefined) return undefined;
    // most recent last: everything before the first stale one from the end is stale too
    let fresh = cache.length;
    while (fresh > 0 && cache.lastSeen(fresh - 1) > oldest) fresh--;
    for (let n = 0; n < fresh; n++) cache.removeAt(0);
    for (let i = cache.length - 1; i >= 0; i--) {
      let clash = false;
      for (let j = 0; j < this.length && !clash; j++) {
        clash = j !== leaving && (this.sameId(j, cache, i) || this.sameAddress(j, cache.ip(i), cache.port(i)));
      }
      const candidate = { ip: cache.ip(i), exempt: cache.exempt(i) };
      if (clash || !this.diverse(candidate, leaving, maxPerSubnet, cache.port(i))) continue;
      return i;
    }
    return undefined;
  }

  /** Drops `id` from the replacement cache, if it waits there. */
  dropReplacement(id: NodeId): void {
    const cache = this.replacements;
    const i = cache === undefined ? -1 : cache.indexOfId(id);
    if (i !== -1) cache?.removeAt(i);
  }
}
