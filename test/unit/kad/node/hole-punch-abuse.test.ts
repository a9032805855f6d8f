import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodePeer } from '../../../../src/kad/wire/compact.js';
import type { BencodeDict } from '../../../../src/kad/wire/bencode.js';
import { type IntroduceReply, readIntroduceReply } from '../../../../src/kad/wire/punch-args.js';
import { EXTERNAL_A, EXTERNAL_B, type NatWorld, rawQuery, withNatWorld } from '../../../helpers/memory-nat-world.js';

const PORT_RESTRICTED = { a: 'port-restricted', b: 'port-restricted' } as const;
const requesterId = new Uint8Array(20).fill(9);
const victim = { host: '203.0.113.77', port: 4444 };

/** A raw requester at 198.51.100.50 asks the rendezvous to introduce it to B. */
async function introduce(world: NatWorld, extra: BencodeDict = {}): Promise<IntroduceReply> {
  const raw =
    world.network.transportAt({ host: '198.51.100.50', port: 6881 }) ??
    world.network.createTransport({ host: '198.51.100.50', port: 6881 });
  const a = { id: requesterId, target: world.b.id, ...extra };
  const reply = await rawQuery(world, raw, world.rendezvous.address(), 'nautilus_introduce', a);
  assert.ok(reply?.y === 'r');
  return readIntroduceReply(reply.r);
}

const punchQueries = (world: NatWorld): number => world.queries.filter((q) => q.q === 'nautilus_punch').length;

describe('hole punching abuse bounds', () => {
  it('a rendezvous tells the target nothing for a requester without a token issued to its address', () =>
    withNatWorld(PORT_RESTRICTED, {}, async (world) => {
      const forged = await introduce(world, { token: new Uint8Array(20) });
      assert.equal(forged.status, 'token');
      assert.equal(punchQueries(world), 0);
    }));

  it('a rendezvous forwards at most introduceBurst introductions of one requester at once, then answers busy', () =>
    withNatWorld(PORT_RESTRICTED, {}, async (world) => {
      const { token } = await introduce(world);
      assert.ok(token !== undefined);
      const statuses: string[] = [];
      for (let i = 0; i < 8; i++) statuses.push((await introduce(world, { token })).status);
      assert.deepEqual(statuses, [...Array<string>(5).fill('introduced'), ...Array<string>(3).fill('busy')]);
      assert.equal(punchQueries(world), 5);
    }));

  it('a target punches only for a node it sent to, and then pings until the first answer, fewer than attempts', () =>
    withNatWorld(PORT_RESTRICTED, {}, async (world) => {
      // a host the public node never sent to asks it to punch toward a victim: refused, nothing sent
      const stranger = world.network.createTransport({ host: '198.51.100.60', port: 6881 });
      const a = { id: requesterId, addr: encodePeer(victim), peer: requesterId };
      const refused = await rawQuery(world, stranger, world.other.address(), 'nautilus_punch', a);
      assert.ok(refused?.y === 'e');
      assert.equal(refused.e[0], 201);
      await world.clock.advanceAsync(3000);
      assert.equal(world.queries.filter((q) => q.to === victim.host).length, 0);
      // B's own rendezvous makes it punch: pings toward A until one is answered, at most `attempts` (4)
      const result = await world.punchToB();
      assert.ok(result.ok);
      await world.clock.advanceAsync(3000);
      const fromB = world.queries.filter((q) => q.q === 'ping' && q.from === EXTERNAL_B && q.to === EXTERNAL_A);
      assert.ok(fromB.length >= 1 && fromB.length < 4, `${fromB.length} pings`);
    }));

  it('a target acts on at most acceptBurst introductions at once, answering 202 beyond', () =>
    withNatWorld(
      PORT_RESTRICTED,
      { home: { holePunch: { acceptBurst: 2, acceptRatePerSecond: 0.01 } } },
      async (world) => {
        const outcomes: string[] = [];
        for (let i = 0; i < 4; i++) {
          const result = await world.punchToB();
          outcomes.push(result.ok ? 'ok' : result.reason);
        }
        // B acknowledges two introductions; the rendezvous hears 202 for the next and says so
        assert.deepEqual(outcomes, ['ok', 'ok', 'peer-unreachable', 'peer-unreachable']);
      },
    ));
});
