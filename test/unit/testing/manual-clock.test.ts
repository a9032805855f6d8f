import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock } from '../../../src/testing/index.js';

describe('ManualClock', () => {
  it('runs timers in deadline order, each seeing its own deadline as now', () => {
    const clock = new ManualClock(1000);
    const seen: string[] = [];
    clock.setTimeout(() => seen.push(`b@${clock.now()}`), 20);
    clock.setTimeout(() => seen.push(`a@${clock.now()}`), 10);
    clock.setTimeout(() => seen.push(`c@${clock.now()}`), 20);
    clock.advance(15);
    assert.deepEqual(seen, ['a@1010']);
    clock.advance(100);
    assert.deepEqual(seen, ['a@1010', 'b@1020', 'c@1020']);
    assert.equal(clock.now(), 1115);
  });

  it('runs timers scheduled by timers when they fall inside the advanced span', () => {
    const clock = new ManualClock(0);
    const seen: number[] = [];
    clock.setTimeout(() => {
      seen.push(clock.now());
      clock.setTimeout(() => seen.push(clock.now()), 5);
    }, 5);
    clock.advance(10);
    assert.deepEqual(seen, [5, 10]);
  });

  it('never runs a cancelled timer', () => {
    const clock = new ManualClock();
    let ran = false;
    const timer = clock.setTimeout(() => (ran = true), 1);
    timer.cancel();
    clock.advance(10);
    assert.equal(ran, false);
    assert.equal(clock.pendingTimers, 0);
  });

  it('lets promise work started by a timer finish before the next timer with advanceAsync', async () => {
    const clock = new ManualClock(0);
    const order: string[] = [];
    clock.setTimeout(() => {
      void Promise.resolve().then(() => order.push('first settled'));
    }, 1);
    clock.setTimeout(() => order.push('second timer'), 2);
    await clock.advanceAsync(5);
    assert.deepEqual(order, ['first settled', 'second timer']);
  });

  it('refuses to move backwards', () => {
    assert.throws(() => new ManualClock().advance(-1), RangeError);
  });
});
