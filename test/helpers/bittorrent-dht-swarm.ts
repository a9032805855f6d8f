/**
 * Networks of `bittorrent-dht` nodes on 127.0.0.1 for the interop tests and the lookup benchmark:
 * each node on its own UDP socket (port 0), joined in bounded batches, every outgoing query counted.
 * Nothing leaves loopback: every node gets an explicit bootstrap list (never the public routers).
 */
import { once } from 'node:events';
import DHT from 'bittorrent-dht';
import type { Endpoint } from '../../src/kad/transport/transport.js';
import { type Joiner, type JoinedOptions, startJoined } from './batches.js';
import { ed25519Verify } from './ed25519.js';

/** The only address these networks use. */
export const LOOPBACK = '127.0.0.1';

const queriesSent = new WeakMap<DHT, { count: number }>();

/**
 * Query datagrams `dht` has sent since it was started here. Counted where k-rpc-socket sends
 * them (its `query`, one datagram each: it never retransmits), so lookups, bootstrap, pings of
 * its bucket checks and puts/announces to the closest nodes are all included; responses are not.
 */
export function dhtQueriesSent(dht: DHT): number {
  const counter = queriesSent.get(dht);
  if (counter === undefined) throw new Error('not a node started by startDhtNode');
  return counter.count;
}

/** The 'host:port' of a started node. */
export function dhtEndpoint(dht: DHT): Endpoint {
  return { host: LOOPBACK, port: dht.address().port };
}

/**
 * Starts one node on 127.0.0.1:0 that joins through `bootstrap` (none: a lone first node) and
 * resolves once it is ready. Its socket is bound right after construction, before its start-up
 * lookup sends anything (dgram queues sends while binding), so it never binds to 0.0.0.0.
 */
export async function startDhtNode(options: {
  bootstrap: readonly Endpoint[];
  signal: AbortSignal;
  k?: number;
}): Promise<DHT> {
  const dht = new DHT({
    bootstrap: options.bootstrap.length === 0 ? false : options.bootstrap.map((e) => `${e.host}:${String(e.port)}`),
    host: LOOPBACK,
    verify: ed25519Verify,
    ...(options.k === undefined ? {} : { k: options.k }),
  });
  const counter = { count: 0 };
  queriesSent.set(dht, counter);
  const socket = dht._rpc.socket;
  const query = socket.query.bind(socket);
  socket.query = (peer, message, callback) => {
    counter.count++;
    return query(peer, message, callback);
  };
  dht.on('warning', () => undefined); // stray replies after a timeout: not errors of the test
  dht.listen(0, LOOPBACK);
  try {
    // `ready`: its start-up lookup finished
    if (dht.ready !== true) await once(dht, 'ready', { signal: options.signal });
  } catch (error) {
    await destroyDht(dht);
    throw error;
  }
  return dht;
}

/** Destroys a node and resolves once its socket is closed. */
export function destroyDht(dht: DHT): Promise<void> {
  return new Promise<void>((resolve) => dht.destroy(() => resolve()));
}

/** Starting (with bucket size `k`, default its own 20), addressing and closing bittorrent-dht nodes, for {@link startJoined}. */
export function dhtJoiner(k?: number): Joiner<DHT> {
  return {
    start: (bootstrap, signal) => startDhtNode({ bootstrap, signal, ...(k === undefined ? {} : { k }) }),
    endpoint: dhtEndpoint,
    close: destroyDht,
  };
}

/**
 * Starts `count` nodes, `batch` (default 25) at a time: every node joins through `bootstrap`
 * or, without one, through the swarm's first node. Resolves with the nodes in start order.
 */
export function startDhtSwarm(
  options: JoinedOptions & {
    /** Bucket size and lookup width of every node. @default 20 (bittorrent-dht's own) */
    readonly k?: number;
  },
): Promise<DHT[]> {
  return startJoined(dhtJoiner(options.k), options);
}
