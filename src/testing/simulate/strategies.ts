import { optionError } from '../../kad/option-checks.js';
import type { LookupOptions } from '../../kad/lookup/options.js';

/**
 * A lookup strategy the simulator compares: the lookup tuning of one get, lookup or peer search
 * (`DhtCallOptions.lookup`) and its number of disjoint paths.
 */
export interface SimulationStrategy {
  /** Name in the report, e.g. `adaptive`, `fixed-3`, `burst-16`, `disjoint-3`. */
  readonly name: string;
  /** Per-call lookup tuning over the node's defaults; `{}` for the node's own (adaptive α 3–8). */
  readonly lookup: LookupOptions;
  /** Disjoint paths of gets (S/Kademlia), 1–8. @default 1 */
  readonly disjointPaths: number;
}

/**
 * Names {@link parseStrategy} understands:
 * - `adaptive`: Nautilus's default, α = 3 while answers come in time, widening to 8 while they
 *   stall, with proximity routing (the fastest of the equally promising candidates first);
 * - `fixed-N`: α = N, never widened, closest first (`fixed-3` is classic Kademlia);
 * - `burst-N`: N queries at once, never widened, closest first (`burst-16` is bittorrent-dht's
 *   policy);
 * - `disjoint-N`: the adaptive default on N disjoint paths (gets only; lookups and peer searches
 *   use one path), against hostile nodes.
 */
export const STRATEGY_NAMES = Object.freeze(['adaptive', 'fixed-N', 'burst-N', 'disjoint-N'] as const);

/** The strategies compared when none are given. */
export const DEFAULT_STRATEGIES = Object.freeze(['adaptive', 'fixed-3', 'burst-16', 'disjoint-3'] as const);

const NAMED = /^(fixed|burst|disjoint)-(\d{1,2})$/;

/**
 * The strategy a name stands for (see {@link STRATEGY_NAMES}).
 * @throws {KadError} `INVALID_OPTION` naming `strategies` when the name is not one of them.
 */
export function parseStrategy(name: string): SimulationStrategy {
  if (name === 'adaptive') return Object.freeze({ name, lookup: {}, disjointPaths: 1 });
  const match = NAMED.exec(name);
  const n = match === null ? Number.NaN : Number(match[2]);
  if (match !== null && match[1] === 'disjoint' && n >= 2 && n <= 8) {
    return Object.freeze({ name, lookup: {}, disjointPaths: n });
  }
  if (match !== null && match[1] !== 'disjoint' && n >= 1 && n <= 64) {
    return Object.freeze({
      name,
      lookup: Object.freeze({ alpha: n, maxAlpha: n, proximity: false }),
      disjointPaths: 1,
    });
  }
  throw optionError('strategies', 'adaptive, fixed-N or burst-N (N 1-64), or disjoint-N (N 2-8)', name);
}
