import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run, spawnIn, type NsProcess, type SpawnOptions } from './netns-process.js';

/**
 * A lab of real NATs built from network namespaces, one per test (see docs/nat.md, "Testing"):
 *
 *   pub   — the "internet": a bridge holding the public hosts' addresses 198.51.100.2, .3, …
 *   rtrN  — a home router: WAN 198.51.100.1 (the first; then .11, .12, …) on the `pub` bridge,
 *           LAN bridge 10.99.N.1/24; nftables: input and forward drop by default, established and
 *           LAN→WAN pass, `masquerade` (or `masquerade random`: a symmetric NAT) on the WAN;
 *           short conntrack UDP timeouts; optionally miniupnpd (NAT-PMP and/or UPnP-IGD).
 *   homeN.M — 10.99.N.(2+M), default route via its router.
 *
 * Names are unique per process and lab (`nt<pid>x<n>…`), nothing is added to the host namespace,
 * every process runs bounded by `timeout`, and `close()` kills the lab's processes by pid and
 * deletes its namespaces whether the test passed or not (an exit hook does it if `close` never ran).
 */

/** Address of public host `i` in `pub` (0 → 198.51.100.2). */
export const publicAddress = (i: number): string => `198.51.100.${2 + i}`;
/** WAN address of router `i` (0 → 198.51.100.1, then .11, .12, …). */
export const routerWanAddress = (i: number): string => (i === 0 ? '198.51.100.1' : `198.51.100.${10 + i}`);

/** Port mapping a lab router offers (miniupnpd). */
export interface PortMappingService {
  readonly natpmp?: boolean;
  readonly upnp?: boolean;
}

/** One router of a lab. */
export interface RouterOptions {
  /** `masquerade random`: a new external port per destination (a symmetric NAT). @default false */
  readonly symmetric?: boolean;
  /**
   * A full cone: once the first home host sent from a UDP port, anyone may send to that port of
   * the WAN address (for as long as a flow lives), not only the hosts it sent to. @default false
   */
  readonly fullCone?: boolean;
  /** Start miniupnpd with these protocols (it can be stopped and restarted later). @default none */
  readonly portMapping?: PortMappingService;
  /** Home namespaces behind it. @default 1 */
  readonly homes?: number;
}

/** Options of `createLab`. */
export interface LabOptions {
  /** Public host addresses on `pub` (at least 2 when a STUN responder runs). @default 2 */
  readonly publicHosts?: number;
  /** @default [{}] */
  readonly routers?: readonly RouterOptions[];
  /** conntrack UDP timeouts in the routers, seconds. @default 5 */
  readonly udpTimeoutS?: number;
}

export interface LabHome {
  readonly ns: string;
  readonly address: string;
  readonly gateway: string;
}

export interface LabRouter {
  readonly ns: string;
  readonly index: number;
  readonly wanAddress: string;
  readonly lanAddress: string;
  readonly lanSubnet: string;
  readonly homes: readonly LabHome[];
  /** The running miniupnpd, if any. */
  miniupnpd(): NsProcess | undefined;
  /** Starts miniupnpd (NAT-PMP and UPnP unless told otherwise); resolves once it listens. */
  startMiniupnpd(service?: PortMappingService): Promise<NsProcess>;
  /** Kills miniupnpd (SIGKILL: a dying service, not a clean stop) and waits for it to end. */
  stopMiniupnpd(signal?: NodeJS.Signals): Promise<void>;
  /** The router's nft ruleset as text (what miniupnpd added shows in its chains). */
  ruleset(): Promise<string>;
  /** Forgets every tracked flow (conntrack -F). */
  flushConntrack(): Promise<void>;
  /**
   * Empties miniupnpd's chains and forgets every tracked flow: what a router restart does to the
   * mappings of a mapping service that died (a SIGKILLed miniupnpd leaves its rules behind).
   */
  flushMappings(): Promise<void>;
}

export interface Lab {
  readonly id: string;
  /** Temp dir of the lab (configs, leases, logs); removed by `close`. */
  readonly dir: string;
  readonly pub: { readonly ns: string; readonly addresses: readonly string[] };
  readonly routers: readonly LabRouter[];
  /** Starts `argv` in `ns` (bounded; killed by `close` if still running). */
  spawn(ns: string, argv: readonly string[], options?: SpawnOptions): NsProcess;
  /** Runs a short command in `ns` to its end. */
  exec(ns: string, argv: readonly string[], timeoutMs?: number): Promise<string>;
  /** Starts the STUN responder on the first two public addresses (ports 3478/3479). */
  startStun(): Promise<NsProcess>;
  /** Kills every process of the lab, deletes its namespaces and temp dir. Idempotent. */
  close(): Promise<void>;
}

const UDP_PROBE_SCRIPT = fileURLToPath(new URL('./udp-probe.js', import.meta.url));

/** A UDP probe (udp-probe.ts) started in a lab namespace, bound and ready. */
export interface UdpProbe {
  readonly proc: NsProcess;
  readonly port: number;
  /** Sends `text` (or binary `hex`) to `host:port`, from the probe's main socket unless `from` names an extra one. */
  send(host: string, port: number, payload: { text?: string; hex?: string; from?: number }): Promise<void>;
  /** The first datagram matching `match` (from that sender, with that text) received so far or next, within `timeoutMs`. */
  received(
    match: { from?: string; text?: string },
    timeoutMs?: number,
  ): Promise<{ from: string; port: number; text: string; hex: string }>;
}

/** Starts a UDP probe in `ns` bound to `address:port` (port 0: any). */
export async function startUdpProbe(lab: Lab, ns: string, address: string, port = 0): Promise<UdpProbe> {
  const proc = lab.spawn(ns, [process.execPath, UDP_PROBE_SCRIPT, address, String(port)]);
  const ready = await proc.json((l) => l['event'] === 'ready');
  return {
    proc,
    port: Number(ready['port']),
    async send(host, to, payload) {
      await proc.request('send', { host, port: to, ...payload });
    },
    async received(match, timeoutMs) {
      const line = await proc.json(
        (l) =>
          l['event'] === 'message' &&
          (match.from === undefined || l['from'] === match.from) &&
          (match.text === undefined || l['text'] === match.text),
        timeoutMs,
      );
      return {
        from: String(line['from']),
        port: Number(line['port']),
        text: String(line['text']),
        hex: String(line['hex']),
      };
    },
  };
}

const STUN_SCRIPT = fileURLToPath(new URL('./stun-responder.js', import.meta.url));
let labCounter = 0;
const liveLabs = new Set<{ namespaces: string[]; pids: Set<number>; dir: string }>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const lab of liveLabs) {
      for (const pid of lab.pids) {
        try {
          process.kill(-pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      for (const ns of lab.namespaces) {
        try {
          execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore', timeout: 5000 });
        } catch {
          // already gone
        }
      }
      rmSync(lab.dir, { recursive: true, force: true });
    }
  });
}

/** Builds a lab; on a failure half-way it tears down what it built and rethrows. */
export async function createLab(options: LabOptions = {}): Promise<Lab> {
  installExitHook();
  const id = `nt${process.pid.toString(36)}x${(labCounter++).toString(36)}`;
  const dir = mkdtempSync(join(tmpdir(), `nautilus-${id}-`));
  const record = { namespaces: [] as string[], pids: new Set<number>(), dir };
  liveLabs.add(record);
  const processes = new Set<NsProcess>();
  const publicHosts = Math.max(2, options.publicHosts ?? 2);
  const udpTimeout = options.udpTimeoutS ?? 5;
  const routerOptions = options.routers ?? [{}];
  const pubNs = `${id}pub`;
  const pubAddresses = Array.from({ length: publicHosts }, (_, i) => publicAddress(i));

  const spawn = (ns: string, argv: readonly string[], spawnOptions: SpawnOptions = {}): NsProcess => {
    const proc = spawnIn(ns, argv, spawnOptions);
    processes.add(proc);
    record.pids.add(proc.pid);
    void proc.exited.then(() => {
      processes.delete(proc);
      record.pids.delete(proc.pid);
    });
    return proc;
  };
  const exec = (ns: string, argv: readonly string[], timeoutMs = 10_000): Promise<string> =>
    run('ip', ['netns', 'exec', ns, ...argv], { timeoutMs });
  const addNs = async (ns: string): Promise<void> => {
    await run('ip', ['netns', 'add', ns]);
    record.namespaces.push(ns);
  };
  const batch = (ns: string, lines: readonly string[]): Promise<string> =>
    run('ip', ['-n', ns, '-batch', '-'], { input: `${lines.join('\n')}\n` });

  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    await Promise.all([...processes].map((p) => p.kill()));
    for (const ns of [...record.namespaces].reverse()) {
      await run('ip', ['netns', 'del', ns]).catch(() => undefined);
    }
    record.namespaces.length = 0;
    rmSync(dir, { recursive: true, force: true });
    liveLabs.delete(record);
  };

  try {
    await addNs(pubNs);
    await batch(pubNs, [
      'link set lo up',
      'link add br0 type bridge',
      'link set br0 up',
      ...pubAddresses.map((a) => `addr add ${a}/24 dev br0`),
    ]);
    const routers: LabRouter[] = [];
    for (const [index, ro] of routerOptions.entries()) {
      routers.push(await buildRouter(index, ro));
    }
    const lab: Lab = {
      id,
      dir,
      pub: { ns: pubNs, addresses: pubAddresses },
      routers,
      spawn,
      exec,
      async startStun() {
        const stun = spawn(pubNs, [process.execPath, STUN_SCRIPT, pubAddresses[0] ?? '', pubAddresses[1] ?? '']);
        await stun.line(/"event":"ready"/);
        return stun;
      },
      close,
    };
    if (routerOptions.some((r) => r.portMapping !== undefined)) await lab.startStun();
    for (const [index, ro] of routerOptions.entries()) {
      if (ro.portMapping !== undefined) await routers[index]?.startMiniupnpd(ro.portMapping);
    }
    return lab;
  } catch (error) {
    await close();
    throw error;
  }

  async function buildRouter(index: number, ro: RouterOptions): Promise<LabRouter> {
    const ns = `${id}r${index}`;
    const wanAddress = routerWanAddress(index);
    const lanSubnet = `10.99.${index}.0/24`;
    const lanAddress = `10.99.${index}.1`;
    await addNs(ns);
    await batch(pubNs, [`link add r${index} type veth peer name wan netns ${ns}`, `link set r${index} master br0 up`]);
    await batch(ns, [
      'link set lo up',
      `addr add ${wanAddress}/24 dev wan`,
      'link set wan up',
      'link add lan type bridge',
      `addr add ${lanAddress}/24 dev lan`,
      'link set lan up',
    ]);
    const homes: LabHome[] = [];
    for (let h = 0; h < (ro.homes ?? 1); h++) {
      const homeNs = `${id}h${index}_${h}`;
      const address = `10.99.${index}.${2 + h}`;
      await addNs(homeNs);
      await batch(ns, [`link add h${h} type veth peer name eth0 netns ${homeNs}`, `link set h${h} master lan up`]);
      await batch(homeNs, [
        'link set lo up',
        `addr add ${address}/24 dev eth0`,
        'link set eth0 up',
        `route add default via ${lanAddress}`,
      ]);
      homes.push({ ns: homeNs, address, gateway: lanAddress });
    }
    const rulesFile = join(dir, `${ns}.nft`);
    const fullCone = ro.fullCone === true ? { home: homes[0]?.address ?? '', timeoutS: udpTimeout } : undefined;
    writeFileSync(rulesFile, routerRuleset(ro.symmetric === true, fullCone));
    await exec(ns, ['nft', '-f', rulesFile]);
    await exec(ns, [
      'sysctl',
      '-q',
      '-w',
      'net.ipv4.ip_forward=1',
      `net.netfilter.nf_conntrack_udp_timeout=${udpTimeout}`,
      `net.netfilter.nf_conntrack_udp_timeout_stream=${udpTimeout}`,
    ]);
    let daemon: NsProcess | undefined;
    return {
      ns,
      index,
      wanAddress,
      lanAddress,
      lanSubnet,
      homes,
      miniupnpd: () => daemon,
      async startMiniupnpd(service = { natpmp: true, upnp: true }) {
        if (daemon !== undefined && daemon.child.exitCode === null && daemon.child.signalCode === null) {
          throw new Error(`miniupnpd already runs in ${ns}`);
        }
        const conf = join(dir, `${ns}-miniupnpd.conf`);
        writeFileSync(
          conf,
          miniupnpdConfig(join(dir, `${ns}-miniupnpd.leases`), lanSubnet, service, pubAddresses[0] ?? ''),
        );
        daemon = spawn(ns, ['miniupnpd', '-d', '-f', conf, '-P', join(dir, `${ns}-miniupnpd.pid`)], {
          timeoutMs: 120_000,
        });
        // with -d it logs to stderr; it is ready once the STUN check passed and its sockets listen
        await waitStderr(daemon, service.natpmp === false ? /HTTP listening/ : /Listening for NAT-PMP/);
        return daemon;
      },
      async stopMiniupnpd(signal = 'SIGKILL') {
        await daemon?.kill(signal);
      },
      ruleset: () => exec(ns, ['nft', 'list', 'ruleset']),
      async flushConntrack() {
        await exec(ns, ['conntrack', '-F']).catch(() => undefined);
      },
      async flushMappings() {
        for (const chain of ['miniupnpd', 'prerouting_miniupnpd', 'postrouting_miniupnpd']) {
          await exec(ns, ['nft', 'flush', 'chain', 'inet', 'lab', chain]);
        }
        await exec(ns, ['conntrack', '-F']).catch(() => undefined);
      },
    };
  }
}

/** Resolves once `proc`'s stderr matches `pattern` (≤ 15 s); rejects if it exits first. */
async function waitStderr(proc: NsProcess, pattern: RegExp, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pattern.test(proc.stderr())) {
    if (proc.child.exitCode !== null || proc.child.signalCode !== null) {
      throw new Error(`miniupnpd in ${proc.ns} ended before it listened:\n${proc.stderr()}`);
    }
    if (Date.now() > deadline)
      throw new Error(`miniupnpd in ${proc.ns} not ready in ${timeoutMs} ms:\n${proc.stderr()}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * nftables of a lab router: one `inet lab` table holding its own chains and miniupnpd's. With
 * `fullCone`, the forward chain remembers the UDP source ports `home` sends from (for `timeoutS`,
 * renewed by every datagram; masquerade keeps a free port) and prerouting hands anything that
 * arrives at one of them to `home`: endpoint-independent filtering.
 */
export function routerRuleset(symmetric: boolean, fullCone?: { home: string; timeoutS: number }): string {
  const cone =
    fullCone === undefined
      ? { set: '', forward: '', prerouting: '' }
      : {
          set: `  set fullcone {\n    type inet_service; flags dynamic,timeout; timeout ${fullCone.timeoutS}s;\n  }\n`,
          forward: `    iifname "lan" oifname "wan" ip saddr ${fullCone.home} meta l4proto udp update @fullcone { udp sport }\n    ct status dnat accept\n`,
          prerouting: `    iifname "wan" meta l4proto udp udp dport @fullcone dnat ip to ${fullCone.home}\n`,
        };
  return `table inet lab {
${cone.set}
  chain input {
    type filter hook input priority 0; policy drop;
    ct state established,related accept
    iifname "lo" accept
    iifname "lan" accept
    iifname "wan" ip saddr 198.51.100.0/24 udp sport { 3478, 3479 } accept
  }
  chain forward {
    type filter hook forward priority 0; policy drop;
    ct state established,related accept
${cone.forward}    iifname "lan" oifname "wan" accept
    jump miniupnpd
  }
  chain miniupnpd {
  }
  chain prerouting {
    type nat hook prerouting priority -100; policy accept;
${cone.prerouting}    jump prerouting_miniupnpd
  }
  chain prerouting_miniupnpd {
  }
  chain postrouting {
    type nat hook postrouting priority 100; policy accept;
    jump postrouting_miniupnpd
    oifname "wan" masquerade${symmetric ? ' random' : ''}
  }
  chain postrouting_miniupnpd {
  }
}
`;
}

function miniupnpdConfig(leaseFile: string, lanSubnet: string, service: PortMappingService, stunHost: string): string {
  return [
    'ext_ifname=wan',
    'listening_ip=lan',
    'http_port=0',
    `enable_natpmp=${service.natpmp === false ? 'no' : 'yes'}`,
    `enable_upnp=${service.upnp === false ? 'no' : 'yes'}`,
    'secure_mode=yes',
    'ipv6_disable=yes',
    'system_uptime=no',
    // its WAN address is in a documentation range: STUN tells it the address can forward ports
    'ext_perform_stun=yes',
    `ext_stun_host=${stunHost}`,
    'ext_stun_port=3478',
    'upnp_table_name=lab',
    'upnp_nat_table_name=lab',
    'upnp_forward_chain=miniupnpd',
    'upnp_nat_chain=prerouting_miniupnpd',
    'upnp_nat_postrouting_chain=postrouting_miniupnpd',
    `lease_file=${leaseFile}`,
    `uuid=${randomUUID()}`,
    `allow 1024-65535 ${lanSubnet} 1024-65535`,
    'deny 0-65535 0.0.0.0/0 0-65535',
    '',
  ].join('\n');
}
