/**
 * 200 Nautilus nodes on real UDP sockets on 127.0.0.1 (a testnet: one socket each, port 0), each
 * joining through the first node, one after another: what one node puts, every other node asked
 * gets. Every wait is bounded; every node is closed after the suite.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { generateKeyPair } from '../../../src/kad/items.js';
import type { KadNode } from '../../../src/kad/node/node.js';
import { seededRandom } from '../../../src/testing/seeded-random.js';
import { createTestnet, type Testnet } from '../../../src/testing/testnet.js';
import { raceAbort } from '../../../src/core/abort.js';

const NODES = 200;
const GETTERS = 25;
/** Bounds the start of the network (a few seconds on loopback). */
const START_MS = 60_000;
/** Bounds one put or get. */
const CALL_MS = 10_000;

describe(`${NODES} Nautilus nodes on 127.0.0.1 UDP`, () => {
  let testnet: Testnet | undefined;
  let nodes: readonly KadNode[] = [];
  const random = seededRandom(200);

  /** `count` distinct nodes in a seeded order, none of them `except`. */
  const others = (except: KadNode, count: number): KadNode[] => {
    const pool = nodes.filter((node) => node !== except);
    for (let i = pool.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [pool[i], pool[j]] = [pool[j] as KadNode, pool[i] as KadNode];
    }
    return pool.slice(0, count);
  };

  before(async () => {
    const signal = AbortSignal.timeout(START_MS);
    testnet = await createTestnet({ transport: 'udp', nodes: NODES, bootstrap: 'first', signal });
    nodes = testnet.nodes;
    await raceAbort(Promise.all(nodes.map((node) => node.ready)), signal);
  });

  after(async () => {
    await testnet?.close();
    nodes = [];
  });

  it('every node joined, with contacts on both sides of the id space', () => {
    const firstBit = (id: Uint8Array): number => (id[0] as number) >> 7;
    assert.equal(nodes.length, NODES);
    const lopsided = nodes.filter((node) => new Set(node.contacts().map((c) => firstBit(c.id))).size < 2);
    assert.equal(lopsided.length, 0);
  });

  it(`finds an immutable value put from one node from ${GETTERS} others`, async () => {
    const putter = nodes[Math.floor(random() * NODES)] as KadNode;
    const v = new Uint8Array(randomBytes(48));
    const put = await putter.put({ v }, { signal: AbortSignal.timeout(CALL_MS) });
    assert.equal(put.storedOn.length, 8);
    const getters = others(putter, GETTERS);
    const got = await Promise.all(
      getters.map((node) => node.get(put.target, { signal: AbortSignal.timeout(CALL_MS) })),
    );
    assert.deepEqual(
      got.map((result) => result?.item),
      getters.map(() => ({ v })),
    );
  });

  it(`finds the newest seq of a mutable item from ${GETTERS} others`, async () => {
    const putter = nodes[Math.floor(random() * NODES)] as KadNode;
    const keys = generateKeyPair();
    const salt = new TextEncoder().encode('udp');
    await putter.putMutable(keys, new TextEncoder().encode('first'), {
      salt,
      seq: 1,
      signal: AbortSignal.timeout(CALL_MS),
    });
    await putter.putMutable(keys, new TextEncoder().encode('second'), { salt, signal: AbortSignal.timeout(CALL_MS) });
    const getters = others(putter, GETTERS);
    const got = await Promise.all(
      getters.map((node) => node.getMutable(keys.publicKey, { salt, signal: AbortSignal.timeout(CALL_MS) })),
    );
    assert.deepEqual(
      got.map((result) => result?.seq),
      getters.map(() => 2),
    );
  });
});
