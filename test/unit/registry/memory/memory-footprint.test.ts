import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryRegistry } from '../../../../src/registry/index.js';
import { kib, retainedPerCopy } from '../../../helpers/heap.js';

// Budgets of issue 11: memory follows what is held, never what maxEntries allows. A store that
// preallocated for its capacity again would cost hundreds of KiB here (1.6 MiB at defaults).
const EMPTY_BUDGET = 4 * 1024;
const COPIES = 500;

describe('MemoryRegistry footprint', () => {
  it('costs at most 4 KiB of heap when empty at default options', async () => {
    const { perCopy, copies } = await retainedPerCopy(COPIES, () => new MemoryRegistry());
    await Promise.all(copies.map((r) => r.close()));
    assert.ok(perCopy <= EMPTY_BUDGET, `an empty default MemoryRegistry costs ${kib(perCopy)}`);
  });

  it('costs no more when empty with the largest maxEntries allowed', async () => {
    const { perCopy, copies } = await retainedPerCopy(COPIES, () => new MemoryRegistry({ maxEntries: 2 ** 31 - 2 }));
    await Promise.all(copies.map((r) => r.close()));
    assert.ok(perCopy <= EMPTY_BUDGET, `an empty MemoryRegistry with maxEntries 2^31 - 2 costs ${kib(perCopy)}`);
  });

  it('shrinks back to its empty size once cleared', async () => {
    // the records made once, outside the measurement (making keys grows V8's number-string cache)
    const value = new Uint8Array(16);
    const entries = Array.from({ length: 1000 }, (_, i) => ({ key: `k${i}`, value }));
    const { perCopy, copies } = await retainedPerCopy(COPIES, async () => {
      const registry = new MemoryRegistry();
      await registry.setMany(entries);
      await registry.clear();
      return registry;
    });
    await Promise.all(copies.map((r) => r.close()));
    assert.ok(perCopy <= EMPTY_BUDGET, `a MemoryRegistry cleared after 1 000 records costs ${kib(perCopy)}`);
  });
});
