import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type CliIo, main } from '../../../src/cli/main.js';
import { simulate } from '../../../src/testing/simulate/simulate.js';

function capture(): CliIo & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { stdout, stderr, out: (t) => void stdout.push(t), err: (t) => void stderr.push(t) };
}

const SMALL = ['--nodes', '40', '--duration-ms', '60000', '--warmup-ms', '10000', '--strategy', 'adaptive,fixed-3'];
const RATES = ['--gets-per-minute', '6', '--lookups-per-minute', '2', '--announces-per-minute', '2'];

describe('nautilus simulate', () => {
  it('prints the whole report as JSON on stdout with --json, the progress and run figures on stderr', async () => {
    const io = capture();
    assert.equal(await main(['simulate', ...SMALL, ...RATES, '--seed', '4', '--json'], io), 0);
    const report = JSON.parse(io.stdout.join('')) as { format: string; strategies: { name: string }[] };
    assert.equal(report.format, 'nautilus-simulation/1');
    assert.deepEqual(
      report.strategies.map((s) => s.name),
      ['adaptive', 'fixed-3'],
    );
    assert.match(io.stderr.join(''), /\] 100 % done\n/);
    assert.match(io.stderr.at(-1) ?? '', /^wall [\d.]+ s, CPU [\d.]+ s .* KiB per node\n$/);
  });

  it('reports on its own thread what simulate() reports on this one, for the same options and seed', async () => {
    const io = capture();
    assert.equal(await main(['simulate', ...SMALL, ...RATES, '--seed', '5', '--json'], io), 0);
    const { report } = await simulate({
      nodes: 40,
      seed: 5,
      durationMs: 60_000,
      warmupMs: 10_000,
      strategies: ['adaptive', 'fixed-3'],
      workload: { getsPerMinute: 6, lookupsPerMinute: 2, announcesPerMinute: 2 },
    });
    assert.equal(io.stdout.join(''), `${JSON.stringify(report, null, 2)}\n`);
  });

  it('stops when interrupted, closing the run, and exits 130', async () => {
    const controller = new AbortController();
    const stderr: string[] = [];
    const io: CliIo = {
      out: () => undefined,
      err: (t) => {
        stderr.push(t);
        if (t.includes('% join')) controller.abort(new Error('SIGINT'));
      },
      signal: controller.signal,
    };
    assert.equal(await main(['simulate', '--nodes', '400', '--seed', '2'], io), 130);
    assert.ok(controller.signal.aborted, 'never drew the progress of the join');
    assert.equal(stderr.at(-1), 'nautilus simulate: interrupted\n');
  });

  it('prints the report as a table without --json', async () => {
    const io = capture();
    assert.equal(await main(['simulate', ...SMALL, ...RATES], io), 0);
    assert.match(io.stdout.join(''), /^40 nodes \(0 hostile, 0 firewalled\), seed 1;/);
    assert.match(io.stdout.join(''), /\nstrategy +gets +get ok +p50 ms/);
  });

  it('exits 2 naming the flag or option that is wrong', async () => {
    const io = capture();
    assert.equal(await main(['simulate', '--nodes', 'many'], io), 2);
    assert.equal(await main(['simulate', '--nodes', '1'], io), 2);
    assert.equal(await main(['simulate', '--strategy', 'greedy'], io), 2);
    assert.equal(await main(['simulate', '--frobnicate'], io), 2);
    const [notNumber, tooFew, strategy, unknown] = io.stderr;
    assert.match(notNumber ?? '', /--nodes must be a number \(got "many"\)/);
    assert.match(tooFew ?? '', /nodes must be an integer in \[2, 200000\]/);
    assert.match(strategy ?? '', /strategies must be adaptive, fixed-N or burst-N/);
    assert.match(unknown ?? '', /frobnicate/);
    assert.deepEqual(io.stdout, []);
  });
});
