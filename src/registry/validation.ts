import { describe } from '../core/describe.js';
import { RegistryError } from './errors.js';
import type { RegistryRecord, SetEntry } from './registry.js';

/** Byte length of `key` in UTF-8 without allocating. */
export function utf8Length(key: string): number {
  // ASCII fast path: most keys are short ASCII
  const n = key.length;
  for (let i = 0; i < n; i++) {
    if (key.charCodeAt(i) > 0x7f) return Buffer.byteLength(key, 'utf8');
  }
  return n;
}

/**
 * Checks a key: a non-empty, well-formed (no lone surrogates) string of at most `maxKeyBytes`
 * UTF-8 bytes. Rejects with `INVALID_KEY` otherwise.
 */
export function checkKey(key: unknown, maxKeyBytes: number): asserts key is string {
  if (typeof key !== 'string') throw RegistryError.invalidKey(`expected a string, got ${describe(key)}`);
  if (key.length === 0) throw RegistryError.invalidKey('must not be empty', key);
  // a UTF-16 unit encodes to at most 3 UTF-8 bytes: only long keys need measuring
  if (key.length * 3 > maxKeyBytes && utf8Length(key) > maxKeyBytes) {
    throw RegistryError.invalidKey(`longer than maxKeyBytes ${maxKeyBytes}`, key);
  }
  if (!key.isWellFormed()) throw RegistryError.invalidKey('contains a lone surrogate', key);
}

/** Checks that a batch argument is an array (without narrowing the caller's type to `any[]`). */
export function checkArray(name: string, value: unknown): void {
  if (!Array.isArray(value)) throw RegistryError.invalidOptionValue(name, 'an array', value);
}

/** Checks every key of a batch before anything is done. */
export function checkKeys(keys: readonly string[], maxKeyBytes: number): void {
  checkArray('keys', keys);
  for (const key of keys) checkKey(key, maxKeyBytes);
}

/** Checks a TTL: a positive safe integer number of milliseconds. */
export function checkTtl(ttlMs: unknown, name = 'ttlMs'): asserts ttlMs is number {
  if (typeof ttlMs !== 'number' || !Number.isSafeInteger(ttlMs) || ttlMs <= 0) {
    throw RegistryError.invalidTtl(name, ttlMs);
  }
}

/** Checks an `ifVersion` condition: a non-negative safe integer. */
export function checkVersion(version: unknown): asserts version is number {
  if (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 0) {
    throw RegistryError.invalidOptionValue('ifVersion', 'a non-negative safe integer', version);
  }
}

/**
 * The largest magnitude of a record time (epoch ms) `restore` accepts: 2^54 ms, about 570,000
 * years. It lies past every deadline a TTL can give (a safe-integer `ttlMs` from a clock within
 * the range of a `Date`) and within what every backend can store: Redis takes `expiresAt` plus
 * any `expiryGraceMs` as its `PXAT` expiry only below 1e17 (a larger one is refused as "not an
 * integer", which would otherwise look like a failing server).
 */
export const MAX_TIME_MS = 2 ** 54;

/**
 * Checks the metadata of a record given to `restore`: `version` a positive safe integer,
 * `createdAt` / `updatedAt` finite numbers within ±{@link MAX_TIME_MS}, `expiresAt` in
 * (0, {@link MAX_TIME_MS}] or `undefined`, and `ifNewer` a boolean or `undefined`. Rejects with
 * `INVALID_OPTION` naming the field.
 */
export function checkRestoreMeta(record: unknown, ifNewer: unknown): void {
  checkRecordShape(record);
  const r = record as Record<string, unknown>;
  const { version, createdAt, updatedAt, expiresAt } = r;
  if (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 1) {
    throw RegistryError.invalidOptionValue('record.version', 'a positive safe integer', version);
  }
  for (const [name, time] of [
    ['createdAt', createdAt],
    ['updatedAt', updatedAt],
  ] as const) {
    if (typeof time !== 'number' || !(Math.abs(time) <= MAX_TIME_MS)) {
      throw RegistryError.invalidOptionValue(`record.${name}`, 'a number of epoch ms within ±2^54', time);
    }
  }
  if (expiresAt !== undefined && (typeof expiresAt !== 'number' || !(expiresAt > 0 && expiresAt <= MAX_TIME_MS))) {
    throw RegistryError.invalidOptionValue(
      'record.expiresAt',
      'a positive number of epoch ms up to 2^54, or undefined',
      expiresAt,
    );
  }
  if (ifNewer !== undefined && typeof ifNewer !== 'boolean') {
    throw RegistryError.invalidOptionValue('ifNewer', 'a boolean', ifNewer);
  }
}

/**
 * Whether a restored record (`version`, `updatedAt`) is newer than a stored one: a higher
 * version, or the same version written later.
 */
export function isNewer(version: number, updatedAt: number, storedVersion: number, storedUpdatedAt: number): boolean {
  return version > storedVersion || (version === storedVersion && updatedAt > storedUpdatedAt);
}

/** Checks a byte value against `maxValueBytes`. */
export function checkBytes(key: string, value: unknown, maxValueBytes: number): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array)) {
    throw RegistryError.invalidValue(`expected a Uint8Array, got ${describe(value)}`, { key });
  }
  if (value.byteLength > maxValueBytes) throw RegistryError.valueTooLarge(key, value.byteLength, maxValueBytes);
}

/** The limits a write is checked against. */
export interface WriteLimits {
  readonly maxKeyBytes: number;
  readonly maxValueBytes: number;
  /** When given, a record larger than this can never fit: `CAPACITY_EXCEEDED`. */
  readonly maxBytes?: number;
}

/**
 * Validates one write before anything changes, in the order every call checks its arguments:
 * key, value bytes, optional TTL, then that the record (UTF-8 key bytes plus value bytes) can
 * fit `maxBytes` at all. Returns those bytes.
 */
export function checkWrite(limits: WriteLimits, key: string, value: Uint8Array, ttlMs: number | undefined): number {
  checkKey(key, limits.maxKeyBytes);
  checkBytes(key, value, limits.maxValueBytes);
  if (ttlMs !== undefined) checkTtl(ttlMs);
  return recordBytes(limits, key, value);
}

/**
 * Validates a `setMany` batch before anything changes, one concern at a time over the whole
 * batch, in the order of every call: its shape (an array of objects: `INVALID_OPTION`), every
 * key, every value, every TTL, then that each record can fit `maxBytes`. Returns the bytes of
 * each entry's record.
 */
export function checkEntries(limits: WriteLimits, entries: readonly SetEntry[]): number[] {
  checkShape('entries', entries);
  for (const entry of entries) checkKey(entry.key, limits.maxKeyBytes);
  for (const entry of entries) checkBytes(entry.key, entry.value, limits.maxValueBytes);
  for (const entry of entries) if (entry.ttlMs !== undefined) checkTtl(entry.ttlMs);
  return entries.map((entry) => recordBytes(limits, entry.key, entry.value));
}

/**
 * Checks the shape of a batch of writes: an array of objects (`{ key, value, ttlMs? }`), else
 * `INVALID_OPTION` naming the first offender. Keys and values are checked after it.
 */
export function checkShape(name: string, entries: unknown): void {
  checkArray(name, entries);
  (entries as unknown[]).forEach((entry, i) => {
    if (typeof entry !== 'object' || entry === null) {
      throw RegistryError.invalidOption(
        `${name}[${i}] must be an object { key, value, ttlMs? }, got ${describe(entry)}`,
      );
    }
  });
}

/**
 * Validates the record given to `restore` before anything changes, in the order of every call:
 * an object (`INVALID_OPTION`), its key, its value bytes, then its metadata and `ifNewer` (see
 * {@link checkRestoreMeta}), then that it can fit `maxBytes`. Returns the record's bytes.
 */
export function checkRestore(limits: WriteLimits, record: unknown, ifNewer: unknown): number {
  checkRecordShape(record);
  const { key, value } = record as RegistryRecord;
  checkKey(key, limits.maxKeyBytes);
  checkBytes(key, value, limits.maxValueBytes);
  checkRestoreMeta(record, ifNewer);
  return recordBytes(limits, key, value);
}

/** Checks that a record given to `restore` is an object at all (`INVALID_OPTION`). */
export function checkRecordShape(record: unknown): void {
  if (typeof record !== 'object' || record === null) {
    throw RegistryError.invalidOptionValue('record', 'an object', record);
  }
}

/** UTF-8 key bytes plus value bytes; `CAPACITY_EXCEEDED` when that can never fit `maxBytes`. */
function recordBytes(limits: WriteLimits, key: string, value: Uint8Array): number {
  const bytes = utf8Length(key) + value.byteLength;
  const { maxBytes } = limits;
  if (maxBytes !== undefined && bytes > maxBytes) {
    throw RegistryError.capacityExceeded(`record of ${bytes} bytes exceeds maxBytes ${maxBytes}`, key);
  }
  return bytes;
}

/** Checks that `signal`, if given, is an AbortSignal, and throws its reason if it already fired. */
export function checkSignal(signal: unknown): void {
  if (signal === undefined) return;
  if (!(signal instanceof AbortSignal)) {
    throw RegistryError.invalidOptionValue('signal', 'an AbortSignal', signal);
  }
  signal.throwIfAborted();
}

/**
 * The checks every operation of a backend makes before anything else: the registry is open
 * (else `CLOSED`), and `signal`, if given, is an AbortSignal that has not fired (else its reason).
 */
export function checkOpen(closed: boolean, signal: AbortSignal | undefined): void {
  if (closed) throw RegistryError.closed();
  if (signal !== undefined) checkSignal(signal);
}

/*
 * Constructor options: each backend's `resolve…Options` validates every option once, with these
 * helpers, so that every message reads "<option> must be <what> (got <value>)".
 */

/**
 * The longest delay a Node.js timer takes, in ms: 2^31 − 1, about 24.8 days. A longer one fires
 * after 1 ms instead (with a `TimeoutOverflowWarning`), so every option that becomes a timer's
 * delay is capped at it.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** Checks that the options argument of `what` (a class name) is an object. */
export function checkOptionsObject(what: string, options: unknown): asserts options is object {
  if (typeof options !== 'object' || options === null) {
    throw RegistryError.invalidOptionValue(`${what} options`, 'an object', options);
  }
}

/**
 * Validates an option that `accepts` must hold for (`expected` says what it must be, for the
 * message). Returns the value, or `fallback` when it is `undefined`.
 */
export function option<T>(
  name: string,
  value: unknown,
  fallback: T,
  expected: string,
  accepts: (value: unknown) => value is T,
): T {
  if (value === undefined) return fallback;
  if (!accepts(value)) throw RegistryError.invalidOptionValue(name, expected, value);
  return value;
}

/**
 * Validates a constructor option that must be an integer in `[min, max]` (or `Infinity` when
 * `allowInfinity`). Returns the value, or `fallback` when it is `undefined`.
 */
export function integerOption(
  name: string,
  value: unknown,
  fallback: number,
  { min = 1, max = Number.MAX_SAFE_INTEGER, allowInfinity = false } = {},
): number {
  if (value === undefined) return fallback;
  if (allowInfinity && value === Number.POSITIVE_INFINITY) return value;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `in [${min}, ${max}]`;
    throw RegistryError.invalidOptionValue(name, `an integer ${range}${allowInfinity ? ' or Infinity' : ''}`, value);
  }
  return value;
}

/** Validates a constructor option that must be a boolean; `fallback` when it is `undefined`. */
export function booleanOption(name: string, value: unknown, fallback: boolean): boolean {
  return option(name, value, fallback, 'a boolean', (v) => typeof v === 'boolean');
}

/** Validates a constructor option that must be a string; `fallback` when it is `undefined`. */
export function stringOption<F extends string | undefined>(name: string, value: unknown, fallback: F): string | F {
  return option<string | F>(name, value, fallback, 'a string', (v) => typeof v === 'string');
}

/** Validates a constructor option that must be one of `allowed`; `fallback` when it is `undefined`. */
export function oneOfOption<const T extends string>(
  name: string,
  value: unknown,
  fallback: T,
  allowed: readonly T[],
): T {
  const expected = allowed.map((a) => `'${a}'`).join(' or ');
  return option(name, value, fallback, expected, (v): v is T => allowed.includes(v as T));
}

/** Rejects option keys that are not in `known`: a typo should fail loudly, not be ignored. */
export function rejectUnknownOptions(what: string, options: object, known: readonly string[]): void {
  for (const name of Object.keys(options)) {
    if (!known.includes(name)) {
      throw RegistryError.invalidOption(`unknown ${what} option "${name}" (known: ${known.join(', ')})`);
    }
  }
}

declare global {
  interface String {
    /** ES2024, available since Node.js 20 (not in the ES2023 lib this package targets). */
    isWellFormed(): boolean;
  }
}
