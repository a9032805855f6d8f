import { describe } from '../core/describe.js';

/**
 * Every failure of a registry operation, named by a stable string code.
 *
 * - `INVALID_KEY`: the key is not a non-empty, well-formed string within `maxKeyBytes`.
 * - `INVALID_VALUE`: the value is not of the accepted type, or the codec cannot encode it.
 * - `INVALID_TTL`: a TTL that is not a positive safe integer number of milliseconds.
 * - `INVALID_OPTION`: a constructor or call option out of its documented range.
 * - `VALUE_TOO_LARGE`: the value is larger than `maxValueBytes`.
 * - `CAPACITY_EXCEEDED`: the write can never fit the configured capacity.
 * - `VERSION_CONFLICT`: an `ifVersion` condition did not hold.
 * - `VERSION_EXHAUSTED`: the write would take the key's version past `Number.MAX_SAFE_INTEGER`.
 * - `CODEC_ERROR`: stored bytes could not be decoded by the codec.
 * - `BACKEND_UNAVAILABLE`: the backend cannot be reached.
 * - `TIMEOUT`: the backend did not answer within the deadline.
 * - `CLOSED`: the registry was closed.
 * - `INVALID_SIGNATURE`: a signed record (or an item imported as one) whose ed25519 signature
 *   does not verify: its bytes were changed outside the `SignedRegistry`, or it was forged.
 * - `NOT_OWNER`: a signed write with a key pair other than the one that owns the key.
 * - `SEQUENCE_TOO_LOW`: a signed write whose BEP 44 `seq` is not above the stored one.
 * - `AUDIT_FAILED`: the audit log could not record a change (full disk, failing sink); the
 *   change is not acknowledged.
 * - `COMPACTED`: a change-feed cursor the backend no longer holds (its history was trimmed);
 *   re-read with `scan` and watch again from `cursor()`.
 * - `FENCED`: a write guarded by a lock's fencing token that is no longer the lock's latest.
 */
export type RegistryErrorCode =
  | 'INVALID_KEY'
  | 'INVALID_VALUE'
  | 'INVALID_TTL'
  | 'INVALID_OPTION'
  | 'VALUE_TOO_LARGE'
  | 'CAPACITY_EXCEEDED'
  | 'VERSION_CONFLICT'
  | 'VERSION_EXHAUSTED'
  | 'CODEC_ERROR'
  | 'BACKEND_UNAVAILABLE'
  | 'TIMEOUT'
  | 'CLOSED'
  | 'INVALID_SIGNATURE'
  | 'NOT_OWNER'
  | 'SEQUENCE_TOO_LOW'
  | 'AUDIT_FAILED'
  | 'COMPACTED'
  | 'FENCED';

/** Extra facts attached to a {@link RegistryError}, where they apply. */
export interface RegistryErrorDetails {
  /** The key the operation was about. */
  readonly key?: string;
  /** For `VERSION_CONFLICT`: the version the caller required. */
  readonly expectedVersion?: number;
  /** For `VERSION_CONFLICT` and `VERSION_EXHAUSTED`: the version actually stored (0 when absent). */
  readonly actualVersion?: number;
  /** The underlying error, if any. */
  readonly cause?: unknown;
}

/** The one error class of the registry domain. Check `code`, never the message. */
export class RegistryError extends Error {
  override readonly name = 'RegistryError';
  readonly code: RegistryErrorCode;
  readonly key: string | undefined;
  readonly expectedVersion: number | undefined;
  readonly actualVersion: number | undefined;

  constructor(code: RegistryErrorCode, message: string, details: RegistryErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.code = code;
    this.key = details.key;
    this.expectedVersion = details.expectedVersion;
    this.actualVersion = details.actualVersion;
  }

  static invalidKey(reason: string, key?: string): RegistryError {
    return new RegistryError('INVALID_KEY', `invalid key: ${reason}`, key === undefined ? {} : { key });
  }

  static invalidValue(reason: string, details: RegistryErrorDetails = {}): RegistryError {
    return new RegistryError('INVALID_VALUE', `invalid value: ${reason}`, details);
  }

  static invalidTtl(name: string, value: unknown): RegistryError {
    return new RegistryError(
      'INVALID_TTL',
      `${name} must be a positive safe integer number of milliseconds (got ${describe(value)})`,
    );
  }

  static invalidOption(message: string): RegistryError {
    return new RegistryError('INVALID_OPTION', message);
  }

  /** An option (or argument) `name` whose `value` is not what it must be: "`name` must be `expected` (got …)". */
  static invalidOptionValue(name: string, expected: string, value: unknown): RegistryError {
    return new RegistryError('INVALID_OPTION', `${name} must be ${expected} (got ${describe(value)})`);
  }

  static valueTooLarge(key: string, bytes: number, limit: number): RegistryError {
    return new RegistryError('VALUE_TOO_LARGE', `value of ${bytes} bytes exceeds maxValueBytes ${limit}`, { key });
  }

  static capacityExceeded(message: string, key?: string): RegistryError {
    return new RegistryError('CAPACITY_EXCEEDED', message, key === undefined ? {} : { key });
  }

  static versionConflict(key: string, expectedVersion: number, actualVersion: number): RegistryError {
    return new RegistryError(
      'VERSION_CONFLICT',
      `version conflict on "${key}": expected ${expectedVersion}, found ${actualVersion}`,
      { key, expectedVersion, actualVersion },
    );
  }

  /**
   * A write refused because the key's version, `actualVersion`, is `Number.MAX_SAFE_INTEGER`:
   * one more would not be exact. Deleting the key lets it start again at 1.
   */
  static versionExhausted(key: string, actualVersion: number): RegistryError {
    return new RegistryError(
      'VERSION_EXHAUSTED',
      `version of "${key}" is ${actualVersion}, the largest safe integer: delete the key to write it again`,
      { key, actualVersion },
    );
  }

  static codec(message: string, key: string, cause?: unknown): RegistryError {
    return new RegistryError('CODEC_ERROR', message, { key, cause });
  }

  static unavailable(message: string, cause?: unknown): RegistryError {
    return new RegistryError('BACKEND_UNAVAILABLE', message, { cause });
  }

  static timeout(message: string, cause?: unknown): RegistryError {
    return new RegistryError('TIMEOUT', message, { cause });
  }

  /** A watch `after` a cursor whose changes are gone; `cursor` is the one asked for. */
  static compacted(cursor: string, cause?: unknown): RegistryError {
    return new RegistryError(
      'COMPACTED',
      `the changes after cursor "${cursor}" are no longer held: re-read with scan and watch from cursor()`,
      { cause },
    );
  }

  /** A write refused because its fencing token is not the guarding lock's latest. */
  static fenced(key: string, token: string): RegistryError {
    return new RegistryError('FENCED', `write to "${key}" refused: fencing token ${token} is stale`, { key });
  }

  static closed(): RegistryError {
    return new RegistryError('CLOSED', 'the registry is closed');
  }

  /** A signed record under `key` whose signature does not verify (`reason` says what was wrong). */
  static invalidSignature(key: string, reason: string): RegistryError {
    return new RegistryError('INVALID_SIGNATURE', `invalid signature on "${key}": ${reason}`, { key });
  }

  /** A signed write of `key`, which another public key (`owner`, hex) owns. */
  static notOwner(key: string, owner: string): RegistryError {
    return new RegistryError('NOT_OWNER', `"${key}" is owned by public key ${owner}`, { key });
  }

  /** A signed write of `key` with `seq`, not above the stored `storedSeq`. */
  static sequenceTooLow(key: string, seq: bigint | number, storedSeq: bigint | number): RegistryError {
    return new RegistryError('SEQUENCE_TOO_LOW', `seq ${seq} of "${key}" is not above the stored seq ${storedSeq}`, {
      key,
    });
  }

  /** The audit log could not record a change; the change is not acknowledged. */
  static auditFailed(message: string, cause?: unknown): RegistryError {
    return new RegistryError('AUDIT_FAILED', message, { cause });
  }
}

/** Is `error` a {@link RegistryError}, optionally with the given code? */
export function isRegistryError(error: unknown, code?: RegistryErrorCode): error is RegistryError {
  return error instanceof RegistryError && (code === undefined || error.code === code);
}
