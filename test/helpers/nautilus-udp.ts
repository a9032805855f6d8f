/**
 * Single Nautilus nodes on real UDP sockets on 127.0.0.1 (port 0) that join a network of any
 * implementation and wait until ready: for the interop tests and the lookup benchmark, which
 * start them beside bittorrent-dht nodes. Networks of Nautilus nodes alone: `createTestnet`.
 */
import { raceAbort } from '../../src/core/abort.js';
import { createNode, type KadNode } from '../../src/kad/node/node.js';
import type { KadNodeOptions } from '../../src/kad/node/options.js';
import type { Endpoint } from '../../src/kad/transport/transport.js';
import { LOOPBACK } from './bittorrent-dht-swarm.js';

/** Options of every node started here, beside host, port and bootstrap. */
export type NautilusUdpOptions = Omit<KadNodeOptions, 'host' | 'port' | 'bootstrap' | 'signal'>;

/**
 * Starts a node on 127.0.0.1:0 that joins through `bootstrap` and resolves once it is ready
 * (its start-up lookup finished through a live node). On abort it is closed again.
 */
export async function startNautilusNode(options: {
  bootstrap: readonly Endpoint[];
  signal: AbortSignal;
  node?: NautilusUdpOptions;
}): Promise<KadNode> {
  const { bootstrap, signal } = options;
  const node = await createNode({ ...options.node, host: LOOPBACK, port: 0, bootstrap, signal });
  try {
    await raceAbort(node.ready, signal);
  } catch (error) {
    await node.close();
    throw error;
  }
  return node;
}

/** The 127.0.0.1 endpoint of a node started here. */
export function nautilusEndpoint(node: KadNode): Endpoint {
  return { host: LOOPBACK, port: node.address().port };
}
