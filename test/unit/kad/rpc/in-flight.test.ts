import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isKadError } from '../../../../src/kad/errors.js';
import { InFlightLimiter } from '../../../../src/kad/rpc/in-flight.js';

describe('InFlightLimiter', () => {
  it('caps requests per destination and hands the slot to the next waiter on release', async () => {
    const limiter = new InFlightLimiter({ maxInFlight: 10, maxInFlightPerDestination: 1 });
    assert.equal(limiter.tryAcquire('a'), true);
    assert.equal(limiter.tryAcquire('a'), false);
    let granted = false;
    const waiting = limiter.acquire('a').then(() => {
      granted = true;
    });
    assert.equal(limiter.queued, 1);
    limiter.release('a');
    await waiting;
    assert.equal(granted, true);
    assert.equal(limiter.inFlightTo('a'), 1);
  });

  it('lets a request to a free destination pass a waiter for a busy one', async () => {
    const limiter = new InFlightLimiter({ maxInFlight: 10, maxInFlightPerDestination: 1 });
    limiter.tryAcquire('a');
    const waiting = limiter.acquire('a');
    assert.equal(limiter.tryAcquire('b'), true);
    assert.equal(limiter.inFlight, 2);
    limiter.release('a');
    await waiting;
  });

  it('caps requests globally', () => {
    const limiter = new InFlightLimiter({ maxInFlight: 2 });
    assert.equal(limiter.tryAcquire('a'), true);
    assert.equal(limiter.tryAcquire('b'), true);
    assert.equal(limiter.tryAcquire('c'), false);
  });

  it('fails fast with OVERLOADED when the wait queue is full', async () => {
    const limiter = new InFlightLimiter({ maxInFlight: 1, maxQueued: 1 });
    limiter.tryAcquire('a');
    const waiting = limiter.acquire('b');
    await assert.rejects(limiter.acquire('c'), (e) => isKadError(e, 'OVERLOADED'));
    limiter.release('a');
    await waiting;
  });

  it('removes an aborted waiter and rejects it with the signal reason', async () => {
    const limiter = new InFlightLimiter({ maxInFlight: 1 });
    limiter.tryAcquire('a');
    const controller = new AbortController();
    const waiting = limiter.acquire('b', controller.signal);
    controller.abort();
    await assert.rejects(waiting, (e) => e instanceof DOMException && e.name === 'AbortError');
    assert.equal(limiter.queued, 0);
  });

  it('rejects waiters with CLOSED on close', async () => {
    const limiter = new InFlightLimiter({ maxInFlight: 1 });
    limiter.tryAcquire('a');
    const waiting = limiter.acquire('b');
    limiter.close();
    await assert.rejects(waiting, (e) => isKadError(e, 'CLOSED'));
    await assert.rejects(limiter.acquire('c'), (e) => isKadError(e, 'CLOSED'));
  });
});
