#!/usr/bin/env node
import { readFileSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { runSimulate, SIMULATE_HELP } from './simulate.js';
import { runTestnet } from './testnet.js';

const HELP = `nautilus — Kademlia DHT (BitTorrent Mainline) and record registry for Node.js

Usage:
  nautilus [command] [options]

Commands:
  testnet          Start a local DHT network on loopback UDP (in-memory storage), show a
                   BEP 44 put/get and a BEP 5 announce/get_peers, then keep it running
  simulate         Run N real nodes on a simulated network (virtual time, seeded RTTs,
                   loss, churn, hostile nodes) and report lookup success and latency
  help             Show this help
  version          Print the version

Options:
  -h, --help               Show this help
  -v, --version            Print the version

testnet options:
  --nodes N                Number of nodes, 2-500 (default 16)
  --host ADDRESS           Loopback address to bind: 127.0.0.1 or ::1 (default 127.0.0.1)
  --duration-ms MS         Stop after MS milliseconds; 0 stops right after the demo
                           (default: run until Ctrl-C)
  --interval-ms MS         Print network counters every MS milliseconds (default 10000)

${SIMULATE_HELP}`;

/** The package version, read from the package.json shipped beside `dist/`. */
export function version(): string {
  const url = new URL('../../../package.json', import.meta.url);
  return (JSON.parse(readFileSync(url, 'utf8')) as { version: string }).version;
}

/** Where the CLI writes: standard output and standard error by default. */
export interface CliIo {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  /** Aborts a long-running command (the CLI wires SIGINT/SIGTERM to it). */
  readonly signal?: AbortSignal;
}

const defaultIo: CliIo = { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t) };

/** Runs the CLI with `argv` (without `node` and the script); resolves with the exit code. */
export async function main(argv: readonly string[], io: CliIo = defaultIo): Promise<number> {
  // the simulate command parses its own flags
  if (argv[0] === 'simulate')
    return runSimulate(argv.slice(1), { ...io, errIsTty: io === defaultIo && process.stderr.isTTY });
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'v' },
        nodes: { type: 'string' },
        host: { type: 'string' },
        'duration-ms': { type: 'string' },
        'interval-ms': { type: 'string' },
      },
    });
  } catch (error) {
    return usageError(io, (error as Error).message);
  }
  const { values } = parsed;
  const [command = 'help', ...rest] = parsed.positionals;
  if (values.version === true || command === 'version') {
    io.out(`${version()}\n`);
    return 0;
  }
  if (values.help === true || command === 'help') {
    io.out(HELP);
    return 0;
  }
  if (command === 'testnet' && rest.length === 0) {
    const nodes = integerFlag('--nodes', values.nodes, 16, 2, 500);
    const durationMs = integerFlag('--duration-ms', values['duration-ms'], Number.POSITIVE_INFINITY, 0);
    const intervalMs = integerFlag('--interval-ms', values['interval-ms'], 10_000, 100);
    for (const flag of [nodes, durationMs, intervalMs]) if (typeof flag === 'string') return usageError(io, flag);
    return runTestnet({
      nodes: nodes as number,
      host: values.host ?? '127.0.0.1',
      durationMs: durationMs as number,
      intervalMs: intervalMs as number,
      print: (line) => io.out(`${line}\n`),
      ...(io.signal === undefined ? {} : { signal: io.signal }),
    });
  }
  return usageError(io, `unknown command "${[command, ...rest].join(' ')}"`);
}

function usageError(io: CliIo, message: string): number {
  io.err(`nautilus: ${message}\n\n${HELP}`);
  return 2;
}

/** The flag's integer value, its default when absent, or an error message naming it. */
function integerFlag(
  name: string,
  raw: string | undefined,
  fallback: number,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number | string {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || value < min || value > max) {
    return `${name} must be an integer from ${min}${max === Number.MAX_SAFE_INTEGER ? '' : ` to ${max}`} (got ${JSON.stringify(raw)})`;
  }
  return value;
}

const invokedAs = process.argv[1];
if (invokedAs !== undefined && realpathSync(invokedAs) === fileURLToPath(import.meta.url)) {
  const controller = new AbortController();
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => controller.abort());
  process.exitCode = await main(process.argv.slice(2), { ...defaultIo, signal: controller.signal });
}
