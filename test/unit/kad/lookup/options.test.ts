import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_LOOKUP_OPTIONS, resolveLookupOptions, softDeadline } from '../../../../src/kad/lookup/options.js';
import { RttEstimator } from '../../../../src/kad/rpc/rtt.js';
import { endpointId } from '../../../../src/kad/transport/transport.js';

describe('resolveLookupOptions', () => {
  it('applies the defaults', () => {
    assert.deepEqual(resolveLookupOptions(), { ...DEFAULT_LOOKUP_OPTIONS });
    assert.ok(Object.isFrozen(DEFAULT_LOOKUP_OPTIONS));
  });

  it('rejects bad values with a message naming the option', () => {
    assert.throws(() => resolveLookupOptions({ alpha: 0 }), { code: 'INVALID_OPTION', message: /^lookup\.alpha/ });
    assert.throws(() => resolveLookupOptions({ alpha: 4, maxAlpha: 3 }), { message: /^lookup\.maxAlpha/ });
    assert.throws(() => resolveLookupOptions({ maxRequests: 1.5 }), { message: /^lookup\.maxRequests/ });
    assert.throws(() => resolveLookupOptions({ maxCandidates: -1 }), { message: /^lookup\.maxCandidates/ });
    assert.throws(() => resolveLookupOptions({ timeoutMs: 0 }), { message: /^lookup\.timeoutMs/ });
    assert.throws(() => resolveLookupOptions({ minSoftTimeoutMs: Number.NaN }), {
      message: /^lookup\.minSoftTimeoutMs/,
    });
    assert.throws(() => resolveLookupOptions({ proximity: 'yes' as unknown as boolean }), {
      code: 'INVALID_OPTION',
      message: /^lookup\.proximity must be a boolean/,
    });
  });

  it('widens the default maxAlpha to a larger alpha', () => {
    assert.equal(resolveLookupOptions({ alpha: 10 }).maxAlpha, 10);
  });
});

describe('softDeadline', () => {
  const to = { host: '10.0.0.1', port: 6881 };

  it('is half the hard timeout for a destination and a network without samples', () => {
    const rtt = new RttEstimator();
    assert.equal(softDeadline(rtt, to, 50), 750);
  });

  it('is srtt + 2 rttvar of the destination, at least the floor and at most the hard timeout', () => {
    const rtt = new RttEstimator();
    rtt.observe(endpointId(to), 100); // srtt 100, rttvar 50
    assert.equal(softDeadline(rtt, to, 50), 200);
    assert.equal(softDeadline(rtt, to, 260), 260);
    assert.equal(softDeadline(rtt, to, 400), rtt.timeoutFor(endpointId(to)));
  });

  it('waits the hard timeout for a destination never timed once the network has samples, not the spread of the network', () => {
    const rtt = new RttEstimator();
    // other nodes answer in 50 or 300 ms: the network's deviation is their spread, not jitter
    for (let i = 0; i < 8; i++) rtt.observe(endpointId({ host: `10.0.1.${i + 1}`, port: 1 }), i % 2 === 0 ? 50 : 300);
    const { srttMs, rttvarMs } = rtt.network();
    const hard = rtt.timeoutFor(endpointId(to));
    assert.ok(hard > srttMs + 2 * rttvarMs);
    assert.equal(softDeadline(rtt, to, 50), hard);
    assert.equal(softDeadline(rtt, to, 10_000), hard);
  });
});
