/**
 * Timing every awaited write while a store grows, and telling the pauses the store makes every
 * time (its tables growing) from those that strike at random (garbage collection, another
 * process holding the core).
 */

/** The time of each awaited `write` of `keys`, in order, in µs. */
export async function timeWrites(
  keys: readonly string[],
  write: (key: string) => Promise<unknown>,
): Promise<Float64Array> {
  const times = new Float64Array(keys.length);
  for (let i = 0; i < keys.length; i++) {
    const start = process.hrtime.bigint();
    await write(keys[i] as string);
    times[i] = Number(process.hrtime.bigint() - start) / 1000;
  }
  return times;
}

/**
 * The slowest write position over `runs` of the same writes: each position's fastest time
 * across the runs, then the largest of those. A pause the store makes at the same write every
 * run (copying a table to grow it) survives the minimum; a random one rarely hits one position
 * in every run.
 */
export function recurringWorst(runs: readonly Float64Array[]): number {
  const length = Math.min(...runs.map((r) => r.length));
  let worst = 0;
  for (let i = 0; i < length; i++) {
    let fastest = Number.POSITIVE_INFINITY;
    for (const run of runs) fastest = Math.min(fastest, run[i] ?? Number.POSITIVE_INFINITY);
    worst = Math.max(worst, fastest);
  }
  return worst;
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
