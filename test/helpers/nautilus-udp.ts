/**
 * Networks of Nautilus nodes on real UDP sockets on 127.0.0.1 (port 0 each), joined in bounded
 * batches through a few entry nodes. For the real-UDP scale and interop tests and the lookup
 * benchmark; deterministic multi-node tests use MemoryNetwork and ManualClock instead.
 */
import { createNode, type KadNode } from '../../src/kad/node/node.js';
import type { KadNodeOptions } from '../../src/kad/node/options.js';
import type { Endpoint } from '../../src/kad/transport/transport.js';
import { type JoinedOptions, startJoined } from './batches.js';
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
    await abortable(node.ready, signal);
  } catch (error) {
    await node.close();
    throw error;
  }
  return node;
}

/** Starts `count` nodes, `batch` (default 25) at a time, each joining through `bootstrap` or the first node. */
export function startNautilusNetwork(
  options: JoinedOptions & { readonly node?: NautilusUdpOptions },
): Promise<KadNode[]> {
  const node = options.node;
  return startJoined(
    {
      start: (bootstrap, signal) => startNautilusNode({ bootstrap, signal, ...(node === undefined ? {} : { node }) }),
      endpoint: nautilusEndpoint,
      close: (started) => started.close(),
    },
    options,
  );
}

/** The 127.0.0.1 endpoint of a node started here. */
export function nautilusEndpoint(node: KadNode): Endpoint {
  return { host: LOOPBACK, port: node.address().port };
}

/** `promise`, or a rejection with `signal.reason` once `signal` aborts. */
export function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason as Error);
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    promise.finally(() => signal.removeEventListener('abort', onAbort)).then(resolve, reject);
  });
}
