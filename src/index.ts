export type { Clock, Milliseconds, Timer } from './registry/index.js';
export { systemClock } from './registry/index.js';
export type {
  Codec,
  DeleteOptions,
  Listener,
  MemoryRegistryDeps,
  MemoryRegistryOptions,
  MemoryRegistryStats,
  OperationOptions,
  RecordRemovedEvent,
  RecordSetEvent,
  Registry,
  RegistryErrorCode,
  RegistryEvents,
  RegistryRecord,
  RemovalReason,
  ScanOptions,
  SetEntry,
  SetOptions,
} from './registry/index.js';
export {
  bytesCodec,
  CodecRegistry,
  DEFAULT_MEMORY_REGISTRY_OPTIONS,
  isRegistryError,
  jsonCodec,
  MemoryRegistry,
  RegistryError,
  stringCodec,
} from './registry/index.js';
