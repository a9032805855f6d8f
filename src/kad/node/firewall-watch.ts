import type { Clock, Milliseconds } from '../../core/clock.js';
import type { Endpoint, RemoteInfo } from '../transport/transport.js';
import type { TrafficObserver } from './family-stack.js';

/**
 * How long after this node sent to a host a query from that host may be the NAT letting an
 * answer in, ms: RFC 4787 (REQ-5) has UDP mappings last at least 2 minutes.
 */
export const NAT_MAPPING_MS: Milliseconds = 2 * 60_000;
/** Hosts remembered as recently sent to; beyond it the oldest are forgotten. */
const MAX_RECENT_HOSTS = 512;

/**
 * Firewall awareness (BEP 43): a node that has contacts but for `checkMs` receives no
 * unsolicited query (one from a host it has not sent to within {@link NAT_MAPPING_MS}, which a
 * NAT or firewall would have let through anyway) is firewalled; the first unsolicited query
 * ends it. `onChange` hears of every flip. @internal
 */
export class FirewallWatch implements TrafficObserver {
  readonly #clock: Clock;
  readonly #checkMs: Milliseconds;
  readonly #onChange: (firewalled: boolean) => void;
  /** Host → when this node last sent it a query; oldest first (re-inserted on every send). */
  readonly #recent = new Map<string, Milliseconds>();
  /** Since when the node has had contacts without an unsolicited query; `undefined` while it has none. */
  #quietSince: Milliseconds | undefined;
  #firewalled = false;

  constructor(clock: Clock, checkMs: Milliseconds, onChange: (firewalled: boolean) => void) {
    this.#clock = clock;
    this.#checkMs = checkMs;
    this.#onChange = onChange;
  }

  get firewalled(): boolean {
    return this.#firewalled;
  }

  /** Whether this node sent `host` a query within {@link NAT_MAPPING_MS} (a target of hole punching asks). */
  sentRecently(host: string): boolean {
    const at = this.#recent.get(host);
    return at !== undefined && this.#clock.now() - at < NAT_MAPPING_MS;
  }

  sent(to: Endpoint): void {
    const recent = this.#recent;
    recent.delete(to.host);
    recent.set(to.host, this.#clock.now());
    if (recent.size > MAX_RECENT_HOSTS) recent.delete(recent.keys().next().value as string);
  }

  /** A query arrived; returns whether it was unsolicited (its host not sent to within {@link NAT_MAPPING_MS}). */
  queried(from: RemoteInfo): boolean {
    const now = this.#clock.now();
    const sentAt = this.#recent.get(from.host);
    if (sentAt !== undefined && now - sentAt < NAT_MAPPING_MS) return false;
    if (!Number.isFinite(this.#checkMs)) return true;
    this.#quietSince = now;
    if (this.#firewalled) this.#set(false);
    return true;
  }

  /** Looks at the time since the last unsolicited query; `hasContacts`: whether any table holds a contact. */
  check(hasContacts: boolean): void {
    const now = this.#clock.now();
    this.#forget(now);
    if (!Number.isFinite(this.#checkMs)) return;
    if (!hasContacts) {
      // without contacts no one can know of us: nothing to conclude from the silence
      this.#quietSince = undefined;
      return;
    }
    this.#quietSince ??= now;
    if (!this.#firewalled && now - this.#quietSince >= this.#checkMs) this.#set(true);
  }

  /** Forgets hosts whose NAT mapping would have expired. */
  #forget(now: Milliseconds): void {
    for (const [host, at] of this.#recent) {
      if (now - at < NAT_MAPPING_MS) break;
      this.#recent.delete(host);
    }
  }

  #set(firewalled: boolean): void {
    this.#firewalled = firewalled;
    this.#onChange(firewalled);
  }
}
