export type { ConformanceLimits, ConformanceOptions } from './conformance.js';
export { registryConformanceSuite } from './conformance.js';
export { ManualClock } from './manual-clock.js';
export type {
  DropFilter,
  MemoryNetworkDeps,
  MemoryNetworkOptions,
  MemoryNetworkStats,
  MemoryTransportOptions,
  Packet,
} from './memory-network.js';
export { DEFAULT_MEMORY_NETWORK_OPTIONS, MemoryNetwork, MemoryTransport } from './memory-network.js';
export { seededRandom } from './seeded-random.js';
export type { RedisServerHandle, RedisServerOptions, RedisServerTlsOptions } from './redis-server.js';
export { startRedisServer } from './redis-server.js';
export type { RedisClusterHandle, RedisClusterOptions } from './redis-cluster.js';
export { startRedisCluster } from './redis-cluster.js';
export type { Fault, FaultOperation, FaultRegistryDeps } from './fault-registry.js';
export { FAULT_OPERATIONS, FaultRegistry } from './fault-registry.js';
export type { TestCertificateOptions, TestCertificates } from './tls-certificates.js';
export { createTestCertificates } from './tls-certificates.js';
