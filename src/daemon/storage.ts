import type { OperationOptions, Registry } from '../registry/registry.js';
import { MemoryRegistry } from '../registry/memory/memory-registry.js';
import { DEFAULT_KAD_NODE_STORAGE_OPTIONS } from '../kad/node/options.js';
import { DaemonError } from './errors.js';

/** Bounds of the `memory` records registry (the `registry` verbs). */
export const DEFAULT_RECORDS_LIMITS = Object.freeze({ maxEntries: 100_000, maxBytes: 64 * 1024 * 1024 });

/** Key prefixes in Redis: the node's store and the records of the `registry` verbs apart. */
export const REDIS_KEY_PREFIXES = Object.freeze({ node: 'nautilus:kad:', records: 'nautilus:records:' });

/** The registries a daemon runs on, made from its `storage` setting. */
export interface DaemonStorage {
  /** What `--storage` said: `memory`, `redis` or `redis-cluster`. */
  readonly kind: 'memory' | 'redis' | 'redis-cluster';
  /** The node's store of items and peers. */
  readonly node: Registry<Uint8Array>;
  /** Records of the `registry` verbs (`GET/PUT/DELETE /api/registry/:key`). */
  readonly records: Registry<Uint8Array>;
  /** Closes what was opened here. */
  close(): Promise<void>;
}

/**
 * Opens the registries `storage` names: `memory`; `redis://…` / `rediss://…` (one server); or
 * `redis-cluster://host:port,host:port…` (a Redis Cluster, discovered from those nodes). Redis
 * is connected before this resolves. Throws `INVALID_CONFIG` for anything else;
 * a server that cannot be reached rejects with the registry's `BACKEND_UNAVAILABLE`.
 */
export async function openStorage(storage: string, options: OperationOptions = {}): Promise<DaemonStorage> {
  if (storage === 'memory') {
    // bounded as the node bounds the store it makes itself: the sums of its peer and item budgets
    const { maxEntries, maxBytes } = DEFAULT_KAD_NODE_STORAGE_OPTIONS;
    const node = new MemoryRegistry({ maxEntries, maxBytes });
    const records = new MemoryRegistry(DEFAULT_RECORDS_LIMITS);
    const close = async (): Promise<void> => {
      await Promise.all([node.close(), records.close()]);
    };
    return { kind: 'memory', node, records, close };
  }
  const cluster = /^redis-cluster:\/\/(.+)$/.exec(storage);
  if (cluster === null && !/^rediss?:\/\/./.test(storage)) {
    throw DaemonError.invalidConfig(
      '--storage',
      `must be memory, redis://host:port or redis-cluster://host:port,… (got ${JSON.stringify(storage)})`,
    );
  }
  // loaded only here: @redis/client is for those who use it
  const { RedisRegistry } = await import('../registry/redis/redis-registry.js');
  const target = cluster === null ? { url: storage } : { cluster: clusterUrls(cluster[1] as string) };
  const node = await RedisRegistry.connect({ ...target, keyPrefix: REDIS_KEY_PREFIXES.node }, {}, options);
  try {
    const records = await RedisRegistry.connect({ ...target, keyPrefix: REDIS_KEY_PREFIXES.records }, {}, options);
    const close = async (): Promise<void> => {
      await Promise.all([node.close(), records.close()]);
    };
    return { kind: cluster === null ? 'redis' : 'redis-cluster', node, records, close };
  } catch (error) {
    await node.close();
    throw error;
  }
}

function clusterUrls(list: string): string[] {
  const urls = list.split(',').map((entry) => entry.trim());
  for (const entry of urls) {
    if (!/^[^\s/,]+:\d{1,5}$/.test(entry)) {
      throw DaemonError.invalidConfig('--storage', `redis-cluster:// takes host:port,… (got ${JSON.stringify(entry)})`);
    }
  }
  return urls.map((entry) => `redis://${entry}`);
}
