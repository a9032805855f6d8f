/** Why a record left a registry. */
export type RemovalReason =
  /** Removed by `delete`, `deleteMany` or a conditional delete. */
  | 'delete'
  /** Its deadline passed (found on access, by the sweeper, or under capacity pressure). */
  | 'expire'
  /** Pushed out as least recently used to respect `maxEntries` / `maxBytes`. */
  | 'evict'
  /** Removed by `clear()`. */
  | 'clear'
  /** Its only copy lived on a shard that was lost (sharded registries). */
  | 'shard-lost';

/** Payload of `record:set`: a record was created or overwritten. */
export interface RecordSetEvent {
  readonly key: string;
  /** The new version; 1 when the record was created. */
  readonly version: number;
  /** Absolute deadline in epoch ms, or `undefined` when the record does not expire. */
  readonly expiresAt: number | undefined;
}

/** Payload of `record:removed`: fired exactly once for every record that leaves the store. */
export interface RecordRemovedEvent {
  readonly key: string;
  readonly reason: RemovalReason;
  /** The version the record had when it was removed. */
  readonly version: number;
}

/** The events every registry emits. */
export interface RegistryEvents {
  'record:set': RecordSetEvent;
  'record:removed': RecordRemovedEvent;
}
