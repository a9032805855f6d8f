import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KadStorage } from '../../../../src/kad/serve/storage.js';
import { createNode } from '../../../../src/kad/node/node.js';
import { DEFAULT_KAD_NODE_STORAGE_OPTIONS } from '../../../../src/kad/node/options.js';
import { MemoryRegistry } from '../../../../src/registry/memory/memory-registry.js';
import { ManualClock, MemoryNetwork } from '../../../../src/testing/index.js';
import { kib, retainedPerCopy } from '../../../helpers/heap.js';

// Budgets of issue 11: an idle node's storage costs what an empty MemoryRegistry does (its
// default allows 50 000 records, which once cost 800 KiB up front), and the whole idle node
// (RPC, routing table, storage, tokens) stays within 20 KiB before it holds any contact.
const STORAGE_BUDGET = 4 * 1024;
const NODE_BUDGET = 20 * 1024;

describe('KadStorage footprint', () => {
  it('costs at most 4 KiB of heap, with the default store a node creates, while it stores nothing', async () => {
    const { maxEntries, maxBytes } = DEFAULT_KAD_NODE_STORAGE_OPTIONS;
    const { perCopy, copies } = await retainedPerCopy(
      500,
      () => new KadStorage({}, { registry: new MemoryRegistry({ maxEntries, maxBytes }) }),
    );
    await Promise.all(copies.map((s) => s.registry.close()));
    assert.ok(perCopy <= STORAGE_BUDGET, `an idle KadStorage costs ${kib(perCopy)}`);
  });

  it('lets an idle node cost at most 20 KiB of heap beside its transport', async () => {
    const clock = new ManualClock();
    const network = new MemoryNetwork({}, { clock });
    // transports made first and kept out of the figure: the in-memory network stands in for a socket
    const transports = Array.from({ length: 201 }, () => network.createTransport());
    let next = 0;
    const { perCopy, copies } = await retainedPerCopy(200, () =>
      createNode({ transport: transports[next++] as ReturnType<MemoryNetwork['createTransport']>, clock }),
    );
    await Promise.all(copies.map((n) => n.close()));
    assert.ok(perCopy <= NODE_BUDGET, `an idle node costs ${kib(perCopy)}`);
  });
});
