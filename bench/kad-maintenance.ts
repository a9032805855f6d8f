/**
 * `npm run bench -- kad-maintenance`: what keeping a node alive for weeks costs. Restart to ready
 * (saved table vs cold join vs bittorrent-dht, from kad-restart.ts); what an idle DHT node sends
 * to stay healthy, Nautilus against bittorrent-dht, in
 * networks of N nodes on 127.0.0.1 UDP measured in the same run; and what republishing and
 * replication cost under churn (a deterministic MemoryNetwork, no anchor: bittorrent-dht does
 * neither).
 *
 * Idle traffic needs hours to show (bittorrent-dht pings its whole table once its table has not
 * changed for 15 minutes; Nautilus pings contacts silent for 15 minutes and refreshes idle
 * buckets), so each network runs on accelerated time in a child process of its own: both sides
 * see a clock that runs SCALE times faster than the wall clock (bittorrent-dht through patched
 * `Date.now`/`setTimeout`/`setInterval`, Nautilus through its injected `Clock`), timeouts
 * included. Every datagram a node sends (queries and replies) is counted after a warm-up.
 *
 * The rows are sections (`MAINTENANCE_SECTIONS`), run in order.
 *
 * Run: npm run bench -- kad-maintenance (or node --expose-gc dist/bench/kad-maintenance.js).
 * Tune with KAD_MAINT_NODES (default 100), KAD_MAINT_SCALE (30) and KAD_MAINT_HOURS (1).
 */
import { fork } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { fileURLToPath } from 'node:url';
import type { Clock, Timer } from '../src/core/clock.js';
import { createNode, type KadNode } from '../src/kad/node/node.js';
import type { KadNodeOptions } from '../src/kad/node/options.js';
import { MemoryRegistry } from '../src/registry/index.js';
import { createTestnet, ManualClock, seededRandom } from '../src/testing/index.js';
import { printTable, type Row } from './harness.js';
import { benchKadRestart } from './kad-restart.js';

const HOST = '127.0.0.1';
const NODES = Number(process.env['KAD_MAINT_NODES'] ?? 100);
const SCALE = Number(process.env['KAD_MAINT_SCALE'] ?? 30);
const HOURS = Number(process.env['KAD_MAINT_HOURS'] ?? 1);
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
/** Virtual time between the last join and the start of the count: joins and their echoes settle. */
const WARM_UP_MS = 20 * MINUTE;
/** Nodes started at once while a network grows. */
const JOINING = 10;

type Kind = 'nautilus' | 'bittorrent-dht';

/** A group of rows of the `kad-maintenance` benchmark. */
export interface MaintenanceSection {
  readonly name: string;
  run(): Promise<Row[]>;
}

interface IdleFigures {
  /** Datagrams sent per node per virtual hour, queries and replies. */
  readonly datagramsPerNodeHour: number;
  /** Mean routing-table contacts per node at the end. */
  readonly contactsPerNode: number;
}

interface Started {
  readonly port: number;
  /** Datagrams this node sent so far. */
  sent(): number;
  contacts(): number;
  close(): Promise<void>;
}

/** The real timers, before {@link accelerateGlobals} replaces the globals (which would scale twice). */
const realSetTimeout = globalThis.setTimeout;
const realClearTimeout = globalThis.clearTimeout;
const realDateNow = Date.now;

/** A clock `scale` times faster than the wall clock, from now on. */
function acceleratedClock(scale: number): Clock & { sleep(ms: number): Promise<void> } {
  const realStart = performance.now();
  const virtualStart = realDateNow();
  return {
    now: () => Math.floor(virtualStart + (performance.now() - realStart) * scale),
    setTimeout(callback: () => void, delayMs: number): Timer {
      const handle = realSetTimeout(callback, delayMs / scale);
      handle.unref();
      return { cancel: () => realClearTimeout(handle) };
    },
    sleep: (ms) => new Promise((resolve) => realSetTimeout(resolve, ms / scale)),
  };
}

/**
 * Runs the global timers and `Date.now` `scale` times faster (for bittorrent-dht, whose timers
 * are the global ones): only in the child process that measures it.
 */
function accelerateGlobals(clock: Clock): void {
  const realSetInterval = globalThis.setInterval;
  Date.now = () => clock.now();
  const scaled = (ms: unknown): number => (typeof ms === 'number' ? ms : 0) / SCALE;
  type Callback = (...args: unknown[]) => void;
  globalThis.setTimeout = ((callback: Callback, ms?: number, ...args: unknown[]) =>
    realSetTimeout(() => callback(...args), scaled(ms))) as typeof setTimeout;
  globalThis.setInterval = ((callback: Callback, ms?: number, ...args: unknown[]) =>
    realSetInterval(() => callback(...args), scaled(ms))) as typeof setInterval;
}

async function startNautilus(seeds: readonly number[], clock: Clock): Promise<Started> {
  const node: KadNode = await createNode({
    host: HOST,
    port: 0,
    clock,
    bootstrap: seeds.map((port) => ({ host: HOST, port })),
  });
  await node.ready;
  return {
    port: node.address().port,
    sent: () => node.stats().transport.datagramsSent,
    contacts: () => node.stats().contacts,
    close: () => node.close(),
  };
}

async function startBittorrentDht(seeds: readonly number[]): Promise<Started> {
  const { default: DHT } = await import('bittorrent-dht');
  const socket = createSocket('udp4');
  let sent = 0;
  const send = socket.send.bind(socket) as (...args: unknown[]) => void;
  socket.send = ((...args: unknown[]) => {
    sent++;
    send(...args);
  }) as typeof socket.send;
  // an explicit bootstrap list (or none): bittorrent-dht never contacts its public routers here
  const dht = new DHT({
    bootstrap: seeds.length === 0 ? false : seeds.map((port) => `${HOST}:${port}`),
    host: HOST,
    socket,
  });
  await new Promise<void>((resolve) => {
    dht.once('ready', () => resolve());
    dht.listen(0, HOST);
  });
  return {
    port: dht.address().port,
    sent: () => sent,
    contacts: () => dht._rpc.nodes.count(),
    close: () => new Promise<void>((resolve) => dht.destroy(() => resolve())),
  };
}

/** Child side: an idle network of `kind` on accelerated time; its traffic per node per hour. */
async function measureIdle(kind: Kind): Promise<IdleFigures> {
  const clock = acceleratedClock(SCALE);
  if (kind === 'bittorrent-dht') accelerateGlobals(clock);
  const start = (seeds: readonly number[]): Promise<Started> =>
    kind === 'nautilus' ? startNautilus(seeds, clock) : startBittorrentDht(seeds);
  const random = seededRandom(7);
  const nodes = [await start([])];
  while (nodes.length < NODES) {
    const batch = Math.min(JOINING, NODES - nodes.length);
    // each newcomer bootstraps from the first node and two others already running
    const seeds = (): number[] =>
      [nodes[0], nodes[Math.floor(random() * nodes.length)], nodes[Math.floor(random() * nodes.length)]].map(
        (n) => (n as Started).port,
      );
    nodes.push(...(await Promise.all(Array.from({ length: batch }, () => start(seeds())))));
  }
  await clock.sleep(WARM_UP_MS);
  const sentBefore = nodes.reduce((sum, n) => sum + n.sent(), 0);
  const from = clock.now();
  await clock.sleep(HOURS * HOUR);
  const hours = (clock.now() - from) / HOUR;
  const sent = nodes.reduce((sum, n) => sum + n.sent(), 0) - sentBefore;
  const contacts = nodes.reduce((sum, n) => sum + n.contacts(), 0);
  await Promise.all(nodes.map((n) => n.close()));
  return { datagramsPerNodeHour: sent / NODES / hours, contactsPerNode: contacts / NODES };
}

/** Runs one idle network in a fresh child process. */
async function inChild(kind: Kind): Promise<IdleFigures> {
  const child = fork(fileURLToPath(import.meta.url), ['child', kind], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise<IdleFigures>((resolve, reject) => {
    child.once('message', (m) => resolve(m as IdleFigures));
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`${kind} child exited with ${String(code)}`)));
  });
}

/** Idle traffic of both implementations, each in its own process, one after the other. */
const idleTraffic: MaintenanceSection = {
  name: 'idle traffic',
  async run() {
    const anchor = await inChild('bittorrent-dht');
    const nautilus = await inChild('nautilus');
    const where = `N = ${NODES}, loopback UDP, ${HOURS} h at ${SCALE}× speed`;
    return [
      {
        what: `idle maintenance traffic per node per hour (datagrams sent), ${where}`,
        anchorName: 'bittorrent-dht 11',
        anchor: anchor.datagramsPerNodeHour,
        nautilus: nautilus.datagramsPerNodeHour,
        unit: 'datagrams',
        target: '≤ 1×',
      },
      {
        what: `contacts per node at the end, ${where} (Nautilus k = 8)`,
        anchorName: 'bittorrent-dht 11 (k = 20)',
        anchor: anchor.contactsPerNode,
        nautilus: nautilus.contactsPerNode,
        unit: 'contacts',
      },
    ];
  },
};

/**
 * Republishing and replication under churn, on a MemoryNetwork (deterministic, virtual time):
 * 200 nodes for 3 hours while 30 % are replaced, 5 % of datagrams lost; one node in five
 * publishes an item and stays. No anchor: bittorrent-dht republishes nothing by itself.
 */
const churnTraffic: MaintenanceSection = {
  name: 'churn traffic',
  async run() {
    const size = 200;
    const hours = 3;
    const registries: MemoryRegistry[] = [];
    const clock = new ManualClock();
    const node = (): KadNodeOptions => {
      // swept once a minute: on virtual time a timer per store per second costs more than the DHT
      const registry = new MemoryRegistry({ sweepIntervalMs: MINUTE }, { clock });
      registries.push(registry);
      return { registry };
    };
    const testnet = await createTestnet({
      nodes: 0,
      clock,
      network: { latencyMs: 10, seed: 21 },
      awaitBootstrap: false,
      node,
    });
    const loss = seededRandom(5);
    testnet.network.setDropFilter(() => loss() < 0.05);
    const random = seededRandom(6);
    const live: { node: KadNode; publisher: boolean }[] = [];
    const join = async (count: number, publisher: (i: number) => boolean): Promise<void> => {
      for (let i = 0; i < count; i += JOINING) {
        const batch: KadNode[] = [];
        for (let j = i; j < Math.min(count, i + JOINING); j++) {
          const seeds =
            live.length === 0
              ? []
              : [0, 1, 2].map(() => (live[Math.floor(random() * live.length)] as { node: KadNode }).node);
          const added = await testnet.add({ bootstrap: seeds.map((s) => s.address()) });
          live.push({ node: added, publisher: publisher(live.length) });
          batch.push(added);
        }
        await testnet.settle(Promise.all(batch.map((n) => n.ready)), { maxMs: 120_000, stepMs: 10 });
      }
    };
    try {
      await join(size, (i) => i % 5 === 1);
      const publishers = live.filter((m) => m.publisher);
      await testnet.settle(
        Promise.all(publishers.map((m, i) => m.node.put({ v: new TextEncoder().encode(`item ${i}`) }))),
        { maxMs: 120_000, stepMs: 10 },
      );
      const start = live.map((m) => ({ ...m, stats: m.node.stats().maintenance }));
      const replaced = Math.round(0.3 * size);
      const rounds = hours * 6;
      for (let round = 0; round < rounds; round++) {
        const share = Math.round(((round + 1) * replaced) / rounds) - Math.round((round * replaced) / rounds);
        for (let i = 0; i < share; i++) {
          const candidates = live.filter((m) => !m.publisher);
          const leaving = candidates[Math.floor(random() * candidates.length)] as (typeof live)[number];
          live.splice(live.indexOf(leaving), 1);
          await leaving.node.close();
        }
        await join(share, () => false);
        for (let m = 0; m < 10; m++) await testnet.clock.advanceAsync(MINUTE);
      }
      const survivors = start.filter((s) => live.some((m) => m.node === s.node));
      const perHour = (
        field: 'republishRequests' | 'replicationRequests' | 'requests',
        who: typeof survivors,
      ): number =>
        who.reduce((sum, s) => sum + s.node.stats().maintenance[field] - s.stats[field], 0) / who.length / hours;
      const where = `MemoryNetwork, ${size} nodes, ${hours} h, 30 % replaced, 5 % loss`;
      const none = { anchorName: '— (bittorrent-dht does none)', anchor: Number.NaN, unit: 'requests' } as const;
      return [
        {
          what: `republish requests per publisher per hour (one item each), ${where}`,
          ...none,
          nautilus: perHour(
            'republishRequests',
            survivors.filter((s) => s.publisher),
          ),
        },
        {
          what: `replication requests per node per hour, ${where}`,
          ...none,
          nautilus: perHour('replicationRequests', survivors),
        },
        {
          what: `table upkeep requests per node per hour, ${where}`,
          ...none,
          nautilus: perHour('requests', survivors),
        },
      ];
    } finally {
      await testnet.close();
      await Promise.all(registries.map((r) => r.close()));
    }
  },
};

/** Restart to ready: a saved table against a cold join and bittorrent-dht (kad-restart.ts). */
const restart: MaintenanceSection = { name: 'restart to ready', run: benchKadRestart };

/** The sections of the benchmark, in order. */
export const MAINTENANCE_SECTIONS: readonly MaintenanceSection[] = [restart, idleTraffic, churnTraffic];

/** Every kad-maintenance row, section by section. */
export async function benchKadMaintenance(): Promise<Row[]> {
  const rows: Row[] = [];
  for (const section of MAINTENANCE_SECTIONS) rows.push(...(await section.run()));
  return rows;
}

if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv[2] === 'child') {
  const figures = await measureIdle(process.argv[3] as Kind);
  process.send?.(figures, () => process.exit(0));
} else if (process.argv[1] === fileURLToPath(import.meta.url)) {
  printTable(
    'KAD maintenance: restart to ready, idle traffic vs bittorrent-dht; republish and replication under churn',
    await benchKadMaintenance(),
  );
}
