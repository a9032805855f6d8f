import { randomBytes } from 'node:crypto';
import { idToHex, type KadNode } from '../kad/index.js';
import type { NodeId } from '../kad/index.js';
import { createTestnet, type Testnet } from '../testing/testnet.js';

/** Options of {@link runTestnet}. */
export interface TestnetOptions {
  /** Number of nodes, 2–500. @default 16 */
  readonly nodes: number;
  /** Loopback address every node binds to (`127.0.0.1` or `::1`). @default "127.0.0.1" */
  readonly host: string;
  /** How long to keep the network up after the demo, in ms; `Infinity` until interrupted. */
  readonly durationMs: number;
  /** How often to print network counters while running, in ms. @default 10_000 */
  readonly intervalMs: number;
  /** Stops the network early (Ctrl-C in the CLI). */
  readonly signal?: AbortSignal;
  /** Where lines of output go. */
  readonly print: (line: string) => void;
}

const LOOPBACK = new Set(['127.0.0.1', '::1']);
const CALL_TIMEOUT_MS = 5000;

/**
 * Starts a local Mainline DHT network of `nodes` nodes on loopback UDP, each with embedded
 * in-memory storage; shows a BEP 44 put/get and a BEP 5 announce/get_peers across nodes; then
 * keeps the network up, printing counters, until `durationMs` passes or `signal` aborts.
 * Resolves with the exit code.
 */
export async function runTestnet(options: TestnetOptions): Promise<number> {
  const { print } = options;
  if (!LOOPBACK.has(options.host)) {
    print(`testnet binds loopback only: --host must be 127.0.0.1 or ::1 (got ${options.host})`);
    return 2;
  }
  let testnet: Testnet | undefined;
  try {
    // each newcomer bootstraps from the first node and up to two others already running
    testnet = await createTestnet({
      transport: 'udp',
      host: options.host,
      nodes: options.nodes,
      bootstrap: { random: 2 },
      random: Math.random,
    });
    const { nodes } = testnet;
    print(`testnet: ${nodes.length} nodes on ${options.host} (UDP), in-memory storage`);
    for (const node of nodes) {
      const { host, port } = node.address();
      print(`  ${idToHex(node.id).slice(0, 12)}…  ${formatEndpoint(host, port)}  ${node.stats().contacts} contacts`);
    }
    await demo(nodes, print);
    await runFor(nodes, options);
    return 0;
  } finally {
    await testnet?.close();
    print(`testnet: stopped ${testnet?.nodes.length ?? 0} nodes`);
  }
}

/** One writer stores an item and announces a peer across the network; another node finds both. */
async function demo(nodes: readonly KadNode[], print: (line: string) => void): Promise<void> {
  const writer = nodes.at(-1) as KadNode;
  const reader = nodes[1] as KadNode;
  const signal = (): AbortSignal => AbortSignal.timeout(CALL_TIMEOUT_MS);

  const v = new TextEncoder().encode(`hello from ${idToHex(writer.id).slice(0, 8)}`);
  const put = await writer.put({ v }, { signal: signal() });
  const got = await reader.get(put.target, { signal: signal() });
  const found = got === undefined ? undefined : new TextDecoder().decode(got.item.v as Uint8Array);
  print(
    `BEP 44: put immutable item ${idToHex(put.target).slice(0, 12)}… on ${put.storedOn.length} nodes; read back: ${found ?? 'not found'}`,
  );

  const infoHash: NodeId = randomBytes(20);
  const port = 6881;
  const announced = await writer.announce(infoHash, { port, signal: signal() });
  const peers = await reader.getPeersOf(infoHash, { signal: signal() });
  const list = peers.map((p) => formatEndpoint(p.host, p.port)).join(', ');
  print(
    `BEP 5: announced port ${port} for ${idToHex(infoHash).slice(0, 12)}… on ${announced.storedOn.length} nodes; get_peers: ${list === '' ? 'none' : list}`,
  );
}

/** Keeps the network up, printing counters every `intervalMs`, until the duration ends or an abort. */
async function runFor(nodes: readonly KadNode[], options: TestnetOptions): Promise<void> {
  const { durationMs, intervalMs, signal, print } = options;
  if (durationMs <= 0 || signal?.aborted === true) return;
  print(durationMs === Number.POSITIVE_INFINITY ? 'running; Ctrl-C to stop' : `running for ${durationMs} ms`);
  await new Promise<void>((resolve) => {
    const report = setInterval(() => print(summary(nodes)), intervalMs);
    const done = (): void => {
      clearInterval(report);
      clearTimeout(end);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const end = durationMs === Number.POSITIVE_INFINITY ? undefined : setTimeout(done, durationMs);
    signal?.addEventListener('abort', done, { once: true });
  });
}

function summary(nodes: readonly KadNode[]): string {
  let contacts = 0;
  let answered = 0;
  let datagrams = 0;
  for (const node of nodes) {
    const stats = node.stats();
    contacts += stats.contacts;
    answered += stats.rpc.responsesSent + stats.rpc.errorsSent;
    datagrams += stats.transport.datagramsReceived;
  }
  const average = (contacts / nodes.length).toFixed(1);
  return `nodes ${nodes.length}, contacts per node ${average}, datagrams received ${datagrams}, queries answered ${answered}`;
}

function formatEndpoint(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
