/**
 * Memory: heap per idle DHT node, Nautilus against bittorrent-dht, in networks of N nodes on
 * 127.0.0.1 UDP (each network in its own child process, so every measurement starts from a
 * fresh heap); and the heap of a MemoryRegistry empty and holding records, against raw
 * lru-cache bounded by the same `max` (what the registry was built on).
 *
 * Heap is `heapUsed + arrayBuffers` after forced GCs: typed arrays keep their data outside the
 * JS heap, and leaving it out would hide exactly the preallocation this measures.
 *
 * Run: npm run bench -- kad-memory (or node --expose-gc dist/bench/kad-memory.js after a build).
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { LRUCache } from 'lru-cache';
import DHT from 'bittorrent-dht';
import { createNode, type KadNode } from '../src/kad/node/node.js';
import { DEFAULT_MEMORY_REGISTRY_OPTIONS, MemoryRegistry } from '../src/registry/index.js';
import { heapBytes, printTable, retainedBytes, type Row } from './harness.js';

const HOST = '127.0.0.1';
const SIZES = [200, 1000] as const;
/** Nodes started at once while a network grows; each bootstraps from nodes already up. */
const JOINING = 10;
/** Quiet time after the last bootstrap, so replies in flight land before the heap is measured. */
const SETTLE_MS = 2000;
const BOOTSTRAP_TIMEOUT_MS = 15_000;
/** Standalone nodes measured together for the heap of one node without contacts. */
const ALONE = 200;
const TTL = 60_000;

type Kind = 'nautilus' | 'bittorrent-dht';

interface NetworkFigures {
  /** Heap per node of the whole idle network, bytes. */
  readonly bytesPerNode: number;
  /** Mean routing-table contacts per node. */
  readonly contactsPerNode: number;
}

interface Started {
  readonly port: number;
  contacts(): number;
  close(): Promise<void>;
}

async function startNautilus(seeds: readonly number[]): Promise<Started> {
  const node: KadNode = await createNode({
    host: HOST,
    port: 0,
    bootstrap: seeds.map((port) => ({ host: HOST, port })),
    bootstrapTimeoutMs: BOOTSTRAP_TIMEOUT_MS,
  });
  await node.bootstrapped;
  return { port: node.address().port, contacts: () => node.stats().contacts, close: () => node.close() };
}

async function startBittorrentDht(seeds: readonly number[]): Promise<Started> {
  // an explicit bootstrap list (or none): bittorrent-dht never contacts its public routers here
  const dht = new DHT({ bootstrap: seeds.length === 0 ? false : seeds.map((port) => `${HOST}:${port}`), host: HOST });
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, BOOTSTRAP_TIMEOUT_MS);
    dht.once('ready', () => {
      clearTimeout(timer);
      resolve();
    });
    dht.listen(0, HOST);
  });
  return {
    port: dht.address().port,
    contacts: () => dht._rpc.nodes.count(),
    close: () => new Promise<void>((resolve) => dht.destroy(() => resolve())),
  };
}

/** Up to `count` distinct random elements of `items`. */
function pick<T>(items: readonly T[], count: number): T[] {
  const copy = items.slice();
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [copy[i], copy[j]] = [copy[j] as T, copy[i] as T];
  }
  return copy.slice(0, count);
}

/** Child side: a network of `size` nodes of `kind`, bootstrapped, idle; its heap per node. */
async function measureNetwork(kind: Kind, size: number): Promise<NetworkFigures> {
  const start = kind === 'nautilus' ? startNautilus : startBittorrentDht;
  // one node started and stopped first: code loaded and compiled before the baseline
  await (await start([])).close();
  const before = heapBytes();
  const nodes = [await start([])];
  while (nodes.length < size) {
    const batch = Math.min(JOINING, size - nodes.length);
    // each newcomer bootstraps from the first node and up to two others already running
    const seeds = (): number[] => [nodes[0] as Started, ...pick(nodes.slice(1), 2)].map((n) => n.port);
    nodes.push(...(await Promise.all(Array.from({ length: batch }, () => start(seeds())))));
  }
  await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
  const bytesPerNode = (heapBytes() - before) / size;
  let contacts = 0;
  for (const node of nodes) contacts += node.contacts();
  await Promise.all(nodes.map((n) => n.close()));
  return { bytesPerNode, contactsPerNode: contacts / size };
}

/** Child side: ALONE nodes of `kind` without contacts; the heap of one. */
async function measureAlone(kind: Kind): Promise<NetworkFigures> {
  const start = kind === 'nautilus' ? startNautilus : startBittorrentDht;
  await (await start([])).close();
  const before = heapBytes();
  const nodes = await Promise.all(Array.from({ length: ALONE }, () => start([])));
  await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
  const bytesPerNode = (heapBytes() - before) / ALONE;
  await Promise.all(nodes.map((n) => n.close()));
  return { bytesPerNode, contactsPerNode: 0 };
}

/** Runs one measurement in a fresh child process. */
async function inChild(kind: Kind, size: number): Promise<NetworkFigures> {
  const child = fork(fileURLToPath(import.meta.url), ['child', kind, String(size)], {
    execArgv: ['--expose-gc'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const figures = new Promise<NetworkFigures>((resolve, reject) => {
    child.once('message', (m) => resolve(m as NetworkFigures));
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`${kind} N = ${size} child exited with ${String(code)}`)));
  });
  return figures;
}

function records(count: number): { keys: string[]; values: Uint8Array[] } {
  const keys = Array.from({ length: count }, (_, i) => `k:${i.toString(36).padStart(6, '0')}`);
  return { keys, values: keys.map(() => new Uint8Array(32)) };
}

/** Heap of an empty default MemoryRegistry and of one holding 1 k / 100 k records, against lru-cache. */
function registryRows(): Row[] {
  const max = DEFAULT_MEMORY_REGISTRY_OPTIONS.maxEntries;
  // a first measurement warms up the code it runs
  retainedBytes(() => new MemoryRegistry(), heapBytes);
  const rows: Row[] = [];
  for (const count of [0, 1000, 100_000]) {
    // keys and values made outside the measurement: the rows count what each store adds
    const { keys, values } = records(count);
    // small stores are measured many at a time, averaging out the noise of one measurement
    const copies = count === 0 ? 100 : count <= 1000 ? 20 : 1;
    const perStore = (build: () => unknown): number =>
      retainedBytes(() => Array.from({ length: copies }, build), heapBytes) / copies;
    const anchor = perStore(() => {
      const lru = new LRUCache<string, Uint8Array>({ max, ttl: TTL });
      keys.forEach((k, i) => lru.set(k, values[i], { ttl: TTL }));
      return lru;
    });
    const nautilus = perStore(() => {
      const registry = new MemoryRegistry();
      keys.forEach((k, i) => void registry.set(k, values[i] as Uint8Array, { ttlMs: TTL }));
      return registry;
    });
    rows.push({
      what: count === 0 ? 'empty MemoryRegistry (defaults)' : `MemoryRegistry holding ${count / 1000} k records`,
      anchorName: `lru-cache (max ${max / 1000} k, ttl)`,
      anchor: anchor / 1024,
      nautilus: nautilus / 1024,
      unit: 'KiB',
      ...(count === 0 ? { target: '≤ 4 KiB' } : {}),
    });
  }
  return rows;
}

export async function benchKadMemory(): Promise<Row[]> {
  const rows: Row[] = [];
  const sizes = [0, ...SIZES];
  for (const size of sizes) {
    const anchor = await inChild('bittorrent-dht', size);
    const nautilus = await inChild('nautilus', size);
    const label = size === 0 ? 'alone (no contacts)' : `N = ${size}`;
    rows.push({
      what: `heap per idle node, ${label}`,
      anchorName: 'bittorrent-dht 11',
      anchor: anchor.bytesPerNode / 1024,
      nautilus: nautilus.bytesPerNode / 1024,
      unit: 'KiB',
      ...(size === 0 ? { target: '≤ 20 KiB' } : {}),
    });
    if (size > 0) {
      rows.push({
        what: `contacts per node, ${label} (Nautilus k = 8)`,
        anchorName: 'bittorrent-dht 11 (k = 20)',
        anchor: anchor.contactsPerNode,
        nautilus: nautilus.contactsPerNode,
        unit: 'contacts',
      });
    }
  }
  return [...rows, ...registryRows()];
}

if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv[2] === 'child') {
  const kind = process.argv[3] as Kind;
  const size = Number(process.argv[4]);
  const figures = size === 0 ? await measureAlone(kind) : await measureNetwork(kind, size);
  process.send?.(figures, () => process.exit(0));
} else if (process.argv[1] === fileURLToPath(import.meta.url)) {
  printTable('Heap per idle KAD node vs bittorrent-dht; MemoryRegistry vs lru-cache', await benchKadMemory());
}
