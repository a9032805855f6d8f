/**
 * One interface over a Nautilus node and a bittorrent-dht node for the lookup benchmark: the
 * same workload (immutable put, get) and the same counters (query datagrams sent) on both.
 */
import { randomBytes } from 'node:crypto';
import type DHT from 'bittorrent-dht';
import type { GetResult } from 'bittorrent-dht';
import { raceAbort } from '../src/core/abort.js';
import { immutableTarget } from '../src/kad/items.js';
import { type Endpoint, endpointKey } from '../src/kad/transport/transport.js';
import type { KadNode } from '../src/kad/node/node.js';
import { nautilusEndpoint, startNautilusNode } from '../test/helpers/nautilus-udp.js';
import { destroyDht, dhtEndpoint, dhtQueriesSent, startDhtNode } from '../test/helpers/bittorrent-dht-swarm.js';

/** Which implementation a member runs. */
export type Implementation = 'nautilus' | 'bittorrent-dht';

/** Result of a member's put. */
export interface PutOutcome {
  readonly target: Uint8Array;
  /** 'host:port' of the putter and of every node the put was sent to (they hold the item). */
  readonly holders: ReadonlySet<string>;
}

/** A node of a benchmark network. */
export interface Member {
  readonly implementation: Implementation;
  readonly endpoint: Endpoint;
  /** Query datagrams this node sent since it started (retransmissions included). */
  queriesSent(): number;
  /** Queries this node sent that got no answer in time (retransmissions apart). */
  timeouts(): number;
  /**
   * Datagrams over 1500 bytes this node received and dropped undecoded (Nautilus only: queries
   * and datagrams that answer nothing in flight; bittorrent-dht takes any size).
   */
  oversizedDropped(): number;
  /** Replies over 1500 bytes to this node's own queries that it took (Nautilus only). */
  largeReplies(): number;
  /** Stores a fresh immutable value `v` on the closest nodes. */
  put(v: Uint8Array, signal: AbortSignal): Promise<PutOutcome>;
  /** Looks `target` up; true when a value hashing to it came back. */
  get(target: Uint8Array, signal: AbortSignal): Promise<boolean>;
  close(): Promise<void>;
}

/** A fresh value of `bytes` random bytes (bencoded as a byte string, so its target is new). */
export function freshValue(bytes = 64): Uint8Array {
  return new Uint8Array(randomBytes(bytes));
}

/** Runs a callback-style call of bittorrent-dht under `signal`. */
function settle<T>(signal: AbortSignal, start: (done: (error: Error | null, value: T) => void) => void): Promise<T> {
  const call = new Promise<T>((resolve, reject) =>
    start((error, value) => (error === null ? resolve(value) : reject(error))),
  );
  return raceAbort(call, signal);
}

/** Wraps a started bittorrent-dht node; remembers where its puts went. */
export function dhtMember(dht: DHT): Member {
  let putTo: Set<string> | undefined;
  let timeouts = 0;
  const socket = dht._rpc.socket;
  const query = socket.query.bind(socket);
  socket.query = (peer, message, callback) => {
    if (message.q === 'put') putTo?.add(endpointKey(peer));
    return query(peer, message, (error, reply, from) => {
      if (error?.code === 'ETIMEDOUT') timeouts++;
      callback?.(error, reply, from);
    });
  };
  const endpoint = dhtEndpoint(dht);
  return {
    implementation: 'bittorrent-dht',
    endpoint,
    queriesSent: () => dhtQueriesSent(dht),
    timeouts: () => timeouts,
    oversizedDropped: () => 0,
    largeReplies: () => 0,
    async put(v, signal) {
      const holders = new Set([endpointKey(endpoint)]);
      putTo = holders;
      try {
        const hash = await settle<Buffer>(signal, (done) => dht.put({ v: Buffer.from(v) }, (e, h) => done(e, h)));
        return { target: new Uint8Array(hash), holders };
      } finally {
        putTo = undefined;
      }
    },
    async get(target, signal) {
      const key = Buffer.from(target);
      const got = await settle<GetResult | null>(signal, (done) => dht.get(key, { cache: false }, done));
      return got !== null && Buffer.from(immutableTarget(new Uint8Array(got.v))).equals(key);
    },
    close: () => destroyDht(dht),
  };
}

/** Starts a bittorrent-dht node that joins through `bootstrap` and wraps it. */
export async function startDhtMember(bootstrap: readonly Endpoint[], signal: AbortSignal): Promise<Member> {
  return dhtMember(await startDhtNode({ bootstrap, signal }));
}

/** Wraps a started Nautilus node. */
export function nautilusMember(node: KadNode): Member {
  const endpoint = nautilusEndpoint(node);
  return {
    implementation: 'nautilus',
    endpoint,
    queriesSent: () => node.stats().rpc.queriesSent,
    timeouts: () => node.stats().rpc.timeouts,
    oversizedDropped: () => {
      const { rpc, transport } = node.stats();
      // over 65 507 bytes at the transport (never on loopback), over 1500 and unsolicited at the RPC layer
      return transport.oversizedDropped + rpc.dropped.oversized;
    },
    largeReplies: () => node.stats().rpc.largeReplies,
    async put(v, signal) {
      const { target, storedOn } = await node.put({ v }, { signal });
      return { target, holders: new Set([endpointKey(endpoint), ...storedOn.map(endpointKey)]) };
    },
    async get(target, signal) {
      const got = await node.get(target, { signal });
      return got !== undefined;
    },
    close: () => node.close(),
  };
}

/** Starts a Nautilus node on 127.0.0.1:0 that joins through `bootstrap` and wraps it. */
export async function startNautilusMember(bootstrap: readonly Endpoint[], signal: AbortSignal): Promise<Member> {
  return nautilusMember(await startNautilusNode({ bootstrap, signal }));
}
