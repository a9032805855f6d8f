import type { Ed25519KeyPair } from '../../core/ed25519.js';
import { privateKeyObject } from '../../core/ed25519.js';
import { RegistryError } from '../errors.js';
import { isStrongPublicKey, isSecretKey, publicKeyOfSeed } from '../../core/ed25519.js';
import { integerOption, stringOption } from '../validation.js';
import type { AuditEvent, CheckpointSigner } from './chain.js';

/**
 * Where an audited registry's entries go. `append` resolves only once the entries are recorded
 * as the sink promises (see its fsync policy); then the change is acknowledged.
 */
export interface AuditSink {
  /**
   * Chains and records `events`, in order (with any checkpoint that falls due).
   * @throws {RegistryError} `AUDIT_FAILED` when they could not be recorded; the sink then
   *   refuses every later append (a log never skips an entry).
   */
  append(events: readonly AuditEvent[]): Promise<void>;
  /** Records a signed checkpoint of the chain head now. @throws {RegistryError} `AUDIT_FAILED`, or `INVALID_OPTION` without a checkpoint key. */
  checkpoint(time: number): Promise<void>;
  /** Why the sink stopped recording, once it has: appends then reject at once. */
  readonly failure: RegistryError | undefined;
  /** Flushes and releases the sink. */
  close(): Promise<void>;
}

/** Signed checkpoints of a log's head. */
export interface CheckpointOptions {
  /** Signs the checkpoints (and publishes them: a checkpoint is a BEP 44 item of this key). */
  readonly keyPair: Ed25519KeyPair;
  /** Names the log: the BEP 44 salt of its checkpoints (1–64 UTF-8 bytes). */
  readonly logId: string;
  /**
   * A checkpoint after every this many entries; 0 only when `checkpoint()` is called.
   * @default 1000
   */
  readonly every?: number | undefined;
}

/** The default of {@link CheckpointOptions.every}. */
export const DEFAULT_CHECKPOINT_EVERY = 1000;

/** Checks checkpoint options once. @internal */
export function checkpointSigner(options: CheckpointOptions | undefined): CheckpointSigner | undefined {
  if (options === undefined) return undefined;
  const { keyPair } = options;
  if (typeof keyPair !== 'object' || keyPair === null || !isSecretKey(keyPair.secretKey)) {
    throw RegistryError.invalidOptionValue(
      'checkpoint.keyPair.secretKey',
      'a 32-byte ed25519 seed',
      keyPair?.secretKey,
    );
  }
  const publicKey = publicKeyOfSeed(keyPair.secretKey);
  if (!isStrongPublicKey(keyPair.publicKey) || Buffer.compare(publicKey, keyPair.publicKey) !== 0) {
    throw RegistryError.invalidOption('checkpoint.keyPair.publicKey must be the public key of its secretKey');
  }
  const logId = stringOption('checkpoint.logId', options.logId, undefined);
  const bytes = logId === undefined ? 0 : Buffer.byteLength(logId);
  if (logId === undefined || bytes === 0 || bytes > 64) {
    throw RegistryError.invalidOptionValue('checkpoint.logId', 'a string of 1 to 64 UTF-8 bytes', options.logId);
  }
  return {
    logId,
    publicKey,
    privateKey: privateKeyObject(keyPair.secretKey),
    every: integerOption('checkpoint.every', options.every, DEFAULT_CHECKPOINT_EVERY, { min: 0 }),
  };
}
