/** Timing every awaited write of a run, and telling which of them a garbage collection paused. */
import { type PerformanceEntry, PerformanceObserver, performance } from 'node:perf_hooks';

/** Write times of one run, in µs. */
export interface WriteTimes {
  /** Every write, in order. */
  readonly all: Float64Array;
  /** The writes during which no garbage collection ran: what the store itself cost. */
  readonly outsideGc: Float64Array;
}

/** Times each awaited `write` of `keys`, noting the garbage collections that ran meanwhile. */
export async function timeWrites(
  keys: readonly string[],
  write: (key: string) => Promise<unknown>,
): Promise<WriteTimes> {
  const collections: PerformanceEntry[] = [];
  const observer = new PerformanceObserver((list) => collections.push(...list.getEntries()));
  observer.observe({ entryTypes: ['gc'] });
  const starts = new Float64Array(keys.length);
  const all = new Float64Array(keys.length);
  for (let i = 0; i < keys.length; i++) {
    const start = performance.now();
    await write(keys[i] as string);
    starts[i] = start;
    all[i] = (performance.now() - start) * 1000;
  }
  // entries reach the observer on a later turn of the event loop
  await new Promise((resolve) => setImmediate(resolve));
  observer.disconnect();
  const outside: number[] = [];
  let c = 0;
  const sorted = collections.sort((a, b) => a.startTime - b.startTime);
  for (let i = 0; i < keys.length; i++) {
    const start = starts[i] ?? 0;
    const end = start + (all[i] ?? 0) / 1000;
    while (
      c < sorted.length &&
      (sorted[c] as PerformanceEntry).startTime + (sorted[c] as PerformanceEntry).duration < start
    )
      c++;
    const gc = sorted[c];
    if (gc === undefined || gc.startTime > end) outside.push(all[i] ?? 0);
  }
  return { all, outsideGc: Float64Array.from(outside) };
}

/** The largest of `times` (0 when empty). */
export function slowest(times: Float64Array): number {
  return times.reduce((a, b) => Math.max(a, b), 0);
}

/** The runs' times end to end. */
export function joined(runs: readonly Float64Array[]): Float64Array {
  const all = new Float64Array(runs.reduce((n, r) => n + r.length, 0));
  let at = 0;
  for (const run of runs) {
    all.set(run, at);
    at += run.length;
  }
  return all;
}
