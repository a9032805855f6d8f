/**
 * Restart-to-ready: how long a node takes from `createNode` to `ready` when it comes back with
 * its saved state (a real `stateDir`: read, parse, restore, then a lookup of its own id through
 * the saved contacts), against a cold join through a bootstrap node, and against bittorrent-dht
 * restarted the way it persists (`toJSON().nodes` passed back as its `bootstrap` list), in the
 * same run, on one network of Nautilus nodes on 127.0.0.1 UDP.
 *
 * The warm node's bootstrap host is a socket that counts what it receives and never answers:
 * a warm restart must not need it.
 *
 * Run: npm run build && node dist/bench/kad-restart.js (KAD_RESTART_ROUNDS: rounds, default 11)
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import DHT from 'bittorrent-dht';
import { createNode, type KadNode } from '../src/kad/node/node.js';
import { createUdpTransport } from '../src/kad/transport/udp-transport.js';
import type { Endpoint, Transport } from '../src/kad/transport/transport.js';
import { median, printTable, type Row } from './harness.js';

const HOST = '127.0.0.1';
const NETWORK = 100;
/** Restarts of each kind per network (median taken); KAD_RESTART_ROUNDS overrides it: on a busy machine a few ms are mostly scheduling noise. */
const ROUNDS = Number(process.env['KAD_RESTART_ROUNDS'] ?? 11);
const K = 8;

/** A network of NETWORK Nautilus nodes: a seed, then batches of 10 joining through 3 random members. */
async function buildNetwork(): Promise<KadNode[]> {
  const nodes = [await createNode({ host: HOST, port: 0, k: K })];
  while (nodes.length < NETWORK) {
    const batch: KadNode[] = [];
    for (let i = 0; i < 10 && nodes.length + batch.length < NETWORK; i++) {
      const bootstrap = [0, 1, 2].map(() => (nodes[Math.floor(Math.random() * nodes.length)] as KadNode).address());
      batch.push(await createNode({ host: HOST, port: 0, k: K, bootstrap }));
    }
    await Promise.all(batch.map((n) => n.ready));
    nodes.push(...batch);
  }
  return nodes;
}

async function timed(run: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await run();
  return performance.now() - start;
}

interface Restart {
  readonly ms: number;
  /** Datagrams its bootstrap host received while it joined. */
  readonly datagrams: number;
}

/** A UDP socket on `port` (0: any), or on any port when that one was taken meanwhile. */
async function bind(port = 0): Promise<Transport> {
  try {
    return await createUdpTransport({ host: HOST, port });
  } catch {
    return createUdpTransport({ host: HOST, port: 0 });
  }
}

/** What a round leaves running until the end (a closed node would leave dead contacts behind). */
interface Kept {
  readonly nodes: KadNode[];
  readonly transports: Transport[];
  readonly dhts: DHT[];
}

/** A fresh node joining through `seed` (its socket bound before the clock starts, as on a restart). */
async function cold(seed: KadNode, keep: Kept): Promise<Restart> {
  const transport = await bind();
  keep.transports.push(transport);
  const before = seed.stats().transport.datagramsReceived;
  const ms = await timed(async () => {
    const node = await createNode({ transport, k: K, bootstrap: [seed.address()] });
    keep.nodes.push(node);
    await node.ready;
  });
  return { ms, datagrams: seed.stats().transport.datagramsReceived - before };
}

/** A node that joined through `seed` and closed, saving its state in `stateDir`: its port. */
async function saveWarm(seed: KadNode, stateDir: string): Promise<number> {
  const first = await createNode({ host: HOST, port: 0, k: K, stateDir, bootstrap: [seed.address()] });
  await first.ready;
  const { port } = first.address();
  await first.close();
  return port;
}

/** Restarts the node saved in `stateDir` on `port`, its bootstrap host a socket that never answers. */
async function restartWarm(port: number, stateDir: string, keep: Kept): Promise<Restart> {
  const transport = await bind(port);
  keep.transports.push(transport);
  const silent = await bind();
  let datagrams = 0;
  silent.on('message', () => {
    datagrams++;
  });
  const ms = await timed(async () => {
    const node = await createNode({ transport, k: K, stateDir, bootstrap: [silent.address()] });
    keep.nodes.push(node);
    await node.ready;
  });
  await silent.close();
  return { ms, datagrams };
}

/** A bittorrent-dht node on `port`, once `ready`; rejects on a socket error (a port taken). */
function dhtReady(options: ConstructorParameters<typeof DHT>[0], port = 0): Promise<DHT> {
  const dht = new DHT({ host: HOST, k: K, ...options });
  return new Promise((resolve, reject) => {
    dht.once('ready', () => resolve(dht));
    dht.once('error', (error: Error) => {
      dht.destroy();
      reject(error);
    });
    dht.listen(port, HOST);
  });
}

const destroy = (dht: DHT): Promise<void> => new Promise((resolve) => dht.destroy(() => resolve()));

interface SavedDht {
  readonly nodeId: Buffer;
  readonly port: number;
  readonly nodes: string[];
}

/** bittorrent-dht joined through `seed` and stopped, with what it persists: `toJSON().nodes`. */
async function saveDht(seed: Endpoint): Promise<SavedDht> {
  const dht = await dhtReady({ bootstrap: [`${seed.host}:${seed.port}`] });
  const nodes = dht.toJSON().nodes.map((n) => `${n.host}:${n.port}`);
  const saved = { nodeId: dht.nodeId, port: dht.address().port, nodes };
  await destroy(dht);
  return saved;
}

/** bittorrent-dht restarted on its port (any, if taken) with its saved nodes as bootstrap: ms to `ready`. */
async function restartDht(saved: SavedDht, keep: Kept): Promise<number> {
  const options = { nodeId: saved.nodeId, bootstrap: saved.nodes };
  return timed(async () => {
    keep.dhts.push(await dhtReady(options, saved.port).catch(() => dhtReady(options)));
  });
}

/**
 * Benchmark rows: restart-to-ready, warm vs cold vs bittorrent-dht, medians of ROUNDS rounds in
 * alternating order; first on a stable network, then with saved states made before a quarter
 * of the network left (so some saved contacts, and some contacts of every table, are dead).
 */
export async function benchKadRestart(): Promise<Row[]> {
  const network = await buildNetwork();
  const dir = await mkdtemp(join(tmpdir(), 'nautilus-bench-restart-'));
  const seed = network[0] as KadNode;
  const keep: Kept = { nodes: [], transports: [], dhts: [] };
  const stable = { cold: [] as Restart[], warm: [] as Restart[], dht: [] as number[] };
  const churn = { cold: [] as Restart[], warm: [] as Restart[], dht: [] as number[] };
  try {
    for (let r = 0; r < ROUNDS; r++) {
      const stateDir = join(dir, `stable-${r}`);
      const port = await saveWarm(seed, stateDir);
      const dht = await saveDht(seed.address());
      const order = r % 2 === 0 ? ['cold', 'warm', 'dht'] : ['dht', 'warm', 'cold'];
      for (const side of order) {
        if (side === 'cold') stable.cold.push(await cold(seed, keep));
        if (side === 'warm') stable.warm.push(await restartWarm(port, stateDir, keep));
        if (side === 'dht') stable.dht.push(await restartDht(dht, keep));
      }
    }
    const saved: { stateDir: string; port: number; dht: SavedDht }[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      const stateDir = join(dir, `churn-${r}`);
      saved.push({ stateDir, port: await saveWarm(seed, stateDir), dht: await saveDht(seed.address()) });
    }
    // a quarter of the network leaves (never the seed)
    const leaving = network.splice(1, Math.floor(NETWORK / 4));
    await Promise.all(leaving.map((n) => n.close()));
    for (const [r, { stateDir, port, dht }] of saved.entries()) {
      const order = r % 2 === 0 ? ['cold', 'warm', 'dht'] : ['dht', 'warm', 'cold'];
      for (const side of order) {
        if (side === 'cold') churn.cold.push(await cold(seed, keep));
        if (side === 'warm') churn.warm.push(await restartWarm(port, stateDir, keep));
        if (side === 'dht') churn.dht.push(await restartDht(dht, keep));
      }
    }
  } finally {
    await Promise.all([...network, ...keep.nodes].map((n) => n.close()));
    await Promise.all([...keep.transports.map((t) => t.close()), ...keep.dhts.map(destroy)]);
    await rm(dir, { recursive: true, force: true });
  }
  const where = `${NETWORK} nodes, 127.0.0.1 UDP, k = ${K}`;
  const ms = (list: readonly Restart[]): number => median(list.map((x) => x.ms));
  const rows: Row[] = [];
  for (const [label, figures] of [
    [`stable network of ${where}`, stable],
    ['after a quarter of the network left', churn],
  ] as const) {
    rows.push(
      {
        what: `restart to ready, saved table vs cold join (${label})`,
        anchorName: 'Nautilus cold join',
        anchor: ms(figures.cold),
        nautilus: ms(figures.warm),
        unit: 'ms',
        target: '< 2000 ms',
      },
      {
        what: `restart to ready from saved contacts (${label})`,
        anchorName: 'bittorrent-dht 11 (toJSON nodes as bootstrap)',
        anchor: median(figures.dht),
        nautilus: ms(figures.warm),
        unit: 'ms',
        target: '≤ 1× anchor',
      },
    );
  }
  const all = (side: 'cold' | 'warm'): Restart[] => [...stable[side], ...churn[side]];
  rows.push({
    what: 'slowest restart to ready over every round of both networks',
    anchorName: 'Nautilus cold join',
    anchor: Math.max(...all('cold').map((c) => c.ms)),
    nautilus: Math.max(...all('warm').map((w) => w.ms)),
    unit: 'ms',
    target: '< 2000 ms',
  });
  rows.push({
    what: 'datagrams to the bootstrap host while joining (warm: most over every round; its host never answers)',
    anchorName: 'Nautilus cold join',
    anchor: median(all('cold').map((c) => c.datagrams)),
    nautilus: Math.max(...all('warm').map((w) => w.datagrams)),
    unit: 'datagrams',
    target: '0',
  });
  return rows;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  printTable('KAD restart to ready: saved table vs cold join vs bittorrent-dht', await benchKadRestart());
}
