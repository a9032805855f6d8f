import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { idToHex, type NodeId } from '../../../src/kad/id.js';
import { keyPairFromSeed } from '../../../src/kad/items.js';
import type { KadNode } from '../../../src/kad/node/node.js';
import type { GetResult } from '../../../src/kad/node/operation-types.js';
import { buildKadNetwork, type KadTestNetwork, randomBytes } from '../../helpers/kad-network.js';

const SIZE = 500;
const K = 8;
const text = (s: string): Uint8Array => new TextEncoder().encode(s);

/** Runs `tasks` `width` at a time on the network's virtual time. */
async function inBatches<T>(net: KadTestNetwork, tasks: (() => Promise<T>)[], width = 25): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < tasks.length; i += width) {
    out.push(...(await net.run(Promise.all(tasks.slice(i, i + width).map((task) => task())))));
  }
  return out;
}

function summary(values: readonly number[]): string {
  const sorted = [...values].sort((a, b) => a - b);
  const mean = sorted.reduce((a, b) => a + b, 0) / Math.max(1, sorted.length);
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
  return `mean ${mean.toFixed(2)}, p50 ${at(0.5)}, p90 ${at(0.9)}, max ${at(1)}`;
}

describe(`a ${SIZE}-node network on MemoryNetwork and ManualClock`, () => {
  let net: KadTestNetwork;
  const pick = (): KadNode => {
    const alive = net.alive();
    return alive[Math.floor(net.random() * alive.length)] as KadNode;
  };

  before(async () => {
    net = await buildKadNetwork({ size: SIZE, seed: 12 });
  });
  after(async () => {
    await net.close();
  });

  it('finds the true k closest live nodes in at least 99 % of lookups, and the others differ by one node', async (t) => {
    const lookups = 300;
    const tasks = Array.from({ length: lookups }, () => {
      const from = pick();
      const target = randomBytes(net.random, 20);
      return async () => ({ from, target, result: await from.lookup(target) });
    });
    let exact = 0;
    let offByOne = 0;
    const queried: number[] = [];
    for (const { from, target, result } of await inBatches(net, tasks)) {
      queried.push(result.queried);
      const truth = net
        .trueClosest(target, K + 1)
        .filter((c) => idToHex(c.id) !== idToHex(from.id))
        .slice(0, K)
        .map((c) => idToHex(c.id));
      const found = result.closest.map((c) => idToHex(c.id));
      if (found.join() === truth.join()) exact++;
      else if (found.length === K && found.filter((id) => !truth.includes(id)).length === 1) offByOne++;
    }
    t.diagnostic(`exact ${exact}/${lookups}, off by one ${offByOne}; queries per lookup: ${summary(queried)}`);
    assert.ok(exact >= 0.99 * lookups, `only ${exact} of ${lookups} exact`);
    assert.equal(exact + offByOne, lookups);
  });

  it('finds an immutable value put from one node from every other node', async (t) => {
    const writer = net.nodes[0] as KadNode;
    const put = await net.run(writer.put({ v: text('found from everywhere') }));
    assert.equal(put.storedOn.length, K);
    const readers = net.nodes.slice(1);
    const results = await inBatches(
      net,
      readers.map((reader) => () => reader.get(put.target)),
    );
    const found = results.filter((r): r is GetResult => r !== undefined);
    t.diagnostic(`gets ${found.length}/${readers.length}; queries per get: ${summary(found.map((r) => r.queried))}`);
    assert.equal(found.length, readers.length);
    for (const r of found) assert.deepEqual(r.item, { v: text('found from everywhere') });
  });

  it('returns the newer mutable seq to every reader once a second writer put it', async () => {
    const keys = keyPairFromSeed(new Uint8Array(32).fill(21));
    const salt = text('newest wins');
    const first = await net.run((net.nodes[10] as KadNode).putMutable(keys, text('old'), { salt }));
    const second = await net.run((net.nodes[20] as KadNode).putMutable(keys, text('new'), { salt }));
    assert.deepEqual([first.seq, second.seq], [1, 2]);
    const results = await inBatches(
      net,
      Array.from({ length: 100 }, () => {
        const reader = pick();
        return () => reader.getMutable(keys.publicKey, { salt });
      }),
    );
    for (const r of results) {
      assert.equal(r?.seq, 2);
      assert.deepEqual(r?.item.v, text('new'));
    }
  });

  it('succeeds in at least 99 % of gets, immutable and mutable, with 10 % packet loss and 20 % of the nodes silently dead', async (t) => {
    // ten immutable items (a get ends at the first copy) and ten mutable ones (a get asks the k closest)
    const targets: NodeId[] = [];
    const expected = new Map<string, Uint8Array>();
    for (let i = 0; i < 10; i++) {
      const v = text(`immutable ${i}`);
      const { target } = await net.run(pick().put({ v }));
      targets.push(target);
      expected.set(idToHex(target), v);
    }
    for (let i = 0; i < 10; i++) {
      const v = text(`mutable ${i}`);
      const { target } = await net.run(pick().putMutable(keyPairFromSeed(new Uint8Array(32).fill(100 + i)), v));
      targets.push(target);
      expected.set(idToHex(target), v);
    }
    // a fifth of the nodes vanish without a word (their datagrams are dropped), then packets get lost
    const victims = new Set<number>();
    while (victims.size < SIZE / 5) victims.add(Math.floor(net.random() * SIZE));
    for (const i of victims) await net.kill(i);
    net.network.setDropFilter(() => net.network.random() < 0.1);
    const gets = 500;
    const results = await inBatches(
      net,
      Array.from({ length: gets }, () => {
        const reader = pick();
        const which = Math.floor(net.random() * targets.length);
        return async () => ({ which, result: await reader.get(targets[which] as NodeId) });
      }),
    );
    const ok = results.filter(({ which, result }) => {
      const want = expected.get(idToHex(targets[which] as NodeId)) as Uint8Array;
      return result !== undefined && Buffer.from(result.item.v as Uint8Array).equals(want);
    });
    const found = ok.map(({ result }) => result as GetResult);
    const mutable = found.filter((r) => r.seq !== undefined);
    t.diagnostic(
      `gets ${found.length}/${gets} (${mutable.length} mutable: queries ${summary(mutable.map((r) => r.queried))}, ` +
        `ms ${summary(mutable.map((r) => r.durationMs))}); queries per get: ${summary(found.map((r) => r.queried))}; ` +
        `timed out per get: ${summary(found.map((r) => r.timedOut))}; ms per get: ${summary(found.map((r) => r.durationMs))}`,
    );
    assert.ok(found.length >= 0.99 * gets, `only ${found.length} of ${gets} gets succeeded`);
    net.network.setDropFilter(undefined);
  });
});
