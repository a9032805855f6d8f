import type { Clock, Milliseconds } from '../../core/clock.js';
import { bytesEqual, type NodeId } from '../id.js';
import type { QuerySource } from '../serve/handlers.js';
import type { Endpoint } from '../transport/transport.js';
import type { Contact } from '../wire/compact.js';
import { ipv4Scope } from '../wire/ip-class.js';
import {
  NAUTILUS_PROBE,
  NAUTILUS_REACH,
  NAUTILUS_RELAY,
  REACH_PROBE_INTERVAL_MS,
  writeProbeArgs,
  writeReachArgs,
  writeRelayArgs,
} from '../wire/nautilus-reach.js';
import type { FamilyStack } from './family-stack.js';
import type { DialBackOutcome } from './reachability-types.js';

export type { DialBackOutcome } from './reachability-types.js';

/** Most requesters (as a contact) and targets (as a third node) whose last relay or probe time is remembered. */
const MAX_REMEMBERED_TARGETS = 1024;
/** Contacts asked to dial back, all at once, before waiting for unsolicited queries instead. */
const VERIFIERS = 3;
/** Third nodes a contact forwards one `nautilus_reach` to. */
const RELAYS = 2;
/**
 * Contacts farthest from the requester's id a contact picks its third nodes among: the
 * requester's own lookups (its join) went to nodes near its id, so far ones are likely strangers.
 */
const RELAY_CANDIDATES = 8;
/** How long a requester waits for the probe after a verifier accepted, ms (two hops and the probe). */
export const PROBE_WAIT_MS: Milliseconds = 3000;

/** What a {@link DialBack} is built from. @internal */
export interface DialBackInit {
  readonly id: NodeId;
  readonly clock: Clock;
  /** The IPv4 stack: mappings are IPv4 (UPnP-IGD v1, NAT-PMP). */
  readonly stack: FamilyStack;
  readonly lifetime: AbortSignal;
  readonly randomBytes: (size: number) => Uint8Array;
  /**
   * Whether this node sent `host` a query within `NAT_MAPPING_MS` (FirewallWatch.sentRecently):
   * a probe from such a host may have come in as a reply through the NAT, so it proves nothing.
   */
  readonly sentRecently: (host: string) => boolean;
  /** A probe answering one of this node's requests arrived from a stranger. */
  readonly onVerified: () => void;
}

/** What a `nautilus_relay` led to: a probe sent, none (one went to that target lately), or refused. */
export type RelayOutcome = 'probed' | 'rate-limited' | 'refused';

/** Keys (`IP:port`) → when they were last acted on; admits one per {@link REACH_PROBE_INTERVAL_MS}. */
class IntervalGate {
  /** Insertion order is age. */
  readonly #last = new Map<string, Milliseconds>();

  admit(key: string, now: Milliseconds): boolean {
    const last = this.#last.get(key);
    if (last !== undefined && now - last < REACH_PROBE_INTERVAL_MS) return false;
    this.#last.delete(key);
    this.#last.set(key, now);
    if (this.#last.size > MAX_REMEMBERED_TARGETS) this.#last.delete(this.#last.keys().next().value as string);
    return true;
  }
}

/**
 * The three roles of the reachability dial-back (wire/nautilus-reach.ts). As a contact asked
 * (`nautilus_reach`) it forwards the request as a `nautilus_relay` to one or two third nodes of
 * its table (rate-limited per requester IP and port); as a third node it sends the
 * `nautilus_probe` to the address relayed (rate-limited per target, same scope as the relayer
 * only); as the requester it asks contacts to have its mapped port probed and counts a probe only
 * from a host it has not sent to within the NAT mapping time, which a NAT without a mapping
 * would not let in.
 * @internal
 */
export class DialBack {
  readonly #init: DialBackInit;
  /** Requester `IP:port` → last relayed (as a contact). */
  readonly #relayed = new IntervalGate();
  /** Target `IP:port` → last probed (as a third node). */
  readonly #probed = new IntervalGate();
  /** Hex nonces of requests waiting for their probe → wake the waiter. */
  readonly #pending = new Map<string, () => void>();
  #ignoredProbes = 0;

  constructor(init: DialBackInit) {
    this.#init = init;
  }

  /** Probes of this node's requests that came from a host it had sent to lately, and so were not counted. */
  get ignoredProbes(): number {
    return this.#ignoredProbes;
  }

  /**
   * Serves `nautilus_reach` from `from` (node `requester`): forwards it to up to 2 third nodes
   * (not at the requester's IP, in its address scope, picked at random among the 8 contacts
   * farthest from its id), at most once per {@link REACH_PROBE_INTERVAL_MS} for one requester IP
   * and port. Returns `false` when no contact can be asked (the query is then refused), `true`
   * otherwise (also when rate-limited: nothing is sent then).
   */
  reach(from: QuerySource, requester: NodeId, port: number, nonce: Uint8Array): boolean {
    const { clock, stack, lifetime, id } = this.#init;
    if (from.family !== stack.family || lifetime.aborted) return false;
    const thirds = this.#thirds(from.host, requester);
    if (thirds.length === 0) return false;
    if (!this.#relayed.admit(`${from.host}:${port}`, clock.now())) return true;
    const args = writeRelayArgs({ id, ip: from.host, port, nonce });
    // bounded by the RPC timeout on the node clock; the requester tells by the probe arriving
    for (const third of thirds) stack.query(third, NAUTILUS_RELAY, args, lifetime, 0).catch(() => undefined);
    return true;
  }

  /**
   * Serves `nautilus_relay` from `from`: sends one `nautilus_probe` to `target`, unless its
   * scope (loopback, local, public) differs from the relayer's or is reserved (refused), or it
   * was probed within {@link REACH_PROBE_INTERVAL_MS}.
   */
  relay(from: QuerySource, target: Endpoint, nonce: Uint8Array): RelayOutcome {
    const { clock, stack, lifetime, id } = this.#init;
    if (from.family !== stack.family || lifetime.aborted) return 'refused';
    const scope = ipv4Scope(target.host);
    // a public stranger must not aim this node at its own machine or network
    if (scope === undefined || scope === 'reserved' || scope !== ipv4Scope(from.host)) return 'refused';
    if (!this.#probed.admit(`${target.host}:${target.port}`, clock.now())) return 'rate-limited';
    stack.query(target, NAUTILUS_PROBE, writeProbeArgs({ id, nonce }), lifetime, 0).catch(() => undefined);
    return 'probed';
  }

  /**
   * Serves `nautilus_probe`: the dial-back of one of this node's requests, if the nonce is one of
   * them and it comes from a host this node has not sent to lately (else it is counted in
   * {@link ignoredProbes}).
   */
  probe(from: QuerySource, nonce: Uint8Array): void {
    const wake = this.#pending.get(Buffer.from(nonce).toString('hex'));
    if (wake === undefined || from.family !== this.#init.stack.family) return;
    if (this.#init.sentRecently(from.host)) {
      this.#ignoredProbes++;
      return;
    }
    wake();
    this.#init.onVerified();
  }

  /**
   * Asks up to 3 of `contacts` at once to have `port` on this node's external IP probed by a
   * third node; the first probe from a stranger settles it.
   */
  async verify(contacts: readonly Contact[], port: number): Promise<DialBackOutcome> {
    const { id, stack, lifetime, randomBytes } = this.#init;
    let wake!: () => void;
    const arrived = new Promise<boolean>((resolve) => {
      wake = () => resolve(true);
    });
    const keys = contacts.slice(0, VERIFIERS).map(() => Buffer.from(randomBytes(8)).toString('hex'));
    for (const key of keys) this.#pending.set(key, wake);
    try {
      const asked = keys.map((key, i) =>
        stack
          .query(
            contacts[i]!,
            NAUTILUS_REACH,
            writeReachArgs({ id, port, nonce: Buffer.from(key, 'hex') }),
            lifetime,
            0,
          )
          .then(
            () => true,
            // 204 from another implementation, a refusal (no third node), a timeout, or closing
            () => false,
          ),
      );
      // settled by the first verifier that accepts, or by the last refusal
      const accepted = new Promise<boolean>((resolve) => {
        let left = asked.length;
        if (left === 0) resolve(false);
        for (const answer of asked) {
          void answer.then((ok) => {
            if (ok) resolve(true);
            else if (--left === 0) resolve(false);
          });
        }
      });
      // the probe may come before the verifier's answer
      const first = await Promise.race([arrived, accepted.then((some) => (some ? undefined : false))]);
      if (first === true) return 'verified';
      if (first === false) return 'unsupported';
      return (await this.#waitProbe(arrived)) ? 'verified' : 'no-probe';
    } finally {
      for (const key of keys) this.#pending.delete(key);
    }
  }

  /** Up to {@link RELAYS} contacts to relay a reach of `requester` at `host` to, at random among the farthest. */
  #thirds(host: string, requester: NodeId): Contact[] {
    const scope = ipv4Scope(host);
    const farthest = Uint8Array.from(requester, (byte) => byte ^ 0xff);
    const candidates = this.#init.stack
      .closest(farthest, RELAY_CANDIDATES)
      .filter((c) => c.host !== host && !bytesEqual(c.id, requester) && ipv4Scope(c.host) === scope);
    const random = this.#init.randomBytes(RELAYS);
    const picked: Contact[] = [];
    for (let i = 0; i < RELAYS && candidates.length > 0; i++) {
      picked.push(...candidates.splice(random[i]! % candidates.length, 1));
    }
    return picked;
  }

  #waitProbe(arrived: Promise<boolean>): Promise<boolean> {
    const { clock, lifetime } = this.#init;
    return new Promise<boolean>((resolve) => {
      const timer = clock.setTimeout(() => resolve(false), PROBE_WAIT_MS);
      const onClose = (): void => resolve(false);
      lifetime.addEventListener('abort', onClose, { once: true });
      void arrived.then((value) => {
        timer.cancel();
        lifetime.removeEventListener('abort', onClose);
        resolve(value);
      });
    });
  }
}
