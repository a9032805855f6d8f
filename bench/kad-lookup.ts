/**
 * DHT lookups on 127.0.0.1: N nodes of one implementation in one process, each on its own UDP
 * socket, Nautilus against bittorrent-dht in the same run, and a mixed network of both.
 *
 * Per network: the time to bootstrap it (batches of joins through one entry node per
 * implementation, each join waiting for its start-up lookup), the JS heap per idle node (forced
 * GC before and after the build), then PUTS rounds of a fresh immutable put from a random node
 * followed by GETS gets, one at a time, from random nodes that do not hold the item (not the
 * putter, not a node the put was sent to). Per get: the latency until its promise or callback
 * settles, and the query datagrams the getter sent meanwhile (Nautilus: `rpc.queriesSent` of
 * `node.stats()`, retransmissions included; bittorrent-dht: calls of its k-rpc-socket `query`,
 * which sends one datagram each and never retransmits).
 *
 * Run: npm run bench -- kad-lookup (or node --expose-gc dist/bench/kad-lookup.js after a build).
 */
import { setMaxListeners } from 'node:events';
import { fileURLToPath } from 'node:url';
import { type Endpoint, endpointKey } from '../src/kad/transport/transport.js';
import { seededRandom } from '../src/testing/seeded-random.js';
import { startInBatches } from '../test/helpers/batches.js';
import { printTable, type Row } from './harness.js';
import { freshValue, type Implementation, type Member, startDhtMember, startNautilusMember } from './lookup-members.js';

const SIZES = [200, 500];
const PUTS = 20;
const GETS = 10;
/** Nodes of each implementation in the warm-up network whose figures are not reported. */
const WARMUP_NODES = 50;
const JOIN_BATCH = 50;
/** Bounds one network's bootstrap. */
const BOOTSTRAP_DEADLINE_MS = 180_000;
/** Bounds one put or get: a get that has not settled by then counts as failed. */
const OPERATION_DEADLINE_MS = 10_000;

type Start = (bootstrap: readonly Endpoint[], signal: AbortSignal) => Promise<Member>;
const starters: Record<Implementation, Start> = {
  'bittorrent-dht': startDhtMember,
  nautilus: startNautilusMember,
};

/** A built network and what building it cost. */
interface Network {
  readonly members: Member[];
  readonly bootstrapMs: number;
  readonly heapPerNode: number;
}

function gc(): void {
  const collect = (globalThis as { gc?: () => void }).gc;
  if (collect === undefined) throw new Error('run benchmarks with node --expose-gc');
  collect();
  collect();
}

/**
 * Starts `kinds.length` members: the first of each implementation joins through the entries
 * started before it (the very first alone), every other one through all entries, JOIN_BATCH at once.
 */
async function buildNetwork(kinds: readonly Implementation[]): Promise<Network> {
  const signal = AbortSignal.timeout(BOOTSTRAP_DEADLINE_MS);
  gc();
  const heapBefore = process.memoryUsage().heapUsed;
  const start = performance.now();
  setMaxListeners(0, signal); // one listener per join in flight
  const entries: Member[] = [];
  const rest: Implementation[] = [];
  try {
    for (const kind of kinds) {
      if (entries.some((m) => m.implementation === kind) || rest.length > 0) rest.push(kind);
      else
        entries.push(
          await starters[kind](
            entries.map((m) => m.endpoint),
            signal,
          ),
        );
    }
  } catch (error) {
    await Promise.all(entries.map((m) => m.close()));
    throw error;
  }
  const bootstrap = entries.map((m) => m.endpoint);
  const close = (m: Member): Promise<void> => m.close();
  const joined = await startInBatches(
    rest.map((kind) => () => starters[kind](bootstrap, signal)),
    JOIN_BATCH,
    close,
  ).catch(async (error: unknown) => {
    await Promise.all(entries.map(close));
    throw error;
  });
  const members = [...entries, ...joined];
  const bootstrapMs = performance.now() - start;
  gc();
  const heapPerNode = (process.memoryUsage().heapUsed - heapBefore) / members.length;
  return { members, bootstrapMs, heapPerNode };
}

/** One get as measured. */
interface Sample {
  readonly getter: Implementation;
  readonly putter: Implementation;
  readonly ok: boolean;
  readonly ms: number;
  readonly requests: number;
}

/**
 * PUTS fresh puts from random members (alternating implementations in a mixed network), GETS
 * gets each; a put that fails is counted, and its round has no gets.
 */
async function workload(members: readonly Member[], seed: number): Promise<{ samples: Sample[]; failedPuts: number }> {
  const random = seededRandom(seed);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)] as T;
  const kinds = [...new Set(members.map((m) => m.implementation))];
  const samples: Sample[] = [];
  let failedPuts = 0;
  for (let round = 0; round < PUTS; round++) {
    const putter = pick(members.filter((m) => m.implementation === kinds[round % kinds.length]));
    const put = await putter.put(freshValue(), AbortSignal.timeout(OPERATION_DEADLINE_MS)).catch(() => undefined);
    if (put === undefined) {
      failedPuts++;
      continue;
    }
    const { target, holders } = put;
    const getters = members.filter((m) => !holders.has(endpointKey(m.endpoint)));
    for (let g = 0; g < GETS; g++) {
      const getter = pick(getters);
      const sent = getter.queriesSent();
      const start = performance.now();
      const ok = await getter.get(target, AbortSignal.timeout(OPERATION_DEADLINE_MS)).catch(() => false);
      const ms = performance.now() - start;
      samples.push({
        getter: getter.implementation,
        putter: putter.implementation,
        ok,
        ms,
        requests: getter.queriesSent() - sent,
      });
    }
  }
  return { samples, failedPuts };
}

function quantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
}

/** Figures of a set of samples. */
interface Figures {
  readonly p50: number;
  readonly p90: number;
  readonly requests: number;
  readonly success: number;
}

function figures(samples: readonly Sample[]): Figures {
  const ms = samples.map((s) => s.ms);
  return {
    p50: quantile(ms, 0.5),
    p90: quantile(ms, 0.9),
    requests: samples.reduce((n, s) => n + s.requests, 0) / samples.length,
    success: (100 * samples.filter((s) => s.ok).length) / samples.length,
  };
}

/** Builds a network of `kinds`, runs the workload, closes it. */
async function measure(kinds: readonly Implementation[], seed: number): Promise<Network & { samples: Sample[] }> {
  const network = await buildNetwork(kinds);
  try {
    const { samples, failedPuts } = await workload(network.members, seed);
    note(kinds.length, network.members, failedPuts);
    return { ...network, samples };
  } finally {
    await Promise.all(network.members.map((m) => m.close()));
  }
}

/** Prints what explains the figures of a network: timeouts, and answers Nautilus could not take. */
function note(n: number, members: readonly Member[], failedPuts: number): void {
  const parts: string[] = [];
  for (const implementation of ['bittorrent-dht', 'nautilus'] as const) {
    const of = members.filter((m) => m.implementation === implementation);
    if (of.length === 0) continue;
    const sum = (f: (m: Member) => number): number => of.reduce((total, m) => total + f(m), 0);
    const queries = sum((m) => m.queriesSent());
    let text = `${implementation} ×${of.length}: ${(queries / of.length).toFixed(1)} queries per node, ${sum((m) => m.timeouts())} timed out`;
    if (implementation === 'nautilus') {
      text += `, ${sum((m) => m.largeReplies())} replies over 1500 B taken, ${sum((m) => m.oversizedDropped())} other datagrams over 1500 B dropped`;
    }
    parts.push(text);
  }
  const kinds = [...new Set(members.map((m) => m.implementation))].join(' + ');
  const puts = failedPuts === 0 ? '' : ` ${failedPuts} of ${PUTS} puts failed;`;
  console.log(`note: N=${n} (${kinds}):${puts} since start: ${parts.join('; ')}`);
}

const ANCHOR = 'bittorrent-dht 11';

/** The rows comparing a Nautilus figure set with bittorrent-dht's, both from the same run. */
function compare(label: string, anchor: Figures, nautilus: Figures): Row[] {
  return [
    {
      what: `${label}: get p50`,
      anchorName: ANCHOR,
      anchor: anchor.p50,
      nautilus: nautilus.p50,
      unit: 'ms',
      target: '≤ 1.0× anchor',
    },
    { what: `${label}: get p90`, anchorName: ANCHOR, anchor: anchor.p90, nautilus: nautilus.p90, unit: 'ms' },
    {
      what: `${label}: requests per get`,
      anchorName: ANCHOR,
      anchor: anchor.requests,
      nautilus: nautilus.requests,
      unit: 'queries',
      target: '≤ 0.6× anchor',
    },
    {
      what: `${label}: gets that succeeded`,
      anchorName: ANCHOR,
      anchor: anchor.success,
      nautilus: nautilus.success,
      unit: '%',
      target: '100 %',
    },
  ];
}

/** Benchmark rows for every size: each implementation alone, then a half-and-half network. */
export async function benchKadLookup(): Promise<Row[]> {
  const rows: Row[] = [];
  // a warm-up network of each implementation first, its figures dropped: the code each one runs
  // (bytecode, feedback, the modules it loads) is then compiled and loaded before any network is
  // measured, so the first measured network's heap per node is not charged the one-time costs
  // that the later ones do not pay
  for (const kind of ['bittorrent-dht', 'nautilus'] as const) {
    await measure(
      Array.from({ length: WARMUP_NODES }, () => kind),
      1,
    );
  }
  for (const n of SIZES) {
    const anchor = await measure(
      Array.from({ length: n }, () => 'bittorrent-dht'),
      n,
    );
    const nautilus = await measure(
      Array.from({ length: n }, () => 'nautilus'),
      n,
    );
    rows.push(...compare(`N=${n}`, figures(anchor.samples), figures(nautilus.samples)));
    rows.push(
      {
        what: `N=${n}: bootstrap the network`,
        anchorName: ANCHOR,
        anchor: anchor.bootstrapMs,
        nautilus: nautilus.bootstrapMs,
        unit: 'ms',
      },
      {
        what: `N=${n}: JS heap per idle node`,
        anchorName: ANCHOR,
        anchor: anchor.heapPerNode / 1024,
        nautilus: nautilus.heapPerNode / 1024,
        unit: 'KiB',
        target: '≤ 20 KiB',
      },
    );
    const kinds = Array.from({ length: n }, (_, i): Implementation => (i % 2 === 0 ? 'nautilus' : 'bittorrent-dht'));
    const mixed = await measure(kinds, n + 1);
    const by = (getter: Implementation) => mixed.samples.filter((s) => s.getter === getter);
    rows.push(...compare(`mixed N=${n} (getters of each)`, figures(by('bittorrent-dht')), figures(by('nautilus'))));
    const across = (getter: Implementation) => by(getter).filter((s) => s.putter !== getter);
    rows.push({
      what: `mixed N=${n}: gets of the other implementation's put`,
      anchorName: ANCHOR,
      anchor: figures(across('bittorrent-dht')).success,
      nautilus: figures(across('nautilus')).success,
      unit: '%',
      target: '100 %',
    });
  }
  return rows;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  printTable(`DHT lookups on 127.0.0.1 (${PUTS} puts × ${GETS} gets per network)`, await benchKadLookup());
}
