import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CandidateSet } from '../../../../src/kad/lookup/candidates.js';
import type { Contact } from '../../../../src/kad/wire/compact.js';

const TARGET = new Uint8Array(20);
/** A contact at XOR distance `d` from the all-zero target (in the last byte). */
const at = (d: number): Contact => {
  const id = new Uint8Array(20);
  id[19] = d;
  return { id, host: `10.0.${d}.1`, port: 6881 };
};
const distances = (set: CandidateSet): number[] => set.list().map((c) => c.contact.id[19] ?? -1);

describe('CandidateSet', () => {
  it('keeps candidates ordered by XOR distance to the target, closest first', () => {
    const set = new CandidateSet(TARGET, 3, 10);
    for (const d of [9, 2, 7, 1, 5]) set.add(at(d));
    assert.deepEqual(distances(set), [1, 2, 5, 7, 9]);
  });

  it('offers the closest fresh candidate within the k closest that neither failed nor stalled', () => {
    const set = new CandidateSet(TARGET, 2, 10);
    const [c1, c2, c3] = [set.add(at(1)), set.add(at(2)), set.add(at(3))];
    assert.equal(set.nextToAsk(), c1);
    (c1 as { state: string }).state = 'pending';
    assert.equal(set.nextToAsk(), c2);
    (c2 as { state: string }).state = 'answered';
    assert.equal(set.nextToAsk(), undefined, 'the window is c1 (pending) and c2 (answered)');
    (c1 as { state: string }).state = 'stalled';
    assert.equal(set.nextToAsk(), c3, 'a stalled candidate makes room for the next');
  });

  it('weighing latency, asks first the fastest of the candidates that share as many leading bits with the target', () => {
    const set = new CandidateSet(TARGET, 4, 10, 40);
    // 4, 5 and 6 share 157 leading bits with the all-zero target
    const [slow, fast, middle] = [
      set.add(at(4), 'fresh', 200),
      set.add(at(5), 'fresh', 60),
      set.add(at(6), 'fresh', 120),
    ];
    assert.equal(set.nextToAsk(), fast);
    (fast as { state: string }).state = 'pending';
    assert.equal(set.nextToAsk(), middle);
    (middle as { state: string }).state = 'answered';
    assert.equal(set.nextToAsk(), slow);
  });

  it('weighing latency, asks a candidate sharing more bits first unless a faster one saves more than those bits are worth', () => {
    const near = new CandidateSet(TARGET, 4, 10, 40);
    const first = near.add(at(1), 'fresh', 200); // 159 shared bits
    near.add(at(4), 'fresh', 150); // 157 shared bits: 150 + 2 * 40 = 230 > 200
    assert.equal(near.nextToAsk(), first);
    const far = new CandidateSet(TARGET, 4, 10, 40);
    far.add(at(1), 'fresh', 200);
    const quick = far.add(at(4), 'fresh', 100); // 100 + 80 = 180 < 200
    assert.equal(far.nextToAsk(), quick);
  });

  it('weighing latency, still asks only within the k closest that neither failed nor stalled', () => {
    const set = new CandidateSet(TARGET, 2, 10, 40);
    set.add(at(1), 'fresh', 300);
    const second = set.add(at(2), 'fresh', 250); // 250 + 40 = 290 < 300
    set.add(at(3), 'fresh', 50); // the fastest, but third closest
    assert.equal(set.nextToAsk(), second);
  });

  it('without latency weighed, asks closest first whatever the round-trip times', () => {
    const set = new CandidateSet(TARGET, 4, 10);
    const closest = set.add(at(4), 'fresh', 300);
    set.add(at(5), 'fresh', 10);
    assert.equal(set.nextToAsk(), closest);
  });

  it('converges once the k closest that did not fail answered, waiting for stalled ones', () => {
    const set = new CandidateSet(TARGET, 2, 10);
    const [c1, c2, c3] = [set.add(at(1)), set.add(at(2)), set.add(at(3))] as { state: string }[];
    assert.equal(set.converged(), false);
    (c1 as { state: string }).state = 'stalled';
    (c2 as { state: string }).state = 'answered';
    (c3 as { state: string }).state = 'answered';
    assert.equal(set.converged(), false, 'c1 is among the 2 closest and may still answer');
    (c1 as { state: string }).state = 'failed';
    assert.equal(set.converged(), true);
    assert.deepEqual(
      set.answered().map((c) => c.id[19]),
      [2, 3],
    );
  });

  it('converges with fewer than k candidates once all of them answered, and when empty', () => {
    const set = new CandidateSet(TARGET, 8, 10);
    assert.equal(set.converged(), true);
    const only = set.add(at(4)) as { state: string };
    assert.equal(set.converged(), false);
    only.state = 'answered';
    assert.equal(set.converged(), true);
  });

  it('forgets the farthest candidate not in flight beyond its capacity', () => {
    const set = new CandidateSet(TARGET, 2, 3);
    const far = set.add(at(9)) as { state: string };
    far.state = 'pending';
    set.add(at(8));
    set.add(at(1));
    assert.equal(set.add(at(2)) !== undefined, true);
    assert.deepEqual(distances(set), [1, 2, 9], 'the pending one stays, the farthest fresh one goes');
    assert.equal(set.add(at(10)), undefined, 'a candidate farther than all kept is not kept');
    assert.equal(set.size, 3);
  });
});
