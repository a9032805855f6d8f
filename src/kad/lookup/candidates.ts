import { commonPrefixLength, compareDistance, type NodeId } from '../id.js';
import type { Contact } from '../wire/compact.js';

/**
 * Where a candidate of a lookup stands:
 * - `fresh`: known, not asked yet;
 * - `pending`: asked, its soft deadline not passed;
 * - `stalled`: asked, its soft deadline passed, still waited for (a late answer is used);
 * - `answered`: it answered;
 * - `failed`: it timed out for good, answered with an error, or with a malformed response.
 */
export type CandidateState = 'fresh' | 'pending' | 'stalled' | 'answered' | 'failed';

/** A node a lookup knows of, with where it stands. */
export interface Candidate {
  readonly contact: Contact;
  /** Leading bits its id shares with the target; 0 when the set does not weigh latency. */
  readonly shared: number;
  /** Its estimated round-trip time, ms; 0 when the set does not weigh latency. */
  readonly rttMs: number;
  /** Whether `rttMs` was measured to this very node (not the network's estimate standing in). */
  readonly measured: boolean;
  state: CandidateState;
}

/**
 * The candidates of one lookup path, ordered by XOR distance to the target, closest first, and
 * bounded: beyond `capacity` the farthest one not waited for is forgotten.
 *
 * The lookup asks the fresh candidates among the k closest that are neither `failed` nor
 * `stalled`: a stalled node makes room, so the next candidate is asked while its late answer is
 * still awaited. Closest first, unless the set weighs latency (proximity routing, Kademlia
 * §4.1): then the fresh candidate in that window that should bring the lookup nearest soonest —
 * its estimated round-trip time plus `msPerBit` for each leading bit it shares with the target
 * fewer than the closest fresh one — is asked first. It has converged once the k closest that
 * did not fail have all answered (Kademlia §2.3).
 *
 * The set does not check for duplicates: the lookup admits each node once, across all its paths.
 */
export class CandidateSet {
  readonly #target: NodeId;
  readonly #k: number;
  readonly #capacity: number;
  readonly #msPerBit: number;
  readonly #list: Candidate[] = [];

  /**
   * @param k size of the window (the bucket size, 8 in Mainline)
   * @param capacity most candidates kept; at least `k`
   * @param msPerBit what one leading bit shared with the target is worth against round-trip
   *   time, ms (see the class); 0 asks closest first
   */
  constructor(target: NodeId, k: number, capacity: number, msPerBit = 0) {
    this.#target = target;
    this.#k = k;
    this.#capacity = Math.max(k, capacity);
    this.#msPerBit = msPerBit;
  }

  /** Candidates kept. */
  get size(): number {
    return this.#list.length;
  }

  /**
   * Inserts `contact` in distance order (as `state`, `fresh` unless told; `rttMs` its estimated
   * round-trip time, `measured` whether that estimate is the node's own), then forgets the
   * farthest candidate not waited for if the set is over capacity. Returns the new candidate, or
   * `undefined` when it was itself the one forgotten (farther than everything kept).
   */
  add(contact: Contact, state: CandidateState = 'fresh', rttMs = 0, measured = false): Candidate | undefined {
    const list = this.#list;
    const shared = this.#msPerBit === 0 ? 0 : commonPrefixLength(this.#target, contact.id);
    const candidate: Candidate = { contact, shared, rttMs, measured, state };
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareDistance(this.#target, (list[mid] as Candidate).contact.id, contact.id) < 0) lo = mid + 1;
      else hi = mid;
    }
    list.splice(lo, 0, candidate);
    if (list.length <= this.#capacity) return candidate;
    for (let i = list.length - 1; i >= 0; i--) {
      const state = (list[i] as Candidate).state;
      if (state === 'pending' || state === 'stalled') continue;
      const [evicted] = list.splice(i, 1);
      return evicted === candidate ? undefined : candidate;
    }
    return candidate; // everything is in flight: cannot happen while capacity >= maxAlpha
  }

  /**
   * The fresh candidate of the window to ask next (the closest, or with latency weighed the one
   * of least cost: see the class), or `undefined` when the window has none.
   */
  nextToAsk(): Candidate | undefined {
    let inWindow = 0;
    let best: Candidate | undefined;
    let bestCost = Number.POSITIVE_INFINITY;
    let top = 0;
    for (const candidate of this.#list) {
      if (candidate.state === 'failed' || candidate.state === 'stalled') continue;
      if (candidate.state === 'fresh') {
        if (this.#msPerBit === 0) return candidate;
        if (best === undefined) top = candidate.shared;
        const cost = candidate.rttMs + this.#msPerBit * (top - candidate.shared);
        if (cost < bestCost) {
          best = candidate;
          bestCost = cost;
        }
      }
      if (++inWindow >= this.#k) break;
    }
    return best;
  }

  /**
   * Whether the lookup of this path is over: the k closest candidates that did not fail have
   * all answered (a stalled one is waited for, until it answers or fails). True for an empty
   * set: nothing is left to ask.
   */
  converged(): boolean {
    let count = 0;
    for (const candidate of this.#list) {
      if (candidate.state === 'failed') continue;
      if (candidate.state !== 'answered') return false;
      if (++count >= this.#k) return true;
    }
    return true;
  }

  /** The `count` closest candidates that answered, closest first. */
  answered(count: number = this.#k): Contact[] {
    const out: Contact[] = [];
    for (const candidate of this.#list) {
      if (out.length >= count) break;
      if (candidate.state === 'answered') out.push(candidate.contact);
    }
    return out;
  }

  /** Every candidate, closest first (a snapshot, for tests and diagnostics). */
  list(): readonly Candidate[] {
    return [...this.#list];
  }
}
