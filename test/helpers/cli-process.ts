import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The built `nautilus` entry point (dist/src/cli/main.js). */
export const CLI_PATH = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

/** A `nautilus` process the test started. */
export interface CliProcess {
  readonly child: ChildProcess;
  /** Everything written to stdout so far. */
  stdout(): string;
  stderr(): string;
  /** Resolves with the first stdout line matching `pattern` (rejects if the process exits first). */
  line(pattern: RegExp): Promise<string>;
  /** Exit code and signal, once it exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Sends SIGKILL if it is still running (test cleanup). */
  kill(): Promise<void>;
}

/** Environment of a spawned CLI: the test's, without NAUTILUS_* variables and with `extra`. */
export function cliEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && !key.startsWith('NAUTILUS_')) env[key] = value;
  }
  return { ...env, ...extra };
}

/** Starts `nautilus ...args` as a child process. */
export function spawnCli(args: readonly string[], env: Record<string, string> = cliEnv()): CliProcess {
  const child = spawn(process.execPath, [CLI_PATH, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const waiters = new Set<() => void>();
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk;
    for (const wake of waiters) wake();
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    err += chunk;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('close', (code, signal) => {
      for (const wake of waiters) wake();
      resolve({ code, signal });
    });
  });
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    line(pattern) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          const found = out.split('\n').find((l) => pattern.test(l));
          if (found !== undefined) {
            waiters.delete(check);
            resolve(found);
          } else if (child.exitCode !== null || child.signalCode !== null) {
            waiters.delete(check);
            reject(new Error(`nautilus exited before printing ${String(pattern)}\nstdout: ${out}\nstderr: ${err}`));
          }
        };
        waiters.add(check);
        check();
      });
    },
    async kill() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await exited;
      }
    },
  };
}

/** Runs `nautilus ...args` to its end. */
export async function runCli(
  args: readonly string[],
  env: Record<string, string> = cliEnv(),
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const cli = spawnCli(args, env);
  const { code } = await cli.exited;
  return { code, stdout: cli.stdout(), stderr: cli.stderr() };
}

/** What a `nautilus testnet --json` process printed first. */
export interface TestnetStarted {
  readonly nodes: readonly { readonly id: string; readonly address: string }[];
  readonly api: string;
  readonly token: string;
  readonly dashboard: string;
}

/** Starts `nautilus testnet --json` of `nodes` nodes with its API on a free port; resolves once it started. */
export async function spawnTestnet(nodes: number): Promise<{ testnet: CliProcess; started: TestnetStarted }> {
  const testnet = spawnCli([
    'testnet',
    '--nodes',
    String(nodes),
    '--json',
    '--http',
    '127.0.0.1:0',
    '--interval-ms',
    '60000',
  ]);
  const started = JSON.parse(await testnet.line(/^\{"event":"started"/)) as TestnetStarted;
  return { testnet, started };
}

/** Arguments of `nautilus start` for a test: loopback UDP and HTTP on free ports. */
export function startArgs(bootstrap: string, stateDir: string, ...extra: string[]): string[] {
  const args = ['start', '--host', '127.0.0.1', '--port', '0', '--http', '127.0.0.1:0'];
  return [...args, '--bootstrap', bootstrap, '--state-dir', stateDir, ...extra];
}

/** What a daemon's "nautilus daemon started" log line says. */
export interface DaemonStarted {
  readonly id: string;
  /** Its UDP sockets, `127.0.0.1:port` and `[::1]:port`. */
  readonly udp: readonly string[];
  readonly http: string;
  readonly storage: string;
}

/** The "nautilus daemon started" line of `daemon`, once printed. */
export async function daemonStarted(daemon: CliProcess): Promise<DaemonStarted> {
  return JSON.parse(await daemon.line(/"msg":"nautilus daemon started"/)) as DaemonStarted;
}
