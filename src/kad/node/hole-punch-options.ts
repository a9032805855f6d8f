import type { Milliseconds } from '../../core/clock.js';
import type { NodeId } from '../id.js';
import { boolean, integerInRange, optionError, positiveNumber, positiveRate } from '../option-checks.js';
import type { Contact } from '../wire/compact.js';
import type { Endpoint } from '../transport/transport.js';

/**
 * Hole punching (`KadNodeOptions.holePunch`): this node as a rendezvous that introduces two
 * nodes, as a target that punches toward a node it is introduced to, and the defaults of its own
 * `node.punch()`. Every count and rate is a bound against abuse: see docs/protocol.md
 * "Hole punching".
 */
export interface HolePunchOptions {
  /**
   * Answer `nautilus_introduce` as a rendezvous (a public node two NATed nodes both talk to). Off,
   * the query is answered 204 like any unknown method.
   * @default true
   */
  readonly rendezvous?: boolean;
  /**
   * Act on `nautilus_punch`: when a node this one has sent a query to within 2 min (its
   * rendezvous) says a peer wants to reach it, send that peer `attempts` pings. Off, answered 204.
   * @default true
   */
  readonly accept?: boolean;
  /** Punch packets (pings) each side sends toward the other's external address, 1–16. @default 4 */
  readonly attempts?: number;
  /** Time between two punch packets, ms (the RPC layer paces 4 a second per destination). @default 250 */
  readonly intervalMs?: Milliseconds;
  /** Longest `node.punch()` takes, from the first query to the rendezvous to the verdict, ms. @default 5000 */
  readonly deadlineMs?: Milliseconds;
  /**
   * Rendezvous: introduce only a target that sent this node a query within this long, ms (its NAT
   * still maps the way in; Linux keeps an answered UDP flow 120 s, an unanswered one 30 s).
   * @default 60_000
   */
  readonly recentMs?: Milliseconds;
  /**
   * Rendezvous: introductions a second accepted from one requester IP, and made to one target;
   * beyond them (and `introduceBurst` at once) a requester hears `busy`. `Infinity`: no limit.
   * @default 1
   */
  readonly introduceRatePerSecond?: number;
  /** @default 5 */
  readonly introduceBurst?: number;
  /** Target: introductions a second it punches for, from all rendezvous together (`Infinity`: no limit). @default 1 */
  readonly acceptRatePerSecond?: number;
  /** @default 5 */
  readonly acceptBurst?: number;
  /** Rendezvous: how long it waits for the target to acknowledge the introduction, ms. @default 2000 */
  readonly notifyTimeoutMs?: Milliseconds;
  /**
   * How long a punched path is used again without a new punch (by `ping`, `getItem` and
   * `putItem` with `rendezvous`), ms since it last carried an answer.
   * @default 20_000
   */
  readonly pathTtlMs?: Milliseconds;
}

/** Defaults of {@link HolePunchOptions}. */
export const DEFAULT_HOLE_PUNCH_OPTIONS = Object.freeze({
  rendezvous: true,
  accept: true,
  attempts: 4,
  intervalMs: 250,
  deadlineMs: 5000,
  recentMs: 60_000,
  introduceRatePerSecond: 1,
  introduceBurst: 5,
  acceptRatePerSecond: 1,
  acceptBurst: 5,
  notifyTimeoutMs: 2000,
  pathTtlMs: 20_000,
} satisfies Required<HolePunchOptions>);

/** Who to punch through to, and through whom. */
export interface PunchTarget {
  /** The rendezvous: a node both this node and the target talk to (it answers `nautilus_introduce`). */
  readonly rendezvous: Endpoint;
  /** The target's node id (the rendezvous knows it from its queries). */
  readonly id?: NodeId;
  /** The target's external address, as the rendezvous sees it (when its id is not known). */
  readonly address?: Endpoint;
}

/** Options of `node.punch()`; each defaults to the node's `holePunch` option. */
export interface PunchOptions {
  /** Aborts the attempt: it rejects with `signal.reason`. */
  readonly signal?: AbortSignal;
  /** @default HolePunchOptions.deadlineMs */
  readonly deadlineMs?: Milliseconds;
  /** @default HolePunchOptions.attempts */
  readonly attempts?: number;
  /** @default HolePunchOptions.intervalMs */
  readonly intervalMs?: Milliseconds;
}

/**
 * Why a punch failed:
 * - `symmetric`: no direct answer, and this node's or the target's NAT maps a new port per
 *   destination (known from the `ip` reports of responders); when both are, it fails at once,
 *   without sending a punch packet.
 * - `timeout`: no direct answer within the deadline (the NATs filter more than their mapping shows).
 * - `unsupported`: the rendezvous does not speak the extension (it answered 204, or another error).
 * - `unknown-peer`: the rendezvous has not heard from such a node recently (`recentMs`).
 * - `peer-unreachable`: the rendezvous could not reach the target (its NAT mapping expired, or it refused).
 * - `rendezvous-unreachable`: the rendezvous did not answer.
 * - `busy`: the rendezvous refused for a rate limit.
 */
export type PunchFailureReason =
  'symmetric' | 'timeout' | 'unsupported' | 'unknown-peer' | 'peer-unreachable' | 'rendezvous-unreachable' | 'busy';

/** What `node.punch()` did: a direct path, or why there is none. Never a rejection for a network outcome. */
export type PunchResult =
  | {
      readonly ok: true;
      /** The target where it answered directly (its external address): send to it there. */
      readonly contact: Contact;
      /** Round trip of the punch packet that was answered, ms. */
      readonly rttMs: Milliseconds;
      /** From the first query to the rendezvous to the answer, ms. */
      readonly durationMs: Milliseconds;
      /** Punch packets sent. */
      readonly sent: number;
    }
  | {
      readonly ok: false;
      readonly reason: PunchFailureReason;
      /** For a person: what happened. */
      readonly message: string;
      readonly durationMs: Milliseconds;
      /** Punch packets sent (at most `attempts`). */
      readonly sent: number;
    };

/** Hole-punching options with their defaults, checked. @internal */
export type ResolvedHolePunchOptions = Readonly<Required<HolePunchOptions>>;

/** @throws {KadError} `INVALID_OPTION` naming `holePunch.<field>`. */
export function resolveHolePunchOptions(options: HolePunchOptions | undefined): ResolvedHolePunchOptions {
  if (options !== undefined && (typeof options !== 'object' || options === null)) {
    throw optionError('holePunch', 'an object', options);
  }
  const o = options ?? {};
  const d = DEFAULT_HOLE_PUNCH_OPTIONS;
  const name = (field: string): string => `holePunch.${field}`;
  return Object.freeze({
    rendezvous: boolean(name('rendezvous'), o.rendezvous, d.rendezvous),
    accept: boolean(name('accept'), o.accept, d.accept),
    ...checkPunchOptions(o, d, name),
    recentMs: positiveNumber(name('recentMs'), o.recentMs, d.recentMs, ' of ms'),
    introduceRatePerSecond: positiveRate(
      name('introduceRatePerSecond'),
      o.introduceRatePerSecond,
      d.introduceRatePerSecond,
    ),
    introduceBurst: positiveNumber(name('introduceBurst'), o.introduceBurst, d.introduceBurst),
    acceptRatePerSecond: positiveRate(name('acceptRatePerSecond'), o.acceptRatePerSecond, d.acceptRatePerSecond),
    acceptBurst: positiveNumber(name('acceptBurst'), o.acceptBurst, d.acceptBurst),
    notifyTimeoutMs: positiveNumber(name('notifyTimeoutMs'), o.notifyTimeoutMs, d.notifyTimeoutMs, ' of ms'),
    pathTtlMs: positiveNumber(name('pathTtlMs'), o.pathTtlMs, d.pathTtlMs, ' of ms'),
  });
}

/** The per-call options of a punch, over `defaults`. @throws {KadError} `INVALID_OPTION`. */
export function checkPunchOptions(
  o: PunchOptions,
  defaults: { readonly attempts: number; readonly intervalMs: number; readonly deadlineMs: number },
  name: (field: string) => string = (field) => field,
): { attempts: number; intervalMs: Milliseconds; deadlineMs: Milliseconds } {
  return {
    attempts: integerInRange(name('attempts'), o.attempts, defaults.attempts, 1, 16),
    intervalMs: positiveNumber(name('intervalMs'), o.intervalMs, defaults.intervalMs, ' of ms'),
    deadlineMs: positiveNumber(name('deadlineMs'), o.deadlineMs, defaults.deadlineMs, ' of ms'),
  };
}
