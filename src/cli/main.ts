#!/usr/bin/env node
import { readFileSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { type CliIo, type Command, EXIT, FailureError, UsageError } from './command.js';
import { COMMANDS } from './commands/index.js';

export type { CliIo } from './command.js';

/** `nautilus --help`. */
export function helpText(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length)) + 2;
  const lines = COMMANDS.map((c) => `  ${c.name.padEnd(width)} ${c.summary}`);
  return `nautilus — Kademlia DHT (BitTorrent Mainline) and record registry for Node.js

Usage:
  nautilus [command] [options]
  nautilus <command> --help     options and examples of one command

Commands:
${lines.join('\n')}
  ${'help'.padEnd(width)} Show this help
  ${'version'.padEnd(width)} Print the version

Options:
  -h, --help               Show this help
  -v, --version            Print the version

Exit codes: 0 done, 1 the operation failed, 2 a usage error (one line on stderr for each failure).

Examples:
  nautilus testnet --nodes 16
  nautilus start --bootstrap none --port 0
  nautilus put 'hello' && nautilus get <target>
`;
}

/** The package version, read from the package.json shipped beside `dist/`. */
export function version(): string {
  const url = new URL('../../../package.json', import.meta.url);
  return (JSON.parse(readFileSync(url, 'utf8')) as { version: string }).version;
}

const defaultIo: CliIo = {
  out: (t) => process.stdout.write(t),
  err: (t) => process.stderr.write(t),
  errIsTty: process.stderr.isTTY,
};

/** Runs the CLI with `argv` (without `node` and the script); resolves with the exit code. */
export async function main(argv: readonly string[], io: CliIo = defaultIo): Promise<number> {
  const first = argv[0];
  const command = COMMANDS.find((c) => c.name === first);
  if (command === undefined) return topLevel(argv, io);
  return runCommand(command, argv.slice(1), io);
}

async function topLevel(argv: readonly string[], io: CliIo): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: { help: { type: 'boolean', short: 'h' }, version: { type: 'boolean', short: 'v' } },
    });
  } catch (error) {
    return usageError(io, (error as Error).message);
  }
  const [name = 'help', ...rest] = parsed.positionals;
  if (parsed.values.version === true || name === 'version') {
    io.out(`${version()}\n`);
    return EXIT.ok;
  }
  if (name === 'help' && rest.length > 0) {
    const command = COMMANDS.find((c) => c.name === rest[0]);
    if (command !== undefined) {
      io.out(command.help);
      return EXIT.ok;
    }
  }
  if (parsed.values.help === true || name === 'help') {
    io.out(helpText());
    return EXIT.ok;
  }
  return usageError(io, `unknown command "${[name, ...rest].join(' ')}"`);
}

async function runCommand(command: Command, argv: readonly string[], io: CliIo): Promise<number> {
  let args;
  try {
    args = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: { ...command.options, help: { type: 'boolean', short: 'h' } },
    });
  } catch (error) {
    return usageError(io, `${command.name}: ${(error as Error).message}`, command);
  }
  if (args.values.help === true) {
    io.out(command.help);
    return EXIT.ok;
  }
  try {
    return await command.run(args, io);
  } catch (error) {
    if (error instanceof UsageError) return usageError(io, `${command.name}: ${error.message}`, command);
    if (error instanceof FailureError) {
      io.err(`nautilus ${command.name}: ${error.message}\n`);
      return EXIT.failed;
    }
    const e = error as Error & { code?: string };
    io.err(`nautilus ${command.name}: ${e.code === undefined ? '' : `${e.code}: `}${e.message}\n`);
    return EXIT.failed;
  }
}

/** A usage error: one line (the usage of `nautilus` follows it when no command was recognised). */
function usageError(io: CliIo, message: string, command?: Command): number {
  if (command === undefined) io.err(`nautilus: ${message}\n\n${helpText()}`);
  else io.err(`nautilus: ${message} (see nautilus ${command.name} --help)\n`);
  return EXIT.usage;
}

const invokedAs = process.argv[1];
if (invokedAs !== undefined && realpathSync(invokedAs) === fileURLToPath(import.meta.url)) {
  // output piped into a reader that stopped (| head): nothing more to say
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  });
  const controller = new AbortController();
  let signals = 0;
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, () => {
      // the first signal stops gracefully; a second one exits at once (128 + signal number)
      if (++signals > 1) process.exit(sig === 'SIGINT' ? 130 : 143);
      controller.abort();
    });
  }
  process.exitCode = await main(process.argv.slice(2), { ...defaultIo, signal: controller.signal });
}
