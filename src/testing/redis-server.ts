import { type ChildProcess, execFile, spawn } from 'node:child_process';
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

/** How {@link startRedisCluster} builds a cluster. */
export interface RedisClusterOptions {
  /** Number of masters (at least 3, as `redis-cli --cluster create` requires). @default 3 */
  readonly masters?: number;
  /** Replicas per master. @default 1 */
  readonly replicasPerMaster?: number;
  /** `cluster-node-timeout` in ms: how long before a silent master is failed over. @default 1000 */
  readonly nodeTimeoutMs?: number;
  /**
   * How long to wait for `cluster_state:ok` on every node, in ms. Nodes run with
   * `cluster-require-full-coverage no`, so the slots of live masters stay available while a
   * dead master's slots fail over.
   * @default 30_000
   */
  readonly readyTimeoutMs?: number;
  /**
   * Every node serves TLS only, the cluster bus and replication included (`tls-cluster`,
   * `tls-replication`); `urls` are `rediss://…`.
   * @default plain TCP
   */
  readonly tls?: RedisServerTlsOptions;
  /** `requirepass` (and `masterauth`, for replicas) on every node. @default none */
  readonly password?: string;
  /** ACL users on every node, as in {@link RedisServerOptions.users}. @default [] */
  readonly users?: readonly string[];
}

/** A running local Redis Cluster. */
export interface RedisClusterHandle {
  /** Every node, masters first as created (roles change after a failover). */
  readonly nodes: readonly RedisServerHandle[];
  /** `redis://127.0.0.1:<port>` (`rediss://` with `tls`) of every node, to use as root nodes. */
  readonly urls: readonly string[];
  /** The nodes currently acting as masters (asks every running node for its role). */
  masters(): Promise<RedisServerHandle[]>;
  /** Resolves when every running node reports `cluster_state:ok` (bounded by `timeoutMs`). */
  waitUntilReady(timeoutMs?: number): Promise<void>;
  /**
   * Resolves when every running node sees all 16384 slots served by running masters: after a
   * master died, that is when its replica's failover is complete.
   */
  waitForFullCoverage(timeoutMs?: number): Promise<void>;
  /** The slot ranges `[first, last]` the node serves as a master (none for a replica). */
  slotRanges(node: RedisServerHandle): Promise<[number, number][]>;
  /** Removes every key on every running master. */
  flushAll(): Promise<void>;
  /** Stops every node by pid and removes their temp dirs. Idempotent. */
  stop(): Promise<void>;
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

/**
 * Starts a local Redis Cluster (`masters` × (1 + `replicasPerMaster`) nodes on free loopback
 * ports), joins it with `redis-cli --cluster create`, and waits for `cluster_state:ok`.
 */
export async function startRedisCluster(options: RedisClusterOptions = {}): Promise<RedisClusterHandle> {
  const masters = options.masters ?? 3;
  const replicas = options.replicasPerMaster ?? 1;
  const nodeTimeoutMs = options.nodeTimeoutMs ?? 1000;
  const nodes: LocalRedisServer[] = [];
  const cluster = new LocalRedisCluster(nodes);
  try {
    for (let i = 0; i < masters * (1 + replicas); i++) {
      const dir = await mkdtemp(join(tmpdir(), 'nautilus-redis-cluster-'));
      const port = await freePort(true);
      const args = [
        '--cluster-enabled', 'yes',
        '--cluster-config-file', 'nodes.conf',
        '--cluster-node-timeout', String(nodeTimeoutMs),
        // a replica of a dead master may take over however stale it is (loopback: never stale)
        '--cluster-replica-validity-factor', '0',
        // healthy slots stay writable while a dead master's slots wait for their failover
        '--cluster-require-full-coverage', 'no',
        // replicas sync at once instead of waiting 5 s for more replicas to batch with
        '--repl-diskless-sync-delay', '0',
      ];
      args.push(...securityArgs(options));
      if (options.tls !== undefined) args.push('--tls-cluster', 'yes', '--tls-replication', 'yes');
      if (options.password !== undefined) args.push('--masterauth', options.password);
      const node = new LocalRedisServer(port, dir, true, args, 10_000, await accessOf(port, options));
      nodes.push(node);
      await node.start();
    }
    await run('redis-cli', [
      '--cluster', 'create',
      ...nodes.map((n) => `127.0.0.1:${n.port}`),
      '--cluster-replicas', String(replicas),
      '--cluster-yes',
      ...redisCliArgs(options),
    ]);
    await cluster.waitUntilReady(options.readyTimeoutMs ?? 30_000);
    await cluster.waitForReplicas(replicas * masters, options.readyTimeoutMs ?? 30_000);
    return cluster;
  } catch (error) {
    await cluster.stop();
    throw error;
  }
}

// Servers still running when the process exits (a crashed or interrupted test run) are killed
// by pid here, so none outlives the tests that started it.
const running = new Set<number>();
let exitHookInstalled = false;

function track(pid: number): void {
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

/** Server arguments of the TLS, password and ACL options. */
function securityArgs(options: RedisServerOptions | RedisClusterOptions): string[] {
  const args: string[] = [];
  const tls = options.tls;
  if (tls !== undefined) {
    args.push(
      '--tls-cert-file', tls.serverCertFile,
      '--tls-key-file', tls.serverKeyFile,
      '--tls-ca-cert-file', tls.caFile,
      '--tls-auth-clients', tls.authClients ?? 'no',
    );
  }
  if (options.password !== undefined) args.push('--requirepass', options.password);
  // each `--user` line is one ACL rule list, split on spaces as redis.conf would
  for (const user of options.users ?? []) args.push('--user', ...user.split(' ').filter((word) => word !== ''));
  return args;
}

/** How the helper's own connections reach a node started with `options`. */
async function accessOf(port: number, options: RedisServerOptions | RedisClusterOptions): Promise<RespTarget> {
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

/** `redis-cli` flags to reach nodes started with `options`. */
function redisCliArgs(options: RedisClusterOptions): string[] {
  const args: string[] = [];
  const tls = options.tls;
  if (tls !== undefined) {
    args.push('--tls', '--cacert', tls.caFile);
    if (tls.clientCertFile !== undefined && tls.clientKeyFile !== undefined) {
      args.push('--cert', tls.clientCertFile, '--key', tls.clientKeyFile);
    }
  }
  if (options.password !== undefined) args.push('-a', options.password, '--no-auth-warning');
  return args;
}

class LocalRedisServer implements RedisServerHandle {
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
        ...(this.#access.tls === undefined ? ['--port', String(this.port)] : ['--port', '0', '--tls-port', String(this.port)]),
        '--bind', '127.0.0.1',
        '--dir', this.dir,
        '--save', '',
        '--daemonize', 'no',
        '--logfile', 'redis.log',
        ...this.#args,
      ],
      { stdio: 'ignore' },
    );
    this.#child = child;
    if (child.pid !== undefined) track(child.pid);
    let exitCode: number | null | undefined;
    this.#exited = new Promise((resolve) => {
      child.once('exit', (code) => {
        if (child.pid !== undefined) running.delete(child.pid);
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
      if (exitCode !== undefined) throw new Error(`redis-server on port ${this.port} exited with ${exitCode} (see ${this.dir}/redis.log)`);
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

class LocalRedisCluster implements RedisClusterHandle {
  readonly nodes: LocalRedisServer[];

  constructor(nodes: LocalRedisServer[]) {
    this.nodes = nodes;
  }

  get urls(): string[] {
    return this.nodes.map((n) => n.url);
  }

  async masters(): Promise<RedisServerHandle[]> {
    const out: RedisServerHandle[] = [];
    for (const node of this.nodes) {
      if (!node.running) continue;
      const info = await node.command('INFO', 'replication');
      if (/^role:master/m.test(info)) out.push(node);
    }
    return out;
  }

  async waitUntilReady(timeoutMs = 30_000): Promise<void> {
    await waitFor(timeoutMs, 'cluster_state:ok on every node', async () => {
      for (const node of this.nodes) {
        if (!node.running) continue;
        if (!/^cluster_state:ok/m.test(await node.command('CLUSTER', 'INFO'))) return false;
      }
      return true;
    });
  }

  async waitForReplicas(count: number, timeoutMs: number): Promise<void> {
    await waitFor(timeoutMs, `${count} replicas in sync`, async () => {
      let synced = 0;
      for (const node of this.nodes) {
        const info = await node.command('INFO', 'replication');
        if (/^role:slave/m.test(info) && /^master_link_status:up/m.test(info)) synced++;
      }
      return synced >= count;
    });
  }

  async waitForFullCoverage(timeoutMs = 30_000): Promise<void> {
    await waitFor(timeoutMs, 'every slot served by a healthy master', async () => {
      const running = new Set(this.nodes.filter((n) => n.running).map((n) => `127.0.0.1:${n.port}`));
      for (const node of this.nodes) {
        if (!node.running) continue;
        let covered = 0;
        for (const line of (await node.command('CLUSTER', 'NODES')).split('\n')) {
          const [, address = '', flags = '', , , , , , ...slots] = line.trim().split(' ');
          const roles = flags.split(',');
          if (!roles.includes('master') || roles.includes('fail') || !running.has(address.split('@')[0] ?? '')) continue;
          for (const [first, last] of parseSlots(slots)) covered += last - first + 1;
        }
        if (covered !== 16384) return false;
      }
      return true;
    });
  }

  async slotRanges(node: RedisServerHandle): Promise<[number, number][]> {
    for (const line of (await node.command('CLUSTER', 'NODES')).split('\n')) {
      const [, , flags = '', , , , , , ...slots] = line.trim().split(' ');
      const roles = flags.split(',');
      if (roles.includes('myself')) return roles.includes('master') ? parseSlots(slots) : [];
    }
    return [];
  }

  async flushAll(): Promise<void> {
    for (const node of await this.masters()) await node.command('FLUSHALL');
  }

  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.stop()));
  }
}

/** Slot fields of a `CLUSTER NODES` line (`0-5460`, `5461`; importing/migrating marks skipped). */
function parseSlots(fields: readonly string[]): [number, number][] {
  const ranges: [number, number][] = [];
  for (const field of fields) {
    if (field.startsWith('[')) continue;
    const [first = '', last = first] = field.split('-');
    ranges.push([Number(first), Number(last)]);
  }
  return ranges;
}

async function waitFor(timeoutMs: number, what: string, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await check()) return;
    } catch {
      // a node still starting; ask again
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
}

/** A free TCP port on 127.0.0.1 (with `bus`, port + 10000 is free too, for the cluster bus). */
async function freePort(bus: boolean): Promise<number> {
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

function run(command: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { timeout: 60_000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${command} ${args.join(' ')} failed: ${stderr || error.message}`, { cause: error }));
      else resolve(stdout);
    });
  });
}
