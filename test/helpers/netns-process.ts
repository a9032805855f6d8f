import { execFile, spawn, type ChildProcess } from 'node:child_process';

/**
 * Processes inside a network namespace the test created, each bounded in time: started as
 * `ip netns exec <ns> timeout -s KILL <s> <argv…>` in a process group of its own, so that a kill by
 * its pid (the group) ends it and everything it started, and a test that forgets it cannot leave
 * it running past its bound.
 */

/** How a process ended. */
export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** One line a process printed on stdout as JSON (`{"id":…}` replies and `{"event":…}` events). */
export type JsonLine = Record<string, unknown>;

/** A process started inside a namespace. */
export interface NsProcess {
  /** The namespace it runs in. */
  readonly ns: string;
  /** Pid of the process group leader (`timeout`). */
  readonly pid: number;
  readonly child: ChildProcess;
  /** Everything written to stdout / stderr so far. */
  stdout(): string;
  stderr(): string;
  /** Resolves with the first stdout line matching `pattern`; rejects after `timeoutMs` or if the process exits first. */
  line(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** Resolves with the first stdout JSON line `accept` returns true for (same bounds as `line`). */
  json(accept: (line: JsonLine) => boolean, timeoutMs?: number): Promise<JsonLine>;
  /**
   * Writes `{"id":n,"cmd":cmd,...args}` to stdin and resolves with the `{"id":n,…}` line it answers;
   * an answer with an `error` field rejects with it.
   */
  request(cmd: string, args?: Record<string, unknown>, timeoutMs?: number): Promise<JsonLine>;
  readonly exited: Promise<Exit>;
  /** Sends `signal` (default SIGKILL) to the process group and waits (≤ 5 s) for it to end. */
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/** Options of `spawnIn`. */
export interface SpawnOptions {
  /** Hard bound on the process's life in ms; `timeout -s KILL` ends it then. @default 60000 */
  readonly timeoutMs?: number;
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
}

/** Default bound of a wait on a line or a reply (ms). */
export const DEFAULT_WAIT_MS = 20_000;

/** Starts `argv` inside namespace `ns`. */
export function spawnIn(ns: string, argv: readonly string[], options: SpawnOptions = {}): NsProcess {
  const seconds = Math.max(1, Math.ceil((options.timeoutMs ?? 60_000) / 1000));
  const child = spawn('ip', ['netns', 'exec', ns, 'timeout', '-s', 'KILL', String(seconds), ...argv], {
    stdio: ['pipe', 'pipe', 'pipe'],
    detached: true,
    env: options.env ?? process.env,
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not start ${argv.join(' ')} in ${ns}`);
  let out = '';
  let err = '';
  let parsed: JsonLine[] = [];
  let pending = '';
  const waiters = new Set<() => void>();
  const wake = (): void => {
    for (const w of [...waiters]) w();
  };
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk;
    pending += chunk;
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const l of lines) {
      if (!l.startsWith('{')) continue;
      try {
        parsed.push(JSON.parse(l) as JsonLine);
      } catch {
        // a line that merely starts with a brace is not a message
      }
    }
    wake();
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    err += chunk;
  });
  // writing to a process that already died raises EPIPE on stdin: the exit is what tests look at
  child.stdin?.on('error', () => {});
  let ended: Exit | undefined;
  const exited = new Promise<Exit>((resolve) => {
    child.once('close', (code, signal) => {
      ended = { code, signal };
      wake();
      resolve(ended);
    });
  });

  const waitFor = <T>(find: () => T | undefined, what: string, timeoutMs: number): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const finish = (): void => {
        waiters.delete(check);
        clearTimeout(timer);
      };
      const check = (): void => {
        const found = find();
        if (found !== undefined) {
          finish();
          resolve(found);
        } else if (ended !== undefined) {
          finish();
          reject(new Error(`${argv.join(' ')} in ${ns} ended (${describeExit(ended)}) before ${what}${tail()}`));
        }
      };
      const timer = setTimeout(() => {
        finish();
        reject(new Error(`no ${what} from ${argv.join(' ')} in ${ns} within ${timeoutMs} ms${tail()}`));
      }, timeoutMs);
      waiters.add(check);
      check();
    });
  const tail = (): string => `\nstdout: ${out.slice(-2000)}\nstderr: ${err.slice(-2000)}`;

  let nextId = 1;
  const proc: NsProcess = {
    ns,
    pid,
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    line: (pattern, timeoutMs = DEFAULT_WAIT_MS) =>
      waitFor(() => out.split('\n').find((l) => pattern.test(l)), `a line matching ${String(pattern)}`, timeoutMs),
    json: (accept, timeoutMs = DEFAULT_WAIT_MS) =>
      waitFor(() => parsed.find(accept), 'the awaited JSON line', timeoutMs),
    async request(cmd, args = {}, timeoutMs = DEFAULT_WAIT_MS) {
      const id = nextId++;
      child.stdin?.write(`${JSON.stringify({ ...args, id, cmd })}\n`);
      const reply = await waitFor(() => parsed.find((l) => l['id'] === id), `the reply to ${cmd}`, timeoutMs);
      parsed = parsed.filter((l) => l !== reply);
      if (reply['error'] !== undefined) throw new Error(`${cmd} failed in ${ns}: ${JSON.stringify(reply['error'])}`);
      return reply;
    },
    async kill(signal = 'SIGKILL') {
      if (ended !== undefined) return;
      try {
        process.kill(-pid, signal);
      } catch {
        // the group is already gone
      }
      const bound = new Promise<void>((resolve) => setTimeout(resolve, 5000).unref());
      await Promise.race([exited, bound]);
    },
  };
  return proc;
}

function describeExit(exit: Exit): string {
  return exit.signal === null ? `code ${String(exit.code)}` : `signal ${exit.signal}`;
}

/** Runs a short command to its end (bounded by `timeoutMs`, default 10 s); rejects on a non-zero exit. */
export function run(
  file: string,
  args: readonly string[],
  options: { readonly timeoutMs?: number; readonly input?: string } = {},
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      file,
      args,
      { timeout: options.timeoutMs ?? 10_000, killSignal: 'SIGKILL', maxBuffer: 4 << 20 },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`${file} ${args.join(' ')} failed: ${error.message}\n${stderr}`));
        else resolve(stdout);
      },
    );
    if (options.input !== undefined) child.stdin?.end(options.input);
  });
}
