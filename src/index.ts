// nautilus: the main names of both halves, curated. Everything else of a half is on its own
// subpath (nautilus/kad, nautilus/registry, nautilus/registry/redis, nautilus/testing).

// time (injected everywhere)
export type { Clock, Milliseconds, Timer } from './core/clock.js';
export { systemClock } from './core/clock.js';

// KAD: the node
export type {
  AddressFamily,
  CallOptions,
  Contact,
  Endpoint,
  FindNodeResult,
  GetItemResult,
  GetPeersResult,
  ImmutableItem,
  KadFamilyStats,
  KadNode,
  KadNodeOptions,
  KadNodeStats,
  KadStorageOptions,
  RemoteInfo,
  RpcOptions,
  Want,
} from './kad/index.js';
export { createNode, DEFAULT_KAD_NODE_OPTIONS } from './kad/index.js';

// KAD: errors
export type { KadErrorCode, KadErrorDetails } from './kad/index.js';
export { isKadError, KadError, WireError } from './kad/index.js';

// KAD: ids (BEP 5, BEP 42) and items (BEP 44)
export type { ItemKeyPair, MutableItem, NodeId } from './kad/index.js';
export {
  createMutableItem,
  generateKeyPair,
  idFromHex,
  idToHex,
  immutableTarget,
  isNodeId,
  isSecureId,
  keyPairFromSeed,
  MAX_SALT_BYTES,
  MAX_VALUE_BYTES,
  mutableTarget,
  randomId,
  secureId,
  verifyMutable,
} from './kad/index.js';

// Registry: the contract, its errors and codecs
export type {
  Codec,
  DeleteOptions,
  OperationOptions,
  RecordRemovedEvent,
  RecordSetEvent,
  Registry,
  RegistryErrorCode,
  RegistryEvents,
  RegistryRecord,
  RemovalReason,
  RestoreOptions,
  RestoreResult,
  ScanOptions,
  SetEntry,
  SetOptions,
} from './registry/index.js';
export { bytesCodec, CodecRegistry, isRegistryError, jsonCodec, RegistryError, stringCodec } from './registry/index.js';

// Registry: the memory and sharded backends (Redis: nautilus/registry/redis)
export type {
  MemoryRegistryDeps,
  MemoryRegistryOptions,
  MemoryRegistryStats,
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
} from './registry/index.js';
export {
  DEFAULT_MEMORY_REGISTRY_OPTIONS,
  DEFAULT_SHARDED_REGISTRY_OPTIONS,
  HrwRouter,
  MemoryRegistry,
  ShardedRegistry,
} from './registry/index.js';
