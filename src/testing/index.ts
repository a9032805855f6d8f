export type { ConformanceLimits, ConformanceOptions } from './conformance.js';
export { registryConformanceSuite } from './conformance.js';
export { ManualClock } from './manual-clock.js';
export type { RedisClusterHandle, RedisClusterOptions, RedisServerHandle, RedisServerOptions } from './redis-server.js';
export { startRedisCluster, startRedisServer } from './redis-server.js';
