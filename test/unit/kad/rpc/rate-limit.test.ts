import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isKadError } from '../../../../src/kad/errors.js';
import { InboundLimiter, OutboundPacer, TokenBucket } from '../../../../src/kad/rpc/rate-limit.js';
import { ManualClock } from '../../../../src/testing/manual-clock.js';

describe('TokenBucket', () => {
  it('starts full and allows a burst, then refuses', () => {
    const clock = new ManualClock();
    const bucket = new TokenBucket({ ratePerSecond: 10, burst: 3 }, { clock });
    assert.equal(bucket.tryTake(), true);
    assert.equal(bucket.tryTake(), true);
    assert.equal(bucket.tryTake(), true);
    assert.equal(bucket.tryTake(), false);
  });

  it('refills at the rate on the clock, never beyond the burst', () => {
    const clock = new ManualClock();
    const bucket = new TokenBucket({ ratePerSecond: 4, burst: 2 }, { clock });
    bucket.tryTake(2);
    assert.equal(bucket.waitMs(), 250);
    clock.advance(250);
    assert.equal(bucket.waitMs(), 0);
    assert.equal(bucket.tryTake(), true);
    clock.advance(60_000);
    assert.equal(bucket.tokens, 2);
  });

  it('never limits with an infinite rate', () => {
    const clock = new ManualClock();
    const bucket = new TokenBucket({ ratePerSecond: Number.POSITIVE_INFINITY, burst: 1 }, { clock });
    assert.equal(bucket.tryTake(), true);
    assert.equal(bucket.waitMs(), 0);
  });

  it('rejects a non-positive rate with INVALID_OPTION', () => {
    const clock = new ManualClock();
    assert.throws(
      () => new TokenBucket({ ratePerSecond: 0, burst: 1 }, { clock }),
      (e) => isKadError(e, 'INVALID_OPTION'),
    );
  });
});

describe('InboundLimiter', () => {
  it('drops queries from one source beyond its burst and lets other sources through', () => {
    const clock = new ManualClock();
    const limiter = new InboundLimiter({ ratePerSecond: 1, burst: 2 }, { clock });
    assert.deepEqual(
      [limiter.allow('1.1.1.1'), limiter.allow('1.1.1.1'), limiter.allow('1.1.1.1')],
      [true, true, false],
    );
    assert.equal(limiter.allow('2.2.2.2'), true);
    clock.advance(1000);
    assert.equal(limiter.allow('1.1.1.1'), true);
    assert.equal(limiter.allow('1.1.1.1'), false);
  });

  it('keeps memory bounded when an attacker cycles source addresses', () => {
    const clock = new ManualClock();
    const limiter = new InboundLimiter({ maxSources: 100 }, { clock });
    for (let i = 0; i < 10_000; i++) limiter.allow(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
    assert.equal(limiter.size, 100);
  });

  it('remembers a recently seen source over older ones (LRU)', () => {
    const clock = new ManualClock();
    const limiter = new InboundLimiter({ ratePerSecond: 0.001, burst: 1, maxSources: 2 }, { clock });
    assert.equal(limiter.allow('a'), true);
    assert.equal(limiter.allow('b'), true);
    assert.equal(limiter.allow('a'), false); // a is now the most recent
    assert.equal(limiter.allow('c'), true); // evicts b
    assert.equal(limiter.allow('a'), false); // a was kept, still empty
  });

  it('forgets sources whose bucket refilled, so an idle node holds nothing', () => {
    const clock = new ManualClock();
    const limiter = new InboundLimiter({ ratePerSecond: 10, burst: 10 }, { clock });
    for (let i = 0; i < 50; i++) limiter.allow(`10.0.0.${i}`);
    assert.equal(limiter.size, 50);
    clock.advance(1000);
    assert.equal(limiter.size, 0);
    assert.equal(clock.pendingTimers, 0);
  });

  it('allows everything when the rate is Infinity', () => {
    const clock = new ManualClock();
    const limiter = new InboundLimiter({ ratePerSecond: Number.POSITIVE_INFINITY }, { clock });
    for (let i = 0; i < 1000; i++) assert.equal(limiter.allow('x'), true);
    assert.equal(limiter.size, 0);
  });
});

describe('OutboundPacer', () => {
  it('sends a burst at once and paces the rest at the rate', async () => {
    const clock = new ManualClock();
    const pacer = new OutboundPacer({ ratePerSecond: 4, burst: 2 }, { clock });
    const released: number[] = [];
    const all = [0, 1, 2, 3, 4].map((i) => pacer.acquire('peer').then(() => released.push(i)));
    await clock.advanceAsync(0);
    assert.deepEqual(released, [0, 1]);
    assert.equal(pacer.queued, 3);
    await clock.advanceAsync(249);
    assert.deepEqual(released, [0, 1]);
    await clock.advanceAsync(1);
    assert.deepEqual(released, [0, 1, 2]);
    await clock.advanceAsync(500);
    await Promise.all(all);
    assert.deepEqual(released, [0, 1, 2, 3, 4]);
  });

  it('paces each destination on its own', async () => {
    const clock = new ManualClock();
    const pacer = new OutboundPacer({ ratePerSecond: 1, burst: 1 }, { clock });
    assert.equal(pacer.tryAcquire('a'), true);
    assert.equal(pacer.tryAcquire('a'), false);
    assert.equal(pacer.tryAcquire('b'), true);
  });

  it('forgets idle destinations once their bucket refilled', async () => {
    const clock = new ManualClock();
    const pacer = new OutboundPacer({ ratePerSecond: 4, burst: 4 }, { clock });
    for (let i = 0; i < 20; i++) pacer.tryAcquire(i);
    await clock.advanceAsync(500);
    for (let i = 0; i < 4; i++) pacer.tryAcquire('busy');
    await clock.advanceAsync(500);
    assert.equal(pacer.size, 1); // "busy" spent its tokens half a second ago
    await clock.advanceAsync(1000);
    assert.equal(pacer.size, 0);
    assert.equal(clock.pendingTimers, 0);
  });

  it('fails fast with OVERLOADED when a destination queue is full', async () => {
    const clock = new ManualClock();
    const pacer = new OutboundPacer({ ratePerSecond: 1, burst: 1, maxQueuePerDestination: 2 }, { clock });
    await pacer.acquire('a');
    const waiting = [pacer.acquire('a'), pacer.acquire('a')];
    await assert.rejects(pacer.acquire('a'), (e) => isKadError(e, 'OVERLOADED'));
    await clock.advanceAsync(2000);
    await Promise.all(waiting);
  });

  it('rejects a waiter with the signal reason on abort and frees its place', async () => {
    const clock = new ManualClock();
    const pacer = new OutboundPacer({ ratePerSecond: 1, burst: 1 }, { clock });
    await pacer.acquire('a');
    const controller = new AbortController();
    const waiting = pacer.acquire('a', controller.signal);
    const reason = new Error('stop');
    controller.abort(reason);
    await assert.rejects(waiting, (e) => e === reason);
    assert.equal(pacer.queued, 0);
  });

  it('rejects every waiter with CLOSED on close and cancels its timers', async () => {
    const clock = new ManualClock();
    const pacer = new OutboundPacer({ ratePerSecond: 1, burst: 1 }, { clock });
    await pacer.acquire('a');
    const waiting = pacer.acquire('a');
    pacer.close();
    await assert.rejects(waiting, (e) => isKadError(e, 'CLOSED'));
    assert.equal(clock.pendingTimers, 0);
    await assert.rejects(pacer.acquire('b'), (e) => isKadError(e, 'CLOSED'));
  });

  it('forgets idle destinations beyond maxDestinations but refuses when all have waiters', async () => {
    const clock = new ManualClock();
    const pacer = new OutboundPacer({ ratePerSecond: 1, burst: 1, maxDestinations: 2 }, { clock });
    for (let i = 0; i < 100; i++) assert.equal(pacer.tryAcquire(`d${i}`), true);
    assert.equal(pacer.size, 2);
    const a = pacer.acquire('d98');
    const b = pacer.acquire('d99');
    await assert.rejects(pacer.acquire('new'), (e) => isKadError(e, 'OVERLOADED'));
    await clock.advanceAsync(1000);
    await Promise.all([a, b]);
  });
});
