import { writeFile } from 'node:fs/promises';
import { isKadError } from '../kad/errors.js';
import { type CliIo, type CommandArgs, UsageError } from './command.js';
import type { SimulationProgress } from '../testing/simulate/options.js';
import { formatReport } from '../testing/simulate/report.js';
import { reportSvg } from '../testing/simulate/svg.js';
import { simulateOnThread, type ThreadSimulateOptions } from '../testing/simulate/thread.js';

/**
 * `nautilus simulate [flags]`: runs `simulate()` on a thread of its own (see `simulateOnThread`)
 * and prints its report as a table (or JSON with `--json`), with a progress bar and the run's
 * wall time and heap on stderr. Resolves with the exit code: 0, or 130 when interrupted; throws
 * {@link UsageError} for bad flags (the message names the flag or option) and the run's error
 * when it failed.
 */
export async function runSimulate(args: CommandArgs, io: CliIo): Promise<number> {
  const { values, positionals } = args;
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals.join(' ')}"`);
  const num = (flag: string): number | undefined => {
    const raw = values[flag];
    if (raw === undefined || typeof raw !== 'string') return undefined;
    const value = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(value)) throw new UsageError(`--${flag} must be a number (got "${raw}")`);
    return value;
  };
  const given = <T>(name: string, value: T | undefined): Record<string, T> =>
    value === undefined ? {} : { [name]: value };
  const workload = {
    ...given('getsPerMinute', num('gets-per-minute')),
    ...given('lookupsPerMinute', num('lookups-per-minute')),
    ...given('announcesPerMinute', num('announces-per-minute')),
  };
  const strategy = values['strategy'];
  const options: ThreadSimulateOptions = {
    ...given('nodes', num('nodes')),
    ...given('seed', num('seed')),
    ...given('loss', num('loss')),
    ...given('churn', num('churn')),
    ...given('hostile', num('hostile')),
    ...given('firewalled', num('firewalled')),
    ...given('durationMs', num('duration-ms')),
    ...given('warmupMs', num('warmup-ms')),
    ...(Object.keys(workload).length === 0 ? {} : { workload }),
    ...(typeof strategy === 'string' ? { strategies: strategy.split(',').map((s) => s.trim()) } : {}),
  };
  const json = values['json'] === true;
  const svg = typeof values['svg'] === 'string' ? values['svg'] : undefined;
  const bar = progressBar(io);
  try {
    const { report, runtime } = await simulateOnThread(options, {
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
    if (isKadError(error, 'INVALID_OPTION')) throw new UsageError(error.message);
    if (io.signal?.aborted === true) {
      io.err('nautilus simulate: interrupted\n');
      return 130;
    }
    throw error;
  }
}

/** A progress bar on stderr: one redrawn line on a terminal, else a line every 10 %. */
function progressBar(io: CliIo): (progress: SimulationProgress | 'done' | undefined) => void {
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
