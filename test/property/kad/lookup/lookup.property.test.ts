import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { compareDistance, idToHex } from '../../../../src/kad/id.js';
import type { LookupDoneEvent, LookupEvent } from '../../../../src/kad/lookup/events.js';
import { drainLookup } from '../../../../src/kad/lookup/lookup.js';
import { routableContact } from '../../../../src/kad/lookup/routable.js';
import { seededRandom } from '../../../../src/testing/index.js';
import { randomBytes } from '../../../helpers/kad-network.js';
import { type Behaviour, key, LookupModel } from '../../../helpers/lookup-model.js';
import { drive } from '../../../helpers/virtual-time.js';
import type { Contact } from '../../../../src/kad/wire/compact.js';

const SELF = idToHex(new Uint8Array(20).fill(0xee));

const failure = fc.constantFrom<Behaviour>('silent', 'error', 'junk', 'wrong-id');

const scenario = fc.record({
  seed: fc.integer({ min: 1, max: 1_000_000 }),
  failShare: fc.oneof(fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: 0, max: 0.2, noNaN: true })),
  nodes: fc.array(fc.record({ failure, latencyMs: fc.integer({ min: 0, max: 400 }) }), {
    minLength: 1,
    maxLength: 120,
  }),
  tableShare: fc.oneof(fc.double({ min: 0, max: 1, noNaN: true }), fc.constant(1)),
  seeds: fc.integer({ min: 0, max: 10 }),
  alpha: fc.integer({ min: 1, max: 4 }),
  extraAlpha: fc.integer({ min: 0, max: 5 }),
  maxRequests: fc.oneof(fc.integer({ min: 1, max: 60 }), fc.constant(1000)),
  maxCandidates: fc.oneof(fc.integer({ min: 1, max: 64 }), fc.constant(4096)),
  timeoutMs: fc.oneof(fc.integer({ min: 100, max: 3000 }), fc.constant(60_000)),
  disjointPaths: fc.oneof(fc.constant(1), fc.integer({ min: 1, max: 3 })),
});

describe('Lookup (property)', () => {
  it('terminates within its bounds of requests, concurrency and time, asking each node once, for any network', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async (s) => {
        const random = seededRandom(s.seed);
        const m = new LookupModel();
        const added = m.addNodes(s.nodes.length, random);
        s.nodes.forEach((n, i) => {
          const node = added[i] as (typeof added)[number];
          node.latencyMs = n.latencyMs;
          node.behaviour = random() < s.failShare ? n.failure : 'ok';
        });
        m.fillTables(random);
        for (const node of m.nodes) node.known = node.known.filter(() => random() < s.tableShare);
        const target = randomBytes(random, 20);
        const maxAlpha = s.alpha + s.extraAlpha;
        const events: LookupEvent[] = [];
        const lookup = m.lookup(target, {
          seeds: m.nodes.slice(0, s.seeds).map((n) => n.contact),
          disjointPaths: s.disjointPaths,
          options: {
            alpha: s.alpha,
            maxAlpha,
            maxRequests: s.maxRequests,
            maxCandidates: s.maxCandidates,
            timeoutMs: s.timeoutMs,
          },
        });
        const done: LookupDoneEvent = await drive(
          m.clock,
          drainLookup(lookup, (e) => events.push(e)),
          s.timeoutMs + 10,
        );
        // bounds
        assert.ok(done.durationMs <= s.timeoutMs);
        assert.ok(done.queried <= s.maxRequests * s.disjointPaths);
        assert.ok(m.maxInFlight <= maxAlpha * s.disjointPaths);
        assert.equal(new Set(m.asked).size, m.asked.length, 'a node was asked twice');
        assert.equal(done.queried, m.asked.length);
        assert.equal(m.inFlight, 0, 'queries left in flight');
        // every query is accounted for exactly once
        const settled = events.filter(
          (e) => e.type === 'response' || e.type === 'error' || (e.type === 'timeout' && e.final),
        );
        assert.equal(settled.length + m.aborted, done.queried);
        assert.equal(done.responded, events.filter((e) => e.type === 'response').length);
        assert.equal(done.timedOut, events.filter((e) => e.type === 'timeout' && e.final).length);
        assert.equal(events.at(-1), done);
        // closest: nodes that answered, closest first, at most k
        const answered = new Set(events.flatMap((e) => (e.type === 'response' ? [key(e.from)] : [])));
        assert.ok(done.closest.length <= m.k);
        for (const c of done.closest) assert.ok(answered.has(key(c)), `${key(c)} in closest never answered`);
        for (let i = 1; i < done.closest.length; i++) {
          const [a, b] = [done.closest[i - 1], done.closest[i]] as [Contact, Contact];
          assert.ok(compareDistance(target, a.id, b.id) < 0);
        }
        // converged (one path, candidates not bounded below what it learned): no node closer than
        // the k-th closest (or any node at all, with fewer) was left unasked
        const seeds = m.nodes.slice(0, s.seeds).map((n) => n.contact);
        const learned = [
          ...seeds,
          ...events.flatMap((e) => {
            const node = e.type === 'response' ? m.byKey.get(key(e.from)) : undefined;
            return node === undefined ? [] : m.returned(node, target);
          }),
        ].filter((c) => routableContact(c) !== undefined && idToHex(c.id) !== SELF);
        if (done.ended === 'converged' && s.disjointPaths === 1 && s.maxCandidates >= learned.length) {
          const askedIds = new Set(events.flatMap((e) => (e.type === 'query' ? [idToHex(e.to.id)] : [])));
          const horizon = done.closest.length >= m.k ? done.closest[m.k - 1] : undefined;
          for (const c of learned) {
            if (horizon !== undefined && compareDistance(target, c.id, horizon.id) >= 0) continue;
            // the same address under another id is one node, known once
            if (learned.some((o) => key(o) === key(c) && idToHex(o.id) !== idToHex(c.id))) continue;
            assert.ok(m.asked.includes(key(c)) || askedIds.has(idToHex(c.id)), `${key(c)} was never asked`);
          }
        }
      }),
      { numRuns: 200 },
    );
  });
});
