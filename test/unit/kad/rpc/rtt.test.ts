import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isKadError } from '../../../../src/kad/errors.js';
import { DEFAULT_RTT_ESTIMATOR_OPTIONS, RttEstimator } from '../../../../src/kad/rpc/rtt.js';

describe('RttEstimator', () => {
  it('gives an unknown destination the initial timeout', () => {
    const rtt = new RttEstimator();
    assert.equal(rtt.timeoutFor('10.0.0.1:6881'), DEFAULT_RTT_ESTIMATOR_OPTIONS.initialTimeoutMs);
    assert.equal(rtt.get('10.0.0.1:6881'), undefined);
  });

  it('follows RFC 6298 for the first and later samples', () => {
    const rtt = new RttEstimator({ minTimeoutMs: 1 });
    rtt.observe('a', 100);
    assert.deepEqual(rtt.get('a'), { srttMs: 100, rttvarMs: 50 });
    assert.equal(rtt.timeoutFor('a'), 300); // 100 + 4 * 50
    rtt.observe('a', 200);
    // RTTVAR = 3/4 * 50 + 1/4 * |100 - 200| = 62.5; SRTT = 7/8 * 100 + 1/8 * 200 = 112.5
    assert.deepEqual(rtt.get('a'), { srttMs: 112.5, rttvarMs: 62.5 });
    assert.equal(rtt.timeoutFor('a'), 363); // ceil(112.5 + 250)
    assert.equal(rtt.srttOf('a'), 112.5);
    assert.equal(rtt.srttOf('b'), undefined);
  });

  it('shrinks the timeout of a destination that keeps answering fast, down to the floor', () => {
    const rtt = new RttEstimator({ minTimeoutMs: 100 });
    const before = rtt.timeoutFor('fast');
    let previous = Number.POSITIVE_INFINITY;
    for (let i = 0; i < 40; i++) {
      rtt.observe('fast', 20);
      const now = rtt.timeoutFor('fast');
      assert.ok(now <= previous);
      previous = now;
    }
    assert.ok(previous < before);
    assert.equal(previous, 100);
  });

  it('clamps timeouts of slow destinations to the ceiling', () => {
    const rtt = new RttEstimator({ maxTimeoutMs: 3000 });
    rtt.observe('slow', 2500);
    assert.equal(rtt.timeoutFor('slow'), 3000);
  });

  it('uses the network-wide estimate for unknown destinations once warmed up', () => {
    const rtt = new RttEstimator({ warmupSamples: 3, minTimeoutMs: 10 });
    rtt.observe('a', 40);
    rtt.observe('b', 40);
    assert.equal(rtt.unknownTimeout(), 1500);
    rtt.observe('c', 40);
    assert.ok(rtt.timeoutFor('never-seen') < 1500);
    assert.equal(rtt.network().samples, 3);
  });

  it('forgets the least recently updated destination beyond maxDestinations', () => {
    const rtt = new RttEstimator({ maxDestinations: 2 });
    rtt.observe('a', 10);
    rtt.observe('b', 10);
    rtt.observe('a', 10);
    rtt.observe('c', 10);
    assert.equal(rtt.size, 2);
    assert.equal(rtt.get('b'), undefined);
    assert.notEqual(rtt.get('a'), undefined);
    assert.notEqual(rtt.get('c'), undefined);
  });

  it('keeps sub-millisecond loopback RTTs to a quarter millisecond', () => {
    const rtt = new RttEstimator({ minTimeoutMs: 1 });
    for (let i = 0; i < 50; i++) rtt.observe('lo', 0.3);
    const estimate = rtt.get('lo');
    assert.ok(estimate !== undefined && estimate.srttMs <= 0.5 && estimate.rttvarMs <= 0.25);
    assert.ok(rtt.timeoutFor('lo') <= 2);
  });

  it('saturates very slow estimates instead of overflowing', () => {
    const rtt = new RttEstimator();
    rtt.observe('far', 60_000);
    const estimate = rtt.get('far');
    assert.ok(estimate !== undefined && estimate.srttMs > 16_000 && estimate.rttvarMs > 4000);
    assert.equal(rtt.timeoutFor('far'), 5000);
  });

  it('ignores negative and non-finite samples', () => {
    const rtt = new RttEstimator();
    rtt.observe('a', -1);
    rtt.observe('a', Number.NaN);
    rtt.observe('a', Number.POSITIVE_INFINITY);
    assert.equal(rtt.get('a'), undefined);
  });

  it('rejects options out of range with INVALID_OPTION naming the option', () => {
    assert.throws(
      () => new RttEstimator({ minTimeoutMs: 0 }),
      (e) => isKadError(e, 'INVALID_OPTION') && /minTimeoutMs/.test(e.message),
    );
    assert.throws(
      () => new RttEstimator({ minTimeoutMs: 500, maxTimeoutMs: 400 }),
      (e) => isKadError(e, 'INVALID_OPTION'),
    );
    assert.throws(
      () => new RttEstimator({ maxDestinations: 1.5 }),
      (e) => isKadError(e, 'INVALID_OPTION') && /maxDestinations/.test(e.message),
    );
  });
});
