import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isKadError } from '../../../../src/kad/errors.js';
import { immutableTarget } from '../../../../src/kad/items.js';
import type { NatKind } from '../../../../src/testing/index.js';
import { EXTERNAL_A, EXTERNAL_B, withNatWorld } from '../../../helpers/memory-nat-world.js';

const DEADLINE_MS = 5000;
const PORT_RESTRICTED = { a: 'port-restricted', b: 'port-restricted' } as const;
const SYMMETRIC = { a: 'symmetric', b: 'symmetric' } as const;

describe('hole punching', () => {
  const cones: NatKind[] = ['full-cone', 'restricted-cone', 'port-restricted'];
  for (const kind of cones) {
    it(`opens a direct path between two nodes behind ${kind} NATs through a rendezvous`, () =>
      withNatWorld({ a: kind, b: kind }, {}, async (world) => {
        const result = await world.punchToB();
        assert.ok(result.ok, JSON.stringify(result));
        assert.deepEqual({ host: result.contact.host, port: result.contact.port }, { host: EXTERNAL_B, port: 6881 });
        assert.deepEqual(result.contact.id, world.b.id);
        assert.ok(result.sent >= 1 && result.sent <= 4);
        // the path stays open: a plain ping goes straight to B's NAT and back
        const pong = await world.run(world.a.ping(result.contact));
        assert.deepEqual(pong.id, world.b.id);
      }));
  }

  it('finds the target by its external address alone', () =>
    withNatWorld(PORT_RESTRICTED, {}, async (world) => {
      const address = { host: EXTERNAL_B, port: 6881 };
      const result = await world.run(world.a.punch({ rendezvous: world.rendezvous.address(), address }));
      assert.ok(result.ok, JSON.stringify(result));
    }));

  it('fails at once with symmetric, sending no punch packet, when both NATs map a port per destination', () =>
    withNatWorld(SYMMETRIC, {}, async (world) => {
      const result = await world.punchToB();
      assert.ok(!result.ok);
      assert.equal(result.reason, 'symmetric');
      assert.equal(result.sent, 0);
      assert.ok(result.durationMs < 1000, `took ${result.durationMs} ms`);
    }));

  it('fails with symmetric after its bounded attempts when its own NAT is symmetric and the other port-restricted', () =>
    withNatWorld({ a: 'symmetric', b: 'port-restricted' }, {}, async (world) => {
      const result = await world.punchToB();
      assert.ok(!result.ok);
      assert.equal(result.reason, 'symmetric');
      assert.equal(result.sent, 4);
      assert.ok(result.durationMs <= DEADLINE_MS + 50, `took ${result.durationMs} ms`);
      const pings = world.queries.filter((q) => q.q === 'ping' && q.from === EXTERNAL_A && q.to === EXTERNAL_B);
      assert.equal(pings.length, 4);
      // B's pings toward A's port as the rendezvous saw it: none answered, so all `attempts` of them
      await world.clock.advanceAsync(3000);
      const back = world.queries.filter((q) => q.q === 'ping' && q.from === EXTERNAL_B && q.to === EXTERNAL_A);
      assert.equal(back.length, 4);
    }));

  // one responder each: one port seen, no verdict on the mapping
  it('fails with timeout at the deadline when neither node can know its NAT is symmetric', () =>
    withNatWorld(SYMMETRIC, { talk: 'rendezvous' }, async (world) => {
      const result = await world.punchToB();
      assert.ok(!result.ok);
      assert.equal(result.reason, 'timeout');
      assert.equal(result.sent, 4);
      assert.ok(Math.abs(result.durationMs - DEADLINE_MS) <= 50, `took ${result.durationMs} ms`);
    }));

  it('answers unsupported when the rendezvous does not serve the extension (204)', () =>
    withNatWorld(PORT_RESTRICTED, { rendezvous: { holePunch: { rendezvous: false } } }, async (world) => {
      const result = await world.punchToB();
      assert.ok(!result.ok);
      assert.equal(result.reason, 'unsupported');
      assert.match(result.message, /204/);
    }));

  it('answers unknown-peer when the target never talked to the rendezvous', () =>
    withNatWorld(PORT_RESTRICTED, { talk: false }, async (world) => {
      await world.run(world.a.ping(world.rendezvous.address()));
      const result = await world.punchToB();
      assert.ok(!result.ok);
      assert.equal(result.reason, 'unknown-peer');
      assert.equal(world.queries.filter((q) => q.q === 'nautilus_punch').length, 0);
    }));

  it('answers peer-unreachable when the target NAT has forgotten the rendezvous', () =>
    withNatWorld(PORT_RESTRICTED, {}, async (world) => {
      await world.clock.advanceAsync(31_000); // past the NATs' 30 s mapping timeout
      const result = await world.punchToB();
      assert.ok(!result.ok);
      assert.equal(result.reason, 'peer-unreachable');
    }));

  it('reaches a target whose NAT rebound to a new port since the rendezvous table learned it', () =>
    withNatWorld({ a: 'port-restricted', b: 'symmetric' }, {}, async (world) => {
      await world.clock.advanceAsync(31_000); // the NATs forget; B's next flow to the rendezvous gets a new port
      await world.talk();
      const result = await world.punchToB();
      // introduced at B's current port (else peer-unreachable); B's NAT is symmetric, so no path
      assert.ok(!result.ok);
      assert.equal(result.reason, 'symmetric');
      assert.equal(world.queries.filter((q) => q.q === 'nautilus_punch').length, 1);
    }));

  it('answers rendezvous-unreachable at the deadline when the rendezvous is silent', () =>
    withNatWorld(PORT_RESTRICTED, {}, async (world) => {
      world.network.setDropFilter((packet) => packet.to.host === '198.51.100.2');
      const result = await world.punchToB({ deadlineMs: 3000 });
      assert.ok(!result.ok);
      assert.equal(result.reason, 'rendezvous-unreachable');
      assert.ok(result.durationMs <= 3050, `took ${result.durationMs} ms`);
    }));

  it('ping, getItem and putItem with rendezvous punch once, then exchange directly', () =>
    withNatWorld(PORT_RESTRICTED, {}, async (world) => {
      const rendezvous = world.rendezvous.address();
      const b = { id: world.b.id, host: EXTERNAL_B, port: 6881 };
      const pong = await world.run(world.a.ping(b, { rendezvous }));
      assert.deepEqual(pong.id, world.b.id);
      assert.equal(pong.host, EXTERNAL_B);
      const v = new TextEncoder().encode('behind a NAT');
      const target = immutableTarget(v);
      const empty = await world.run(world.a.getItem(b, target, { rendezvous }));
      assert.equal(empty.item, undefined);
      assert.ok(empty.token !== undefined);
      await world.run(world.a.putItem(b, { v }, empty.token, { rendezvous }));
      const found = await world.run(world.a.getItem(b, target, { rendezvous }));
      assert.deepEqual(found.item, { v });
      assert.equal(world.queries.filter((q) => q.q === 'nautilus_introduce' && q.a['token'] !== undefined).length, 1);
      const direct = world.queries.filter((q) => q.from === EXTERNAL_A && q.to === EXTERNAL_B).map((q) => q.q);
      assert.ok(direct.includes('get') && direct.includes('put'), direct.join());
    }));

  it('a call through a rendezvous rejects with PUNCH_FAILED naming the reason when no path opens', () =>
    withNatWorld(SYMMETRIC, {}, async (world) => {
      const b = { id: world.b.id, host: EXTERNAL_B, port: 6881 };
      await assert.rejects(
        world.run(world.a.ping(b, { rendezvous: world.rendezvous.address() })),
        (error) => isKadError(error, 'PUNCH_FAILED') && error.reason === 'symmetric',
      );
    }));

  it('rejects with the signal reason when aborted, and bad arguments with INVALID_OPTION', () =>
    withNatWorld(PORT_RESTRICTED, {}, async (world) => {
      const rendezvous = world.rendezvous.address();
      const reason = new Error('stop');
      const controller = new AbortController();
      const pending = world.a.punch({ rendezvous, id: world.b.id }, { signal: controller.signal });
      controller.abort(reason);
      await assert.rejects(world.run(pending), (error) => error === reason);
      await assert.rejects(
        world.a.punch({ rendezvous, id: world.b.id }, { attempts: 0 }),
        (error) => isKadError(error, 'INVALID_OPTION') && /attempts/.test(error.message),
      );
      await assert.rejects(world.a.punch({ rendezvous }), (error) => isKadError(error, 'INVALID_OPTION'));
    }));
});
