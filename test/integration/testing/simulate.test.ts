import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatReport, reportSvg, simulate, type SimulateOptions } from '../../../src/testing/index.js';

/** A small, busy network: every part of the model at work within a few virtual minutes. */
const SMALL: SimulateOptions = {
  nodes: 200,
  hostile: 0.1,
  firewalled: 0.2,
  churn: 2,
  warmupMs: 30_000,
  durationMs: 180_000,
  readDelayMinMs: 10_000,
  readDelayMaxMs: 60_000,
  workload: { getsPerMinute: 10, lookupsPerMinute: 4, announcesPerMinute: 4 },
};

describe('simulate()', () => {
  it('gives the same report byte for byte for the same options and seed, and another for another seed', async () => {
    const first = await simulate({ ...SMALL, seed: 11 });
    const again = await simulate({ ...SMALL, seed: 11 });
    const other = await simulate({ ...SMALL, seed: 12 });
    assert.equal(JSON.stringify(again.report), JSON.stringify(first.report));
    assert.equal(formatReport(again.report), formatReport(first.report));
    assert.equal(reportSvg(again.report), reportSvg(first.report));
    assert.notEqual(JSON.stringify(other.report), JSON.stringify(first.report));
    const { network, strategies } = first.report;
    assert.ok(network.leaves > 0 && network.joins === 200 + network.leaves, 'churn replaced every node that left');
    assert.ok(network.hostile > 0 && network.firewalled > 0 && network.natDropped > 0 && network.lost > 0);
    assert.deepEqual(
      strategies.map((s) => s.name),
      ['adaptive', 'fixed-3', 'burst-16', 'disjoint-3'],
    );
    for (const s of strategies) {
      assert.ok(s.get.count > 0 && s.lookup.count > 0 && s.peers.count > 0, `${s.name} ran every workload`);
      assert.equal(s.getLatencyCdf.length, 50);
    }
    assert.match(reportSvg(first.report), /^<svg [^>]*>[\s\S]*<polyline[\s\S]*<\/svg>\n$/);
  });

  it('meets the get targets on 2000 nodes with 50-300 ms RTTs, 10 % loss and 20 % churn per hour, with fewer messages than fixed-3 and burst-16', async () => {
    const { report } = await simulate({
      nodes: 2000,
      seed: 3,
      warmupMs: 30_000,
      durationMs: 180_000,
      readDelayMinMs: 10_000,
      readDelayMaxMs: 60_000,
      strategies: ['adaptive', 'fixed-3', 'burst-16'],
      workload: { getsPerMinute: 40, lookupsPerMinute: 0, announcesPerMinute: 0 },
    });
    const [adaptive, fixed3, burst16] = report.strategies;
    assert.ok(adaptive !== undefined && fixed3 !== undefined && burst16 !== undefined);
    assert.ok(adaptive.get.count >= 100);
    assert.ok(adaptive.get.successRate >= 0.99, `success ${adaptive.get.successRate}`);
    assert.ok(adaptive.get.latencyRtts.p50 <= 3, `p50 ${adaptive.get.latencyRtts.p50} RTTs`);
    assert.ok(adaptive.get.latencyMs.p99 <= 2000, `p99 ${adaptive.get.latencyMs.p99} ms`);
    assert.ok(adaptive.get.messages.p50 <= 30, `messages ${adaptive.get.messages.p50}`);
    assert.ok(adaptive.get.messages.p50 < burst16.get.messages.p50, 'fewer messages than a burst of 16');
    assert.ok(
      adaptive.get.messages.mean < fixed3.get.messages.mean,
      `messages on average ${adaptive.get.messages.mean}, fixed-3 ${fixed3.get.messages.mean}`,
    );
  });

  it('keeps gets at 97 % or more with 10 % hostile nodes on 3 disjoint paths', async () => {
    const { report } = await simulate({
      nodes: 600,
      seed: 5,
      hostile: 0.1,
      warmupMs: 30_000,
      durationMs: 180_000,
      readDelayMinMs: 10_000,
      readDelayMaxMs: 60_000,
      strategies: ['disjoint-3'],
      workload: { getsPerMinute: 40, lookupsPerMinute: 0, announcesPerMinute: 0 },
    });
    const disjoint = report.strategies[0];
    assert.ok(report.network.hostile >= 40, `hostile nodes ${report.network.hostile}`);
    assert.ok(disjoint !== undefined && disjoint.get.count >= 100);
    assert.ok(disjoint.get.successRate >= 0.97, `success ${disjoint.get.successRate}`);
  });

  it('counts a put or announce that no node accepted as not stored, and reads only what was stored', async () => {
    // half the nodes collude ("far"): some writes reach only them, and the real nodes refuse their tokens
    const { report } = await simulate({
      nodes: 150,
      seed: 2,
      hostile: 0.5,
      hostileBehaviours: ['far'],
      warmupMs: 30_000,
      durationMs: 120_000,
      readDelayMinMs: 10_000,
      readDelayMaxMs: 30_000,
      strategies: ['adaptive'],
      workload: { getsPerMinute: 20, lookupsPerMinute: 0, announcesPerMinute: 10 },
    });
    const { puts, announces } = report.writes;
    assert.ok(puts.stored < puts.started || announces.stored < announces.started, 'some write stored nowhere');
    const adaptive = report.strategies[0];
    assert.ok(adaptive !== undefined);
    assert.equal(adaptive.get.count, puts.stored);
    assert.equal(adaptive.peers.count, announces.stored);
  });
});
