/**
 * Heap measurements for footprint tests under plain `node --test`: the `gc` function is made
 * available at run time (`--expose-gc` set from inside, `gc` read from a fresh context).
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** JS heap plus ArrayBuffer memory (where typed arrays keep their data) after full collections. */
export function heapInUse(): number {
  gc();
  gc();
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.arrayBuffers;
}

/**
 * Heap retained per copy by `count` copies from `build`, in bytes, with the copies (to close).
 * A tenth as many copies are built first and kept, so that compiled code and lazily made caches
 * land before the baseline; averaging over many copies keeps the noise of one measurement (up to hundreds of
 * KiB as the heap grows) to a fraction of a KiB per copy.
 */
export async function retainedPerCopy<T>(
  count: number,
  build: () => T | Promise<T>,
): Promise<{ perCopy: number; copies: T[] }> {
  const copies: T[] = [];
  for (let i = 0; i < Math.max(1, count / 10); i++) copies.push(await build());
  const before = heapInUse();
  for (let i = 0; i < count; i++) copies.push(await build());
  const perCopy = (heapInUse() - before) / count;
  return { perCopy, copies };
}

/** `bytes` in KiB with one decimal, for assertion messages. */
export function kib(bytes: number): string {
  return `${(bytes / 1024).toFixed(1)} KiB`;
}
