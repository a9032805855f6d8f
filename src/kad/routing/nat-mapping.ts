import { type AddressFamily, decodePeer } from '../wire/compact.js';

/**
 * What the `ip` reports of responders say of this node's NAT mapping (RFC 4787 §4.1):
 * `endpoint-independent` when distinct responders saw the same external port, `address-dependent`
 * (a "symmetric" NAT: a new port per destination) when they saw different ports of one address,
 * `unknown` before two responders reported.
 */
export type NatMappingBehaviour = 'endpoint-independent' | 'address-dependent' | 'unknown';

/** Responders whose latest report is kept; the verdict reads the most recent {@link JUDGED}. */
const KEPT = 8;
const JUDGED = 4;

/**
 * Keeps the latest external address each of the last few responders reported (BEP 42 `ip`), and
 * judges the NAT's mapping behaviour from the most recent ones: hole punching needs it to know
 * whether the port a rendezvous saw is the one a peer will be seen from. A port change after a
 * NAT rebinding is forgotten after {@link JUDGED} fresh reports. @internal
 */
export class NatMappingVote {
  readonly #family: AddressFamily;
  /** Responder host → `ip:port` it reported last; insertion order is recency. */
  readonly #reports = new Map<string, string>();

  constructor(family: AddressFamily) {
    this.#family = family;
  }

  /** Records that `voter` saw us at `ip` (compact, 6 or 18 bytes); other sizes are ignored. */
  record(voter: string, ip: Uint8Array): void {
    if (ip.length !== (this.#family === 4 ? 6 : 18)) return;
    let seen: string;
    try {
      const { host, port } = decodePeer(ip);
      seen = `${host}|${port}`;
    } catch {
      return;
    }
    this.#reports.delete(voter);
    this.#reports.set(voter, seen);
    if (this.#reports.size > KEPT) this.#reports.delete(this.#reports.keys().next().value as string);
  }

  /** The verdict over the most recent reports of the most recently reported address. */
  behaviour(): NatMappingBehaviour {
    const recent = [...this.#reports.values()].slice(-JUDGED);
    const latest = recent.at(-1);
    if (latest === undefined) return 'unknown';
    const host = latest.slice(0, latest.lastIndexOf('|'));
    const sameHost = recent.filter((seen) => seen.slice(0, seen.lastIndexOf('|')) === host);
    if (sameHost.length < 2) return 'unknown';
    return new Set(sameHost).size > 1 ? 'address-dependent' : 'endpoint-independent';
  }
}
