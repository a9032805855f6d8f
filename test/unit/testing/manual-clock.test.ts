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

  it('runs thousands of timers in deadline order, ties in scheduling order, with advance and advanceAsync alike', async () => {
    let cancelled = 0;
    const order = (run: (clock: ManualClock) => Promise<void> | void): Promise<string[]> =>
      (async () => {
        const clock = new ManualClock(0);
        const seen: string[] = [];
        cancelled = 0;
        let x = 7;
        for (let i = 0; i < 3000; i++) {
          x = (x * 48271) % 2147483647;
          const delay = x % 500;
          const timer = clock.setTimeout(() => seen.push(`${i}@${clock.now()}`), delay);
          if (x % 13 === 0) {
            timer.cancel();
            cancelled++;
          }
        }
        await run(clock);
        return seen;
      })();
    const sync = await order((clock) => clock.advance(1000));
    const async = await order((clock) => clock.advanceAsync(1000));
    assert.ok(cancelled > 0);
    assert.equal(sync.length, 3000 - cancelled);
    assert.deepEqual(async, sync);
    const keys = sync.map((s) => s.split('@').map(Number) as [number, number]);
    for (let i = 1; i < keys.length; i++) {
      const [pi, pt] = keys[i - 1] as [number, number];
      const [ci, ct] = keys[i] as [number, number];
      assert.ok(pt < ct || (pt === ct && pi < ci), `${sync[i - 1]} before ${sync[i]}`);
    }
  });

  it('lets a long chain of promise work finish before the next timer, in every batch of advanceAsync', async () => {
    const clock = new ManualClock(0);
    const seen: string[] = [];
    const chain = async (i: number): Promise<void> => {
      for (let step = 0; step < 40; step++) await Promise.resolve();
      seen.push(`done ${i}`);
    };
    // 100 timers: more than one batch of immediates, several at the same instant
    for (let i = 0; i < 100; i++) {
      clock.setTimeout(
        () => {
          seen.push(`timer ${i}`);
          void chain(i);
        },
        Math.floor(i / 3),
      );
    }
    await clock.advanceAsync(100);
    assert.deepEqual(seen, Array.from({ length: 100 }, (_, i) => [`timer ${i}`, `done ${i}`]).flat());
  });

  it('rejects advanceAsync with what a timer threw, leaving the later timers scheduled', async () => {
    const clock = new ManualClock(0);
    const ran: number[] = [];
    clock.setTimeout(() => ran.push(1), 1);
    clock.setTimeout(() => {
      throw new Error('boom');
    }, 2);
    clock.setTimeout(() => ran.push(3), 3);
    await assert.rejects(clock.advanceAsync(10), /boom/);
    assert.deepEqual(ran, [1]);
    assert.equal(clock.pendingTimers, 1);
    await clock.advanceAsync(10);
    assert.deepEqual(ran, [1, 3]);
  });

  it('refuses to move backwards', () => {
    assert.throws(() => new ManualClock().advance(-1), RangeError);
  });
});
