import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
// members still running when the process exits (a crashed run) are killed by pid there
import { freePort, track, untrack } from '../redis/redis-server.js';

/** How {@link startEtcdServer} and {@link startEtcdCluster} start `etcd` members. */
export interface EtcdServerOptions {
  /**
   * Raft heartbeat interval in ms (etcd's `--heartbeat-interval`); the election timeout is ten
   * times it. Shorter than etcd's 100 ms so that failovers in tests take well under a second.
   * @default 50
   */
  readonly heartbeatMs?: number;
  /** How long to wait for every member to report healthy, in ms. @default 20_000 */
  readonly startTimeoutMs?: number;
  /** Extra `etcd` arguments for every member, e.g. `['--max-txn-ops', '64']`. @default [] */
  readonly args?: readonly string[];
}

/** One running `etcd` member on 127.0.0.1. */
export interface EtcdMemberHandle {
  /** The member's `--name`. */
  readonly name: string;
  /** `http://127.0.0.1:<client port>`: what clients connect to. */
  readonly clientUrl: string;
  /** `http://127.0.0.1:<peer port>`: Raft traffic between members. */
  readonly peerUrl: string;
  /** Data directory (a temp dir, on tmpfs when the machine has `/dev/shm`). */
  readonly dir: string;
  /** Pid of the current process (changes after `restart()`), -1 while stopped. */
  readonly pid: number;
  /** Whether the process is running (a paused one is running). */
  readonly running: boolean;
  /** `kill -9` by pid, waits for the exit; the data dir stays for `restart()`. */
  kill9(): Promise<void>;
  /**
   * SIGSTOP: the process stays but answers nothing (a hung or partitioned member). Resolves once
   * the process is stopped (Linux: its state in /proc), so nothing sent afterwards is answered.
   */
  pause(): Promise<void>;
  /** SIGCONT after `pause()`. */
  resume(): void;
  /** Starts the member again with the same name, ports and data dir. */
  restart(): Promise<void>;
  /** Whether the member answers `/health` with `true` (it has a leader). */
  healthy(): Promise<boolean>;
}

/** A running one-member or multi-member etcd cluster on loopback. */
export interface EtcdClusterHandle {
  readonly members: readonly EtcdMemberHandle[];
  /** Every member's client URL, for a client's `hosts`. */
  readonly endpoints: readonly string[];
  /** The member the others follow now, asked of the first running member that answers. */
  leader(): Promise<EtcdMemberHandle>;
  /** Resolves once every running member reports healthy (or rejects after `timeoutMs`). */
  waitHealthy(timeoutMs?: number): Promise<void>;
  /**
   * SIGKILL to every member (the data is thrown away: a graceful stop of a whole cluster waits
   * seconds on leader transfers), waits for the exits, removes the data dirs. Idempotent.
   */
  stop(): Promise<void>;
}

/** Starts a one-member etcd (Debian `etcd-server`) on free loopback ports in a temp dir. */
export async function startEtcdServer(options: EtcdServerOptions = {}): Promise<EtcdClusterHandle> {
  return startEtcdCluster(1, options);
}

/** Starts an etcd cluster of `size` members, each on its own free loopback ports and temp dir. */
export async function startEtcdCluster(size: number, options: EtcdServerOptions = {}): Promise<EtcdClusterHandle> {
  if (!Number.isSafeInteger(size) || size < 1) throw new Error(`size must be a positive integer (got ${size})`);
  const base = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
  const members: LocalEtcdMember[] = [];
  const token = `nautilus-${process.pid}-${Date.now()}`;
  const specs: { name: string; client: number; peer: number; dir: string }[] = [];
  for (let i = 0; i < size; i++) {
    specs.push({
      name: `m${i}`,
      client: await freePort(false),
      peer: await freePort(false),
      dir: await mkdtemp(join(base, 'nautilus-etcd-')),
    });
  }
  const initialCluster = specs.map((s) => `${s.name}=http://127.0.0.1:${s.peer}`).join(',');
  const heartbeat = options.heartbeatMs ?? 50;
  const common = [
    '--initial-cluster',
    initialCluster,
    '--initial-cluster-token',
    token,
    '--heartbeat-interval',
    String(heartbeat),
    '--election-timeout',
    String(heartbeat * 10),
    '--logger',
    'zap',
    '--log-outputs',
    'stderr',
    ...(options.args ?? []),
  ];
  for (const spec of specs) members.push(new LocalEtcdMember(spec.name, spec.client, spec.peer, spec.dir, common));
  const cluster = new LocalEtcdCluster(members);
  try {
    for (const member of members) member.spawn('new');
    await cluster.waitHealthy(options.startTimeoutMs ?? 20_000);
    return cluster;
  } catch (error) {
    await cluster.stop();
    throw error;
  }
}

class LocalEtcdMember implements EtcdMemberHandle {
  readonly name: string;
  readonly clientUrl: string;
  readonly peerUrl: string;
  readonly dir: string;
  readonly #args: readonly string[];
  #child: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();

  constructor(name: string, client: number, peer: number, dir: string, common: readonly string[]) {
    this.name = name;
    this.clientUrl = `http://127.0.0.1:${client}`;
    this.peerUrl = `http://127.0.0.1:${peer}`;
    this.dir = dir;
    this.#args = [
      '--name',
      name,
      '--data-dir',
      join(dir, 'data'),
      '--listen-client-urls',
      this.clientUrl,
      '--advertise-client-urls',
      this.clientUrl,
      '--listen-peer-urls',
      this.peerUrl,
      '--initial-advertise-peer-urls',
      this.peerUrl,
      ...common,
    ];
  }

  get pid(): number {
    return this.#child?.pid ?? -1;
  }

  get running(): boolean {
    return this.#child !== undefined;
  }

  spawn(state: 'new' | 'existing'): void {
    const child = spawn('etcd', [...this.#args, '--initial-cluster-state', state], { stdio: 'ignore' });
    this.#child = child;
    if (child.pid !== undefined) track(child.pid);
    this.#exited = new Promise((resolve) => {
      const done = (): void => {
        if (child.pid !== undefined) untrack(child.pid);
        if (this.#child === child) this.#child = undefined;
        resolve();
      };
      child.once('exit', done);
      child.once('error', done);
    });
  }

  async healthy(): Promise<boolean> {
    try {
      const response = await fetch(`${this.clientUrl}/health`, { signal: AbortSignal.timeout(1000) });
      const body = (await response.json()) as { health?: unknown };
      return body.health === 'true';
    } catch {
      return false;
    }
  }

  /** The member id this member reports for itself and for the leader, from the JSON gateway. */
  async status(): Promise<{ self: string; leader: string } | undefined> {
    try {
      const response = await fetch(`${this.clientUrl}/v3/maintenance/status`, {
        method: 'POST',
        body: '{}',
        signal: AbortSignal.timeout(1000),
      });
      const body = (await response.json()) as { header?: { member_id?: string }; leader?: string };
      if (body.header?.member_id === undefined || body.leader === undefined) return undefined;
      return { self: body.header.member_id, leader: body.leader };
    } catch {
      return undefined;
    }
  }

  async kill9(): Promise<void> {
    const child = this.#child;
    if (child?.pid === undefined) return;
    process.kill(child.pid, 'SIGKILL');
    await this.#exited;
  }

  async pause(): Promise<void> {
    const pid = this.#child?.pid;
    if (pid === undefined) return;
    process.kill(pid, 'SIGSTOP');
    // the signal is delivered asynchronously: wait until the kernel reports the process stopped
    // (state T in /proc on Linux), so that nothing sent after pause() is answered
    const deadline = Date.now() + 5000;
    for (;;) {
      const stat = await readFile(`/proc/${pid}/stat`, 'latin1').catch(() => undefined);
      if (stat === undefined) return; // no procfs: the signal is all there is
      if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('T')) return;
      if (Date.now() > deadline)
        throw new Error(`etcd member ${this.name} (pid ${pid}) did not stop within 5 s of SIGSTOP`);
      await sleep(5);
    }
  }

  resume(): void {
    if (this.#child?.pid !== undefined) process.kill(this.#child.pid, 'SIGCONT');
  }

  async restart(): Promise<void> {
    await this.terminate();
    this.spawn('existing');
  }

  /** SIGCONT then SIGTERM (SIGKILL after 5 s) and wait for the exit. */
  async terminate(): Promise<void> {
    const child = this.#child;
    if (child?.pid === undefined) return;
    const pid = child.pid;
    process.kill(pid, 'SIGCONT');
    process.kill(pid, 'SIGTERM');
    const timer = setTimeout(() => {
      if (child.exitCode === null) process.kill(pid, 'SIGKILL');
    }, 5000);
    await this.#exited;
    clearTimeout(timer);
  }
}

class LocalEtcdCluster implements EtcdClusterHandle {
  readonly members: readonly LocalEtcdMember[];
  readonly endpoints: readonly string[];
  #stopped = false;

  constructor(members: readonly LocalEtcdMember[]) {
    this.members = members;
    this.endpoints = members.map((m) => m.clientUrl);
  }

  async leader(): Promise<EtcdMemberHandle> {
    const ids = new Map<string, LocalEtcdMember>();
    let leader: string | undefined;
    for (const member of this.members) {
      if (!member.running) continue;
      const status = await member.status();
      if (status === undefined) continue;
      ids.set(status.self, member);
      leader ??= status.leader === '0' ? undefined : status.leader;
    }
    const found = leader === undefined ? undefined : ids.get(leader);
    if (found === undefined) throw new Error('no member reports a leader that answers');
    return found;
  }

  async waitHealthy(timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const live = this.members.filter((m) => m.running);
      if (live.length === 0) throw new Error('no etcd member is running (see its stderr: run etcd by hand)');
      const health = await Promise.all(live.map((m) => m.healthy()));
      if (health.every(Boolean)) return;
      if (Date.now() > deadline) throw new Error(`etcd members not healthy within ${timeoutMs} ms`);
      await sleep(25);
    }
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    await Promise.all(this.members.map((m) => m.kill9()));
    await Promise.all(this.members.map((m) => rm(m.dir, { recursive: true, force: true })));
  }
}
