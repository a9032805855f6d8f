/** Starting many nodes at once without flooding the loopback: in batches, all or nothing. */

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
