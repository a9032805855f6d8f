/**
 * Simulation cost: `simulate()` at N nodes (the default model: 50–300 ms RTTs, 10 % loss, 20 %
 * churn per hour; a short workload of 1 000 gets per strategy), on a thread of its own as
 * `nautilus simulate` runs it, per CPU second, against the bare `MemoryNetwork` + `ManualClock`
 * it runs on, measured in the same run: 1 000 transports that answer every datagram with
 * another, so the ratio is the share of the network itself in the cost of a simulated datagram
 * (the rest is the production node: encoding, decoding, tables, lookups). Also prints wall time,
 * CPU time and heap per node.
 *
 * Run: npm run bench -- simulate (2 000 nodes), or after a build
 * node --expose-gc dist/bench/simulate.js 10000 100000 [--svg FILE] [--join-spacing-ms MS]
 * which also prints each run's report (`formatReport`) and with `--svg` draws the last one;
 * `--join-spacing-ms` sets the time between two first joins (default 20 ms, the simulator's), and
 * the phase and virtual time go to stderr each 100 virtual seconds.
 */
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { ManualClock } from '../src/testing/manual-clock.js';
import { MemoryNetwork } from '../src/testing/memory-network.js';
import type { SimulationProgress } from '../src/testing/simulate/options.js';
import { formatReport } from '../src/testing/simulate/report.js';
import { reportSvg } from '../src/testing/simulate/svg.js';
import { simulateOnThread } from '../src/testing/simulate/thread.js';
import { printTable, type Row } from './harness.js';

const DEFAULT_SIZES = [2000];
const BARE_TRANSPORTS = 1000;
const BARE_DATAGRAMS = 2_000_000;

/** Datagrams per CPU second of the bare network: echoes between transports on a manual clock. */
async function bareNetwork(): Promise<number> {
  const clock = new ManualClock();
  const network = new MemoryNetwork({ latencyMs: 75, lossRate: 0.1, seed: 1 }, { clock });
  const transports = Array.from({ length: BARE_TRANSPORTS }, () => network.createTransport());
  let left = BARE_DATAGRAMS;
  const payload = new Uint8Array(120);
  for (const t of transports) {
    t.on('message', ({ from }) => {
      if (left-- > 0) t.send(payload, from);
    });
  }
  const start = process.cpuUsage();
  // each transport keeps a few datagrams in flight so that losses do not end the exchange
  for (let round = 0; left > 0; round++) {
    for (let i = 0; i < transports.length && left > 0; i++) {
      (transports[i] as (typeof transports)[0]).send(
        payload,
        (transports[(i + 1 + round) % transports.length] as (typeof transports)[0]).address(),
      );
      left--;
    }
    await clock.advanceAsync(1000);
  }
  const used = process.cpuUsage(start);
  const sent = network.stats().sent;
  await network.close();
  return sent / ((used.user + used.system) / 1e6);
}

export async function benchSimulate(
  sizes: readonly number[] = DEFAULT_SIZES,
  options: { report?: boolean; svg?: string; joinSpacingMs?: number; progress?: boolean } = {},
): Promise<Row[]> {
  const rows: Row[] = [];
  const anchor = await bareNetwork();
  for (const nodes of sizes) {
    // on a thread of its own with a larger young generation, as `nautilus simulate` runs it
    const { report, runtime } = await simulateOnThread(
      {
        nodes,
        warmupMs: 60_000,
        durationMs: 600_000,
        readDelayMinMs: 10_000,
        readDelayMaxMs: 60_000,
        workload: { getsPerMinute: 100, lookupsPerMinute: 0, announcesPerMinute: 0 },
        ...(options.joinSpacingMs === undefined ? {} : { joinSpacingMs: options.joinSpacingMs }),
      },
      options.progress === true ? { onProgress: progressLine() } : {},
    );
    const perCpuSecond = report.network.datagrams / (runtime.cpuMs / 1000);
    if (options.report === true) console.log(formatReport(report));
    if (options.svg !== undefined) await writeFile(options.svg, reportSvg(report));
    console.log(
      `${nodes} nodes: wall ${(runtime.wallMs / 1000).toFixed(1)} s, CPU ${(runtime.cpuMs / 1000).toFixed(1)} s ` +
        `(joins ${(runtime.joinWallMs / 1000).toFixed(1)} s wall), ${report.network.datagrams} datagrams, heap ` +
        `${(runtime.heapBytes / 2 ** 20).toFixed(0)} MiB = ${(runtime.heapPerNodeBytes / 1024).toFixed(1)} KiB per node; ` +
        `adaptive gets ${report.strategies[0]?.get.count ?? 0}, success ${report.strategies[0]?.get.successRate ?? 0}`,
    );
    rows.push({
      what: `datagrams per CPU second, ${nodes} simulated nodes`,
      anchorName: 'bare MemoryNetwork echo',
      anchor,
      nautilus: perCpuSecond,
      unit: 'datagrams/s',
    });
  }
  return rows;
}

/** Writes the phase, virtual time and CPU time to stderr each 100 virtual seconds. */
function progressLine(): (progress: SimulationProgress) => void {
  let next = 0;
  const cpuStart = process.cpuUsage();
  return ({ phase, virtualMs, totalMs, online }) => {
    if (virtualMs < next) return;
    next = virtualMs + 100_000;
    const cpu = process.cpuUsage(cpuStart);
    process.stderr.write(
      `${phase} ${(virtualMs / 1000).toFixed(0)}/${(totalMs / 1000).toFixed(0)} virtual s, ${online} online, ` +
        `CPU ${((cpu.user + cpu.system) / 1e6).toFixed(0)} s, RSS ${(process.memoryUsage.rss() / 2 ** 30).toFixed(2)} GiB\n`,
    );
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const flags = new Map<string, string>();
  const sizes: number[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg.startsWith('--')) flags.set(arg, args[++i] ?? '');
    else sizes.push(Number(arg));
  }
  const svg = flags.get('--svg');
  const spacing = flags.get('--join-spacing-ms');
  printTable(
    'Simulation cost per datagram',
    await benchSimulate(sizes.length > 0 ? sizes : DEFAULT_SIZES, {
      report: true,
      progress: true,
      ...(svg === undefined ? {} : { svg }),
      ...(spacing === undefined ? {} : { joinSpacingMs: Number(spacing) }),
    }),
  );
}
