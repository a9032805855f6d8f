import { type AddressFamily, decodePeer } from '../wire/compact.js';
import { integerAtLeast } from '../option-checks.js';
import type { RemoteInfo } from '../transport/transport.js';

/** Ports a tally entry makes room for: `votes * PORTS + port`. */
const PORTS = 65_536;

function votesOf(entry: number | undefined): number {
  return entry === undefined ? 0 : Math.floor(entry / PORTS);
}

/** Configuration of an {@link ExternalAddressVote}. */
export interface ExternalAddressVoteOptions {
  /**
   * Most responders whose report is remembered; beyond it the one heard from longest ago is
   * forgotten. Bounds memory (one small map entry per responder) and lets the vote follow an
   * address change after about this many fresh reports.
   * @default 64
   */
  readonly maxVoters?: number;
}

/** Defaults of {@link ExternalAddressVoteOptions}. */
export const DEFAULT_EXTERNAL_ADDRESS_VOTE_OPTIONS = Object.freeze({ maxVoters: 64 });

/**
 * This node's address as the rest of the network sees it, learned from the BEP 42 `ip` field of
 * responses: each responder host has one vote (its latest report; many ports of one host count
 * once), and the address with the most votes wins. A tie keeps the current winner, so a single
 * dissenting responder cannot make the answer flap. Only reports of the vote's family count.
 *
 * Votes are on the IP; the port reported is the one most recently reported for the winning IP
 * (it may differ behind a NAT that maps ports per destination).
 *
 * @see BEP 42 "IP address voting"
 */
export class ExternalAddressVote {
  readonly #family: AddressFamily;
  readonly #maxVoters: number;
  /** voter host → the IP it reported last; insertion order is recency. */
  readonly #ballots = new Map<string, string>();
  /**
   * reported IP → its votes and the port reported last with it, as `votes * PORTS + port` (one
   * small integer: one map, no object per IP); holds only IPs with at least one vote.
   */
  readonly #tally = new Map<string, number>();
  #leader: string | undefined;

  /** @throws {KadError} `INVALID_OPTION` for a `maxVoters` that is not a positive integer. */
  constructor(family: AddressFamily, options: ExternalAddressVoteOptions = {}) {
    this.#family = family;
    this.#maxVoters = integerAtLeast(
      'maxVoters',
      options.maxVoters,
      DEFAULT_EXTERNAL_ADDRESS_VOTE_OPTIONS.maxVoters,
      1,
    );
  }

  /** Voters remembered. */
  get voters(): number {
    return this.#ballots.size;
  }

  /**
   * Records that `voter` (a responder's host) saw us at `ip`, a compact address (6 bytes for
   * IPv4, 18 for IPv6). Malformed bytes and addresses of the other family are ignored.
   */
  record(voter: string, ip: Uint8Array): void {
    if (ip.length !== (this.#family === 4 ? 6 : 18)) return;
    let reported: { host: string; port: number };
    try {
      reported = decodePeer(ip);
    } catch {
      return;
    }
    const { host, port } = reported;
    const previous = this.#ballots.get(voter);
    // re-inserting moves the voter to the recent end
    this.#ballots.delete(voter);
    this.#ballots.set(voter, host);
    if (previous === host) {
      // the same vote again: the votes are unchanged, the port is the latest
      this.#tally.set(host, votesOf(this.#tally.get(host)) * PORTS + port);
      return;
    }
    if (previous !== undefined) this.#retract(previous);
    else if (this.#ballots.size > this.#maxVoters) {
      const [oldest, vote] = this.#ballots.entries().next().value as [string, string];
      this.#ballots.delete(oldest);
      this.#retract(vote);
    }
    this.#tally.set(host, (votesOf(this.#tally.get(host)) + 1) * PORTS + port);
    this.#elect();
  }

  /** The winning address, or `undefined` before the first report. */
  current(): RemoteInfo | undefined {
    const host = this.#leader;
    if (host === undefined) return undefined;
    return { host, port: (this.#tally.get(host) ?? 0) % PORTS, family: this.#family };
  }

  #retract(host: string): void {
    const entry = this.#tally.get(host) ?? 0;
    if (votesOf(entry) > 1) this.#tally.set(host, entry - PORTS);
    else this.#tally.delete(host);
  }

  /** At most `maxVoters` entries to scan, and only when a vote changed. */
  #elect(): void {
    let best = this.#leader;
    let bestVotes = best === undefined ? 0 : votesOf(this.#tally.get(best));
    if (bestVotes === 0) best = undefined;
    for (const [host, entry] of this.#tally) {
      const votes = votesOf(entry);
      if (votes > bestVotes) {
        best = host;
        bestVotes = votes;
      }
    }
    this.#leader = best;
  }
}
