import { execFile } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  accessOf,
  freePort,
  LocalRedisServer,
  type RedisServerHandle,
  type RedisServerTlsOptions,
  securityArgs,
} from './redis-server.js';

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
  /** ACL users on every node, as the `users` of `startRedisServer`. @default [] */
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
        '--cluster-enabled',
        'yes',
        '--cluster-config-file',
        'nodes.conf',
        '--cluster-node-timeout',
        String(nodeTimeoutMs),
        // a replica of a dead master may take over however stale it is (loopback: never stale)
        '--cluster-replica-validity-factor',
        '0',
        // healthy slots stay writable while a dead master's slots wait for their failover
        '--cluster-require-full-coverage',
        'no',
        // replicas sync at once instead of waiting 5 s for more replicas to batch with
        '--repl-diskless-sync-delay',
        '0',
      ];
      args.push(...securityArgs(options));
      if (options.tls !== undefined) args.push('--tls-cluster', 'yes', '--tls-replication', 'yes');
      if (options.password !== undefined) args.push('--masterauth', options.password);
      const node = new LocalRedisServer(port, dir, true, args, 10_000, await accessOf(port, options));
      nodes.push(node);
      await node.start();
    }
    await run('redis-cli', [
      '--cluster',
      'create',
      ...nodes.map((n) => `127.0.0.1:${n.port}`),
      '--cluster-replicas',
      String(replicas),
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
          if (!roles.includes('master') || roles.includes('fail') || !running.has(address.split('@')[0] ?? ''))
            continue;
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

function run(command: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { timeout: 60_000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${command} ${args.join(' ')} failed: ${stderr || error.message}`, { cause: error }));
      else resolve(stdout);
    });
  });
}
