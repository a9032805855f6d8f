import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { compareDistance, idToHex } from '../../../src/kad/id.js';
import type { KadNode } from '../../../src/kad/node/node.js';
import type { PutResult } from '../../../src/kad/node/operation-types.js';
import { MemoryRegistry } from '../../../src/registry/index.js';
import { createTestnet, type MemoryTestnet, seededBytes, seededRandom } from '../../../src/testing/index.js';

// Issue 13: a self-healing network. 500 nodes run for 6 virtual hours while 30 % of them leave
// and as many new ones join, on a network that loses 5 % of datagrams; then 30 % die at once.
// Every node's upkeep, republishing and replication for the whole 6 hours run on one thread:
// about 2 minutes of CPU, the longest file of the suite.
const SIZE = 500;
const HOURS = 6;
const ITEMS = 50;
const K = 8;
const MINUTE = 60_000;
const text = (s: string): Uint8Array => new TextEncoder().encode(s);

interface Member {
  readonly node: KadNode;
  /** When it left (closed), or undefined while it runs. */
  leftAt: number | undefined;
  /** A publisher stays: its items are kept alive by it alone. */
  readonly publisher: boolean;
}

describe(`maintenance of a ${SIZE}-node network under churn (MemoryNetwork, ManualClock, 5 % loss)`, () => {
  let net: MemoryTestnet;
  const members: Member[] = [];
  const registries: MemoryRegistry[] = [];
  const puts: PutResult[] = [];
  const random = seededRandom(1313);
  const idRandom = seededRandom(1414);
  /** Node ids from a seeded source, so the network is the same on every run. */
  const nextId = (): Uint8Array => Uint8Array.from({ length: 20 }, () => Math.floor(idRandom() * 256));
  const lossRandom = seededRandom(77);
  /** The nodes' own randomness (refresh targets, token secrets), seeded too. */
  const nodeRandom = seededRandom(1515);
  /** 5 % of datagrams are lost while this holds (not while a test reads what the nodes hold). */
  let lossy = true;
  const live = (): Member[] => members.filter((m) => m.leftAt === undefined);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)] as T;
  const minutes = async (count: number): Promise<void> => {
    for (let i = 0; i < count; i++) await net.clock.advanceAsync(MINUTE);
  };
  /** Starts `count` nodes, ten at a time, each bootstrapping from node 0 and two random live nodes. */
  const join = async (count: number, publisher = (_i: number) => false): Promise<void> => {
    for (let i = 0; i < count; i += 10) {
      const batch: KadNode[] = [];
      for (let j = i; j < Math.min(count, i + 10); j++) {
        const running = live();
        const seeds = running.length === 0 ? [] : [running[0], pick(running), pick(running)];
        const node = await net.add({ id: nextId(), bootstrap: seeds.map((m) => (m as Member).node.address()) });
        members.push({ node, leftAt: undefined, publisher: publisher(members.length) });
        batch.push(node);
      }
      await net.settle(Promise.all(batch.map((node) => node.ready)), { maxMs: 120_000, stepMs: 10 });
    }
  };
  const leave = async (member: Member): Promise<void> => {
    member.leftAt = net.clock.now();
    await member.node.close();
  };
  const perNodeHour = (field: 'republishRequests' | 'replicationRequests', who: readonly Member[]): number =>
    who.reduce((sum, m) => sum + m.node.stats().maintenance[field], 0) / who.length / HOURS;

  before(async () => {
    net = await createTestnet({
      nodes: 0,
      network: { latencyMs: 10, seed: 13 },
      awaitBootstrap: false,
      // each node's store, swept for expired items once a minute rather than every second: on
      // virtual time a timer per node per second would cost more than the whole DHT traffic
      node: () => {
        const registry = new MemoryRegistry({ sweepIntervalMs: MINUTE }, { clock: net.clock });
        registries.push(registry);
        return { registry, randomBytes: (size: number) => seededBytes(nodeRandom, size) };
      },
    });
    net.network.setDropFilter(() => lossy && lossRandom() < 0.05);
    // one node in five publishes an item or two and stays; the others may leave
    await join(SIZE, (i) => i % 5 === 1);
    const publishers = members.filter((m) => m.publisher);
    for (let i = 0; i < ITEMS; i += 20) {
      const batch = Array.from({ length: 20 }, (_, j) =>
        (publishers[(i + j) % publishers.length] as Member).node.put({ v: text(`item ${i + j}`) }),
      );
      puts.push(...(await net.settle(Promise.all(batch), { maxMs: 120_000, stepMs: 10 })));
    }
    // 30 % leave and as many join, spread evenly over the hours
    const replaced = Math.round(0.3 * SIZE);
    const rounds = HOURS * 6; // every 10 minutes
    for (let round = 0; round < rounds; round++) {
      const share = Math.round(((round + 1) * replaced) / rounds) - Math.round((round * replaced) / rounds);
      for (let i = 0; i < share; i++) await leave(pick(live().filter((m) => !m.publisher && m !== members[0])));
      await join(share);
      await minutes(10);
    }
  });
  after(async () => {
    await net.close();
    await Promise.all(registries.map((registry) => registry.close()));
  });

  it('still finds at least 99 % of the items put at the start', async () => {
    let found = 0;
    for (let i = 0; i < puts.length; i += 20) {
      const batch = puts.slice(i, i + 20).map((put) => pick(live()).node.get(put.target));
      const results = await net.settle(Promise.all(batch), { maxMs: 120_000, stepMs: 10 });
      found += results.filter((r) => r !== undefined).length;
    }
    assert.ok(found >= 0.99 * ITEMS, `${found} of ${ITEMS} items found`);
  });

  it('lists no node dead for more than 20 minutes in any routing table', () => {
    const leftAt = new Map(members.filter((m) => m.leftAt !== undefined).map((m) => [idToHex(m.node.id), m.leftAt]));
    const now = net.clock.now();
    let stale = 0;
    for (const { node } of live()) {
      for (const contact of node.contacts(node.id, Number.MAX_SAFE_INTEGER, { includeBad: true })) {
        const at = leftAt.get(idToHex(contact.id));
        if (at !== undefined && now - at > 20 * MINUTE) stale++;
      }
    }
    assert.equal(stale, 0, `${stale} table entries of nodes dead for more than 20 minutes`);
  });

  it('keeps republish and replication traffic bounded', (t) => {
    const publishers = live().filter((m) => m.publisher);
    const republish = perNodeHour('republishRequests', publishers);
    const replication = perNodeHour('replicationRequests', live());
    t.diagnostic(`republish requests per publisher per hour: ${republish.toFixed(1)}`);
    t.diagnostic(`replication requests per node per hour: ${replication.toFixed(1)}`);
    // two items an hour, each a lookup (at most 64 queries) and k puts
    assert.ok(republish <= 2 * (64 + K), `${republish} republish requests per publisher per hour`);
    // a get and at most one put to each newcomer among an item's k closest
    assert.ok(replication <= 60, `${replication} replication requests per node per hour`);
  });

  it('has every item on its k closest live nodes after 30 % die at once, once the dead are found and one replication round ran', async () => {
    const victims = live()
      .filter((m) => m !== members[0])
      .sort(() => random() - 0.5)
      .slice(0, Math.round(0.3 * live().length));
    for (const victim of victims) await leave(victim);
    // liveness: a contact silent 15 min is pinged, twice, then evicted; the next tick replicates
    await minutes(20);
    // what each node holds, asked directly: without losses, so that a lost answer is not a miss
    lossy = false;
    const alive = live();
    let missing = 0;
    for (const put of puts) {
      const closest = alive
        .map((m) => m.node)
        .sort((a, b) => compareDistance(put.target, a.id, b.id))
        .slice(0, K);
      const asker = alive[0] as Member;
      const answers = await net.settle(
        Promise.all(closest.map((holder) => asker.node.getItem(holder.address(), put.target).catch(() => undefined))),
        { maxMs: 60_000, stepMs: 10 },
      );
      missing += answers.filter((a) => a?.item === undefined).length;
    }
    assert.equal(missing, 0, `${missing} of ${puts.length * K} (item, k-closest node) pairs lack the item`);
  });
});
