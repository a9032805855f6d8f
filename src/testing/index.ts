export type { ConformanceLimits, ConformanceOptions, WatchConformance } from './registry/conformance.js';
export { registryConformanceSuite } from './registry/conformance.js';
export { ManualClock } from './manual-clock.js';
export { MemoryStateStore } from './memory-state-store.js';
export type {
  DropFilter,
  MemoryNetworkDeps,
  MemoryNetworkOptions,
  MemoryNetworkStats,
  MemoryTransportOptions,
  Packet,
} from './memory-network.js';
export { DEFAULT_MEMORY_NETWORK_OPTIONS, MemoryNetwork, MemoryTransport } from './memory-network.js';
export type { MemoryNatOptions, MemoryNatStats, NatFiltering, NatKind, NatMapping } from './memory-nat.js';
export { MemoryNat, NAT_KINDS } from './memory-nat.js';
export { seededBytes, seededRandom } from './seeded-random.js';
export type { RedisServerHandle, RedisServerOptions, RedisServerTlsOptions } from './redis/redis-server.js';
export { startRedisServer } from './redis/redis-server.js';
export type { EtcdClusterHandle, EtcdMemberHandle, EtcdServerOptions } from './etcd/etcd-server.js';
export { startEtcdCluster, startEtcdServer } from './etcd/etcd-server.js';
export type { RedisClusterHandle, RedisClusterOptions } from './redis/redis-cluster.js';
export { startRedisCluster } from './redis/redis-cluster.js';
export type { Fault, FaultOperation, FaultRegistryDeps } from './registry/fault-registry.js';
export { FAULT_OPERATIONS, FaultRegistry } from './registry/fault-registry.js';
export type { LinearizabilityVerdict, VersionHistoryOptions, VersionOperation } from './registry/linearizability.js';
export { checkVersionHistory } from './registry/linearizability.js';
export type { TestCertificateOptions, TestCertificates } from './redis/tls-certificates.js';
export { createTestCertificates } from './redis/tls-certificates.js';
export type {
  MemoryTestnet,
  MemoryTestnetOptions,
  SettleOptions,
  Testnet,
  TestnetBaseOptions,
  TestnetBootstrap,
  TestnetFamily,
  TestnetNodeOptions,
  UdpTestnetOptions,
} from './testnet.js';
export { createTestnet, DEFAULT_TESTNET_OPTIONS } from './testnet.js';
export type {
  HostileBehaviour,
  ResolvedSimulateOptions,
  SimulateOptions,
  SimulationProgress,
  WorkloadRates,
} from './simulate/options.js';
export { DEFAULT_SIMULATE_OPTIONS, HOSTILE_BEHAVIOURS, MAX_SIMULATED_NODES } from './simulate/options.js';
export type { SimulationStrategy } from './simulate/strategies.js';
export { DEFAULT_STRATEGIES, parseStrategy, STRATEGY_NAMES } from './simulate/strategies.js';
export type {
  NetworkFigures,
  OperationSummary,
  RoutingTableFigures,
  SimulationReport,
  StrategyReport,
  WindowFigures,
} from './simulate/report.js';
export { formatReport, REPORT_FORMAT } from './simulate/report.js';
export { reportSvg } from './simulate/svg.js';
export type { SimulationResult, SimulationRuntime } from './simulate/simulate.js';
export { simulate } from './simulate/simulate.js';
export type { ThreadSimulateOptions } from './simulate/thread.js';
export { simulateOnThread } from './simulate/thread.js';
