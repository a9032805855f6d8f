import type { Milliseconds } from '../../core/clock.js';
import {
  mean,
  type OperationKind,
  type OperationRecord,
  quantile,
  quantiles,
  type Quantiles,
  round,
} from './metrics.js';
import type { ResolvedSimulateOptions } from './options.js';

/** Identifies the report's JSON shape. */
export const REPORT_FORMAT = 'nautilus-simulation/1';

/** Points of each latency CDF in the report (quantiles 1/n … n/n of the successful reads). */
const CDF_POINTS = 50;

/** Figures of one kind of read under one strategy. */
export interface OperationSummary {
  /** Reads counted (those whose source stayed online). */
  readonly count: number;
  readonly succeeded: number;
  /** `succeeded / count`, 4 decimals (0 when nothing ran). */
  readonly successRate: number;
  /** Latency of the successful reads, simulated ms. */
  readonly latencyMs: Quantiles;
  /** The same in median round-trip times (`rttMedianMs`), 2 decimals. */
  readonly latencyRtts: Quantiles;
  /** Queries sent per read, every read counted. */
  readonly messages: Quantiles & { readonly mean: number };
  /** Hops from the source to the node that answered, successful reads with a known path. */
  readonly hops: Quantiles;
}

/** Success of gets in one window of the workload phase. */
export interface WindowFigures {
  /** Start of the window, virtual ms since the workload began. */
  readonly fromMs: Milliseconds;
  readonly count: number;
  readonly successRate: number;
}

/** Everything measured of one strategy. */
export interface StrategyReport {
  readonly name: string;
  /** α and its ceiling (`null`: the node's default, adaptive 3–8). */
  readonly alpha: number | null;
  readonly maxAlpha: number | null;
  readonly disjointPaths: number;
  readonly get: OperationSummary;
  readonly lookup: OperationSummary;
  readonly peers: OperationSummary;
  /** Latency of successful gets at the quantiles 1/50 … 50/50, ms (the CDF in the SVG). */
  readonly getLatencyCdf: readonly number[];
  /** Get success per `windowMs` of the workload phase (churn at work). */
  readonly successOverTime: readonly WindowFigures[];
}

/** The network as the run left it. */
export interface NetworkFigures {
  readonly nodes: number;
  readonly hostile: number;
  readonly firewalled: number;
  readonly joins: number;
  readonly leaves: number;
  /** Virtual length of the run, ms. */
  readonly virtualMs: Milliseconds;
  /** Datagrams sent by every node during the run. */
  readonly datagrams: number;
  /** Of them, lost (the loss rate) and refused by NATs. */
  readonly lost: number;
  readonly natDropped: number;
  /** Bytes sent per node per virtual hour during the workload phase. */
  readonly bytesPerNodePerHour: number;
  /** Datagrams sent per node per virtual minute during the workload phase. */
  readonly datagramsPerNodePerMinute: number;
}

/** Routing tables of a sample of honest online nodes at the end. */
export interface RoutingTableFigures {
  readonly sampled: number;
  /** Contacts per table. */
  readonly contactsMean: number;
  /** Of those contacts, offline ones and hostile ones. */
  readonly deadFraction: number;
  readonly hostileFraction: number;
  /** Tables holding their owner's nearest online node (XOR). */
  readonly knowsNearestFraction: number;
}

/** The report of one simulation: the same options and seed give the same report, byte for byte. */
export interface SimulationReport {
  readonly format: typeof REPORT_FORMAT;
  /** The options, resolved (strategies by name). */
  readonly options: Omit<ResolvedSimulateOptions, 'strategies'> & { readonly strategies: readonly string[] };
  readonly network: NetworkFigures;
  /** The writes behind the reads, and reads dropped because their source left. */
  readonly writes: {
    readonly puts: { readonly started: number; readonly stored: number };
    readonly announces: { readonly started: number; readonly stored: number };
    readonly abandonedReads: number;
  };
  readonly routingTable: RoutingTableFigures;
  readonly strategies: readonly StrategyReport[];
}

/** Builds the per-strategy part of the report from the records. */
export function summarizeStrategies(
  options: ResolvedSimulateOptions,
  records: readonly OperationRecord[],
): StrategyReport[] {
  return options.strategies.map((strategy, index) => {
    const own = records.filter((r) => r.strategy === index);
    const of = (kind: OperationKind): OperationRecord[] => own.filter((r) => r.kind === kind);
    const gets = of('get');
    const okLatencies = gets
      .filter((r) => r.ok)
      .map((r) => r.latencyMs)
      .sort((a, b) => a - b);
    const getLatencyCdf = okLatencies.length === 0 ? [] : cdf(okLatencies);
    return {
      name: strategy.name,
      alpha: strategy.lookup.alpha ?? null,
      maxAlpha: strategy.lookup.maxAlpha ?? null,
      disjointPaths: strategy.disjointPaths,
      get: summarize(gets, options.rttMedianMs),
      lookup: summarize(of('lookup'), options.rttMedianMs),
      peers: summarize(of('peers'), options.rttMedianMs),
      getLatencyCdf,
      successOverTime: windows(gets, options.windowMs, options.durationMs + options.readDelayMaxMs),
    };
  });
}

function summarize(records: readonly OperationRecord[], rttMs: number): OperationSummary {
  const ok = records.filter((r) => r.ok);
  const latencies = ok.map((r) => r.latencyMs);
  const ms = quantiles(latencies);
  const messages = records.map((r) => r.messages);
  return {
    count: records.length,
    succeeded: ok.length,
    successRate: records.length === 0 ? 0 : round(ok.length / records.length, 4),
    latencyMs: ms,
    latencyRtts: { p50: round(ms.p50 / rttMs, 2), p90: round(ms.p90 / rttMs, 2), p99: round(ms.p99 / rttMs, 2) },
    messages: { ...quantiles(messages), mean: round(mean(messages), 1) },
    hops: quantiles(ok.flatMap((r) => (r.hops === undefined ? [] : [r.hops]))),
  };
}

function cdf(sorted: readonly number[]): number[] {
  return Array.from({ length: CDF_POINTS }, (_, i) => quantile(sorted, (i + 1) / CDF_POINTS));
}

function windows(records: readonly OperationRecord[], windowMs: number, spanMs: number): WindowFigures[] {
  const out: WindowFigures[] = [];
  for (let from = 0; from < spanMs; from += windowMs) {
    const inside = records.filter((r) => r.at >= from && r.at < from + windowMs);
    if (inside.length === 0) continue;
    const ok = inside.filter((r) => r.ok).length;
    out.push({ fromMs: from, count: inside.length, successRate: round(ok / inside.length, 4) });
  }
  return out;
}

const percent = (x: number): string => `${(100 * x).toFixed(1)} %`;

/** The report as a text table (what `nautilus simulate` prints). */
export function formatReport(report: SimulationReport): string {
  const { network: n, options: o, routingTable: t, writes: w } = report;
  const lines = [
    `${n.nodes} nodes (${n.hostile} hostile, ${n.firewalled} firewalled), seed ${o.seed}; ` +
      `RTT ${o.rttMinMs}-${o.rttMaxMs} ms (median ${o.rttMedianMs}), loss ${percent(o.loss)}, churn ${percent(o.churn)} per hour`,
    `${round(n.virtualMs / 60_000, 1)} virtual minutes: ${n.joins} joins, ${n.leaves} leaves, ${n.datagrams} datagrams ` +
      `(${n.lost} lost, ${n.natDropped} refused by NATs)`,
    `traffic per node: ${round(n.bytesPerNodePerHour / 1024, 1)} KiB per hour, ${n.datagramsPerNodePerMinute} datagrams per minute`,
    `routing tables (${t.sampled} sampled): ${t.contactsMean} contacts, ${percent(t.deadFraction)} dead, ` +
      `${percent(t.hostileFraction)} hostile, ${percent(t.knowsNearestFraction)} hold their nearest node`,
    `writes: ${w.puts.stored}/${w.puts.started} puts and ${w.announces.stored}/${w.announces.started} announces stored; ` +
      `${w.abandonedReads} reads dropped (source left)`,
    '',
  ];
  const header = [
    'strategy',
    'gets',
    'get ok',
    'p50 ms',
    'p90 ms',
    'p99 ms',
    'p50 RTTs',
    'msgs p50',
    'msgs mean',
    'hops p50',
    'lookup ok',
    'peers ok',
  ];
  const rows = report.strategies.map((s) => [
    s.name,
    String(s.get.count),
    percent(s.get.successRate),
    String(s.get.latencyMs.p50),
    String(s.get.latencyMs.p90),
    String(s.get.latencyMs.p99),
    s.get.latencyRtts.p50.toFixed(2),
    String(s.get.messages.p50),
    s.get.messages.mean.toFixed(1),
    String(s.get.hops.p50),
    s.lookup.count === 0 ? '-' : percent(s.lookup.successRate),
    s.peers.count === 0 ? '-' : percent(s.peers.successRate),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
  const line = (cells: readonly string[]): string =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number))).join('  ');
  lines.push(line(header), ...rows.map(line));
  return `${lines.join('\n')}\n`;
}
