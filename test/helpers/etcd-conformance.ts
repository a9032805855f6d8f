import { EtcdRegistry } from '../../src/registry/etcd/index.js';
import type { Registry } from '../../src/registry/index.js';
import { type EtcdClusterHandle, registryConformanceSuite } from '../../src/testing/index.js';

/** Compacts etcd's history up to its current revision: every older cursor is gone. */
export async function compactEtcd(registry: Registry): Promise<void> {
  const client = (registry as EtcdRegistry).client;
  const { header } = await client.kv.range({ key: Buffer.from('compaction-probe') });
  await client.kv.compact({ revision: header.revision, physical: true });
}

/**
 * The registry conformance suite (watch included) on etcd members `cluster()` serves, one key
 * namespace per registry so that tests never meet.
 */
export function etcdConformance(name: string, cluster: () => EtcdClusterHandle): void {
  let namespaces = 0;
  registryConformanceSuite(name, {
    capacity: false,
    create: ({ clock, limits }) =>
      new EtcdRegistry(
        {
          hosts: [...cluster().endpoints],
          keyPrefix: `conformance:${process.pid}:${namespaces++}:`,
          // the manual clock runs ahead of real time: etcd must not drop records before the registry does
          expiryGraceMs: 600_000,
          ...(limits.maxValueBytes === undefined ? {} : { maxValueBytes: limits.maxValueBytes }),
        },
        { clock },
      ),
    // etcd keeps every revision until compacted
    watch: { compact: compactEtcd, retained: Number.POSITIVE_INFINITY },
  });
}
