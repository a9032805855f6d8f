/**
 * A network that joins through a single entry node (as the real one does through a router): the
 * join must leave every node with contacts across the whole id space, not only near its own id.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createNode, type KadNode } from '../../../../src/kad/node/node.js';
import { ManualClock, MemoryNetwork, seededRandom } from '../../../../src/testing/index.js';
import { drive } from '../../../helpers/virtual-time.js';

const SIZE = 64;
const BATCH = 8;

/** `SIZE` nodes with seeded ids, every one bootstrapping from the first only, `BATCH` at a time. */
async function star(): Promise<{ clock: ManualClock; network: MemoryNetwork; nodes: KadNode[] }> {
  const clock = new ManualClock();
  const network = new MemoryNetwork({ latencyMs: 5 }, { clock });
  const random = seededRandom(42);
  const id = (): Uint8Array => Uint8Array.from({ length: 20 }, () => Math.floor(random() * 256));
  const entry = await createNode({ id: id(), transport: network.createTransport(), clock });
  const nodes = [entry];
  while (nodes.length < SIZE) {
    const joining = await Promise.all(
      Array.from({ length: Math.min(BATCH, SIZE - nodes.length) }, () =>
        createNode({ id: id(), transport: network.createTransport(), clock, bootstrap: [entry.address()] }),
      ),
    );
    nodes.push(...joining);
    await drive(clock, Promise.all(joining.map((node) => node.ready)));
  }
  return { clock, network, nodes };
}

describe('joining through one entry node', () => {
  it('leaves every node with a contact in the half of the id space it is not in', async () => {
    const { network, nodes } = await star();
    try {
      const firstBit = (id: Uint8Array): number => (id[0] as number) >> 7;
      const without = nodes.filter((node) => !node.contacts().some((c) => firstBit(c.id) !== firstBit(node.id)));
      assert.equal(without.length, 0, `${without.length} of ${SIZE} nodes know nobody in the other half`);
    } finally {
      await Promise.all(nodes.map((node) => node.close()));
      await network.close();
    }
  });

  it('lets every node get a value put from any other', async () => {
    const { clock, network, nodes } = await star();
    try {
      for (const putter of [nodes[1], nodes[SIZE - 1]] as KadNode[]) {
        const v = new TextEncoder().encode(`from ${putter.address().host}`);
        const { target } = await drive(clock, putter.put({ v }));
        const got = await drive(clock, Promise.all(nodes.map((node) => node.get(target))));
        assert.deepEqual(
          got.map((result) => result?.item),
          nodes.map(() => ({ v })),
        );
      }
    } finally {
      await Promise.all(nodes.map((node) => node.close()));
      await network.close();
    }
  });
});
