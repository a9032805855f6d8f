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

/** Best of `rounds` runs of `measure` (higher is better): less noise from GC and the other core. */
export async function bestOf(rounds: number, measure: () => Promise<number>): Promise<number> {
  let best = 0;
  for (let r = 0; r < rounds; r++) best = Math.max(best, await measure());
  return best;
}

/** The median of `values` (the mean of the middle two for an even count). */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** Heap bytes retained by what `build` returns, measured around forced GCs (needs --expose-gc). */
export function retainedBytes(build: () => unknown): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('run benchmarks with node --expose-gc');
  gc();
  gc();
  const before = process.memoryUsage().heapUsed;
  const kept = build();
  gc();
  gc();
  const after = process.memoryUsage().heapUsed;
  // keep `kept` alive until after the measurement
  if (kept === null) console.log('');
  return after - before;
}

export interface Row {
  readonly what: string;
  readonly anchorName: string;
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
      `| ${r.what} | ${r.anchorName} | ${format(r.anchor, r.unit)} | ${format(r.nautilus, r.unit)} | ${(r.nautilus / r.anchor).toFixed(2)}× | ${r.target ?? ''} |`,
    );
  }
}

function format(value: number, unit: string): string {
  if (unit === 'ops/s') return `${(value / 1e6).toFixed(2)} M ops/s`;
  if (unit === 'B') return `${value.toFixed(1)} B`;
  return `${value.toFixed(2)} ${unit}`;
}
