import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resolveSimulateOptions } from '../../../../src/testing/simulate/options.js';
import { DEFAULT_STRATEGIES, parseStrategy } from '../../../../src/testing/simulate/strategies.js';

describe('simulate options', () => {
  it('applies the defaults of the issue targets: 150 ms median RTT in 50-300 ms, 10 % loss, 20 % churn per hour', () => {
    const o = resolveSimulateOptions();
    assert.deepEqual(
      [o.nodes, o.rttMedianMs, o.rttMinMs, o.rttMaxMs, o.loss, o.churn, o.hostile],
      [1000, 150, 50, 300, 0.1, 0.2, 0],
    );
    assert.deepEqual(
      o.strategies.map((s) => s.name),
      [...DEFAULT_STRATEGIES],
    );
  });

  it('names the option that is out of range', () => {
    assert.throws(() => resolveSimulateOptions({ nodes: 1 }), /nodes must be an integer in \[2, 200000\]/);
    assert.throws(() => resolveSimulateOptions({ loss: 0.95 }), /loss must be a number in \[0, 0\.9\]/);
    assert.throws(() => resolveSimulateOptions({ hostile: 0.6 }), /hostile must be a number in \[0, 0\.5\]/);
    assert.throws(
      () => resolveSimulateOptions({ rttMedianMs: 400 }),
      /rttMedianMs must be between rttMinMs and rttMaxMs/,
    );
    assert.throws(() => resolveSimulateOptions({ sessionShape: 1 }), /sessionShape must be a number > 1/);
    assert.throws(() => resolveSimulateOptions({ strategies: ['adaptive', 'adaptive'] }), /without duplicate names/);
    assert.throws(() => resolveSimulateOptions({ workload: { getsPerMinute: -1 } }), /workload\.getsPerMinute/);
    assert.throws(
      () => resolveSimulateOptions({ hostileBehaviours: ['lie' as 'drop'] }),
      /hostileBehaviours must be a list of drop, junk, far, wrong-value/,
    );
  });

  it('reads strategy names: adaptive, fixed-N and burst-N as a fixed alpha closest first, disjoint-N as paths', () => {
    assert.deepEqual(parseStrategy('adaptive'), { name: 'adaptive', lookup: {}, disjointPaths: 1 });
    assert.deepEqual(parseStrategy('fixed-3'), {
      name: 'fixed-3',
      lookup: { alpha: 3, maxAlpha: 3, proximity: false },
      disjointPaths: 1,
    });
    assert.deepEqual(parseStrategy('burst-16').lookup, { alpha: 16, maxAlpha: 16, proximity: false });
    assert.equal(parseStrategy('disjoint-4').disjointPaths, 4);
    for (const bad of ['disjoint-1', 'disjoint-9', 'fixed-0', 'greedy']) {
      assert.throws(() => parseStrategy(bad), /strategies must be adaptive, fixed-N or burst-N/);
    }
  });
});
