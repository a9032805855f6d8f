import type { Clock, Milliseconds, Timer } from '../../core/clock.js';
import type { NodeId } from '../id.js';
import { isLoopback } from '../wire/ip-class.js';
import { createNatApiMapper } from '../nat/nat-api-mapper.js';
import { PortMappingKeeper, type PortMappingState } from '../nat/port-mapping.js';
import type { QueryHandlersDeps } from '../serve/handlers.js';
import { DialBack, type DialBackOutcome } from './dial-back.js';
import type { FamilyStack } from './family-stack.js';
import { FirewallWatch } from './firewall-watch.js';
import { type KadNodeOptions, resolvePortMappingOptions } from './options.js';
import { type ReachabilityChangedEvent, type ReachabilityReport, ReachabilityTracker } from './reachability.js';

/**
 * While a held mapping is unverified, the dial-back is asked again after this long, ms (more than
 * the 10 s a contact waits before relaying for the same address again), doubling up to
 * {@link VERIFY_RETRY_MAX_MS}: a node whose first contacts knew no stranger to relay to need not
 * wait for the next renewal (half the lease).
 */
export const VERIFY_RETRY_FIRST_MS: Milliseconds = 15_000;
/** Longest wait between two dial-backs of one unverified mapping, ms. */
export const VERIFY_RETRY_MAX_MS: Milliseconds = 5 * 60_000;

/** What {@link NatSupport} is built from. @internal */
export interface NatSupportInit {
  readonly id: NodeId;
  readonly clock: Clock;
  readonly options: KadNodeOptions;
  /** `Infinity` without maintenance. */
  readonly firewallCheckMs: number;
  readonly lifetime: AbortSignal;
  readonly randomBytes: (size: number) => Uint8Array;
  /** The BEP 43 watch flipped. */
  readonly onFirewall: (firewalled: boolean) => void;
  readonly onReachability: (event: ReachabilityChangedEvent) => void;
  /** A port mapping state change (for logs and events). */
  readonly onMapping?: (state: PortMappingState) => void;
}

/**
 * A node's NAT awareness in one place: the BEP 43 firewall watch, the reachability tracker in
 * front of it, the port mapping kept on the router and the dial-back that verifies it. The node
 * hands {@link observer} to its stacks and {@link handlers} to its query handlers, calls
 * {@link start} once its stacks exist and {@link close} before closing them.
 * @internal
 */
export class NatSupport {
  readonly watch: FirewallWatch;
  readonly tracker: ReachabilityTracker;
  readonly #keeper: PortMappingKeeper;
  readonly #init: NatSupportInit;
  #dialBack: DialBack | undefined;
  #stack: FamilyStack | undefined;
  #ready: Promise<void> = Promise.resolve();
  #verifying = false;
  #retry: Timer | undefined;
  #retryDelay = VERIFY_RETRY_FIRST_MS;
  /** Set by {@link close}: a round still running then schedules no other. */
  #closing = false;
  /** The last dial-back outcome (`undefined` before one ran). */
  lastDialBack: DialBackOutcome | undefined;

  constructor(init: NatSupportInit) {
    this.#init = init;
    const mapping = resolvePortMappingOptions(init.options);
    // the tracker first: the read-only flag it sets is what the firewall event reports
    this.watch = new FirewallWatch(init.clock, init.firewallCheckMs, (firewalled) => {
      this.tracker.update();
      init.onFirewall(firewalled);
    });
    this.#keeper = new PortMappingKeeper({
      mode: mapping.mode,
      internalPort: 0,
      clock: init.clock,
      factory: init.options.portMapper ?? createNatApiMapper,
      options: mapping,
      onChange: (state) => {
        init.onMapping?.(state);
        this.tracker.mappingChanged(state, state.state === 'mapped' && state.renewals > 0);
        if (state.state === 'mapped' && this.tracker.awaitingVerification) void this.#verify(state.externalPort);
      },
    });
    this.tracker = new ReachabilityTracker({
      clock: init.clock,
      watch: this.watch,
      bound: () => this.#stack?.transport.address() ?? { host: '0.0.0.0', port: 0, family: 4 },
      external: () => this.#stack?.external.current(),
      mapping: () => this.#keeper.current(),
      onChange: init.onReachability,
      dialBack: () => ({ last: this.lastDialBack, ignoredProbes: this.#dialBack?.ignoredProbes ?? 0 }),
    });
  }

  /** The stacks' traffic observer. */
  get observer(): ReachabilityTracker {
    return this.tracker;
  }

  /** The query handlers' reachability extension. */
  readonly handlers: NonNullable<QueryHandlersDeps['reachability']> = {
    reach: (from, requester, port, nonce) => this.#dialBack?.reach(from, requester, port, nonce) ?? false,
    relay: (from, target, nonce) => this.#dialBack?.relay(from, target, nonce) ?? 'refused',
    probe: (from, nonce) => this.#dialBack?.probe(from, nonce),
  };

  /**
   * Starts mapping the port of the IPv4 `stack` (if `portMapping` asks for it); `ready` is the
   * node's join, after which contacts can verify the mapping.
   */
  start(stack: FamilyStack | undefined, ready: Promise<void>): void {
    this.#ready = ready;
    if (stack === undefined) return;
    this.#stack = stack;
    this.#dialBack = new DialBack({
      id: this.#init.id,
      clock: this.#init.clock,
      stack,
      lifetime: this.#init.lifetime,
      randomBytes: this.#init.randomBytes,
      sentRecently: (host) => this.watch.sentRecently(host),
      onVerified: () => this.tracker.dialedBack(),
    });
    const bound = stack.transport.address();
    // a node on loopback talks to its own machine only: no router to ask
    if (isLoopback(bound.host)) {
      this.#keeper.disable();
      return;
    }
    this.#keeper.setInternalPort(bound.port);
    this.#keeper.start();
  }

  report(): ReachabilityReport {
    return this.tracker.report();
  }

  /** Deletes a held mapping (bounded by `portMappingOptions.timeoutMs`). Never rejects. */
  close(): Promise<void> {
    this.#closing = true;
    this.#retry?.cancel();
    this.#retry = undefined;
    return this.#keeper.close();
  }

  /** Asks contacts (once the node joined) to have the mapped port dialed back by third nodes. */
  async #verify(port: number): Promise<void> {
    if (this.#verifying) return;
    this.#verifying = true;
    try {
      // contacts are enough: the join's first answers come well before its lookup ends
      if ((this.#stack?.table.size ?? 0) === 0) await this.#ready.catch(() => undefined);
      const stack = this.#stack;
      if (stack === undefined || this.#init.lifetime.aborted || !this.tracker.awaitingVerification) return;
      this.lastDialBack = await this.#dialBack?.verify(stack.closest(this.#init.id, 8), port);
    } finally {
      this.#verifying = false;
    }
    this.#scheduleRetry();
  }

  /** Asks again later (backing off) while the held mapping stays unverified; resets once verified. */
  #scheduleRetry(): void {
    this.#retry?.cancel();
    this.#retry = undefined;
    if (this.#closing || this.#init.lifetime.aborted) return;
    if (!this.tracker.awaitingVerification) {
      this.#retryDelay = VERIFY_RETRY_FIRST_MS;
      return;
    }
    const delay = this.#retryDelay;
    this.#retryDelay = Math.min(VERIFY_RETRY_MAX_MS, delay * 2);
    this.#retry = this.#init.clock.setTimeout(() => {
      this.#retry = undefined;
      const mapping = this.#keeper.current();
      if (mapping.state === 'mapped' && this.tracker.awaitingVerification) void this.#verify(mapping.externalPort);
    }, delay);
  }
}
