import type { Milliseconds } from '../../core/clock.js';
import type { PortMappingState } from '../nat/port-mapping.js';
import type { RemoteInfo } from '../transport/transport.js';

// The public shapes of a node's reachability (reachability.ts computes them; see docs/nat.md).

/**
 * How other nodes can reach this one:
 * - `public`: unsolicited queries arrive (or the address others see is the bound one) and no
 *   mapping is needed;
 * - `mapped`: the router holds a port mapping for it, verified from outside;
 * - `firewalled`: it had contacts but no unsolicited query for the detection window
 *   (`maintenance.firewallCheckMs`, BEP 43), and holds no verified mapping;
 * - `unknown`: not enough evidence yet.
 */
export type Reachability = 'public' | 'mapped' | 'firewalled' | 'unknown';

/** What {@link Reachability} was concluded from (`node.reachability()`). */
export interface ReachabilityReport {
  readonly reachability: Reachability;
  /** The first bound address. */
  readonly boundAddress: RemoteInfo;
  /** The address other nodes see (BEP 42 `ip` votes), with the mapped port while `mapped`. */
  readonly externalAddress: RemoteInfo | undefined;
  /**
   * Whether the IP others see differs from every local address (a NAT in between); `undefined`
   * before the first vote.
   */
  readonly behindNat: boolean | undefined;
  /** Queries received from hosts this node had not sent to within the NAT mapping time (2 min). */
  readonly unsolicitedQueries: number;
  /** When the last one arrived (node clock, ms). */
  readonly lastUnsolicitedAt: Milliseconds | undefined;
  /** The BEP 43 firewall check's conclusion. */
  readonly firewalled: boolean;
  /** The port mapping, as the router granted it. */
  readonly mapping: PortMappingState;
  /**
   * How the held mapping was confirmed from outside: `dial-back` (a third node, asked through a
   * contact, sent a `nautilus_probe` to the mapped address) or `unsolicited` (an unsolicited query
   * arrived while it was held); `undefined` while not confirmed.
   */
  readonly verifiedBy: 'dial-back' | 'unsolicited' | undefined;
  /**
   * The dial-back: the outcome of the last round (`undefined` before one ran) and the probes not
   * counted because they came from a host this node had sent to lately (a NAT lets those in as
   * replies, mapping or not).
   */
  readonly dialBack: { readonly last: DialBackOutcome | undefined; readonly ignoredProbes: number };
}

/**
 * Outcome of one dial-back round (`nautilus_reach`, see docs/nat.md "Verification from outside"):
 * - `verified`: a `nautilus_probe` arrived at the mapped port from a third node this one had not
 *   sent to within the NAT mapping time (2 min), which no NAT lets in without a mapping;
 * - `no-probe`: contacts accepted, but no such probe arrived within 3 s (none at all, or only from
 *   hosts this node had sent to, which prove nothing): the mapping does not let traffic in;
 * - `unsupported`: no contact relayed the request (204 from other implementations, 201 from a
 *   contact with no third node to ask, timeouts) or there were none: the node waits for an
 *   unsolicited query instead.
 */
export type DialBackOutcome = 'verified' | 'no-probe' | 'unsupported';

/** Payload of `reachability:changed`. */
export interface ReachabilityChangedEvent {
  readonly previous: Reachability;
  readonly report: ReachabilityReport;
}
