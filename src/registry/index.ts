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
export type { Ed25519KeyPair } from '../core/ed25519.js';
export { ed25519KeyPairFromSeed, generateEd25519KeyPair } from '../core/ed25519.js';
export type { Seq } from '../core/bep44-signature.js';
export { SignedRegistry } from './signed/signed-registry.js';
export type { ImportItemOptions, SignedBatchOptions, SignedRecord } from './signed/signed-registry.js';
export type { SignedItem } from './signed/envelope.js';
export type { SignedRegistryOptions, SignedSetOptions } from './signed/options.js';
export { DEFAULT_SIGNED_REGISTRY_OPTIONS } from './signed/options.js';
export { AuditedRegistry, DEFAULT_AUDITED_REGISTRY_OPTIONS } from './audited/audited-registry.js';
export type { ActorOption, AuditedRegistryOptions } from './audited/audited-registry.js';
export type { AuditCheckpoint, AuditEntry, AuditEvent, AuditOperation } from './audited/chain.js';
export { checkpointItem } from './audited/chain.js';
export type { AuditSink, CheckpointOptions } from './audited/sink.js';
export { DEFAULT_CHECKPOINT_EVERY } from './audited/sink.js';
export { DEFAULT_FILE_AUDIT_SINK_OPTIONS, FileAuditSink } from './audited/file-sink.js';
export type { FileAuditSinkOptions, FsyncPolicy } from './audited/file-sink.js';
export { verifyAuditFile, verifyAuditLog } from './audited/verify.js';
export type { AuditProblem, AuditProblemKind, AuditVerification, VerifyAuditOptions } from './audited/verify.js';
export { DEFAULT_TIERED_REGISTRY_OPTIONS } from './tiered/options.js';
export type { TieredRegistryDeps, TieredRegistryOptions, TierInvalidator } from './tiered/options.js';
export { TieredRegistry } from './tiered/tiered-registry.js';
export { DEFAULT_FEED_INVALIDATOR_OPTIONS, FeedInvalidator } from './tiered/feed-invalidator.js';
export type { FeedInvalidatorDeps, FeedInvalidatorOptions, FeedInvalidatorStats } from './tiered/feed-invalidator.js';
export type { TieredRegistryStats } from './tiered/tiered-registry.js';
export {
  DEFAULT_REGISTRY_AUDIT_SINK_OPTIONS,
  readRegistryAuditLog,
  RegistryAuditSink,
} from './audited/registry-sink.js';
export type { RegistryAuditSinkOptions } from './audited/registry-sink.js';
