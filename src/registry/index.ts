export type { Clock, Milliseconds, Timer } from '../core/clock.js';
export { systemClock } from '../core/clock.js';
export type { RegistryErrorCode, RegistryErrorDetails } from './errors.js';
export { isRegistryError, RegistryError } from './errors.js';
export type { Listener } from '../core/emitter.js';
export type { RecordRemovedEvent, RecordSetEvent, RegistryEvents, RemovalReason } from './events.js';
export type {
  DeleteOptions,
  OperationOptions,
  Registry,
  RegistryChange,
  RegistryRecord,
  RestoreOptions,
  RestoreResult,
  ScanOptions,
  SetEntry,
  SetOptions,
  WatchOptions,
} from './registry.js';
export type { Codec } from './codec.js';
export { bytesCodec, CodecRegistry, jsonCodec, stringCodec } from './codec.js';
export { MemoryRegistry } from './memory/memory-registry.js';
export type { MemoryRegistryDeps, MemoryRegistryOptions, MemoryRegistryStats } from './memory/options.js';
export { DEFAULT_MEMORY_REGISTRY_OPTIONS } from './memory/options.js';
export { HrwRouter } from './sharded/hrw.js';
export type { RouterShard } from './sharded/hrw.js';
export { ShardedRegistry } from './sharded/sharded-registry.js';
export type {
  MigrationEvent,
  MigrationKind,
  MigrationResult,
  ShardedRegistryDeps,
  ShardedRegistryEvents,
  ShardedRegistryOptions,
  ShardedRegistryStats,
  ShardHealth,
  ShardSpec,
  ShardStats,
} from './sharded/options.js';
export { DEFAULT_SHARDED_REGISTRY_OPTIONS } from './sharded/options.js';
