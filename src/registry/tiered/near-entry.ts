import type { RegistryRecord } from '../registry.js';

/**
 * How the near tier holds a copy of a far record: its version, times and value as the far tier
 * gave them (the near tier's own versions and times mean nothing to callers), and when it was
 * fetched. Layout: format byte, then float64 fetchedAt, version, createdAt, updatedAt and
 * expiresAt (NaN: none), then the value.
 */
const FORMAT = 0x01;
const HEADER_BYTES = 1 + 5 * 8;

/** A copy read back from the near tier. */
export interface NearCopy {
  readonly record: RegistryRecord;
  /** When it was read from (or written to) the far tier, epoch ms. */
  readonly fetchedAt: number;
}

export function encodeNearCopy(record: RegistryRecord, fetchedAt: number): Uint8Array {
  const out = new Uint8Array(HEADER_BYTES + record.value.length);
  const view = new DataView(out.buffer);
  out[0] = FORMAT;
  view.setFloat64(1, fetchedAt);
  view.setFloat64(9, record.version);
  view.setFloat64(17, record.createdAt);
  view.setFloat64(25, record.updatedAt);
  view.setFloat64(33, record.expiresAt ?? Number.NaN);
  out.set(record.value, HEADER_BYTES);
  return out;
}

/** The copy in `bytes`, or `undefined` for bytes that are not one (treated as a miss). */
export function decodeNearCopy(key: string, bytes: Uint8Array): NearCopy | undefined {
  if (bytes.length < HEADER_BYTES || bytes[0] !== FORMAT) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const expiresAt = view.getFloat64(33);
  return {
    fetchedAt: view.getFloat64(1),
    record: {
      key,
      value: bytes.subarray(HEADER_BYTES),
      version: view.getFloat64(9),
      createdAt: view.getFloat64(17),
      updatedAt: view.getFloat64(25),
      expiresAt: Number.isNaN(expiresAt) ? undefined : expiresAt,
    },
  };
}
