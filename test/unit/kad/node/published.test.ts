import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { isKadError } from '../../../../src/kad/errors.js';
import { randomId } from '../../../../src/kad/id.js';
import { immutableTarget, keyPairFromSeed, mutableTarget } from '../../../../src/kad/items.js';
import { createNode, type KadNode } from '../../../../src/kad/node/node.js';
import { buildKadNetwork, type KadTestNetwork } from '../../../helpers/kad-network.js';

const text = (s: string): Uint8Array => new TextEncoder().encode(s);

describe('KadNode bookkeeping of what it published', () => {
  let net: KadTestNetwork;
  const node = (i: number): KadNode => net.nodes[i] as KadNode;

  before(async () => {
    net = await buildKadNetwork({ size: 12, seed: 5 });
  });
  after(async () => {
    await net.close();
  });

  it('records what put, putMutable and announce stored, with their next due times', async () => {
    const n = node(3);
    const keys = keyPairFromSeed(new Uint8Array(32).fill(9));
    const infoHash = randomId();
    await net.run(n.put({ v: text('kept') }));
    const mutable = await net.run(n.putMutable(keys, text('m'), { salt: text('s') }));
    await net.run(n.announce(infoHash, { port: 6881 }));
    const now = net.clock.now();
    const published = n.published();
    assert.deepEqual(
      published.map((p) => p.kind),
      ['item', 'item', 'announce'],
    );
    const [immutable, signed, announcement] = published;
    assert.deepEqual(immutable?.kind === 'item' && immutable.target, immutableTarget(text('kept')));
    assert.deepEqual(signed?.kind === 'item' && signed.item, mutable.item);
    assert.deepEqual(signed?.kind === 'item' && signed.target, mutableTarget(keys.publicKey, text('s')));
    assert.ok(announcement?.kind === 'announce');
    assert.deepEqual(announcement.infoHash, infoHash);
    assert.equal(announcement.port, 6881);
    assert.equal(announcement.impliedPort, false);
    assert.ok(announcement.nextDueAt > now && announcement.nextDueAt <= now + 25 * 60_000);
    assert.ok((immutable?.nextDueAt ?? 0) > now + 25 * 60_000);
  });

  it('records nothing for a put that failed', async () => {
    const lonely = await createNode({ transport: net.network.createTransport(), clock: net.clock });
    await assert.rejects(net.run(lonely.put({ v: text('nowhere') })), (e: unknown) => isKadError(e, 'NO_CONTACTS'));
    assert.deepEqual(lonely.published(), []);
    await lonely.close();
  });

  it('stops keeping an item or an announcement alive on unpublish and stopAnnouncing', async () => {
    const n = node(5);
    const infoHash = randomId();
    const put = await net.run(n.put({ v: text('gone soon') }));
    await net.run(n.announce(infoHash, { impliedPort: true }));
    assert.equal(n.unpublish(put.target), true);
    assert.equal(n.unpublish(put.target), false);
    assert.equal(n.stopAnnouncing(infoHash), true);
    assert.equal(n.stopAnnouncing(infoHash), false);
    assert.deepEqual(n.published(), []);
    assert.throws(
      () => n.unpublish(new Uint8Array(3)),
      (e: unknown) => isKadError(e, 'INVALID_ID'),
    );
  });
});
