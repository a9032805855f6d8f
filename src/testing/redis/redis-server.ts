import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { respCommand, type RespTarget } from './resp-client.js';

/** How {@link startRedisServer} starts a `redis-server`. */
export interface RedisServerOptions {
  /** Append-only file on (`appendfsync always`), so records survive a restart. @default false */
  readonly aof?: boolean;
  /** Working directory (AOF, logs). @default a fresh temp dir, removed by `stop()` */
  readonly dir?: string;
  /** Extra `redis-server` arguments, e.g. `['--maxmemory', '1mb']`. @default [] */
  readonly args?: readonly string[];
  /** How long to wait for the server to answer PING, in ms. @default 10_000 */
  readonly startTimeoutMs?: number;
  /**
   * Serve TLS only (`--port 0 --tls-port <port>`): `url` becomes `rediss://127.0.0.1:<port>`,
   * and the helper's own connections (`command()`, the readiness PING) trust `caFile`.
   * @default plain TCP
   */
  readonly tls?: RedisServerTlsOptions;
  /**
   * `requirepass`: the password of the `default` user. The helper's own connections
   * authenticate with it.
   * @default none (no password)
   */
  readonly password?: string;
  /**
   * ACL users, one rule list each, as `ACL SETUSER` takes them: `'app on >secret ~* +@all'`.
   * They do not change how the helper itself authenticates (as `default`, with `password`).
   * @default []
   */
  readonly users?: readonly string[];
}

/**
 * TLS files of a test server: the names match `TestCertificates` (see `createTestCertificates`), so
 * `startRedisServer({ tls: await createTestCertificates() })` works as is.
 */
export interface RedisServerTlsOptions {
  /** PEM file of the server certificate (`tls-cert-file`). */
  readonly serverCertFile: string;
  /** PEM file of the server's private key (`tls-key-file`). */
  readonly serverKeyFile: string;
  /** PEM file of the CA (`tls-ca-cert-file`): clients trust it, and the server checks client certificates against it. */
  readonly caFile: string;
  /**
   * `tls-auth-clients`: whether clients must present a certificate signed by the CA.
   * With `'yes'`, give `clientCertFile` and `clientKeyFile` for the helper's own connections.
   * @default 'no'
   */
  readonly authClients?: 'yes' | 'no' | 'optional';
  /** PEM file of a client certificate the helper's own connections present. @default none */
  readonly clientCertFile?: string;
  /** PEM file of the key of `clientCertFile`. @default none */
  readonly clientKeyFile?: string;
}

/** A running `redis-server` child process on 127.0.0.1. */
export interface RedisServerHandle {
  /** TCP port on 127.0.0.1 (the TLS port with `tls`: the server has no plain port then). */
  readonly port: number;
  /** `redis://127.0.0.1:<port>`, or `rediss://…` with `tls`. */
  readonly url: string;
  /** Working directory of the server. */
  readonly dir: string;
  /** Pid of the current process (changes after `restart()`). */
  readonly pid: number;
  /** Whether the process is running. */
  readonly running: boolean;
  /** SIGTERM (SIGKILL after 5 s), waits for exit, removes the temp dir it created. Idempotent. */
  stop(): Promise<void>;
  /** `kill -9`: SIGKILL by pid and wait for the exit; the directory is kept for `restart()`. */
  kill9(): Promise<void>;
  /** Starts the server again on the same port and directory (stopping it first if running). */
  restart(): Promise<void>;
  /**
   * Sends one command with a minimal RESP client (over TLS and after `AUTH` as the server's
   * options require); resolves to the reply as text, rejects with an error reply's text.
   */
  command(...args: readonly string[]): Promise<string>;
}

/** Starts a `redis-server` (Debian package) on a free loopback port in a temp dir. */
export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServerHandle> {
  const ownDir = options.dir === undefined;
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), 'nautilus-redis-')));
  const args = [
    ...(options.aof === true ? ['--appendonly', 'yes', '--appendfsync', 'always'] : []),
    ...securityArgs(options),
    ...(options.args ?? []),
  ];
  try {
    const port = await freePort(false);
    const access = await accessOf(port, options);
    const server = new LocalRedisServer(port, dir, ownDir, args, options.startTimeoutMs ?? 10_000, access);
    await server.start();
    return server;
  } catch (error) {
    if (ownDir) await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

// Servers still running when the process exits (a crashed or interrupted test run) are killed
// by pid here, so none outlives the tests that started it.
const running = new Set<number>();
let exitHookInstalled = false;

/** Kills `pid` (SIGKILL) if it still runs when this process exits (the etcd helpers use it too). */
export function track(pid: number): void {
  running.add(pid);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const orphan of running) {
      try {
        process.kill(orphan, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  });
}

/** Forgets `pid` (it exited). */
export function untrack(pid: number): void {
  running.delete(pid);
}

/** Server arguments of the TLS, password and ACL options (for the cluster helper too). */
export function securityArgs(options: RedisServerOptions): string[] {
  const args: string[] = [];
  const tls = options.tls;
  if (tls !== undefined) {
    args.push(
      '--tls-cert-file',
      tls.serverCertFile,
      '--tls-key-file',
      tls.serverKeyFile,
      '--tls-ca-cert-file',
      tls.caFile,
      '--tls-auth-clients',
      tls.authClients ?? 'no',
    );
  }
  if (options.password !== undefined) args.push('--requirepass', options.password);
  // each `--user` line is one ACL rule list, split on spaces as redis.conf would
  for (const user of options.users ?? []) args.push('--user', ...user.split(' ').filter((word) => word !== ''));
  return args;
}

/** How the helpers' own connections reach a node started with `options`. */
export async function accessOf(port: number, options: RedisServerOptions): Promise<RespTarget> {
  const tls = options.tls;
  const pem = (path: string | undefined): Promise<string | undefined> =>
    path === undefined ? Promise.resolve(undefined) : readFile(path, 'utf8');
  return {
    port,
    auth: options.password,
    tls:
      tls === undefined
        ? undefined
        : {
            ca: (await pem(tls.caFile)) as string,
            ...(tls.clientCertFile === undefined ? {} : { cert: (await pem(tls.clientCertFile)) as string }),
            ...(tls.clientKeyFile === undefined ? {} : { key: (await pem(tls.clientKeyFile)) as string }),
          },
  };
}

/** A `redis-server` child process (for the cluster helper too; users get a {@link RedisServerHandle}). */
export class LocalRedisServer implements RedisServerHandle {
  readonly port: number;
  readonly url: string;
  readonly dir: string;
  readonly #ownDir: boolean;
  readonly #args: readonly string[];
  readonly #startTimeoutMs: number;
  readonly #access: RespTarget;
  #child: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();
  #stopped = false;

  constructor(
    port: number,
    dir: string,
    ownDir: boolean,
    args: readonly string[],
    startTimeoutMs: number,
    access: RespTarget,
  ) {
    this.port = port;
    this.url = `${access.tls === undefined ? 'redis' : 'rediss'}://127.0.0.1:${port}`;
    this.#access = access;
    this.dir = dir;
    this.#ownDir = ownDir;
    this.#args = args;
    this.#startTimeoutMs = startTimeoutMs;
  }

  get pid(): number {
    return this.#child?.pid ?? -1;
  }

  get running(): boolean {
    return this.#child !== undefined;
  }

  async start(): Promise<void> {
    const child = spawn(
      'redis-server',
      [
        // with TLS the server listens on the TLS port only (`--port 0`: no plain port)
        ...(this.#access.tls === undefined
          ? ['--port', String(this.port)]
          : ['--port', '0', '--tls-port', String(this.port)]),
        '--bind',
        '127.0.0.1',
        '--dir',
        this.dir,
        '--save',
        '',
        '--daemonize',
        'no',
        '--logfile',
        'redis.log',
        ...this.#args,
      ],
      { stdio: 'ignore' },
    );
    this.#child = child;
    if (child.pid !== undefined) track(child.pid);
    let exitCode: number | null | undefined;
    this.#exited = new Promise((resolve) => {
      child.once('exit', (code) => {
        if (child.pid !== undefined) untrack(child.pid);
        exitCode = code;
        if (this.#child === child) this.#child = undefined;
        resolve();
      });
      child.once('error', () => {
        exitCode = -1;
        if (this.#child === child) this.#child = undefined;
        resolve();
      });
    });
    const deadline = Date.now() + this.#startTimeoutMs;
    for (;;) {
      if (exitCode !== undefined)
        throw new Error(`redis-server on port ${this.port} exited with ${exitCode} (see ${this.dir}/redis.log)`);
      try {
        // an AOF replay answers -LOADING until it is done
        if ((await this.command('PING')) === 'PONG') return;
      } catch (error) {
        // up, but with a password (requirepass): ready as well; otherwise not listening yet
        if (error instanceof Error && error.message.startsWith('NOAUTH')) return;
      }
      if (Date.now() > deadline) {
        await this.kill9();
        throw new Error(`redis-server on port ${this.port} did not answer PING within ${this.#startTimeoutMs} ms`);
      }
      await sleep(20);
    }
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    const child = this.#child;
    if (child?.pid !== undefined) {
      process.kill(child.pid, 'SIGTERM');
      const timer = setTimeout(() => {
        if (child.pid !== undefined && child.exitCode === null) process.kill(child.pid, 'SIGKILL');
      }, 5000);
      await this.#exited;
      clearTimeout(timer);
    }
    if (this.#ownDir) await rm(this.dir, { recursive: true, force: true });
  }

  async kill9(): Promise<void> {
    const child = this.#child;
    if (child?.pid === undefined) return;
    process.kill(child.pid, 'SIGKILL');
    await this.#exited;
  }

  async restart(): Promise<void> {
    if (this.#child !== undefined) {
      const child = this.#child;
      if (child.pid !== undefined) process.kill(child.pid, 'SIGTERM');
      await this.#exited;
    }
    this.#stopped = false;
    await this.start();
  }

  command(...args: readonly string[]): Promise<string> {
    return respCommand(this.#access, args);
  }
}

/** A free TCP port on 127.0.0.1 (with `bus`, port + 10000 is free too, for the cluster bus). */
export async function freePort(bus: boolean): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await listenOnce(0);
    if (!bus) return port;
    if (port + 10000 > 65535) continue;
    try {
      await listenOnce(port + 10000);
      return port;
    } catch {
      // bus port taken: pick another
    }
  }
  throw new Error('no free port pair found for a cluster node');
}

function listenOnce(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      const address = server.address();
      const chosen = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(chosen));
    });
  });
}
