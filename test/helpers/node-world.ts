import type { BencodeDict, BencodeValue } from '../../src/kad/wire/bencode.js';
import type { KadNodeOptions } from '../../src/kad/node/options.js';
import type { KadNode } from '../../src/kad/node/types.js';
import { createTestnet, ManualClock, MemoryNetwork, type TestnetNodeOptions } from '../../src/testing/index.js';

/** A null-prototype dict, as the codec produces (for hand-made KRPC arguments). */
export const rawDict = (entries: Record<string, BencodeValue>): BencodeDict =>
  Object.assign(Object.create(null) as BencodeDict, entries);

/**
 * A MemoryNetwork (5 ms latency) on a ManualClock and an empty testnet on it, nodes added by
 * hand without bootstrap: `spawn` an IPv4 node (or of `options.family`), `spawn6` an IPv6 one,
 * `spawnDual` a dual-stack one. `close` closes them all and the network.
 */
export function nodeWorld() {
  const clock = new ManualClock();
  const network = new MemoryNetwork({ latencyMs: 5 }, { clock });
  const testnet = createTestnet({ nodes: 0, network, clock, bootstrap: 'none', awaitBootstrap: false });
  const spawn = async (options: TestnetNodeOptions = {}): Promise<KadNode> => (await testnet).add(options);
  const spawn6 = (options: KadNodeOptions = {}): Promise<KadNode> => spawn({ family: 6, ...options });
  const spawnDual = (options: KadNodeOptions = {}): Promise<KadNode> => spawn({ family: 'dual', ...options });
  const close = async (): Promise<void> => {
    await (await testnet).close();
    await network.close();
  };
  return { clock, network, spawn, spawn6, spawnDual, close };
}

/** What {@link nodeWorld} returns. */
export type NodeWorld = ReturnType<typeof nodeWorld>;
