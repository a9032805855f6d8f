import assert from 'node:assert/strict';
import type { RecordRemovedEvent, RecordSetEvent } from '../../registry/events.js';
import { RegistryError, type RegistryErrorCode } from '../../registry/errors.js';
import type { Registry } from '../../registry/registry.js';
import type { ManualClock } from '../manual-clock.js';

/** Capacity limits the suite asks a backend to be created with. */
export interface ConformanceLimits {
  readonly maxEntries?: number;
  readonly maxBytes?: number;
  readonly maxValueBytes?: number;
}

/** What the cases of one conformance test see: fresh per test. */
export interface SuiteContext {
  readonly clock: ManualClock;
  /** The registry created for this test (with default limits). */
  readonly registry: Registry;
  /** `record:removed` events of the registry most recently made. */
  readonly removed: RecordRemovedEvent[];
  /** `record:set` events of the registry most recently made. */
  readonly sets: RecordSetEvent[];
  /** Makes another registry with `limits`, closed after the test. */
  make(limits?: ConformanceLimits): Promise<Registry>;
}

export const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
export const text = (value: Uint8Array | undefined): string | undefined =>
  value === undefined ? undefined : new TextDecoder().decode(value);

export async function rejectsWith(promise: Promise<unknown>, code: RegistryErrorCode): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof RegistryError, `expected a RegistryError, got ${String(error)}`);
    assert.equal(error.code, code);
    return true;
  });
}

export async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}
