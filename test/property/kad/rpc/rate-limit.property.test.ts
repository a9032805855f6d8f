import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { InFlightLimiter } from '../../../../src/kad/rpc/in-flight.js';
import { InboundLimiter, OutboundPacer, TokenBucket } from '../../../../src/kad/rpc/rate-limit.js';
import { RttEstimator } from '../../../../src/kad/rpc/rtt.js';
import { ManualClock } from '../../../../src/testing/manual-clock.js';

const rate = fc.integer({ min: 1, max: 50 });
const burst = fc.integer({ min: 1, max: 20 });
const steps = fc.array(fc.record({ waitMs: fc.integer({ min: 0, max: 700 }), takes: fc.integer({ min: 0, max: 8 }) }), {
  maxLength: 60,
});

describe('rate limits (properties)', () => {
  it('a token bucket never grants more than burst + rate * elapsed', () => {
    fc.assert(
      fc.property(rate, burst, steps, (ratePerSecond, depth, plan) => {
        const clock = new ManualClock();
        const start = clock.now();
        const bucket = new TokenBucket({ ratePerSecond, burst: depth }, { clock });
        let granted = 0;
        for (const { waitMs, takes } of plan) {
          clock.advance(waitMs);
          for (let i = 0; i < takes; i++) if (bucket.tryTake()) granted++;
          assert.ok(granted <= depth + (ratePerSecond * (clock.now() - start)) / 1000 + 1e-6);
        }
      }),
    );
  });

  it('the inbound limiter never lets one source exceed burst + rate * elapsed', () => {
    fc.assert(
      fc.property(rate, burst, steps, (ratePerSecond, depth, plan) => {
        const clock = new ManualClock();
        const start = clock.now();
        const limiter = new InboundLimiter({ ratePerSecond, burst: depth, maxSources: 4 }, { clock });
        let allowed = 0;
        for (const [n, { waitMs, takes }] of plan.entries()) {
          clock.advance(waitMs);
          limiter.allow(`other-${n % 3}`); // other sources come and go; x must keep its bucket
          for (let i = 0; i < takes; i++) if (limiter.allow('x')) allowed++;
          assert.ok(allowed <= depth + (ratePerSecond * (clock.now() - start)) / 1000 + 1e-6);
          assert.ok(limiter.size <= 4);
        }
      }),
    );
  });

  it('the pacer releases at most burst + rate * window to one destination, in FIFO order', async () => {
    await fc.assert(
      fc.asyncProperty(rate, burst, steps, async (ratePerSecond, depth, plan) => {
        const clock = new ManualClock();
        const start = clock.now();
        const pacer = new OutboundPacer({ ratePerSecond, burst: depth, maxQueuePerDestination: 1000 }, { clock });
        const released: number[] = [];
        let next = 0;
        for (const { waitMs, takes } of plan) {
          for (let i = 0; i < takes; i++) {
            const n = next++;
            void pacer.acquire('d').then(
              () => released.push(n),
              () => undefined, // still waiting at close
            );
          }
          await clock.advanceAsync(waitMs);
          assert.ok(released.length <= depth + (ratePerSecond * (clock.now() - start)) / 1000 + 1e-6);
        }
        assert.deepEqual(
          released,
          [...released].sort((a, b) => a - b),
        );
        pacer.close();
      }),
      { numRuns: 50 },
    );
  });

  it('the in-flight limiter never exceeds its caps', () => {
    const op = fc.oneof(
      fc.record({ acquire: fc.integer({ min: 0, max: 3 }) }),
      fc.record({ release: fc.integer({ min: 0, max: 3 }) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 100 }), (ops) => {
        const limiter = new InFlightLimiter({ maxInFlight: 4, maxInFlightPerDestination: 2, maxQueued: 1000 });
        for (const o of ops) {
          if ('acquire' in o) void limiter.acquire(o.acquire).catch(() => undefined);
          else limiter.release(o.release);
          assert.ok(limiter.inFlight <= 4);
          for (let d = 0; d < 4; d++) assert.ok(limiter.inFlightTo(d) <= 2);
        }
        limiter.close();
      }),
    );
  });

  it('an adaptive timeout always stays within its clamps', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0, max: 100_000, noNaN: true }), { maxLength: 50 }), (samples) => {
        const rtt = new RttEstimator({ minTimeoutMs: 100, maxTimeoutMs: 4000 });
        for (const sample of samples) {
          rtt.observe('d', sample);
          const timeout = rtt.timeoutFor('d');
          assert.ok(timeout >= 100 && timeout <= 4000);
        }
      }),
    );
  });
});
