import type { Milliseconds } from '../../core/clock.js';
import { integerAtLeast, optionError, positiveNumber } from '../option-checks.js';
import type { RttEstimate, RttEstimator } from '../rpc/rtt.js';
import { type Endpoint, endpointId } from '../transport/transport.js';

/** Tuning of iterative lookups (Kademlia §2.3). Every field is optional. */
export interface LookupOptions {
  /**
   * Queries in flight per path and address family while answers come in time. A query whose
   * soft deadline passed no longer counts, so the next candidate is asked: α widens while
   * answers stall, up to `maxAlpha`, and narrows again as they arrive. With `proximity`, a query
   * to a node whose round-trip time this node measured counts twice: its answer is due at a
   * known time, so fewer queries beside it are needed (at α 3: one, not two).
   * @default 3
   */
  readonly alpha?: number;
  /** Most queries outstanding per path and family, stalled ones included. @default 8 */
  readonly maxAlpha?: number;
  /** Most queries a lookup sends per path and family. @default 64 */
  readonly maxRequests?: number;
  /**
   * Most candidates kept per path and family: beyond it the farthest ones not in flight are
   * forgotten (about 100 bytes each).
   * @default 128
   */
  readonly maxCandidates?: number;
  /**
   * Deadline of a lookup, ms on the node's clock: it then ends (`ended: 'deadline'`) with what
   * it found. Pass `{ signal }` to a call to abort it sooner.
   * @default 10_000
   */
  readonly timeoutMs?: Milliseconds;
  /**
   * Lower bound of the soft deadline after which a silent node is passed over (the deadline is
   * otherwise `srtt + 2·rttvar` of that node from the RPC layer's RTT estimator, or the hard RPC
   * timeout for a node it never timed, and at most the hard RPC timeout), ms.
   * @default 50
   */
  readonly minSoftTimeoutMs?: Milliseconds;
  /**
   * Proximity routing (Kademlia §4.1): among the fresh candidates of the k closest, ask first
   * the one expected to bring the lookup nearest the target soonest — its smoothed round-trip
   * time (the network's when unknown) against the leading bits it shares with the target, one
   * bit worth the network's RTT / (log2 k + 1). `false` asks them closest first (classic
   * Kademlia, as bittorrent-dht does).
   * @default true
   */
  readonly proximity?: boolean;
}

/** Defaults of {@link LookupOptions}. */
export const DEFAULT_LOOKUP_OPTIONS = Object.freeze({
  alpha: 3,
  maxAlpha: 8,
  maxRequests: 64,
  maxCandidates: 128,
  timeoutMs: 10_000,
  minSoftTimeoutMs: 50,
  proximity: true,
} satisfies Required<LookupOptions>);

/** {@link LookupOptions} with every default applied. */
export type ResolvedLookupOptions = Readonly<Required<LookupOptions>>;

/**
 * Validates `options` (every message names the option) and applies the defaults.
 * @throws {KadError} `INVALID_OPTION`.
 */
export function resolveLookupOptions(options: LookupOptions = {}): ResolvedLookupOptions {
  if (typeof options !== 'object' || options === null) throw optionError('lookup', 'an object', options);
  const d = DEFAULT_LOOKUP_OPTIONS;
  const alpha = integerAtLeast('lookup.alpha', options.alpha, d.alpha, 1);
  const maxAlpha = integerAtLeast('lookup.maxAlpha', options.maxAlpha, Math.max(d.maxAlpha, alpha), 1);
  if (maxAlpha < alpha) throw optionError('lookup.maxAlpha', 'at least lookup.alpha', maxAlpha);
  const maxRequests = integerAtLeast('lookup.maxRequests', options.maxRequests, d.maxRequests, 1);
  const maxCandidates = integerAtLeast('lookup.maxCandidates', options.maxCandidates, d.maxCandidates, 1);
  const timeoutMs = positiveNumber('lookup.timeoutMs', options.timeoutMs, d.timeoutMs, ' of ms');
  const minSoftTimeoutMs = positiveNumber(
    'lookup.minSoftTimeoutMs',
    options.minSoftTimeoutMs,
    d.minSoftTimeoutMs,
    ' of ms',
  );
  const proximity = options.proximity ?? d.proximity;
  if (typeof proximity !== 'boolean') throw optionError('lookup.proximity', 'a boolean', proximity);
  return Object.freeze({ alpha, maxAlpha, maxRequests, maxCandidates, timeoutMs, minSoftTimeoutMs, proximity });
}

/** Samples of the network-wide estimate before it stands in for a node without its own. */
const NETWORK_SAMPLES = 8;

/**
 * The network-wide round-trip estimate of `rtt` once it has enough samples to stand in for a
 * node without its own, else `undefined`.
 */
export function networkEstimate(rtt: RttEstimator): RttEstimate | undefined {
  const network = rtt.network();
  return network.samples >= NETWORK_SAMPLES ? network : undefined;
}

/**
 * The soft deadline of a query to `to`, ms: `srtt + 2·rttvar` of that destination when it was
 * timed; for one never timed, the hard timeout the RPC layer applies (the network's
 * `srtt + 4·rttvar`) once the network has a few samples, half of it before. At least `minMs` and
 * at most the hard timeout. A node that has not answered by then is passed over, and its late
 * answer is still used.
 *
 * A node's own deviation is its jitter, so twice it bounds its answers tightly; the network's
 * deviation is the spread of RTTs across nodes, and twice it would pass over every node merely
 * slower than most (about one in ten for RTTs of 50–300 ms), each costing another query.
 */
export function softDeadline(rtt: RttEstimator, to: Endpoint, minMs: Milliseconds): Milliseconds {
  const key = endpointId(to);
  const hard = rtt.timeoutFor(key);
  const own = rtt.get(key);
  let soft: number;
  if (own !== undefined) soft = own.srttMs + 2 * own.rttvarMs;
  else soft = networkEstimate(rtt) === undefined ? hard / 2 : hard;
  return Math.min(hard, Math.max(minMs, Math.ceil(soft)));
}
