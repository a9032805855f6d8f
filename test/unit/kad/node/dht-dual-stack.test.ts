import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { compareDistance, idToHex, type NodeId } from '../../../../src/kad/id.js';
import { createNode, type KadNode } from '../../../../src/kad/node/node.js';
import type { Contact } from '../../../../src/kad/wire/compact.js';
import { ManualClock, MemoryNetwork, seededRandom } from '../../../../src/testing/index.js';
import { randomBytes } from '../../../helpers/kad-network.js';
import { drive } from '../../../helpers/virtual-time.js';

const text = (s: string): Uint8Array => new TextEncoder().encode(s);

describe('DHT operations of dual-stack nodes (BEP 32)', () => {
  const clock = new ManualClock();
  const network = new MemoryNetwork({ latencyMs: 4 }, { clock });
  const random = seededRandom(77);
  const dual: KadNode[] = [];
  const only4: KadNode[] = [];
  const only6: KadNode[] = [];
  const all = (): KadNode[] => [...dual, ...only4, ...only6];
  const run = <T>(promise: Promise<T>): Promise<T> => drive(clock, promise);

  /** The `count` nodes of `family` closest to `target` other than `self`, by brute force. */
  const truth = (target: NodeId, family: 4 | 6, self: KadNode): string[] =>
    all()
      .filter((n) => n !== self)
      .flatMap((n) =>
        n
          .addresses()
          .filter((a) => a.family === family)
          .map(() => n.id),
      )
      .sort((a, b) => compareDistance(target, a, b))
      .slice(0, 8)
      .map((id) => idToHex(id));
  const ofFamily = (contacts: Contact[], family: 4 | 6): string[] =>
    contacts.filter((c) => c.host.includes(':') === (family === 6)).map((c) => idToHex(c.id));

  before(async () => {
    const spawn = async (family: 4 | 6 | 'dual', bootstrap: { host: string; port: number }[]): Promise<KadNode> => {
      const id = randomBytes(random, 20);
      const node =
        family === 'dual'
          ? await createNode({
              id,
              clock,
              bootstrap,
              transport: network.createTransport(),
              transport6: network.createTransport({ family: 6 }),
            })
          : await createNode({ id, clock, bootstrap, transport: network.createTransport({ family }) });
      await run(node.ready);
      return node;
    };
    dual.push(await spawn('dual', []));
    const seed = dual[0] as KadNode;
    const [seed4, seed6] = seed.addresses() as unknown as [
      { host: string; port: number },
      { host: string; port: number },
    ];
    // the first dual-stack node is the bootstrap node of both families
    for (let i = 0; i < 20; i++) dual.push(await spawn('dual', [seed4, seed6]));
    for (let i = 0; i < 12; i++) only4.push(await spawn(4, [seed4]));
    for (let i = 0; i < 12; i++) only6.push(await spawn(6, [seed6]));
  });
  after(async () => {
    await Promise.all(all().map((n) => n.close()));
    await network.close();
  });

  it('looks up the k closest nodes of each family and merges them by distance', async () => {
    const from = dual[5] as KadNode;
    const target = randomBytes(random, 20);
    const { closest } = await run(from.lookup(target));
    assert.deepEqual(ofFamily(closest, 4), truth(target, 4, from));
    assert.deepEqual(ofFamily(closest, 6), truth(target, 6, from));
    for (let i = 1; i < closest.length; i++) {
      assert.ok(compareDistance(target, (closest[i - 1] as Contact).id, (closest[i] as Contact).id) <= 0);
    }
  });

  it('stores on the k closest of both families, so IPv4-only and IPv6-only nodes find the value', async () => {
    const writer = dual[3] as KadNode;
    const put = await run(writer.put({ v: text('both worlds') }));
    assert.deepEqual(ofFamily(put.storedOn, 4), truth(put.target, 4, writer));
    assert.deepEqual(ofFamily(put.storedOn, 6), truth(put.target, 6, writer));
    for (const reader of [...only4, ...only6]) {
      assert.deepEqual((await run(reader.get(put.target)))?.item, { v: text('both worlds') });
    }
  });

  it('finds peers announced over either family', async () => {
    const infoHash = randomBytes(random, 20);
    await run((only4[0] as KadNode).announce(infoHash, { port: 4444 }));
    await run((only6[0] as KadNode).announce(infoHash, { port: 6666 }));
    const peers = await run((dual[9] as KadNode).getPeersOf(infoHash));
    assert.deepEqual(peers.map((p) => p.port).sort(), [4444, 6666]);
  });
});
