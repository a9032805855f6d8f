import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { randomId, randomIdInBucket } from '../../../../src/kad/id.js';
import type { LookupEvent } from '../../../../src/kad/lookup/events.js';
import { createNode, type KadNode } from '../../../../src/kad/node/node.js';
import { ManualClock, MemoryNetwork, seededRandom } from '../../../../src/testing/index.js';
import { buildKadNetwork, type KadTestNetwork } from '../../../helpers/kad-network.js';

/** Most queries in flight at once during a lookup, from its events. */
function widest(events: readonly LookupEvent[]): number {
  let inFlight = 0;
  let most = 0;
  for (const event of events) {
    if (event.type === 'query') most = Math.max(most, ++inFlight);
    else if (event.type === 'response' || event.type === 'error' || (event.type === 'timeout' && event.final))
      inFlight--;
  }
  return most;
}

describe('per-call lookup tuning (DhtCallOptions.lookup)', () => {
  let net: KadTestNetwork;
  before(async () => {
    net = await buildKadNetwork({ size: 60, seed: 5 });
  });
  after(async () => {
    await net.close();
  });

  async function events(
    node: KadNode,
    lookup?: { alpha?: number; maxAlpha?: number; proximity?: boolean },
  ): Promise<LookupEvent[]> {
    const out: LookupEvent[] = [];
    const run = async (): Promise<void> => {
      for await (const event of node.query(randomId(), {
        method: 'find_node',
        ...(lookup === undefined ? {} : { lookup }),
      })) {
        out.push(event);
      }
    };
    await net.run(run());
    return out;
  }

  it('fills at least the window of k queries with a burst of 16, and keeps 3 with a fixed alpha of 3', async () => {
    const node = net.nodes[7] as KadNode;
    // the engine asks within the window of the k closest candidates not stalled or failed: a
    // burst fills it at once, and more once queries stall; closest first, as bittorrent-dht and
    // classic Kademlia ask (with proximity routing, a query to a node already timed counts twice)
    assert.ok(widest(await events(node, { alpha: 16, proximity: false })) >= 8);
    assert.equal(widest(await events(node, { alpha: 3, maxAlpha: 3, proximity: false })), 3);
  });

  it('keeps at most alpha queries outstanding with a fixed alpha of 1', async () => {
    assert.equal(widest(await events(net.nodes[9] as KadNode, { alpha: 1, maxAlpha: 1 })), 1);
  });

  it('rejects a call tuning that is not valid, naming the option', async () => {
    const node = net.nodes[3] as KadNode;
    await assert.rejects(node.lookup(randomId(), { lookup: { alpha: 0 } }), /lookup\.alpha must be an integer >= 1/);
    assert.throws(
      () => node.query(randomId(), { method: 'get', lookup: { alpha: 4, maxAlpha: 2 } }),
      /lookup\.maxAlpha/,
    );
  });
});

describe('KadNodeOptions.randomBytes', () => {
  it('draws the node id from the given source, as randomIdInBucket draws refresh targets', async () => {
    const source = (seed: number) => {
      const random = seededRandom(seed);
      return (size: number): Uint8Array => Uint8Array.from({ length: size }, () => Math.floor(random() * 256));
    };
    const clock = new ManualClock();
    const network = new MemoryNetwork({}, { clock });
    const a = await createNode({ transport: network.createTransport(), clock, randomBytes: source(9) });
    const b = await createNode({ transport: network.createTransport(), clock, randomBytes: source(9) });
    assert.deepEqual(a.id, b.id);
    assert.deepEqual(a.id, source(9)(20));
    const target = randomIdInBucket(a.id, 3, source(2));
    assert.deepEqual(target, randomIdInBucket(a.id, 3, source(2)));
    assert.equal((target[0] ?? 0) >> 4, ((a.id[0] ?? 0) >> 4) ^ 1);
    await Promise.all([a.close(), b.close()]);
    await network.close();
  });

  it('rejects a randomBytes that is not a function, naming the option', async () => {
    await assert.rejects(
      createNode({
        randomBytes: 7 as unknown as () => Uint8Array,
        transport: new MemoryNetwork({}, { clock: new ManualClock() }).createTransport(),
      }),
      /randomBytes must be a function/,
    );
  });
});
