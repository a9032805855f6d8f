export type {
  RedisChangefeedOptions,
  ResolvedChangefeed,
  RedisRegistryDeps,
  RedisRegistryOptions,
  RedisRegistryStats,
  ResolvedRedisRegistryOptions,
} from './options.js';
export { DEFAULT_CHANGEFEED_MAX_LENGTH, DEFAULT_REDIS_REGISTRY_OPTIONS } from './options.js';
export { RedisRegistry } from './redis-registry.js';
export { HEADER_BYTES, LAYOUT_VERSION } from '../record-layout.js';
export { keySlot, SLOT_COUNT } from './key-slot.js';
