/**
 * The daemon's HTTP API overhead: a DHT `get` through `GET /api/items/:target` against the same
 * `get` through the library on the same node, in alternation (same run, same network); and API
 * requests per second on a stored registry record against the registry call in process.
 */
import { Agent, request } from 'node:http';
import { createApiServer, createLogger, DaemonMetrics, listen } from '../src/daemon/index.js';
import { idToHex } from '../src/kad/index.js';
import { MemoryRegistry } from '../src/registry/index.js';
import { createTestnet } from '../src/testing/index.js';
import { opsPerSecond, quantile, type Row } from './harness.js';

const NODES = 30;
const ITEMS = 20;
const GETS = 400;
const CONCURRENCY = 16;
const REQUESTS = 20_000;

/** A keep-alive GET with node:http (undici's fetch costs ~0.5 ms more per request on the client side). */
function get(agent: Agent, url: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent, headers }, (res) => {
      res.on('data', () => undefined);
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

export async function benchDaemonApi(): Promise<Row[]> {
  const testnet = await createTestnet({ transport: 'udp', nodes: NODES });
  const node = testnet.nodes[0]!;
  const records = new MemoryRegistry();
  const token = 'bench-token';
  const app = await createApiServer({
    node,
    records,
    metrics: new DaemonMetrics({ node, store: new MemoryRegistry() }),
    logger: createLogger('silent'),
    token,
    info: {},
  });
  try {
    const url = await listen(app, { host: '127.0.0.1', port: 0 });
    const headers = { authorization: `Bearer ${token}` };
    const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
    const writer = testnet.nodes.at(-1)!;
    const targets: Uint8Array[] = [];
    for (let i = 0; i < ITEMS; i++)
      targets.push((await writer.put({ v: new TextEncoder().encode(`item ${i}`) })).target);

    const library: number[] = [];
    const api: number[] = [];
    for (let i = 0; i < GETS; i++) {
      const target = targets[i % ITEMS]!;
      // alternate which goes first, so neither always meets a warmer network
      const order = i % 2 === 0 ? ['library', 'api'] : ['api', 'library'];
      for (const side of order) {
        const start = performance.now();
        if (side === 'library') {
          if ((await node.get(target)) === undefined) throw new Error('library get found nothing');
          library.push(performance.now() - start);
        } else {
          const status = await get(agent, `${url}/api/items/${idToHex(target)}`, headers);
          if (status !== 200) throw new Error(`API get: HTTP ${status}`);
          api.push(performance.now() - start);
        }
      }
    }

    await records.set('bench/record', new TextEncoder().encode('a cached record'));
    const inProcess = await opsPerSecond(REQUESTS, () => records.get('bench/record'));
    // warm up the route (JIT, sockets) before timing it
    for (let i = 0; i < 1000; i++) await get(agent, `${url}/api/registry/bench%2Frecord`, headers);
    const start = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next++ < REQUESTS / 4) {
          await get(agent, `${url}/api/registry/bench%2Frecord`, headers);
        }
      }),
    );
    const httpRate = REQUESTS / 4 / ((performance.now() - start) / 1000);
    agent.destroy();
    const p50Library = quantile(library, 0.5);
    const p50Api = quantile(api, 0.5);
    return [
      {
        what: `get p50, ${NODES} nodes on 127.0.0.1`,
        anchorName: 'library node.get',
        anchor: p50Library,
        nautilus: p50Api,
        unit: 'ms',
        target: '≤ anchor + 1 ms',
      },
      {
        what: 'get p50: added by the API',
        anchorName: 'target',
        anchor: 1,
        nautilus: p50Api - p50Library,
        unit: 'ms',
        target: '≤ 1 ms',
      },
      {
        what: `API GET of a stored record, ${CONCURRENCY} concurrent clients`,
        anchorName: 'registry.get in process',
        anchor: inProcess / 1000,
        nautilus: httpRate / 1000,
        unit: 'k req/s',
      },
    ];
  } finally {
    await app.close();
    await testnet.close();
  }
}
