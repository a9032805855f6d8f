import type { Command } from '../command.js';

/** `nautilus simulate`: N real nodes on a simulated network, on virtual time, and a lookup report. */
export const simulateCommand: Command = {
  name: 'simulate',
  summary: 'Run N real nodes on a simulated network (virtual time, seeded RTTs, loss, churn, hostile nodes)',
  options: {
    nodes: { type: 'string' },
    seed: { type: 'string' },
    loss: { type: 'string' },
    churn: { type: 'string' },
    hostile: { type: 'string' },
    firewalled: { type: 'string' },
    strategy: { type: 'string' },
    'duration-ms': { type: 'string' },
    'warmup-ms': { type: 'string' },
    'gets-per-minute': { type: 'string' },
    'lookups-per-minute': { type: 'string' },
    'announces-per-minute': { type: 'string' },
    json: { type: 'boolean' },
    svg: { type: 'string' },
  },
  help: `Usage: nautilus simulate [options]

Runs N real Nautilus nodes (the production code) on an in-memory network driven by a virtual
clock, with seeded round-trip times, loss, churn, firewalled and hostile nodes, and reports
lookup success, latency and cost per lookup strategy (see docs/simulation.md).

Options:
  --nodes N                Nodes, 2-200000 (default 1000)
  --seed S                 Seed of every random choice (default 1); same seed, same report
  --loss P                 Datagram loss, 0-0.9 (default 0.1)
  --churn P                Fraction of nodes leaving (and replaced) per hour, 0-5 (default 0.2)
  --hostile P              Fraction of hostile nodes, 0-0.5 (default 0)
  --firewalled P           Fraction of nodes behind a NAT, 0-1 (default 0)
  --strategy LIST          Comma-separated: adaptive, fixed-N, burst-N, disjoint-N
                           (default adaptive,fixed-3,burst-16,disjoint-3)
  --duration-ms MS         Workload phase, virtual ms (default 1800000)
  --warmup-ms MS           Settling after the joins, virtual ms (default 300000)
  --gets-per-minute R      Puts (each read back once per strategy) per virtual minute (default 40)
  --lookups-per-minute R   Lookups of random targets per virtual minute (default 10)
  --announces-per-minute R Announces (then peer searches) per virtual minute (default 10)
  --json                   Print the whole report as JSON on stdout (progress stays on stderr)
  --svg FILE               Draw the latency CDF and success over time to FILE

Examples:
  nautilus simulate --nodes 2000 --seed 7
  nautilus simulate --nodes 10000 --hostile 0.1 --strategy adaptive,disjoint-3 --json > report.json
`,
  async run(args, io) {
    // loaded here: the simulator is for this command only
    const { runSimulate } = await import('../simulate.js');
    return runSimulate(args, io);
  },
};
