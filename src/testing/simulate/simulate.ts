import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import type { Milliseconds } from '../../core/clock.js';
import { bytesEqual, compareDistance } from '../../kad/id.js';
import { abortReason } from '../../kad/option-checks.js';
import { DEFAULT_ROUTING_TABLE_OPTIONS } from '../../kad/routing/routing-types.js';
import { ManualClock } from '../manual-clock.js';
import { MemoryNetwork } from '../memory-network.js';
import { seededRandom } from '../seeded-random.js';
import { SessionModel } from './churn.js';
import { HopTracer } from './hops.js';
import { round } from './metrics.js';
import { hash32, NetworkModel } from './network-model.js';
import { resolveSimulateOptions, type SimulateOptions, type SimulationProgress } from './options.js';
import { Population, type SimNode } from './population.js';
import { REPORT_FORMAT, type RoutingTableFigures, type SimulationReport, summarizeStrategies } from './report.js';
import { Workload } from './workloads.js';

/** Figures of the machine that ran a simulation: not part of the (deterministic) report. */
export interface SimulationRuntime {
  /** Wall time of the whole run, ms. */
  readonly wallMs: Milliseconds;
  /** CPU time of this process during the run (user + system, every thread), ms: less noisy than wall time on a shared machine. */
  readonly cpuMs: Milliseconds;
  /** Wall time of the join phase (every first node created and bootstrapping), ms. */
  readonly joinWallMs: Milliseconds;
  /** Wall time per virtual hour of the steady state (warm-up, workload, drain), ms. */
  readonly wallMsPerVirtualHour: Milliseconds;
  /** JS heap (used + array buffers) after the warm-up, bytes. */
  readonly heapBytes: number;
  /** Its growth since before the first node, per simulated node, bytes. */
  readonly heapPerNodeBytes: number;
  /** Whether garbage was collected before the heap was measured (else the figures are upper bounds). */
  readonly gcBeforeMeasure: boolean;
}

/** What {@link simulate} resolves with. */
export interface SimulationResult {
  /** The report: byte-for-byte the same for the same options and seed. */
  readonly report: SimulationReport;
  /** Wall time and memory of this run (vary from run to run and machine to machine). */
  readonly runtime: SimulationRuntime;
}

/** Honest nodes whose routing tables are inspected at the end. */
const TABLE_SAMPLE = 300;
/** Virtual time advanced between two progress reports and abort checks, ms. */
const STEP_MS = 1000;
/** Longest a read may still run after its start, ms (lookup deadline with margin). */
const DRAIN_MARGIN_MS = 60_000;

/**
 * Runs `nodes` real Nautilus nodes (the production `createNode`, unmodified) on one
 * `MemoryNetwork` driven by one `ManualClock`, in this process: a seeded network (per-pair RTTs,
 * loss, heavy-tailed churn, firewalled and hostile nodes), a join phase, a warm-up, and a
 * workload of puts/gets, lookups and announces/peer searches, each read run once per strategy.
 * Resolves with the report (deterministic: the same options give the same report, byte for
 * byte) and the run's wall time and heap.
 *
 * @example
 * const { report } = await simulate({ nodes: 500, seed: 7, durationMs: 600_000 });
 * console.log(formatReport(report));
 * @throws {KadError} `INVALID_OPTION` naming a bad option; rejects with `signal.reason` on abort.
 */
export async function simulate(options: SimulateOptions = {}): Promise<SimulationResult> {
  const resolved = resolveSimulateOptions(options);
  const { signal, onProgress } = options;
  signal?.throwIfAborted();
  const gc = collector();
  const wallStart = performance.now();
  const cpuStart = process.cpuUsage();
  const heapBefore = heap(gc);
  const clock = new ManualClock();
  const t0 = clock.now();
  const model = new NetworkModel(resolved, () => clock.now());
  const network = new MemoryNetwork(
    { latencyMs: model.latency, lossRate: resolved.loss, seed: resolved.seed },
    { clock },
  );
  network.setDropFilter(model.filter);
  const tracer = new HopTracer();
  model.observer = tracer.observe;
  let failure: { error: unknown } | undefined;
  const fail = (error: unknown): void => {
    failure ??= { error };
  };
  const population = new Population(resolved, options.node, {
    clock,
    network,
    model,
    random: seededRandom(hash32(resolved.seed ^ 0x2545f491)),
  });
  const workload = new Workload(resolved, {
    clock,
    population,
    tracer,
    random: seededRandom(hash32(resolved.seed ^ 0x68e31da4)),
    k: options.node?.k ?? DEFAULT_ROUTING_TABLE_OPTIONS.k,
    fail,
  });
  const sessions = new SessionModel(resolved.churn, resolved.sessionShape);
  const churnRandom = seededRandom(hash32(resolved.seed ^ 0x1b873593));
  const live = (sim: SimNode, remainingMs: Milliseconds): void => {
    if (!Number.isFinite(remainingMs)) return;
    clock.setTimeout(() => {
      population
        .leave(sim)
        .then(() => population.join(sim))
        .then((next) => live(next, sessions.session(churnRandom())), fail);
    }, remainingMs);
  };
  const joinMs = resolved.nodes * resolved.joinSpacingMs;
  for (let i = 0; i < resolved.nodes; i++) {
    clock.setTimeout(() => {
      population.join().then((sim) => live(sim, sessions.residual(churnRandom())), fail);
    }, i * resolved.joinSpacingMs);
  }
  const readsEnd = joinMs + resolved.warmupMs + resolved.durationMs + resolved.readDelayMaxMs + DRAIN_MARGIN_MS;
  const progress = (phase: SimulationProgress['phase']): void =>
    onProgress?.({
      phase,
      virtualMs: clock.now() - t0,
      totalMs: readsEnd,
      online: population.online.length,
      finished: workload.finished,
    });
  try {
    const runUntil = async (
      until: Milliseconds,
      phase: SimulationProgress['phase'],
      stop?: () => boolean,
    ): Promise<void> => {
      while (clock.now() - t0 < until && stop?.() !== true) {
        if (signal?.aborted === true) throw abortReason(signal);
        if (failure !== undefined) throw failure.error;
        await clock.advanceAsync(Math.min(STEP_MS, until - (clock.now() - t0)));
        progress(phase);
      }
    };
    await runUntil(joinMs + STEP_MS, 'join');
    const joinWallMs = performance.now() - wallStart;
    await runUntil(joinMs + resolved.warmupMs, 'warmup');
    const heapBytes = heap(gc);
    const steadyStart = performance.now();
    const workloadStart = clock.now();
    const bytesAtStart = model.bytes;
    const datagramsAtStart = model.datagrams;
    workload.start();
    await runUntil(joinMs + resolved.warmupMs + resolved.durationMs, 'workload');
    const workloadMs = clock.now() - workloadStart;
    const bytes = model.bytes - bytesAtStart;
    const datagrams = model.datagrams - datagramsAtStart;
    await runUntil(readsEnd, 'drain', () => workload.pending === 0);
    if (failure !== undefined) throw failure.error;
    const virtualMs = clock.now() - t0;
    const steadyVirtualHours = (clock.now() - (t0 + joinMs + STEP_MS)) / 3_600_000;
    const stats = network.stats();
    const perNodeHours = (resolved.nodes * workloadMs) / 3_600_000;
    const report: SimulationReport = {
      format: REPORT_FORMAT,
      options: { ...resolved, strategies: resolved.strategies.map((s) => s.name) },
      network: {
        nodes: resolved.nodes,
        hostile: population.all.filter((s) => s.online && s.hostile !== undefined).length,
        firewalled: population.all.filter((s) => s.online && s.firewalled).length,
        joins: population.joins,
        leaves: population.leaves,
        virtualMs,
        datagrams: model.datagrams,
        lost: stats.lost,
        natDropped: model.natDropped,
        bytesPerNodePerHour: Math.round(bytes / perNodeHours),
        datagramsPerNodePerMinute: round(datagrams / (perNodeHours * 60), 2),
      },
      writes: {
        puts: { ...workload.puts },
        announces: { ...workload.announces },
        abandonedReads: workload.abandoned,
      },
      routingTable: tableHealth(population),
      strategies: summarizeStrategies(resolved, sortRecords(workload.records)),
    };
    const wallMs = performance.now() - wallStart;
    return {
      report,
      runtime: {
        wallMs: Math.round(wallMs),
        cpuMs: Math.round(cpuMs(cpuStart)),
        joinWallMs: Math.round(joinWallMs),
        wallMsPerVirtualHour: Math.round((performance.now() - steadyStart) / Math.max(steadyVirtualHours, 1e-9)),
        heapBytes,
        heapPerNodeBytes: Math.round((heapBytes - heapBefore) / resolved.nodes),
        gcBeforeMeasure: gc !== undefined,
      },
    };
  } finally {
    await population.close();
    await network.close();
  }
}

/** Records in a stable order (they are pushed as reads end; ties in virtual time keep that order). */
function sortRecords<T extends { at: number; strategy: number }>(records: readonly T[]): T[] {
  return [...records].sort((a, b) => a.at - b.at || a.strategy - b.strategy);
}

/** Routing-table health of up to {@link TABLE_SAMPLE} honest online nodes, spread over the population. */
function tableHealth(population: Population): RoutingTableFigures {
  const honest = population.all.filter((s) => s.online && s.hostile === undefined);
  const step = Math.max(1, Math.floor(honest.length / TABLE_SAMPLE));
  const byHost = new Map(population.online.map((s) => [s.host, s] as const));
  let contacts = 0;
  let dead = 0;
  let hostile = 0;
  let knowsNearest = 0;
  let sampled = 0;
  for (let i = 0; i < honest.length && sampled < TABLE_SAMPLE; i += step) {
    const sim = honest[i] as SimNode;
    const table = sim.node?.contacts(sim.id, 100_000) ?? [];
    sampled++;
    contacts += table.length;
    for (const c of table) {
      const peer = byHost.get(c.host);
      if (peer === undefined) dead++;
      else if (peer.hostile !== undefined) hostile++;
    }
    let nearest: SimNode | undefined;
    for (const other of population.online) {
      if (other === sim) continue;
      if (nearest === undefined || compareDistance(sim.id, other.id, nearest.id) < 0) nearest = other;
    }
    if (nearest !== undefined && table.some((c) => bytesEqual(c.id, nearest.id))) knowsNearest++;
  }
  const share = (x: number, of: number): number => (of === 0 ? 0 : round(x / of, 4));
  return {
    sampled,
    contactsMean: sampled === 0 ? 0 : round(contacts / sampled, 1),
    deadFraction: share(dead, contacts),
    hostileFraction: share(hostile, contacts),
    knowsNearestFraction: share(knowsNearest, sampled),
  };
}

/** A garbage collector to call before measuring the heap, when V8 lets us have one. */
function collector(): (() => void) | undefined {
  const exposed = (globalThis as { gc?: () => void }).gc;
  if (typeof exposed === 'function') return exposed;
  try {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as unknown;
    return typeof gc === 'function' ? (gc as () => void) : undefined;
  } catch {
    return undefined;
  }
}

function cpuMs(since: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(since);
  return (used.user + used.system) / 1000;
}

function heap(gc: (() => void) | undefined): number {
  gc?.();
  gc?.();
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.arrayBuffers;
}
