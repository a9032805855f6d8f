import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { commonPrefixLength, compareDistance, idToHex } from '../../../../src/kad/id.js';
import { createMutableItem, immutableTarget, keyPairFromSeed, mutableTarget } from '../../../../src/kad/items.js';
import type { LookupDoneEvent, LookupEvent } from '../../../../src/kad/lookup/events.js';
import { drainLookup, type Lookup } from '../../../../src/kad/lookup/lookup.js';
import { seededRandom } from '../../../../src/testing/index.js';
import { randomBytes } from '../../../helpers/kad-network.js';
import { junkContacts, key, LookupModel } from '../../../helpers/lookup-model.js';
import { drive } from '../../../helpers/virtual-time.js';

const hex = (contacts: readonly { id: Uint8Array }[]): string[] => contacts.map((c) => idToHex(c.id));

function model(n: number, seed = 1): { m: LookupModel; random: () => number } {
  const random = seededRandom(seed);
  const m = new LookupModel();
  m.addNodes(n, random);
  m.fillTables(random);
  return { m, random };
}

async function collect(m: LookupModel, lookup: Lookup): Promise<{ events: LookupEvent[]; done: LookupDoneEvent }> {
  const events: LookupEvent[] = [];
  const done = await drive(
    m.clock,
    drainLookup(lookup, (e) => events.push(e)),
  );
  return { events, done };
}

describe('Lookup', () => {
  it('finds the k closest nodes of the network, closest first, asking each node at most once', async () => {
    const { m, random } = model(300);
    for (let round = 0; round < 20; round++) {
      const target = randomBytes(random, 20);
      m.asked.length = 0;
      const { done } = await collect(m, m.lookup(target));
      assert.equal(done.ended, 'converged');
      assert.deepEqual(hex(done.closest), hex(m.trueClosest(target, 8)));
      assert.equal(new Set(m.asked).size, m.asked.length);
      assert.equal(done.queried, m.asked.length);
      assert.equal(done.responded, m.asked.length);
    }
  });

  it('has at most alpha queries in flight while answers come before their soft deadline', async () => {
    const { m, random } = model(200);
    await collect(m, m.lookup(randomBytes(random, 20), { options: { alpha: 3 } }));
    assert.equal(m.maxInFlight, 3);
  });

  it('widens to at most maxAlpha queries while answers stall past the soft deadline', async () => {
    const { m, random } = model(200);
    for (const node of m.nodes) node.latencyMs = 120; // soft deadline 50 ms, hard 1000 ms
    const { events, done } = await collect(m, m.lookup(randomBytes(random, 20)));
    assert.ok(m.maxInFlight > 3, `max in flight ${m.maxInFlight}`);
    assert.ok(m.maxInFlight <= 8, `max in flight ${m.maxInFlight}`);
    const stalls = events.filter((e) => e.type === 'timeout' && !e.final).length;
    assert.ok(stalls >= 3);
    assert.equal(done.timedOut, 0);
    assert.equal(done.responded, done.queried - m.aborted);
  });

  it('with round-trip estimates asks first the faster of two seeds as near the target, and closest first without proximity', async () => {
    const { m, random } = model(200);
    const target = randomBytes(random, 20);
    const byDistance = [...m.nodes].sort((a, b) => compareDistance(target, a.contact.id, b.contact.id));
    // two neighbours in distance order that share as many leading bits with the target
    const i = byDistance.findIndex((node, j) => {
      const next = byDistance[j + 1];
      const shared = commonPrefixLength(target, node.contact.id);
      return next !== undefined && commonPrefixLength(target, next.contact.id) === shared;
    });
    const [closer, faster] = [byDistance[i], byDistance[i + 1]] as [(typeof m.nodes)[0], (typeof m.nodes)[0]];
    closer.latencyMs = 40;
    faster.latencyMs = 5;
    const latency = { of: (c: { host: string }) => m.byKey.get(key(c as never))?.latencyMs, typicalMs: 20 };
    const firstAsked = async (proximity: boolean): Promise<string> => {
      const seeds = [closer.contact, faster.contact];
      const { events } = await collect(m, m.lookup(target, { seeds, latency, options: { alpha: 1, proximity } }));
      const first = events.find((e) => e.type === 'query');
      assert.ok(first?.type === 'query');
      return idToHex(first.to.id);
    };
    assert.equal(await firstAsked(true), idToHex(faster.contact.id));
    assert.equal(await firstAsked(false), idToHex(closer.contact.id));
  });

  it('with round-trip estimates counts a query to a node it timed twice against alpha, one to a node it never timed once', async () => {
    const maxInFlight = async (timed: boolean): Promise<number> => {
      const { m, random } = model(200);
      const latency = {
        of: (c: { host: string }) => (timed ? m.byKey.get(key(c as never))?.latencyMs : undefined),
        typicalMs: 20,
      };
      await collect(m, m.lookup(randomBytes(random, 20), { latency, options: { alpha: 3 } }));
      return m.maxInFlight;
    };
    assert.equal(await maxInFlight(true), 2);
    assert.equal(await maxInFlight(false), 3);
  });

  it('takes seeds and answered contacts offered while it runs, and refuses them once it ended', async () => {
    const { m, random } = model(200);
    const target = randomBytes(random, 20);
    // it starts from one silent node: alone, it would end empty-handed after its timeout
    const silent = m.nodes[0] as (typeof m.nodes)[number];
    silent.behaviour = 'silent';
    const lookup = m.lookup(target, { seeds: [silent.contact] });
    const answered = m.nodes[1] as (typeof m.nodes)[number];
    const drained = drive(m.clock, drainLookup(lookup));
    await m.clock.advanceAsync(20);
    assert.equal(lookup.addSeeds(answered.known, [answered.contact]), true);
    const done = await drained;
    assert.deepEqual(hex(done.closest), hex(m.trueClosest(target, 8)));
    assert.equal(
      m.asked.filter((k) => k === key(answered.contact)).length,
      0,
      'an answered contact is not asked again',
    );
    assert.equal(lookup.addSeeds(m.nodes.slice(2, 10).map((n) => n.contact)), false);
  });

  it('takes seeds offered before it started as if they were given at the start', async () => {
    const { m, random } = model(150);
    const target = randomBytes(random, 20);
    const lookup = m.lookup(target, { seeds: [] });
    assert.equal(lookup.addSeeds(m.nodes.slice(0, 3).map((n) => n.contact)), true);
    const { done } = await collect(m, lookup);
    assert.deepEqual(hex(done.closest), hex(m.trueClosest(target, 8)));
  });

  it('asks the next candidate after a soft deadline and still uses the late answer', async () => {
    const { m, random } = model(100);
    const target = randomBytes(random, 20);
    const [closest] = m.trueClosest(target, 1);
    const slow = m.byKey.get(key(closest as { host: string; port: number }));
    assert.ok(slow !== undefined);
    slow.latencyMs = 300;
    const seeds = [slow.contact, ...m.nodes.slice(0, 5).map((n) => n.contact)];
    const { events, done } = await collect(m, m.lookup(target, { seeds, options: { alpha: 1 } }));
    const order = events
      .filter((e) => e.type !== 'done')
      .map((e) => `${e.type}:${'to' in e ? key(e.to) : key(e.from)}`);
    const stalledAt = order.indexOf(`timeout:${key(slow.contact)}`);
    const answeredAt = order.indexOf(`response:${key(slow.contact)}`);
    assert.ok(stalledAt >= 0 && answeredAt > stalledAt);
    assert.ok(order.slice(stalledAt, answeredAt).some((e) => e.startsWith('query:')));
    assert.equal(idToHex((done.closest[0] as { id: Uint8Array }).id), idToHex(slow.contact.id));
  });

  it('waits for a silent node among the k closest until its hard timeout, and leaves it out', async () => {
    const { m, random } = model(100);
    const target = randomBytes(random, 20);
    const dead = m.byKey.get(key(m.trueClosest(target, 1)[0] as { host: string; port: number }));
    assert.ok(dead !== undefined);
    dead.behaviour = 'silent';
    const { events, done } = await collect(m, m.lookup(target));
    const about = events.filter((e) => e.type === 'timeout' && key(e.to) === key(dead.contact));
    assert.deepEqual(
      about.map((e) => e.type === 'timeout' && e.final),
      [false, true],
    );
    assert.equal(done.timedOut, 1);
    assert.deepEqual(hex(done.closest), hex(m.trueClosest(target, 8)));
  });

  it('ends at the first immutable value that hashes to the target and aborts what is in flight', async () => {
    const { m } = model(200);
    const v = new TextEncoder().encode('found');
    const target = immutableTarget(v);
    for (const c of m.trueClosest(target, 8)) {
      const node = m.byKey.get(key(c));
      if (node !== undefined) node.extra = () => ({ v });
    }
    const { events, done } = await collect(m, m.lookup(target, {}, 'get'));
    assert.equal(done.ended, 'found');
    const values = events.filter((e) => e.type === 'value');
    assert.equal(values.length, 1);
    assert.deepEqual(values[0]?.type === 'value' ? values[0].item : undefined, { v });
    assert.equal(m.inFlight, 0);
    assert.equal(m.aborted, done.queried - done.responded);
  });

  it('reports every valid mutable value and runs until the k closest answered', async () => {
    const { m } = model(200);
    const keys = keyPairFromSeed(new Uint8Array(32).fill(9));
    const target = mutableTarget(keys.publicKey);
    const closest = m.trueClosest(target, 8);
    closest.forEach((c, i) => {
      const item = createMutableItem(keys, i, i < 4 ? 1 : 2);
      const node = m.byKey.get(key(c));
      if (node !== undefined) node.extra = () => ({ v: item.v, k: item.k, sig: item.sig, seq: item.seq });
    });
    const { events, done } = await collect(m, m.lookup(target, {}, 'get'));
    assert.equal(done.ended, 'converged');
    const seqs = events.flatMap((e) => (e.type === 'value' ? [e.seq] : []));
    assert.equal(seqs.length, 8);
    assert.equal(Math.max(...seqs.map((s) => Number(s ?? -1))), 2);
  });

  it('counts values that fail verification and ignores them', async () => {
    const { m } = model(200);
    const v = new TextEncoder().encode('real');
    const target = immutableTarget(v);
    const keys = keyPairFromSeed(new Uint8Array(32).fill(3));
    const forged = { ...createMutableItem(keys, new TextEncoder().encode('forged'), 5), sig: new Uint8Array(64) };
    const closest = m.trueClosest(target, 8);
    closest.forEach((c, i) => {
      const node = m.byKey.get(key(c));
      if (node === undefined) return;
      if (i === 0) node.extra = () => ({ v: new TextEncoder().encode('wrong') });
      else if (i === 1) node.extra = () => ({ v: forged.v, k: forged.k, sig: forged.sig, seq: forged.seq });
      else if (i === 7) node.extra = () => ({ v });
    });
    const { events, done } = await collect(m, m.lookup(target, {}, 'get'));
    assert.equal(done.ended, 'found');
    assert.equal(done.invalidValues, 2);
    assert.deepEqual(
      events.flatMap((e) => (e.type === 'value' ? [e.item] : [])),
      [{ v }],
    );
  });

  it('drops contacts that are this node, duplicates, unroutable or malformed', async () => {
    const { m, random } = model(50);
    const target = randomBytes(random, 20);
    const self = new Uint8Array(20).fill(0xee);
    const [a, b] = m.nodes as [(typeof m.nodes)[0], (typeof m.nodes)[0]];
    const liar = m.addNodes(1, random)[0];
    assert.ok(liar !== undefined);
    liar.known = [
      ...junkContacts(target),
      { id: self, host: '10.250.0.1', port: 6881 }, // this node's id
      { id: a.contact.id, host: '10.250.0.2', port: 6881 }, // a known id at another address
      { id: randomBytes(random, 20), host: b.contact.host, port: b.contact.port }, // a known address, another id
      { id: randomBytes(random, 20), host: '10.250.0.3', port: 6881 }, // our own endpoint
    ];
    m.k = 20;
    const { done } = await collect(
      m,
      m.lookup(target, {
        seeds: [liar.contact, a.contact, b.contact],
        selfEndpoints: [{ host: '10.250.0.3', port: 6881 }],
      }),
    );
    const asked = new Set(m.asked);
    for (const host of ['10.200.0.1', '0.0.0.0', '224.0.0.1', '255.255.255.255', '10.200.0.2', '10.250.0.1']) {
      assert.ok(![...asked].some((k) => k.startsWith(`${host}:`)), `asked ${host}`);
    }
    assert.ok(!asked.has('10.250.0.2:6881') && !asked.has('10.250.0.3:6881'));
    assert.equal(m.asked.filter((k) => k === key(b.contact)).length, 1);
    assert.ok(done.queried >= 3);
  });

  it('fails a node that answers with another id than it was known by, ignoring its contacts', async () => {
    const { m, random } = model(50);
    const [impostor] = m.nodes;
    assert.ok(impostor !== undefined);
    impostor.behaviour = 'wrong-id';
    const { events, done } = await collect(m, m.lookup(randomBytes(random, 20), { seeds: [impostor.contact] }));
    const error = events.find((e) => e.type === 'error');
    assert.equal(error?.type === 'error' ? error.error.code : undefined, 'INVALID_MESSAGE');
    assert.equal(done.queried, 1);
    assert.deepEqual(done.closest, []);
  });

  it('stops at maxRequests queries and says so', async () => {
    const { m, random } = model(300);
    for (const node of m.nodes) node.behaviour = 'junk';
    for (const node of m.nodes.slice(0, 40)) node.behaviour = 'ok';
    const { done } = await collect(m, m.lookup(randomBytes(random, 20), { options: { maxRequests: 5 } }));
    assert.ok(done.queried <= 5);
    assert.ok(['request-limit', 'converged'].includes(done.ended));
    const all = model(300, 2);
    for (const node of all.m.nodes) node.latencyMs = 30;
    const limited = await collect(all.m, all.m.lookup(randomBytes(random, 20), { options: { maxRequests: 4 } }));
    assert.equal(limited.done.ended, 'request-limit');
    assert.equal(limited.done.queried, 4);
  });

  it('ends at its deadline with what it found, aborting what is in flight', async () => {
    const { m, random } = model(300);
    for (const node of m.nodes) node.latencyMs = 400;
    const { done } = await collect(m, m.lookup(randomBytes(random, 20), { options: { timeoutMs: 1000 } }));
    assert.equal(done.ended, 'deadline');
    assert.equal(done.durationMs, 1000);
    assert.ok(done.closest.length > 0);
    assert.equal(m.inFlight, 0);
  });

  it('rejects with the reason of an aborted signal and aborts what is in flight', async () => {
    const { m, random } = model(100);
    const controller = new AbortController();
    m.clock.setTimeout(() => controller.abort(new Error('stop')), 15);
    await assert.rejects(
      drive(m.clock, drainLookup(m.lookup(randomBytes(random, 20), { signals: [controller.signal] }))),
      {
        message: 'stop',
      },
    );
    assert.equal(m.inFlight, 0);
    assert.ok(m.aborted >= 1);
  });

  it('does not start before it is iterated, and leaving the loop aborts what is in flight', async () => {
    const { m, random } = model(100);
    const lookup = m.lookup(randomBytes(random, 20));
    await m.clock.advanceAsync(100);
    assert.equal(m.asked.length, 0);
    const seen: string[] = [];
    await drive(
      m.clock,
      (async () => {
        for await (const event of lookup) {
          seen.push(event.type);
          if (event.type === 'response') break;
        }
      })(),
    );
    assert.equal(seen.at(-1), 'response');
    assert.equal(m.inFlight, 0);
    assert.ok(m.aborted >= 1);
    assert.deepEqual(await lookup.next(), { value: undefined, done: true });
  });

  it('runs disjoint paths that never ask the same node, each from its own seeds', async () => {
    const { m, random } = model(300);
    const target = randomBytes(random, 20);
    const seeds = m.nodes.slice(0, 12).map((n) => n.contact);
    const { events, done } = await collect(m, m.lookup(target, { seeds, disjointPaths: 3 }));
    const pathOf = new Map<string, number>();
    for (const event of events) {
      if (event.type !== 'query') continue;
      assert.equal(pathOf.has(key(event.to)), false, `${key(event.to)} asked twice`);
      pathOf.set(key(event.to), event.path);
    }
    assert.deepEqual([...new Set(pathOf.values())].sort(), [0, 1, 2]);
    const sortedSeeds = [...seeds].sort((a, b) => compareDistance(target, a.id, b.id));
    sortedSeeds.slice(0, 3).forEach((seed, i) => assert.equal(pathOf.get(key(seed)), i));
    assert.deepEqual(hex(done.closest), hex(m.trueClosest(target, 8)));
  });

  it('searches each address family with its own candidates and returns the k closest of each', async () => {
    const random = seededRandom(5);
    const m = new LookupModel();
    m.addNodes(100, random, 4);
    m.addNodes(100, random, 6);
    m.fillTables(random);
    const target = randomBytes(random, 20);
    const seeds = [...m.nodes.slice(0, 3), ...m.nodes.slice(100, 103)].map((n) => n.contact);
    const { done } = await collect(m, m.lookup(target, { seeds, families: [4, 6] }));
    const v4 = done.closest.filter((c) => !c.host.includes(':'));
    const v6 = done.closest.filter((c) => c.host.includes(':'));
    assert.deepEqual(hex(v4), hex(m.trueClosest(target, 8, 4)));
    assert.deepEqual(hex(v6), hex(m.trueClosest(target, 8, 6)));
    const merged = [...done.closest].sort((a, b) => compareDistance(target, a.id, b.id));
    assert.deepEqual(hex(done.closest), hex(merged));
  });

  it('converges at once with nothing to ask, keeping the contacts that already answered', async () => {
    const { m, random } = model(10);
    const [seed] = m.nodes;
    assert.ok(seed !== undefined);
    const { done } = await collect(m, m.lookup(randomBytes(random, 20), { seeds: [], responded: [seed.contact] }));
    assert.equal(done.ended, 'converged');
    assert.equal(done.queried, 0);
    assert.deepEqual(hex(done.closest), hex([seed.contact]));
  });
});
