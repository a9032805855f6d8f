import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { idToHex, type NodeId } from '../../../src/kad/id.js';
import type { FoundItem } from '../../../src/kad/lookup/events.js';
import { drainLookup } from '../../../src/kad/lookup/lookup.js';
import type { KadNode } from '../../../src/kad/node/node.js';
import { createSybilRegion, type Hostility, makeHostile } from '../../helpers/hostile.js';
import { buildKadNetwork, type KadTestNetwork } from '../../helpers/kad-network.js';

const SIZE = 300;
const text = (s: string): Uint8Array => new TextEncoder().encode(s);

describe(`hostile peers in a ${SIZE}-node network`, () => {
  let net: KadTestNetwork;
  const targets: NodeId[] = [];
  const values = new Map<string, Uint8Array>();
  const hostile = new Set<number>();
  const honest = (): KadNode => {
    for (;;) {
      const i = Math.floor(net.random() * SIZE);
      if (!hostile.has(i)) return net.nodes[i] as KadNode;
    }
  };

  /** Gets `count` random values from random honest nodes; returns the successes and the invalid values met. */
  async function gets(count: number, disjointPaths: number): Promise<{ found: number; invalid: number }> {
    let found = 0;
    let invalid = 0;
    for (let batch = 0; batch < count; batch += 20) {
      const runs = Array.from({ length: Math.min(20, count - batch) }, async () => {
        const target = targets[Math.floor(net.random() * targets.length)] as NodeId;
        let item: FoundItem | undefined;
        const done = await drainLookup(honest().query(target, { method: 'get', disjointPaths }), (e) => {
          if (e.type === 'value') item = e.item;
        });
        invalid += done.invalidValues;
        const want = values.get(idToHex(target)) as Uint8Array;
        if (item !== undefined && Buffer.from(item.v as Uint8Array).equals(want)) found++;
      });
      await net.run(Promise.all(runs));
    }
    return { found, invalid };
  }

  before(async () => {
    net = await buildKadNetwork({ size: SIZE, seed: 31 });
    // values are stored while every node is honest
    for (let i = 0; i < 20; i++) {
      const v = text(`kept safe ${i}`);
      const { target } = await net.run((net.nodes[i * 7] as KadNode).put({ v }));
      targets.push(target);
      values.set(idToHex(target), v);
    }
  });
  after(async () => {
    await net.close();
  });

  it('finds every value while a fifth of the nodes answer with junk, far-away contacts, wrong values or not at all', async (t) => {
    const kinds: Hostility[] = ['junk', 'far', 'wrong-value', 'silent'];
    while (hostile.size < SIZE / 5) hostile.add(Math.floor(net.random() * SIZE));
    makeHostile(net, hostile, (i) => kinds[i % kinds.length] as Hostility);
    const { found, invalid } = await gets(200, 1);
    t.diagnostic(`found ${found}/200, invalid values met and ignored: ${invalid}`);
    assert.equal(found, 200);
    assert.ok(invalid > 0, 'no wrong value was met: the scenario did not test verification');
    net.network.setDropFilter(undefined);
    hostile.clear();
  });

  it('finds values behind a Sybil region with disjoint paths, where one path is led astray', async (t) => {
    const region = createSybilRegion(net, 64);
    while (hostile.size < SIZE / 10) hostile.add(Math.floor(net.random() * SIZE));
    makeHostile(net, hostile, () => 'sybil', region);
    const single = await gets(200, 1);
    const disjoint = await gets(200, 4);
    t.diagnostic(`found with one path ${single.found}/200, with 4 disjoint paths ${disjoint.found}/200`);
    assert.ok(single.found < 180, `one path found ${single.found}/200: the Sybil region did not mislead it`);
    assert.ok(disjoint.found >= 196, `4 disjoint paths found only ${disjoint.found}/200`);
    net.network.setDropFilter(undefined);
    hostile.clear();
  });
});
