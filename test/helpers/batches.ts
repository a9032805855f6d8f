/** Starting many nodes at once without flooding the loopback: in batches, all or nothing. */
import { setMaxListeners } from 'node:events';
import type { Endpoint } from '../../src/kad/transport/transport.js';

/**
 * Runs `starts` `batch` at a time, each batch awaited before the next; resolves with every
 * result in order. When one start fails, what already started is closed and the first error is
 * thrown (the caller's signal bounds the starts themselves).
 */
export async function startInBatches<T>(
  starts: ReadonlyArray<() => Promise<T>>,
  batch: number,
  close: (started: T) => Promise<void>,
): Promise<T[]> {
  const done: T[] = [];
  try {
    for (let i = 0; i < starts.length; i += batch) {
      const results = await Promise.allSettled(starts.slice(i, i + batch).map((start) => start()));
      for (const result of results) if (result.status === 'fulfilled') done.push(result.value);
      const failed = results.find((result) => result.status === 'rejected');
      if (failed !== undefined) throw failed.reason;
    }
    return done;
  } catch (error) {
    await Promise.all(done.map(close));
    throw error;
  }
}

/** How {@link startJoined} starts, addresses and closes one node of some implementation. */
export interface Joiner<T> {
  /** Starts a node that joins through `bootstrap` (none: alone) and resolves once it is ready. */
  start(bootstrap: readonly Endpoint[], signal: AbortSignal): Promise<T>;
  endpoint(node: T): Endpoint;
  close(node: T): Promise<void>;
}

/** How many nodes {@link startJoined} starts, through what, how many at once, within what. */
export interface JoinedOptions {
  readonly count: number;
  /** Existing nodes to join through; none: the first node starts alone, the others join through it. */
  readonly bootstrap?: readonly Endpoint[];
  /** Nodes joining at once. @default 25 */
  readonly batch?: number;
  /** Bounds the whole start. */
  readonly signal: AbortSignal;
}

/**
 * Starts `count` nodes, `batch` at a time, each joining through `bootstrap` or, when that is
 * empty, through the first node (started alone). Resolves with the nodes in start order;
 * `signal` bounds it all, and on failure every node started is closed.
 */
export async function startJoined<T>(joiner: Joiner<T>, options: JoinedOptions): Promise<T[]> {
  const { count, signal } = options;
  setMaxListeners(0, signal); // one listener per join in flight
  let bootstrap = options.bootstrap ?? [];
  const first: T[] = [];
  if (bootstrap.length === 0 && count > 0) {
    first.push(await joiner.start(bootstrap, signal));
    bootstrap = [joiner.endpoint(first[0] as T)];
  }
  const start = (): Promise<T> => joiner.start(bootstrap, signal);
  const close = (node: T): Promise<void> => joiner.close(node);
  try {
    const rest = await startInBatches(
      Array.from({ length: count - first.length }, () => start),
      options.batch ?? 25,
      close,
    );
    return [...first, ...rest];
  } catch (error) {
    await Promise.all(first.map(close));
    throw error;
  }
}
