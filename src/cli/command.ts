import type { ParseArgsConfig } from 'node:util';

/** Where the CLI writes, and what it reads of its process. */
export interface CliIo {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  /** Aborts a long-running command (the CLI wires SIGINT/SIGTERM to it). */
  readonly signal?: AbortSignal;
  /** Environment (`NAUTILUS_*`). @default process.env */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Whether `err` is a terminal (a progress bar is drawn only there). @default false */
  readonly errIsTty?: boolean;
}

/** Flags of a command, as `util.parseArgs` takes them. */
export type CommandOptions = NonNullable<ParseArgsConfig['options']>;

/** A command's parsed arguments. */
export interface CommandArgs {
  readonly values: Readonly<Record<string, string | boolean | undefined>>;
  readonly positionals: readonly string[];
}

/** One verb of `nautilus`: its own module, registered in `commands/index.ts`. */
export interface Command {
  readonly name: string;
  /** One line for `nautilus --help`. */
  readonly summary: string;
  /** `nautilus <name> --help`: usage, options and examples. */
  readonly help: string;
  readonly options: CommandOptions;
  /** Runs it; resolves with the exit code, or throws {@link UsageError} / {@link FailureError}. */
  run(args: CommandArgs, io: CliIo): Promise<number>;
}

/** Exit codes: 0 done, 1 the operation failed, 2 the command line was wrong. */
export const EXIT = Object.freeze({ ok: 0, failed: 1, usage: 2 });

/** The command line is wrong (exit 2). */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** The operation failed (exit 1): the message is the one line printed. */
export class FailureError extends Error {
  override readonly name = 'FailureError';
}

/** The string value of flag `name`, or `undefined`. */
export function stringFlag(args: CommandArgs, name: string): string | undefined {
  const value = args.values[name];
  return typeof value === 'string' ? value : undefined;
}

/** Integer flag `--name` in [min, max], or `fallback` when absent; {@link UsageError} otherwise. */
export function integerFlag(
  args: CommandArgs,
  name: string,
  fallback: number,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number {
  const raw = stringFlag(args, name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || value < min || value > max) {
    throw new UsageError(
      `--${name} must be an integer from ${min}${max === Number.MAX_SAFE_INTEGER ? '' : ` to ${max}`} (got ${JSON.stringify(raw)})`,
    );
  }
  return value;
}

/** Checks the number of positionals: exactly the `names` given (`[name]` optional). */
export function positionals(args: CommandArgs, ...names: string[]): string[] {
  const required = names.filter((n) => !n.startsWith('['));
  if (args.positionals.length < required.length)
    throw new UsageError(`missing ${required.slice(args.positionals.length).join(' ')}`);
  if (args.positionals.length > names.length) {
    throw new UsageError(`unexpected argument ${JSON.stringify(args.positionals[names.length])}`);
  }
  return [...args.positionals];
}

/** `value` as a 160-bit id in hex, lower-cased; {@link UsageError} naming `name` otherwise. */
export function hexArg(value: string, name: string, digits = 40): string {
  if (!new RegExp(`^[0-9a-fA-F]{${digits}}$`).test(value)) {
    throw new UsageError(`${name} must be ${digits} hex digits (got ${JSON.stringify(value.slice(0, 80))})`);
  }
  return value.toLowerCase();
}

/** Writes `value` as one line of JSON. */
export function printJson(io: CliIo, value: unknown): void {
  io.out(`${JSON.stringify(value)}\n`);
}
