import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import {
  createApiServer,
  createLogger,
  DaemonMetrics,
  isDaemonError,
  listen,
  meteredRegistry,
  parseHostPort,
} from '../daemon/index.js';
import { idToHex, type KadNode } from '../kad/index.js';
import type { NodeId } from '../kad/index.js';
import { MemoryRegistry } from '../registry/index.js';
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
  /** `host:port` (loopback) of the entry node's HTTP API and dashboard, or `null` for none. */
  readonly http: string | null;
  /** When the `http` port is taken, listen on a free one instead (for the default address). @default false */
  readonly httpFallback?: boolean;
  /** Bearer token of that API. @default 32 random bytes, hex */
  readonly token?: string;
  /** Print JSON lines (`started`, `stats`, `stopped` events) instead of text. @default false */
  readonly json?: boolean;
  /** Stops the network early (Ctrl-C in the CLI). */
  readonly signal?: AbortSignal;
  /** Where lines of output go. */
  readonly print: (line: string) => void;
  /** Told after each node started (the CLI draws a progress bar on a terminal). */
  readonly progress?: (started: number, total: number) => void;
}

const LOOPBACK = new Set(['127.0.0.1', '::1']);
const CALL_TIMEOUT_MS = 5000;

/**
 * Starts a local Mainline DHT network of `nodes` nodes on loopback UDP, each with embedded
 * in-memory storage, and the HTTP API and dashboard of its first node; shows a BEP 44 put/get
 * and a BEP 5 announce/get_peers across nodes; then keeps the network up, printing counters,
 * until `durationMs` passes or `signal` aborts. Resolves with the exit code.
 */
export async function runTestnet(options: TestnetOptions): Promise<number> {
  const { print } = options;
  const json = options.json === true;
  if (!LOOPBACK.has(options.host)) {
    print(`testnet binds loopback only: --host must be 127.0.0.1 or ::1 (got ${options.host})`);
    return 2;
  }
  const http = options.http === null ? undefined : parseHostPort(options.http, '--http');
  if (http !== undefined && !LOOPBACK.has(http.host) && http.host !== 'localhost') {
    print(`testnet binds loopback only: --http must be on 127.0.0.1 or ::1 (got ${options.http ?? ''})`);
    return 2;
  }
  let testnet: Testnet | undefined;
  let app: FastifyInstance | undefined;
  try {
    // each newcomer bootstraps from the first node and up to two others already running
    testnet = await createTestnet({
      transport: 'udp',
      host: options.host,
      nodes: 0,
      bootstrap: { random: 2 },
      random: Math.random,
    });
    // the entry node's store is metered for its API's metrics, which exist once the node does
    const meters: { metrics?: DaemonMetrics } = {};
    const store = meteredRegistry(new MemoryRegistry(), (operation, seconds, outcome) =>
      meters.metrics?.observeRegistry('node', operation, seconds, outcome),
    );
    for (let i = 0; i < options.nodes; i++) {
      await testnet.add(i === 0 ? { registry: store } : {});
      options.progress?.(i + 1, options.nodes);
    }
    const { nodes } = testnet;
    const entry = nodes[0] as KadNode;
    let api: { url: string; token: string } | undefined;
    if (http !== undefined) {
      const token = options.token ?? randomBytes(32).toString('hex');
      meters.metrics = new DaemonMetrics({ node: entry, store });
      app = await createApiServer({
        node: entry,
        records: new MemoryRegistry(),
        metrics: meters.metrics,
        logger: createLogger('silent'),
        token,
        info: { storage: 'memory', readOnly: false, stateDir: null, testnet: nodes.length },
      });
      api = { url: await listenOrFallback(app, http, options.httpFallback === true), token };
    }
    const started = {
      event: 'started',
      host: options.host,
      nodes: nodes.map((node) => ({
        id: idToHex(node.id),
        address: formatEndpoint(node.address().host, node.address().port),
        contacts: node.stats().contacts,
      })),
      ...(api === undefined ? {} : { api: api.url, token: api.token, dashboard: `${api.url}/#token=${api.token}` }),
    };
    if (json) print(JSON.stringify(started));
    else {
      print(`testnet: ${nodes.length} nodes on ${options.host} (UDP), in-memory storage`);
      for (const node of started.nodes) print(`  ${node.id.slice(0, 12)}…  ${node.address}  ${node.contacts} contacts`);
      if (api !== undefined) {
        print(`dashboard: ${api.url}/#token=${api.token}`);
        print(`API of the first node: ${api.url} (nautilus stats --api ${api.url} --token ${api.token})`);
      }
    }
    const demoResult = await demo(nodes, json ? () => undefined : print);
    if (json) print(JSON.stringify({ event: 'demo', ...demoResult }));
    await runFor(nodes, options);
    return 0;
  } finally {
    await app?.close();
    await testnet?.close();
    const count = testnet?.nodes.length ?? 0;
    print(json ? JSON.stringify({ event: 'stopped', nodes: count }) : `testnet: stopped ${count} nodes`);
  }
}

async function listenOrFallback(
  app: FastifyInstance,
  http: { host: string; port: number },
  fallback: boolean,
): Promise<string> {
  try {
    return await listen(app, http);
  } catch (error) {
    // the default port may be another daemon's: a testnet then takes any free one
    if (!fallback || !isDaemonError(error, 'INVALID_CONFIG')) throw error;
    return listen(app, { host: http.host, port: 0 });
  }
}

interface DemoResult {
  readonly put: { target: string; storedOn: number; readBack: string | null };
  readonly announce: { infoHash: string; port: number; storedOn: number; peers: string[] };
}

/** One writer stores an item and announces a peer across the network; another node finds both. */
async function demo(nodes: readonly KadNode[], print: (line: string) => void): Promise<DemoResult> {
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
  const list = peers.map((p) => formatEndpoint(p.host, p.port));
  print(
    `BEP 5: announced port ${port} for ${idToHex(infoHash).slice(0, 12)}… on ${announced.storedOn.length} nodes; get_peers: ${list.length === 0 ? 'none' : list.join(', ')}`,
  );
  return {
    put: { target: idToHex(put.target), storedOn: put.storedOn.length, readBack: found ?? null },
    announce: { infoHash: idToHex(infoHash), port, storedOn: announced.storedOn.length, peers: list },
  };
}

/** Keeps the network up, printing counters every `intervalMs`, until the duration ends or an abort. */
async function runFor(nodes: readonly KadNode[], options: TestnetOptions): Promise<void> {
  const { durationMs, intervalMs, signal, print } = options;
  const json = options.json === true;
  if (durationMs <= 0 || signal?.aborted === true) return;
  if (!json)
    print(durationMs === Number.POSITIVE_INFINITY ? 'running; Ctrl-C to stop' : `running for ${durationMs} ms`);
  await new Promise<void>((resolve) => {
    const report = setInterval(() => {
      const s = summary(nodes);
      print(json ? JSON.stringify({ event: 'stats', ...s }) : summaryLine(s));
    }, intervalMs);
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

interface Summary {
  readonly nodes: number;
  readonly contactsPerNode: number;
  readonly datagramsReceived: number;
  readonly queriesAnswered: number;
}

function summary(nodes: readonly KadNode[]): Summary {
  let contacts = 0;
  let answered = 0;
  let datagrams = 0;
  for (const node of nodes) {
    const stats = node.stats();
    contacts += stats.contacts;
    answered += stats.rpc.responsesSent + stats.rpc.errorsSent;
    datagrams += stats.transport.datagramsReceived;
  }
  return {
    nodes: nodes.length,
    contactsPerNode: Number((contacts / nodes.length).toFixed(1)),
    datagramsReceived: datagrams,
    queriesAnswered: answered,
  };
}

function summaryLine(s: Summary): string {
  return `nodes ${s.nodes}, contacts per node ${s.contactsPerNode.toFixed(1)}, datagrams received ${s.datagramsReceived}, queries answered ${s.queriesAnswered}`;
}

function formatEndpoint(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
