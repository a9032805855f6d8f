/** Tiny benchmark helpers: every figure is printed beside its anchor, measured in the same run. */

/** Runs `op` `iterations` times (awaiting each call) after a warm-up; returns operations per second. */
export async function opsPerSecond(iterations: number, op: (i: number) => Promise<unknown>): Promise<number> {
  const warmup = Math.min(iterations, 50_000);
  for (let i = 0; i < warmup; i++) await op(i);
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) await op(i);
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  return iterations / seconds;
}

/**
 * Like {@link opsPerSecond}, per CPU second of this process (user + system) instead of per
 * second of wall time: time spent waiting for a core that other processes hold does not count
 * against whichever side happened to run. Only for work that never waits on another process
 * (an in-process store), whose wall time would otherwise be CPU time plus noise.
 */
export async function opsPerCpuSecond(iterations: number, op: (i: number) => Promise<unknown>): Promise<number> {
  const warmup = Math.min(iterations, 50_000);
  for (let i = 0; i < warmup; i++) await op(i);
  const start = process.cpuUsage();
  for (let i = 0; i < iterations; i++) await op(i);
  const used = process.cpuUsage(start);
  return iterations / ((used.user + used.system) / 1e6);
}

/** Best of `rounds` runs of `measure` (higher is better): less noise from GC and the other core. */
export async function bestOf(rounds: number, measure: () => Promise<number>): Promise<number> {
  let best = 0;
  for (let r = 0; r < rounds; r++) best = Math.max(best, await measure());
  return best;
}

/**
 * Best of `rounds` runs each of `anchor` and `subject` (higher is better), alternating which goes
 * first: load from other processes then weighs on both alike, and their ratio stays steady.
 */
export async function bestOfAlternating(
  rounds: number,
  anchor: () => Promise<number>,
  subject: () => Promise<number>,
): Promise<[anchor: number, subject: number]> {
  let a = 0;
  let s = 0;
  for (let r = 0; r < rounds; r++) {
    if (r % 2 === 0) {
      a = Math.max(a, await anchor());
      s = Math.max(s, await subject());
    } else {
      s = Math.max(s, await subject());
      a = Math.max(a, await anchor());
    }
  }
  return [a, s];
}

/**
 * Medians of `rounds` runs each of `anchor` and `subject`, alternating which goes first (as
 * {@link bestOfAlternating}): on a shared machine the median says what a typical round gets,
 * where the best says what the quietest moment allowed.
 */
export async function medianOfAlternating(
  rounds: number,
  anchor: () => Promise<number>,
  subject: () => Promise<number>,
): Promise<[anchor: number, subject: number]> {
  const [a, s] = await mediansOfRotating(rounds, [anchor, subject]);
  return [a as number, s as number];
}

/**
 * Medians of `rounds` runs of each of `measures`, one run of each per round, the order rotated
 * every round: figures compared with each other come from the same stretch of time.
 */
export async function mediansOfRotating(
  rounds: number,
  measures: readonly (() => Promise<number>)[],
): Promise<number[]> {
  const runs = measures.map((): number[] => []);
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < measures.length; i++) {
      const j = (r + i) % measures.length;
      (runs[j] as number[]).push(await (measures[j] as () => Promise<number>)());
    }
  }
  return runs.map(median);
}

/**
 * Rates of `anchor` and `subject` run one call each in turn, `calls` times per round, the one
 * that goes first swapped every call, each call timed alone: a change in the machine's load
 * lands on both within milliseconds, which whole rounds taken one after the other cannot give.
 * Each figure is the median over `rounds` of (calls × `unitsPerCall`) / the seconds its calls took.
 */
export async function medianOfInterleaved(
  options: { rounds: number; calls: number; unitsPerCall: number },
  anchor: () => Promise<unknown>,
  subject: () => Promise<unknown>,
): Promise<[anchor: number, subject: number]> {
  const rates: [number[], number[]] = [[], []];
  const ops = [anchor, subject] as const;
  for (let r = 0; r < options.rounds; r++) {
    const spent = [0n, 0n];
    for (let i = 0; i < options.calls; i++) {
      for (const which of i % 2 === 0 ? [0, 1] : [1, 0]) {
        const start = process.hrtime.bigint();
        await (ops[which] as () => Promise<unknown>)();
        spent[which] = (spent[which] as bigint) + (process.hrtime.bigint() - start);
      }
    }
    for (const which of [0, 1]) {
      rates[which]?.push((options.calls * options.unitsPerCall * 1e9) / Number(spent[which]));
    }
  }
  return [median(rates[0]), median(rates[1])];
}

/** The `q` quantile (0–1) of `values`, by the nearest rank. */
export function quantile(values: ArrayLike<number>, q: number): number {
  const sorted = Float64Array.from(values).sort();
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? Number.NaN;
}

/** The median of `values` (the mean of the middle two for an even count). */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

function collect(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('run benchmarks with node --expose-gc');
  gc();
  gc();
}

/** JS heap in use after forced GCs (needs --expose-gc). */
export function jsHeapBytes(): number {
  collect();
  return process.memoryUsage().heapUsed;
}

/**
 * JS heap plus ArrayBuffer memory after forced GCs (needs --expose-gc): the data of typed arrays
 * and Buffers lives outside the JS heap.
 */
export function heapBytes(): number {
  collect();
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.arrayBuffers;
}

/** Bytes retained by what `build` returns, by `measure` (JS heap unless told). */
export function retainedBytes(build: () => unknown, measure: () => number = jsHeapBytes): number {
  const before = measure();
  const kept = build();
  const after = measure();
  // keep `kept` alive until after the measurement
  if (kept === null) console.log('');
  return after - before;
}

export interface Row {
  readonly what: string;
  readonly anchorName: string;
  /** The anchor's figure; `NaN` for a row without one (printed as —; so is the ratio to a 0). */
  readonly anchor: number;
  readonly nautilus: number;
  readonly unit: string;
  /** Target for Nautilus in `unit`, for the table. */
  readonly target?: string;
}

/** Prints rows as a table with the Nautilus/anchor ratio. */
export function printTable(title: string, rows: readonly Row[]): void {
  console.log(`\n## ${title}\n`);
  console.log('| what | anchor | anchor figure | Nautilus | ratio | target |');
  console.log('| --- | --- | ---: | ---: | ---: | --- |');
  for (const r of rows) {
    console.log(
      `| ${r.what} | ${r.anchorName} | ${anchored(r.anchor, r.unit)} | ${format(r.nautilus, r.unit)} | ${Number.isNaN(r.anchor) || r.anchor === 0 ? '—' : `${(r.nautilus / r.anchor).toFixed(2)}×`} | ${r.target ?? ''} |`,
    );
  }
}

function anchored(value: number, unit: string): string {
  return Number.isNaN(value) ? '—' : format(value, unit);
}

function format(value: number, unit: string): string {
  if (unit === 'ops/s') return `${(value / 1e6).toFixed(2)} M ops/s`;
  if (unit === 'B') return `${value.toFixed(1)} B`;
  return `${value.toFixed(2)} ${unit}`;
}
