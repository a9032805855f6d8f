#!/usr/bin/env node
import { readFileSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const HELP = `nautilus — Kademlia DHT (BitTorrent Mainline) and record registry for Node.js

Usage:
  nautilus [command] [options]

Commands:
  help             Show this help
  version          Print the version

Options:
  -h, --help       Show this help
  -v, --version    Print the version
`;

/** The package version, read from the package.json shipped beside `dist/`. */
export function version(): string {
  const url = new URL('../../../package.json', import.meta.url);
  return (JSON.parse(readFileSync(url, 'utf8')) as { version: string }).version;
}

/** Runs the CLI with `argv` (without `node` and the script); returns the exit code. */
export function main(argv: readonly string[], out: (text: string) => void = (t) => process.stdout.write(t)): number {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: { help: { type: 'boolean', short: 'h' }, version: { type: 'boolean', short: 'v' } },
    });
  } catch (error) {
    process.stderr.write(`nautilus: ${(error as Error).message}\n\n${HELP}`);
    return 2;
  }
  const [command = 'help', ...rest] = parsed.positionals;
  if (parsed.values.version === true || command === 'version') {
    out(`${version()}\n`);
    return 0;
  }
  if (parsed.values.help === true || command === 'help') {
    out(HELP);
    return 0;
  }
  process.stderr.write(`nautilus: unknown command "${[command, ...rest].join(' ')}"\n\n${HELP}`);
  return 2;
}

const invokedAs = process.argv[1];
if (invokedAs !== undefined && realpathSync(invokedAs) === fileURLToPath(import.meta.url)) {
  process.exitCode = main(process.argv.slice(2));
}
