import { RegistryError } from './errors.js';
import type { RegistryRecord } from './registry.js';

/**
 * How a record is stored in Redis and etcd: one string (etcd: one value) per key, a fixed 33-byte header followed by the
 * value bytes, so a read is one `GET` (or `GETRANGE 0 32` when only the header is needed), and
 * a write is one `SET` inside a Lua script.
 *
 * | offset | bytes | field |
 * | ---: | ---: | --- |
 * | 0 | 1 | layout version, `1` |
 * | 1 | 8 | `version`, float64 little-endian (an integer ≥ 1) |
 * | 9 | 8 | `createdAt`, epoch ms, float64 LE |
 * | 17 | 8 | `updatedAt`, epoch ms, float64 LE |
 * | 25 | 8 | `expiresAt`, epoch ms, float64 LE; `0` when the record does not expire |
 * | 33 | n | the value |
 *
 * Lua reads and writes the same header with `struct.pack('<Bdddd', …)`. The Redis key's own
 * expiry is `expiresAt + expiryGraceMs` (`PXAT`), never earlier than the record's deadline.
 */
export const HEADER_BYTES = 33;

/** Offsets of the header's fields (see the table above). */
export const VERSION_AT = 1;
const CREATED_AT = 9;
const UPDATED_AT = 17;
export const EXPIRES_AT = 25;

/** The layout version written in byte 0. */
export const LAYOUT_VERSION = 1;

/** The metadata of a stored record, read from its header. */
export interface RecordHeader {
  readonly version: number;
  readonly createdAt: number;
  readonly updatedAt: number;
  /** 0 when the record does not expire. */
  readonly expiresAt: number;
}

/** Whether stored bytes (or their first 33) are in this layout: a record, not a foreign string. */
export function isRecord(stored: Buffer): boolean {
  return stored.length >= HEADER_BYTES && stored[0] === LAYOUT_VERSION;
}

/** Reads the header of stored bytes; rejects with `CODEC_ERROR` for bytes not in this layout. */
export function readHeader(key: string, stored: Buffer): RecordHeader {
  if (stored.length < HEADER_BYTES || stored[0] !== LAYOUT_VERSION) {
    throw RegistryError.codec(`the stored value of "${key}" is not a Nautilus record (layout ${LAYOUT_VERSION})`, key);
  }
  return {
    version: stored.readDoubleLE(VERSION_AT),
    createdAt: stored.readDoubleLE(CREATED_AT),
    updatedAt: stored.readDoubleLE(UPDATED_AT),
    expiresAt: stored.readDoubleLE(EXPIRES_AT),
  };
}

/**
 * The record in stored bytes (`CODEC_ERROR` for bytes not in this layout); the value is a view
 * of `stored`, not a copy.
 */
export function readRecord(key: string, stored: Buffer): RegistryRecord {
  return readRecordAt(key, stored, 0, stored.length);
}

/** {@link readRecord} of the stored bytes from `start` to `end` of `bytes` (without a view of them first). */
export function readRecordAt(key: string, bytes: Buffer, start: number, end: number): RegistryRecord {
  if (end - start < HEADER_BYTES || bytes[start] !== LAYOUT_VERSION) {
    throw RegistryError.codec(`the stored value of "${key}" is not a Nautilus record (layout ${LAYOUT_VERSION})`, key);
  }
  const expiresAt = bytes.readDoubleLE(start + EXPIRES_AT);
  return {
    key,
    value: bytes.subarray(start + HEADER_BYTES, end),
    version: bytes.readDoubleLE(start + VERSION_AT),
    expiresAt: expiresAt === 0 ? undefined : expiresAt,
    createdAt: bytes.readDoubleLE(start + CREATED_AT),
    updatedAt: bytes.readDoubleLE(start + UPDATED_AT),
  };
}

/** Builds the record a read returns; the value is a view of `stored`, not a copy. */
export function toRecord(key: string, stored: Buffer, header: RecordHeader): RegistryRecord {
  return {
    key,
    value: stored.subarray(HEADER_BYTES),
    version: header.version,
    expiresAt: header.expiresAt === 0 ? undefined : header.expiresAt,
    createdAt: header.createdAt,
    updatedAt: header.updatedAt,
  };
}

/** Whether a record with deadline `expiresAt` (0 = none) is expired at `now`. */
export function isExpired(expiresAt: number, now: number): boolean {
  return expiresAt !== 0 && expiresAt <= now;
}
