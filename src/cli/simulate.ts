import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { isKadError } from '../kad/errors.js';
import type { SimulateOptions, SimulationProgress } from '../testing/simulate/options.js';
import { formatReport } from '../testing/simulate/report.js';
import { simulate } from '../testing/simulate/simulate.js';
import { reportSvg } from '../testing/simulate/svg.js';

/** Where `nautilus simulate` writes (the CLI's `CliIo`). */
export interface SimulateIo {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  readonly signal?: AbortSignal;
  /** Whether `err` is a terminal: the progress bar then redraws one line. @default false */
  readonly errIsTty?: boolean;
}

/** Help of `nautilus simulate`, appended to the CLI's. */
export const SIMULATE_HELP = `simulate options (N real nodes on a simulated network, virtual time; see docs/simulation.md):
  --nodes N                Nodes, 2-200000 (default 1000)
  --seed S                 Seed of every random choice (default 1); same seed, same report
  --loss P                 Datagram loss, 0-0.9 (default 0.1)
  --churn P                Fraction of nodes leaving (and replaced) per hour, 0-5 (default 0.2)
  --hostile P              Fraction of hostile nodes, 0-0.5 (default 0)
  --firewalled P           Fraction of nodes behind a NAT, 0-1 (default 0)
  --strategy LIST          Comma-separated: adaptive, fixed-N, burst-N, disjoint-N
                           (default adaptive,fixed-3,burst-16,disjoint-3)
  --duration-ms MS         Workload phase, virtual ms (default 1800000)
  --warmup-ms MS           Settling after the joins, virtual ms (default 300000)
  --gets-per-minute R      Puts (each read back once per strategy) per virtual minute (default 40)
  --lookups-per-minute R   Lookups of random targets per virtual minute (default 10)
  --announces-per-minute R Announces (then peer searches) per virtual minute (default 10)
  --json                   Print the whole report as JSON on stdout (progress stays on stderr)
  --svg FILE               Draw the latency CDF and success over time to FILE
`;

const FLAGS = {
  nodes: { type: 'string' },
  seed: { type: 'string' },
  loss: { type: 'string' },
  churn: { type: 'string' },
  hostile: { type: 'string' },
  firewalled: { type: 'string' },
  strategy: { type: 'string' },
  'duration-ms': { type: 'string' },
  'warmup-ms': { type: 'string' },
  'gets-per-minute': { type: 'string' },
  'lookups-per-minute': { type: 'string' },
  'announces-per-minute': { type: 'string' },
  json: { type: 'boolean' },
  svg: { type: 'string' },
} as const;

/**
 * `nautilus simulate [flags]`: runs `simulate()` and prints its report as a table (or JSON with
 * `--json`), with a progress bar and the run's wall time and heap on stderr. Resolves with the
 * exit code: 0, 2 for bad flags (the message names the flag), 1 when the run failed.
 */
export async function runSimulate(argv: readonly string[], io: SimulateIo): Promise<number> {
  let options: SimulateOptions;
  let json: boolean;
  let svg: string | undefined;
  try {
    const { values, positionals } = parseArgs({ args: [...argv], options: FLAGS, allowPositionals: true });
    if (positionals.length > 0) throw new Error(`unexpected argument "${positionals.join(' ')}"`);
    const num = (flag: keyof typeof FLAGS): number | undefined => {
      const raw = values[flag];
      if (raw === undefined || typeof raw !== 'string') return undefined;
      const value = Number(raw);
      if (raw.trim() === '' || !Number.isFinite(value)) throw new Error(`--${flag} must be a number (got "${raw}")`);
      return value;
    };
    const given = <T>(name: string, value: T | undefined): Record<string, T> =>
      value === undefined ? {} : { [name]: value };
    const workload = {
      ...given('getsPerMinute', num('gets-per-minute')),
      ...given('lookupsPerMinute', num('lookups-per-minute')),
      ...given('announcesPerMinute', num('announces-per-minute')),
    };
    options = {
      ...given('nodes', num('nodes')),
      ...given('seed', num('seed')),
      ...given('loss', num('loss')),
      ...given('churn', num('churn')),
      ...given('hostile', num('hostile')),
      ...given('firewalled', num('firewalled')),
      ...given('durationMs', num('duration-ms')),
      ...given('warmupMs', num('warmup-ms')),
      ...(Object.keys(workload).length === 0 ? {} : { workload }),
      ...(values.strategy === undefined ? {} : { strategies: values.strategy.split(',').map((s) => s.trim()) }),
    };
    json = values.json === true;
    svg = values.svg;
  } catch (error) {
    io.err(`nautilus simulate: ${(error as Error).message}\n\n${SIMULATE_HELP}`);
    return 2;
  }
  const bar = progressBar(io);
  try {
    const { report, runtime } = await simulate({
      ...options,
      onProgress: bar,
      ...(io.signal === undefined ? {} : { signal: io.signal }),
    });
    bar('done');
    io.out(json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
    if (svg !== undefined) await writeFile(svg, reportSvg(report));
    const perNode = (runtime.heapPerNodeBytes / 1024).toFixed(1);
    io.err(
      `wall ${(runtime.wallMs / 1000).toFixed(1)} s, CPU ${(runtime.cpuMs / 1000).toFixed(1)} s (joins ${(runtime.joinWallMs / 1000).toFixed(1)} s, ` +
        `${(runtime.wallMsPerVirtualHour / 1000).toFixed(1)} s per virtual hour after); heap ` +
        `${(runtime.heapBytes / 2 ** 20).toFixed(0)} MiB, ${perNode} KiB per node` +
        `${svg === undefined ? '' : `; SVG written to ${svg}`}\n`,
    );
    return 0;
  } catch (error) {
    bar(undefined);
    if (isKadError(error, 'INVALID_OPTION')) {
      io.err(`nautilus simulate: ${error.message}\n`);
      return 2;
    }
    if (io.signal?.aborted === true) {
      io.err('nautilus simulate: interrupted\n');
      return 130;
    }
    io.err(`nautilus simulate: ${(error as Error).stack ?? String(error)}\n`);
    return 1;
  }
}

/** A progress bar on stderr: one redrawn line on a terminal, else a line every 10 %. */
function progressBar(io: SimulateIo): (progress: SimulationProgress | 'done' | undefined) => void {
  let lastDecile = -1;
  let drawn = false;
  return (progress) => {
    if (progress === 'done') {
      io.err(`${io.errIsTty === true ? '\r' : ''}[${'#'.repeat(30)}] 100 % done\n`);
      return;
    }
    if (progress === undefined) {
      if (drawn && io.errIsTty === true) io.err('\n');
      return;
    }
    const fraction = Math.min(1, progress.virtualMs / progress.totalMs);
    const width = 30;
    const filled = Math.round(fraction * width);
    const text =
      `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(fraction * 100).toFixed(0).padStart(3)} % ` +
      `${progress.phase} ${Math.round(progress.virtualMs / 1000)} s virtual, ${progress.online} online, ` +
      `${progress.finished} reads done`;
    if (io.errIsTty === true) {
      io.err(`\r${text}`);
      drawn = true;
    } else if (Math.floor(fraction * 10) > lastDecile) {
      lastDecile = Math.floor(fraction * 10);
      io.err(`${text}\n`);
    }
  };
}
