import type { BencodeDict, BencodeValue } from '../../src/kad/wire/bencode.js';
import { createNode, type KadNode } from '../../src/kad/node/node.js';
import type { KadNodeOptions } from '../../src/kad/node/options.js';
import { ManualClock, MemoryNetwork } from '../../src/testing/index.js';

/** A null-prototype dict, as the codec produces (for hand-made KRPC arguments). */
export const rawDict = (entries: Record<string, BencodeValue>): BencodeDict =>
  Object.assign(Object.create(null) as BencodeDict, entries);

/**
 * A MemoryNetwork (5 ms latency) on a ManualClock, and nodes on it: `spawn` an IPv4 node (or
 * with the given options), `spawn6` an IPv6 one, `spawnDual` a dual-stack one. `close` closes
 * them all and the network.
 */
export function nodeWorld() {
  const clock = new ManualClock();
  const network = new MemoryNetwork({ latencyMs: 5 }, { clock });
  const nodes: KadNode[] = [];
  const spawn = async (options: KadNodeOptions = {}): Promise<KadNode> => {
    const node = await createNode({ transport: network.createTransport(), clock, ...options });
    nodes.push(node);
    return node;
  };
  const spawn6 = (options: KadNodeOptions = {}): Promise<KadNode> =>
    spawn({ transport: network.createTransport({ family: 6 }), ...options });
  const spawnDual = (options: KadNodeOptions = {}): Promise<KadNode> =>
    spawn({ transport6: network.createTransport({ family: 6 }), ...options });
  const close = async (): Promise<void> => {
    await Promise.all(nodes.map((n) => n.close()));
    await network.close();
  };
  return { clock, network, spawn, spawn6, spawnDual, close };
}

/** What {@link nodeWorld} returns. */
export type NodeWorld = ReturnType<typeof nodeWorld>;
