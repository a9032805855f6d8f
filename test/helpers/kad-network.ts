import { compareDistance, type NodeId } from '../../src/kad/id.js';
import { createNode, type KadNode } from '../../src/kad/node/node.js';
import type { KadNodeOptions } from '../../src/kad/node/options.js';
import type { Contact } from '../../src/kad/wire/compact.js';
import { ManualClock, MemoryNetwork, type MemoryNetworkOptions, seededRandom } from '../../src/testing/index.js';
import type { MemoryTransport } from '../../src/testing/memory-network.js';
import { drive } from './virtual-time.js';

/** A network of KadNodes on a MemoryNetwork and a ManualClock, with what tests need to check it. */
export interface KadTestNetwork {
  readonly clock: ManualClock;
  readonly network: MemoryNetwork;
  /** Every node created, in order (closed ones included: see {@link alive}). */
  readonly nodes: KadNode[];
  /** The transport of each node, by index. */
  readonly transports: MemoryTransport[];
  /** A deterministic number in [0, 1). */
  readonly random: () => number;
  /** Nodes not killed. */
  alive(): KadNode[];
  /** Silences node `i`: closed with its transport, so datagrams to it vanish (no answer, no error). */
  kill(i: number): Promise<void>;
  /** The `count` live nodes closest to `target`, by brute force (ids compared). */
  trueClosest(target: NodeId, count: number): Contact[];
  /** Awaits `promise`, moving virtual time forward while it is pending. */
  run<T>(promise: Promise<T>, maxMs?: number): Promise<T>;
  close(): Promise<void>;
}

/** How {@link buildKadNetwork} builds the network. */
export interface KadTestNetworkOptions {
  readonly size: number;
  /** Seed of the PRNG behind bootstrap choices (and the network's losses). @default 1 */
  readonly seed?: number;
  /** One-way latency of the network. @default 5 + a per-pair jitter of 0–9 ms */
  readonly latencyMs?: MemoryNetworkOptions['latencyMs'];
  /** Nodes joining at once. @default 10 */
  readonly batch?: number;
  /** Options of every node (transport and clock are set by the builder). */
  readonly node?: Omit<KadNodeOptions, 'transport' | 'clock' | 'bootstrap'>;
}

/**
 * Builds a network of `size` nodes: the first alone, then the others `batch` at a time, each
 * bootstrapping from three random nodes already in (Kademlia join: a lookup of its own id),
 * until every node is `ready`.
 */
export async function buildKadNetwork(options: KadTestNetworkOptions): Promise<KadTestNetwork> {
  const clock = new ManualClock();
  const seed = options.seed ?? 1;
  const random = seededRandom(seed * 7919 + 13);
  // the nodes' own randomness (refresh targets, token secrets) from its own stream: same seed, same network
  const nodeRandom = seededRandom(seed * 104_729 + 7);
  const latencyMs =
    options.latencyMs ??
    ((packet: { from: { host: string }; to: { host: string } }) => 5 + (hash(packet.from.host + packet.to.host) % 10));
  const network = new MemoryNetwork({ latencyMs, seed }, { clock });
  const nodes: KadNode[] = [];
  const transports: MemoryTransport[] = [];
  const dead = new Set<number>();
  const run = <T>(promise: Promise<T>, maxMs = 120_000): Promise<T> => drive(clock, promise, maxMs, 5);
  const spawn = async (bootstrap: Contact[] | { host: string; port: number }[]): Promise<KadNode> => {
    const transport = network.createTransport();
    const node = await createNode({
      randomBytes: (size) => randomBytes(nodeRandom, size),
      ...options.node,
      id: randomBytes(random, 20),
      transport,
      clock,
      bootstrap,
    });
    nodes.push(node);
    transports.push(transport);
    return node;
  };
  await spawn([]);
  const batch = options.batch ?? 10;
  while (nodes.length < options.size) {
    const joined = nodes.length;
    const joining: KadNode[] = [];
    for (let i = 0; i < batch && nodes.length < options.size; i++) {
      const seeds = new Set<number>();
      while (seeds.size < Math.min(3, joined)) seeds.add(Math.floor(random() * joined));
      joining.push(await spawn([...seeds].map((s) => (nodes[s] as KadNode).address())));
    }
    await run(Promise.all(joining.map((node) => node.ready)));
  }
  return {
    clock,
    network,
    nodes,
    transports,
    random,
    alive: () => nodes.filter((_, i) => !dead.has(i)),
    async kill(i: number) {
      dead.add(i);
      await (nodes[i] as KadNode).close();
      await (transports[i] as MemoryTransport).close();
    },
    trueClosest(target: NodeId, count: number): Contact[] {
      return nodes
        .filter((_, i) => !dead.has(i))
        .map((node) => ({ id: node.id, ...node.address() }))
        .sort((a, b) => compareDistance(target, a.id, b.id))
        .slice(0, count)
        .map(({ id, host, port }) => ({ id, host, port }));
    },
    run,
    async close() {
      await Promise.all(nodes.map((node) => node.close()));
      await network.close();
    },
  };
}

/** `length` bytes from `random`. */
export function randomBytes(random: () => number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = Math.floor(random() * 256);
  return out;
}

function hash(text: string): number {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return h >>> 0;
}
