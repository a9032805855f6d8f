/**
 * Queries answered per second by one DHT node (find_node, then BEP 44 get), Nautilus against
 * bittorrent-dht, under the same load in the same run, on 127.0.0.1 UDP only.
 *
 * Each node runs alone in a child process (so the load generator does not share its thread);
 * both get the same 8 contacts in their tables first and both use k = 8, so every response
 * carries the same 8 nodes (bittorrent-dht answers with its whole table rather than the k
 * closest, so with more contacts its responses would be bigger than Nautilus's). The generator
 * keeps WINDOW queries in flight from one socket and counts replies for DURATION_MS.
 *
 * Run: npm run build && node dist/bench/kad-queries.js
 */
import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { fileURLToPath } from 'node:url';
import { bencode, type BencodeDict } from '../src/kad/wire/bencode.js';
import type { KadNode } from '../src/kad/node/types.js';
import { createTestnet } from '../src/testing/testnet.js';
import { printTable, type Row } from './harness.js';

const HOST = '127.0.0.1';
const WINDOW = 64;
const WARMUP_MS = 500;
const DURATION_MS = 3000;
const CONTACTS = 8;
const ROUNDS = 5;

type Server = 'nautilus' | 'bittorrent-dht';
type Method = 'find_node' | 'get';

function dict(entries: Record<string, Uint8Array | number | BencodeDict>): BencodeDict {
  return Object.assign(Object.create(null) as BencodeDict, entries);
}

function query(method: Method, id: Uint8Array, t: number): Uint8Array {
  const target = randomBytes(20);
  const a = dict({ id, target }); // find_node and get take the same arguments
  return bencode(
    dict({ t: Uint8Array.of(t >> 8, t & 0xff), y: Uint8Array.of(0x71), q: new TextEncoder().encode(method), a }),
  );
}

/** Child side: start one node on 127.0.0.1:0, report its port, run until told to stop. */
async function serve(kind: Server): Promise<void> {
  let port: number;
  let stop: () => Promise<void>;
  if (kind === 'nautilus') {
    const testnet = await createTestnet({ transport: 'udp', host: HOST, nodes: 1, node: { k: 8 } });
    port = (testnet.nodes[0] as KadNode).address().port;
    stop = () => testnet.close();
  } else {
    const { default: DHT } = await import('bittorrent-dht');
    const dht = new DHT({ bootstrap: false, host: HOST, k: 8 });
    await new Promise<void>((resolve) => dht.listen(0, HOST, () => resolve()));
    port = dht.address().port;
    stop = () => new Promise<void>((resolve) => dht.destroy(() => resolve()));
  }
  process.on('message', (message) => {
    if (message === 'stop') void stop().then(() => process.exit(0));
  });
  process.send?.({ port });
}

async function bind(): Promise<Socket> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, HOST, () => resolve()));
  return socket;
}

/** Gives the server CONTACTS live contacts: sockets that each ping it once with their own id. */
async function fill(port: number): Promise<Socket[]> {
  const sockets = await Promise.all(Array.from({ length: CONTACTS }, bind));
  await Promise.all(
    sockets.map(
      (socket) =>
        new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, 1000);
          // answer the server's own pings, so the contacts stay good
          socket.on('message', () => {
            clearTimeout(timer);
            resolve();
          });
          const ping = bencode(
            dict({
              t: Uint8Array.of(0, 1),
              y: Uint8Array.of(0x71),
              q: new TextEncoder().encode('ping'),
              a: dict({ id: randomBytes(20) }),
            }),
          );
          socket.send(ping, port, HOST);
        }),
    ),
  );
  return sockets;
}

/** Closed-loop load: WINDOW queries in flight, a lost one replaced after a quiet tick. */
async function load(port: number, method: Method): Promise<number> {
  const socket = await bind();
  const id = randomBytes(20);
  const pool = Array.from({ length: 512 }, (_, i) => query(method, id, i));
  let sent = 0;
  let received = 0;
  let counting = false;
  let counted = 0;
  const send = (): void => {
    socket.send(pool[sent++ % pool.length] as Uint8Array, port, HOST);
  };
  socket.on('message', () => {
    received++;
    if (counting) counted++;
    send();
  });
  let lastReceived = -1;
  const tick = setInterval(() => {
    if (received === lastReceived) for (let i = 0; i < WINDOW; i++) send(); // replies lost: refill the window
    lastReceived = received;
  }, 50);
  for (let i = 0; i < WINDOW; i++) send();
  await new Promise((resolve) => setTimeout(resolve, WARMUP_MS));
  counting = true;
  const start = process.hrtime.bigint();
  await new Promise((resolve) => setTimeout(resolve, DURATION_MS));
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  counting = false;
  clearInterval(tick);
  socket.close();
  return counted / seconds;
}

/** Starts `kind` in a child process, fills its table, measures `method`, stops it. */
async function measure(kind: Server, method: Method): Promise<number> {
  const child = fork(fileURLToPath(import.meta.url), ['serve', kind], { stdio: 'inherit' });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      child.once('message', (m) => resolve((m as { port: number }).port));
      child.once('error', reject);
    });
    const fillers = await fill(port);
    const rate = await load(port, method);
    for (const s of fillers) s.close();
    return rate;
  } finally {
    child.send('stop');
    await new Promise((resolve) => child.once('exit', resolve));
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

/**
 * Benchmark rows: find_node and get, anchor (bittorrent-dht) and Nautilus, median of ROUNDS
 * alternating runs each (the generator and the node share two cores: single runs vary ±20 %).
 */
export async function benchKadQueries(): Promise<Row[]> {
  const rows: Row[] = [];
  for (const method of ['find_node', 'get'] as const) {
    const anchor: number[] = [];
    const nautilus: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      anchor.push(await measure('bittorrent-dht', method));
      nautilus.push(await measure('nautilus', method));
    }
    rows.push({
      what: `${method} answered by one node`,
      anchorName: 'bittorrent-dht 11',
      anchor: median(anchor),
      nautilus: median(nautilus),
      unit: 'queries/s',
      target: '≥ 1× anchor',
    });
  }
  return rows;
}

if (process.argv[2] === 'serve') {
  await serve(process.argv[3] as Server);
} else if (process.argv[1] === fileURLToPath(import.meta.url)) {
  printTable(
    `KAD queries per second (127.0.0.1 UDP, ${WINDOW} in flight, ${DURATION_MS} ms, median of ${ROUNDS})`,
    await benchKadQueries(),
  );
}
