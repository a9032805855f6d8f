/**
 * The daemon's HTTP API overhead: a DHT `get` through `GET /api/items/:target` against the same
 * `get` through the library on the same node, in alternation (same run, same network); and a
 * GET of a stored registry record (latency one at a time, requests/s of 16 clients, CPU per
 * request) against a bare node:http server answering the same JSON to the same client.
 */
import { Agent, createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createApiServer, createLogger, DaemonMetrics, listen } from '../src/daemon/index.js';
import { idToHex } from '../src/kad/index.js';
import { MemoryRegistry } from '../src/registry/index.js';
import { createTestnet } from '../src/testing/index.js';
import { quantile, type Row } from './harness.js';

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

/**
 * The floor of any HTTP API here: a node:http server that answers every request with the JSON of
 * a record, on 127.0.0.1; resolves with its URL. Closed by `unref`: it holds no work.
 */
async function bareServer(): Promise<string> {
  const body = JSON.stringify({ key: 'bench/record', value: 'a cached record', valueHex: '61', version: 1 });
  const server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(body));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  server.unref();
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
}

/** Requests/s of `CONCURRENCY` clients, CPU µs per request (this process), and p50 one at a time. */
async function httpRates(
  agent: Agent,
  url: string,
  headers: Record<string, string>,
): Promise<{ perSecond: number; cpuUs: number; p50Ms: number }> {
  // warm up the route (JIT, sockets) before timing it
  for (let i = 0; i < 1000; i++) await get(agent, url, headers);
  const count = REQUESTS / 4;
  const start = performance.now();
  const cpu = process.cpuUsage();
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next++ < count) if ((await get(agent, url, headers)) !== 200) throw new Error(`GET ${url} failed`);
    }),
  );
  const perSecond = count / ((performance.now() - start) / 1000);
  const used = process.cpuUsage(cpu);
  const one: number[] = [];
  for (let i = 0; i < 2000; i++) {
    const at = performance.now();
    await get(agent, url, headers);
    one.push(performance.now() - at);
  }
  return { perSecond, cpuUs: (used.user + used.system) / count, p50Ms: quantile(one, 0.5) };
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
    const floor = await httpRates(agent, await bareServer(), {});
    const daemon = await httpRates(agent, `${url}/api/registry/bench%2Frecord`, headers);
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
        what: 'GET of a stored record, one at a time: p50',
        anchorName: 'bare node:http server',
        anchor: floor.p50Ms,
        nautilus: daemon.p50Ms,
        unit: 'ms',
      },
      {
        what: `GET of a stored record, ${CONCURRENCY} concurrent clients`,
        anchorName: 'bare node:http server',
        anchor: floor.perSecond / 1000,
        nautilus: daemon.perSecond / 1000,
        unit: 'k req/s',
      },
      {
        what: 'CPU per GET (client and server in this process)',
        anchorName: 'bare node:http server',
        anchor: floor.cpuUs,
        nautilus: daemon.cpuUs,
        unit: 'µs',
      },
    ];
  } finally {
    await app.close();
    await testnet.close();
  }
}
