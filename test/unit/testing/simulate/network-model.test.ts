import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Packet } from '../../../../src/testing/memory-network.js';
import { SessionModel } from '../../../../src/testing/simulate/churn.js';
import { hostOf, NetworkModel } from '../../../../src/testing/simulate/network-model.js';
import { resolveSimulateOptions } from '../../../../src/testing/simulate/options.js';

const packet = (from: string, to: string): Packet => ({
  from: { host: from, port: 6881, family: 4 },
  to: { host: to, port: 6881 },
  data: new Uint8Array(10),
});

describe('network model', () => {
  it('gives every pair one RTT, the same both ways, clipped to 50-300 ms with a median near 150 ms', () => {
    const model = new NetworkModel(resolveSimulateOptions({ seed: 4 }), () => 0);
    const rtts: number[] = [];
    for (let a = 0; a < 60; a++) {
      for (let b = a + 1; b < 60; b++) {
        const rtt = model.rttMs(a, b);
        assert.equal(model.rttMs(b, a), rtt);
        assert.ok(rtt >= 50 && rtt <= 300, `rtt ${rtt}`);
        rtts.push(rtt);
      }
    }
    rtts.sort((x, y) => x - y);
    const median = rtts[Math.floor(rtts.length / 2)] as number;
    assert.ok(median >= 140 && median <= 160, `median ${median}`);
    assert.ok((rtts[0] as number) < 90 && (rtts.at(-1) as number) > 240, 'spread over the range');
    const other = new NetworkModel(resolveSimulateOptions({ seed: 5 }), () => 0);
    assert.notDeepEqual(
      rtts.slice(0, 20),
      Array.from({ length: 20 }, (_, i) => other.rttMs(0, i + 1)).sort((x, y) => x - y),
    );
  });

  it('lets a firewalled host receive only from endpoints it sent to within natTimeoutMs', () => {
    let now = 0;
    const model = new NetworkModel(resolveSimulateOptions({ natTimeoutMs: 1000 }), () => now);
    const [open, natted] = [hostOf(0), hostOf(1)];
    model.addHost(open, 0, false);
    model.addHost(natted, 1, true);
    assert.equal(model.filter(packet(open, natted)), true, 'unsolicited: dropped');
    assert.equal(model.filter(packet(natted, open)), false);
    now = 500;
    assert.equal(model.filter(packet(open, natted)), false, 'an answer through the pinhole');
    now = 1600;
    assert.equal(model.filter(packet(open, natted)), true, 'the pinhole closed');
    assert.deepEqual([model.datagrams, model.natDropped, model.bytes], [4, 2, 40]);
  });

  it('gives each node its own private address, exempt from the /24 diversity limit', () => {
    const hosts = new Set(Array.from({ length: 100_000 }, (_, i) => hostOf(i)));
    assert.equal(hosts.size, 100_000);
    assert.equal(hostOf(0), '10.0.0.1');
    assert.equal(hostOf(254), '10.0.1.1');
  });
});

describe('session model', () => {
  it('draws Pareto sessions no shorter than mean·(a-1)/a, with the mean that makes churn leave per hour', () => {
    const sessions = new SessionModel(0.5, 1.5);
    assert.equal(sessions.meanMs, 7_200_000);
    assert.equal(sessions.session(0), 2_400_000);
    assert.ok(sessions.session(0.9999) > 100 * 2_400_000, 'a heavy tail');
    // the mean over a fine grid of quantiles approaches the mean (the tail converges slowly)
    let sum = 0;
    const n = 200_000;
    for (let i = 0; i < n; i++) sum += sessions.session((i + 0.5) / n);
    assert.ok(Math.abs(sum / n / 7_200_000 - 1) < 0.05, `mean ${sum / n}`);
  });

  it('starts the first nodes mid-session: residuals are uniform below the scale, Pareto with shape a-1 above', () => {
    const sessions = new SessionModel(0.5, 1.5);
    assert.equal(sessions.residual(0), 0);
    assert.ok(Math.abs(sessions.residual(1 / 3 - 1e-12) - 2_400_000) < 1, 'continuous at the split');
    assert.ok(Math.abs(sessions.residual(1 / 3 + 1e-12) - 2_400_000) < 1);
    assert.equal(new SessionModel(0, 1.5).session(0.5), Number.POSITIVE_INFINITY);
    assert.equal(new SessionModel(0, 1.5).residual(0.5), Number.POSITIVE_INFINITY);
  });
});
