import { after, before } from 'node:test';
import { type Registry, ShardedRegistry } from '../../../src/registry/index.js';
import { EtcdRegistry } from '../../../src/registry/etcd/index.js';
import {
  type ConformanceLimits,
  type EtcdClusterHandle,
  type ManualClock,
  registryConformanceSuite,
  startEtcdServer,
  type WatchConformance,
} from '../../../src/testing/index.js';
import { compactEtcd } from '../../helpers/etcd-conformance.js';

// The registry contract, watch included, over 3 etcd-backed shards: one etcd member for the
// file, each shard of each registry in its own key namespace on it.
let server: EtcdClusterHandle;
let namespaces = 0;
before(async () => {
  server = await startEtcdServer();
});
after(async () => {
  await server?.stop();
});

/** The etcd backends of each sharded registry made here. */
const backends = new WeakMap<Registry, EtcdRegistry[]>();

function sharded(clock: ManualClock, limits: ConformanceLimits, replicas: number): ShardedRegistry {
  const namespace = namespaces++;
  const valueLimit = limits.maxValueBytes === undefined ? {} : { maxValueBytes: limits.maxValueBytes };
  const etcds = ['e0', 'e1', 'e2'].map(
    (name) =>
      new EtcdRegistry(
        {
          hosts: [...server.endpoints],
          keyPrefix: `sharded:${process.pid}:${namespace}:${name}:`,
          // the manual clock runs ahead of real time: etcd must not drop records before the registry does
          expiryGraceMs: 600_000,
          ...valueLimit,
        },
        { clock },
      ),
  );
  const shards = etcds.map((registry, i) => ({ name: `e${i}`, registry }));
  const registry = new ShardedRegistry({ shards, replicas, ...valueLimit }, { clock });
  backends.set(registry, etcds);
  return registry;
}

const watch: WatchConformance = {
  order: 'per-key',
  // the shards share one member: compacting its history compacts every shard's namespace
  compact: (registry) => compactEtcd(backends.get(registry)?.[0] as EtcdRegistry),
  // etcd keeps every revision until compacted
  retained: Number.POSITIVE_INFINITY,
};

registryConformanceSuite('ShardedRegistry over 3 etcd shards', {
  capacity: false,
  create: ({ clock, limits }) => sharded(clock, limits, 1),
  watch,
});

registryConformanceSuite('ShardedRegistry over 3 etcd shards with 2 replicas', {
  capacity: false,
  create: ({ clock, limits }) => sharded(clock, limits, 2),
  watch,
});
