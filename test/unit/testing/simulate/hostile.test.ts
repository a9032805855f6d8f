import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { randomId } from '../../../../src/kad/id.js';
import { createNode, type KadNode } from '../../../../src/kad/node/node.js';
import type { Contact } from '../../../../src/kad/wire/compact.js';
import { ManualClock, MemoryNetwork, seededRandom } from '../../../../src/testing/index.js';
import { HostileTransport } from '../../../../src/testing/simulate/hostile.js';
import type { HostileBehaviour } from '../../../../src/testing/simulate/options.js';

const colluder: Contact = { id: new Uint8Array(20).fill(0xee), host: '10.9.9.9', port: 6881 };

let closing: (() => Promise<void>) | undefined;
afterEach(async () => {
  await closing?.();
  closing = undefined;
});

/** An honest node and a hostile one of `behaviour` on one network. */
async function pair(behaviour: HostileBehaviour): Promise<{ honest: KadNode; hostile: KadNode; clock: ManualClock }> {
  const clock = new ManualClock();
  const network = new MemoryNetwork({ latencyMs: 10 }, { clock });
  const id = randomId();
  const transport = new HostileTransport(network.createTransport(), {
    id,
    behaviour,
    random: seededRandom(3),
    colluders: () => [colluder],
  });
  const hostile = await createNode({ transport, clock, id });
  const honest = await createNode({ transport: network.createTransport(), clock });
  closing = async () => {
    await Promise.all([honest.close(), hostile.close()]);
    await network.close();
  };
  return { honest, hostile, clock };
}

async function settle<T>(clock: ManualClock, promise: Promise<T>): Promise<T> {
  let done = false;
  const watched = promise.finally(() => {
    done = true;
  });
  watched.catch(() => undefined);
  for (let i = 0; i < 400 && !done; i++) await clock.advanceAsync(50);
  return watched;
}

describe('hostile transport', () => {
  it('answers pings as the real node, so the hostile node joins routing tables', async () => {
    const { honest, hostile, clock } = await pair('drop');
    const contact = await settle(clock, honest.ping(hostile.address()));
    assert.deepEqual(contact.id, hostile.id);
  });

  it('drops lookup queries with drop', async () => {
    const { honest, hostile, clock } = await pair('drop');
    await assert.rejects(settle(clock, honest.findNode(hostile.address(), randomId())), { code: 'TIMEOUT' });
  });

  it('answers find_node with its colluders with far', async () => {
    const { honest, hostile, clock } = await pair('far');
    const result = await settle(clock, honest.findNode(hostile.address(), randomId()));
    assert.deepEqual(result.nodes, [colluder]);
  });

  it('answers get with a value that does not hash to the target with wrong-value (the querier refuses it)', async () => {
    const { honest, hostile, clock } = await pair('wrong-value');
    const answer = await settle(clock, honest.getItem(hostile.address(), randomId()));
    assert.equal(answer.item, undefined);
    assert.deepEqual(answer.nodes, [colluder]);
    assert.notEqual(answer.token, undefined);
    // through a lookup: the value arrives and fails verification
    await settle(clock, honest.ping(hostile.address()));
    const drain = async (): Promise<number | undefined> => {
      for await (const event of honest.query(randomId(), { method: 'get' })) {
        if (event.type === 'done') return event.invalidValues;
      }
      return undefined;
    };
    assert.equal(await settle(clock, drain()), 1);
  });

  it('answers with a malformed nodes field with junk', async () => {
    const { honest, hostile, clock } = await pair('junk');
    await assert.rejects(settle(clock, honest.findNode(hostile.address(), randomId())), { code: 'INVALID_MESSAGE' });
  });
});
