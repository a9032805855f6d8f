import type { Milliseconds } from '../../core/clock.js';
import type { KadNodeOptions } from '../../kad/node/options.js';
import { integerInRange, optionError, positiveNumber, probability } from '../../kad/option-checks.js';
import { DEFAULT_STRATEGIES, parseStrategy, type SimulationStrategy } from './strategies.js';

/** How a hostile node misbehaves toward lookups (it answers pings, so it stays in tables). */
export type HostileBehaviour = 'drop' | 'junk' | 'far' | 'wrong-value';

/** Every {@link HostileBehaviour}, the default mix. */
export const HOSTILE_BEHAVIOURS: readonly HostileBehaviour[] = Object.freeze(['drop', 'junk', 'far', 'wrong-value']);

/** Operations started per virtual minute during the workload phase. */
export interface WorkloadRates {
  /** Items put (from a random honest node) and got back later (from other random nodes, once per strategy). @default 40 */
  readonly getsPerMinute?: number;
  /** `find_node` lookups of random targets, once per strategy. @default 10 */
  readonly lookupsPerMinute?: number;
  /** Announces of a random info-hash, then peer searches for it, once per strategy. @default 10 */
  readonly announcesPerMinute?: number;
}

/** Configuration of {@link simulate}. Every field is optional; everything random derives from `seed`. */
export interface SimulateOptions {
  /** Nodes in the network (kept constant under churn: every leave is matched by a join). 2–200 000. @default 1000 */
  readonly nodes?: number;
  /** Seed of every random choice: ids, RTTs, losses, roles, churn, workloads. @default 1 */
  readonly seed?: number;
  /** Median round-trip time between two nodes, ms (log-normal, stable per pair). @default 150 */
  readonly rttMedianMs?: Milliseconds;
  /** Shortest round-trip time: the distribution is clipped to it, ms. @default 50 */
  readonly rttMinMs?: Milliseconds;
  /** Longest round-trip time: the distribution is clipped to it, ms. @default 300 */
  readonly rttMaxMs?: Milliseconds;
  /** Probability that a datagram is lost, in [0, 0.9]. @default 0.1 */
  readonly loss?: number;
  /**
   * Fraction of the nodes that leave per virtual hour (each replaced at once by a newcomer with a
   * new id and address), in [0, 5]. Session lengths are heavy-tailed (Pareto, shape
   * `sessionShape`) with a mean of `1 / churn` hours; the first nodes start mid-session.
   * @default 0.2
   */
  readonly churn?: number;
  /** Shape of the Pareto session lengths, > 1 (smaller: heavier tail). @default 1.5 */
  readonly sessionShape?: number;
  /** Fraction of nodes behind a NAT: reachable only from endpoints they sent to within `natTimeoutMs`. @default 0 */
  readonly firewalled?: number;
  /** How long a firewalled node stays reachable from an endpoint it sent to, ms. @default 120_000 */
  readonly natTimeoutMs?: Milliseconds;
  /** Fraction of hostile nodes, in [0, 0.5]. @default 0 */
  readonly hostile?: number;
  /** What hostile nodes do, each picking one at random. @default every {@link HostileBehaviour} */
  readonly hostileBehaviours?: readonly HostileBehaviour[];
  /** The strategies compared (see `STRATEGY_NAMES`). @default ["adaptive", "fixed-3", "burst-16", "disjoint-3"] */
  readonly strategies?: readonly (string | SimulationStrategy)[];
  /** Time between two joins of the first nodes, ms (virtual). @default 20 */
  readonly joinSpacingMs?: Milliseconds;
  /** Settling time after the last first join, before the workload, ms (virtual; churn runs). @default 300_000 */
  readonly warmupMs?: Milliseconds;
  /** Length of the workload phase, ms (virtual). @default 1_800_000 (30 min) */
  readonly durationMs?: Milliseconds;
  /** Operation rates of the workload phase. */
  readonly workload?: WorkloadRates;
  /** Shortest delay between a put (or announce) and its gets (or peer searches), ms. @default 30_000 */
  readonly readDelayMinMs?: Milliseconds;
  /** Longest delay between a put (or announce) and its gets (or peer searches), ms. @default 600_000 */
  readonly readDelayMaxMs?: Milliseconds;
  /** Windows of the success-over-time series, ms. @default 300_000 (5 min) */
  readonly windowMs?: Milliseconds;
  /**
   * Options of every node, over what the simulator sets (transport, clock, id, bootstrap,
   * randomBytes, small storage bounds): e.g. `maintenance`, `k`, `lookup`.
   */
  readonly node?: Omit<KadNodeOptions, 'transport' | 'transport6' | 'clock' | 'id' | 'bootstrap' | 'randomBytes'>;
  /** Called about once per virtual second of the run with where it stands (draw a progress bar). */
  readonly onProgress?: (progress: SimulationProgress) => void;
  /** Aborts the run: `simulate` closes every node and rejects with `signal.reason`. */
  readonly signal?: AbortSignal;
}

/** Where a run stands, for {@link SimulateOptions.onProgress}. */
export interface SimulationProgress {
  readonly phase: 'join' | 'warmup' | 'workload' | 'drain';
  /** Virtual time since the start, ms. */
  readonly virtualMs: Milliseconds;
  /** Virtual length of the whole run, ms (the drain phase may run past it a little). */
  readonly totalMs: Milliseconds;
  /** Nodes online. */
  readonly online: number;
  /** Operations finished so far. */
  readonly finished: number;
}

/** Defaults of {@link SimulateOptions}. */
export const DEFAULT_SIMULATE_OPTIONS = Object.freeze({
  nodes: 1000,
  seed: 1,
  rttMedianMs: 150,
  rttMinMs: 50,
  rttMaxMs: 300,
  loss: 0.1,
  churn: 0.2,
  sessionShape: 1.5,
  firewalled: 0,
  natTimeoutMs: 120_000,
  hostile: 0,
  hostileBehaviours: HOSTILE_BEHAVIOURS,
  strategies: DEFAULT_STRATEGIES,
  joinSpacingMs: 20,
  warmupMs: 300_000,
  durationMs: 1_800_000,
  workload: Object.freeze({ getsPerMinute: 40, lookupsPerMinute: 10, announcesPerMinute: 10 }),
  readDelayMinMs: 30_000,
  readDelayMaxMs: 600_000,
  windowMs: 300_000,
});

/** Most nodes of one simulation. */
export const MAX_SIMULATED_NODES = 200_000;

/** {@link SimulateOptions} checked, with every default applied (what the report echoes). */
export interface ResolvedSimulateOptions {
  readonly nodes: number;
  readonly seed: number;
  readonly rttMedianMs: number;
  readonly rttMinMs: number;
  readonly rttMaxMs: number;
  readonly loss: number;
  readonly churn: number;
  readonly sessionShape: number;
  readonly firewalled: number;
  readonly natTimeoutMs: number;
  readonly hostile: number;
  readonly hostileBehaviours: readonly HostileBehaviour[];
  readonly strategies: readonly SimulationStrategy[];
  readonly joinSpacingMs: number;
  readonly warmupMs: number;
  readonly durationMs: number;
  readonly workload: Required<WorkloadRates>;
  readonly readDelayMinMs: number;
  readonly readDelayMaxMs: number;
  readonly windowMs: number;
}

/**
 * Checks `options` once (every message names the option) and applies the defaults.
 * @throws {KadError} `INVALID_OPTION`.
 */
export function resolveSimulateOptions(options: SimulateOptions = {}): ResolvedSimulateOptions {
  if (typeof options !== 'object' || options === null) throw optionError('options', 'an object', options);
  const d = DEFAULT_SIMULATE_OPTIONS;
  const nodes = integerInRange('nodes', options.nodes, d.nodes, 2, MAX_SIMULATED_NODES);
  const seed = integerInRange('seed', options.seed, d.seed, 0, 0xffff_ffff);
  const rttMinMs = positiveNumber('rttMinMs', options.rttMinMs, d.rttMinMs, ' of ms');
  const rttMaxMs = positiveNumber('rttMaxMs', options.rttMaxMs, Math.max(d.rttMaxMs, rttMinMs), ' of ms');
  const rttMedianMs = positiveNumber('rttMedianMs', options.rttMedianMs, d.rttMedianMs, ' of ms');
  if (!(rttMinMs <= rttMedianMs && rttMedianMs <= rttMaxMs)) {
    throw optionError('rttMedianMs', `between rttMinMs and rttMaxMs (${rttMinMs}-${rttMaxMs})`, rttMedianMs);
  }
  const loss = probability('loss', options.loss, d.loss);
  if (loss > 0.9) throw optionError('loss', 'a number in [0, 0.9]', loss);
  const churn = options.churn === 0 ? 0 : positiveNumber('churn', options.churn, d.churn, ' per hour');
  if (churn > 5) throw optionError('churn', 'a number in [0, 5] per hour', churn);
  const sessionShape = positiveNumber('sessionShape', options.sessionShape, d.sessionShape);
  if (sessionShape <= 1) throw optionError('sessionShape', 'a number > 1', sessionShape);
  const firewalled = probability('firewalled', options.firewalled, d.firewalled);
  const hostile = probability('hostile', options.hostile, d.hostile);
  if (hostile > 0.5) throw optionError('hostile', 'a number in [0, 0.5]', hostile);
  const behaviours = options.hostileBehaviours ?? d.hostileBehaviours;
  if (!Array.isArray(behaviours) || behaviours.length === 0) {
    throw optionError('hostileBehaviours', 'a non-empty array', behaviours);
  }
  for (const b of behaviours as unknown[]) {
    if (!HOSTILE_BEHAVIOURS.includes(b as HostileBehaviour)) {
      throw optionError('hostileBehaviours', `a list of ${HOSTILE_BEHAVIOURS.join(', ')}`, b);
    }
  }
  const given = options.strategies ?? d.strategies;
  if (!Array.isArray(given) || given.length === 0) throw optionError('strategies', 'a non-empty array', given);
  const strategies = given.map((s: unknown) => (typeof s === 'string' ? parseStrategy(s) : checkStrategy(s)));
  const names = new Set(strategies.map((s) => s.name));
  if (names.size !== strategies.length) throw optionError('strategies', 'a list without duplicate names');
  const rates = options.workload ?? {};
  if (typeof rates !== 'object' || rates === null) throw optionError('workload', 'an object', rates);
  const rate = (name: keyof WorkloadRates): number => {
    const value = rates[name];
    if (value === 0) return 0;
    return positiveNumber(`workload.${name}`, value, d.workload[name], ' per minute');
  };
  const readDelayMinMs = nonNegative('readDelayMinMs', options.readDelayMinMs, d.readDelayMinMs);
  const readDelayMaxMs = nonNegative(
    'readDelayMaxMs',
    options.readDelayMaxMs,
    Math.max(d.readDelayMaxMs, readDelayMinMs),
  );
  if (readDelayMaxMs < readDelayMinMs) throw optionError('readDelayMaxMs', 'at least readDelayMinMs', readDelayMaxMs);
  return Object.freeze({
    nodes,
    seed,
    rttMedianMs,
    rttMinMs,
    rttMaxMs,
    loss,
    churn,
    sessionShape,
    firewalled,
    natTimeoutMs: positiveNumber('natTimeoutMs', options.natTimeoutMs, d.natTimeoutMs, ' of ms'),
    hostile,
    hostileBehaviours: Object.freeze([...(behaviours as readonly HostileBehaviour[])]),
    strategies: Object.freeze(strategies),
    joinSpacingMs: nonNegative('joinSpacingMs', options.joinSpacingMs, d.joinSpacingMs),
    warmupMs: nonNegative('warmupMs', options.warmupMs, d.warmupMs),
    durationMs: positiveNumber('durationMs', options.durationMs, d.durationMs, ' of ms'),
    workload: Object.freeze({
      getsPerMinute: rate('getsPerMinute'),
      lookupsPerMinute: rate('lookupsPerMinute'),
      announcesPerMinute: rate('announcesPerMinute'),
    }),
    readDelayMinMs,
    readDelayMaxMs,
    windowMs: positiveNumber('windowMs', options.windowMs, d.windowMs, ' of ms'),
  });
}

function nonNegative(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw optionError(name, 'a non-negative number of ms', value);
  }
  return value;
}

function checkStrategy(value: unknown): SimulationStrategy {
  const s = value as Partial<SimulationStrategy> | null;
  if (typeof s !== 'object' || s === null || typeof s.name !== 'string' || s.name.length === 0) {
    throw optionError('strategies', 'names or { name, lookup, disjointPaths } objects', value);
  }
  const disjointPaths = integerInRange(`strategies.${s.name}.disjointPaths`, s.disjointPaths, 1, 1, 8);
  const lookup = s.lookup ?? {};
  if (typeof lookup !== 'object' || lookup === null)
    throw optionError(`strategies.${s.name}.lookup`, 'an object', lookup);
  return Object.freeze({ name: s.name, lookup, disjointPaths });
}
