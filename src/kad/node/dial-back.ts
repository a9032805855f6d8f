import type { Clock, Milliseconds } from '../../core/clock.js';
import type { NodeId } from '../id.js';
import type { QuerySource } from '../serve/handlers.js';
import type { Contact } from '../wire/compact.js';
import {
  NAUTILUS_PROBE,
  NAUTILUS_REACH,
  REACH_PROBE_INTERVAL_MS,
  writeProbeArgs,
  writeReachArgs,
} from '../wire/nautilus-reach.js';
import type { FamilyStack } from './family-stack.js';

/** Most querier IP:port targets whose last probe time is remembered (rate limit of `nautilus_reach`). */
const MAX_REMEMBERED_QUERIERS = 1024;
/** Contacts asked to dial back, one after another, before waiting for unsolicited queries instead. */
const VERIFIERS = 3;
/** How long a requester waits for the probe after a verifier accepted, ms. */
export const PROBE_WAIT_MS: Milliseconds = 3000;

/** What a {@link DialBack} is built from. @internal */
export interface DialBackInit {
  readonly id: NodeId;
  readonly clock: Clock;
  /** The IPv4 stack: mappings are IPv4 (UPnP-IGD v1, NAT-PMP). */
  readonly stack: FamilyStack;
  readonly lifetime: AbortSignal;
  readonly randomBytes: (size: number) => Uint8Array;
  /** A probe answering one of this node's requests arrived. */
  readonly onVerified: () => void;
}

/** Outcome of {@link DialBack.verify}. */
export type DialBackOutcome =
  /** A verifier's probe arrived at the mapped port. */
  | 'verified'
  /** Verifiers accepted but no probe arrived within {@link PROBE_WAIT_MS}: the mapping does not let traffic in. */
  | 'no-probe'
  /** No contact served the extension (204, timeouts) or there were none: wait for unsolicited queries. */
  | 'unsupported';

/**
 * Both sides of the reachability dial-back (wire/nautilus-reach.ts): as a responder it sends a
 * `nautilus_probe` to the querier's own IP at the port asked (rate-limited per IP); as a
 * requester it asks contacts to probe its mapped port and reports whether a probe came.
 * @internal
 */
export class DialBack {
  readonly #init: DialBackInit;
  /** Probed `IP:port` → when this node last probed it; insertion order is age. */
  readonly #probed = new Map<string, Milliseconds>();
  /** Hex nonces of requests waiting for their probe → wake the waiter. */
  readonly #pending = new Map<string, () => void>();

  constructor(init: DialBackInit) {
    this.#init = init;
  }

  /** Serves `nautilus_reach`: probes `from.host:port` unless that target was probed recently. */
  reach(from: QuerySource, port: number, nonce: Uint8Array): void {
    const { clock, stack, lifetime, id } = this.#init;
    if (from.family !== stack.family || lifetime.aborted) return;
    const now = clock.now();
    const target = `${from.host}:${port}`;
    const last = this.#probed.get(target);
    if (last !== undefined && now - last < REACH_PROBE_INTERVAL_MS) return;
    this.#probed.delete(target);
    this.#probed.set(target, now);
    if (this.#probed.size > MAX_REMEMBERED_QUERIERS) this.#probed.delete(this.#probed.keys().next().value as string);
    // bounded by the RPC timeout on the node clock; the requester tells by the probe arriving, not the answer
    stack
      .query({ host: from.host, port }, NAUTILUS_PROBE, writeProbeArgs({ id, nonce }), lifetime, 0)
      .catch(() => undefined);
  }

  /** Serves `nautilus_probe`: the dial-back of one of this node's requests, if the nonce is one of them. */
  probe(_from: QuerySource, nonce: Uint8Array): void {
    const wake = this.#pending.get(Buffer.from(nonce).toString('hex'));
    if (wake === undefined) return;
    wake();
    this.#init.onVerified();
  }

  /**
   * Asks up to 3 of `contacts` at once to probe `port` on this node's external IP; the first
   * probe to arrive settles it.
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
            // 204 from another implementation, a timeout, or closing
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
