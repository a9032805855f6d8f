import { networkInterfaces } from 'node:os';
import type { Clock, Milliseconds } from '../../core/clock.js';
import type { PortMappingState } from '../nat/port-mapping.js';
import type { Reachability, ReachabilityChangedEvent, ReachabilityReport } from './reachability-types.js';
import type { Endpoint, RemoteInfo } from '../transport/transport.js';
import type { FirewallWatch } from './firewall-watch.js';
import type { TrafficObserver } from './family-stack.js';

export type { Reachability, ReachabilityChangedEvent, ReachabilityReport } from './reachability-types.js';

/** What a {@link ReachabilityTracker} reads. @internal */
export interface ReachabilityInit {
  readonly clock: Clock;
  readonly watch: FirewallWatch;
  readonly bound: () => RemoteInfo;
  readonly external: () => RemoteInfo | undefined;
  readonly mapping: () => PortMappingState;
  readonly onChange: (event: ReachabilityChangedEvent) => void;
  /** The dial-back's last outcome and ignored probes. @default none ran */
  readonly dialBack?: () => ReachabilityReport['dialBack'];
  /** Local interface addresses (to tell a wildcard-bound node's own IP); default: `os.networkInterfaces()`. */
  readonly localAddresses?: () => readonly string[];
}

/**
 * Gathers the evidence of reachability (the BEP 42 vote, unsolicited queries, the firewall
 * watch, the mapping and its verification) and emits `reachability:changed` when the conclusion
 * changes. It sits in front of the {@link FirewallWatch} as the stacks' traffic observer.
 * @internal
 */
export class ReachabilityTracker implements TrafficObserver {
  readonly #init: ReachabilityInit;
  #unsolicited = 0;
  #lastUnsolicitedAt: Milliseconds | undefined;
  #verifiedBy: 'dial-back' | 'unsolicited' | undefined;
  #last: Reachability = 'unknown';

  constructor(init: ReachabilityInit) {
    this.#init = init;
  }

  sent(to: Endpoint): void {
    this.#init.watch.sent(to);
  }

  queried(from: RemoteInfo): void {
    if (!this.#init.watch.queried(from)) return;
    this.#unsolicited++;
    this.#lastUnsolicitedAt = this.#init.clock.now();
    if (this.#init.mapping().state === 'mapped' && this.#verifiedBy === undefined) this.#verifiedBy = 'unsolicited';
    this.update();
  }

  /** A `nautilus_probe` answering this node's dial-back request arrived from a stranger. */
  dialedBack(): void {
    if (this.#init.mapping().state !== 'mapped') return;
    this.#verifiedBy = 'dial-back';
    this.update();
  }

  /** Whether the held mapping still waits for its confirmation. */
  get awaitingVerification(): boolean {
    return this.#init.mapping().state === 'mapped' && this.#verifiedBy === undefined;
  }

  /** The mapping changed: a new or lost one needs (new) confirmation. */
  mappingChanged(state: PortMappingState, renewal: boolean): void {
    if (!(state.state === 'mapped' && renewal)) this.#verifiedBy = undefined;
    this.update();
  }

  report(): ReachabilityReport {
    const { watch } = this.#init;
    const mapping = this.#init.mapping();
    const boundAddress = this.#init.bound();
    const voted = this.#init.external();
    const behindNat = voted === undefined ? undefined : !this.#isLocal(voted.host, boundAddress.host);
    const mapped = mapping.state === 'mapped' && this.#verifiedBy !== undefined;
    const externalAddress =
      voted !== undefined && mapping.state === 'mapped' ? { ...voted, port: mapping.externalPort } : voted;
    let reachability: Reachability;
    if (mapped) reachability = 'mapped';
    else if (watch.firewalled) reachability = 'firewalled';
    else if (this.#unsolicited > 0 || behindNat === false) reachability = 'public';
    else reachability = 'unknown';
    return {
      reachability,
      boundAddress,
      externalAddress,
      behindNat,
      unsolicitedQueries: this.#unsolicited,
      lastUnsolicitedAt: this.#lastUnsolicitedAt,
      firewalled: watch.firewalled,
      mapping,
      verifiedBy: mapping.state === 'mapped' ? this.#verifiedBy : undefined,
      dialBack: this.#init.dialBack?.() ?? { last: undefined, ignoredProbes: 0 },
    };
  }

  /** Recomputes the conclusion; emits `reachability:changed` if it moved. */
  update(): void {
    const report = this.report();
    if (report.reachability === this.#last) return;
    const previous = this.#last;
    this.#last = report.reachability;
    this.#init.onChange({ previous, report });
  }

  #isLocal(host: string, bound: string): boolean {
    if (host === bound) return true;
    if (bound !== '0.0.0.0' && bound !== '::') return false;
    const locals =
      this.#init.localAddresses?.() ??
      Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((entry) => entry.address));
    return locals.includes(host);
  }
}
