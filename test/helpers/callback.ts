/** How long an interop test waits for a callback of the other implementation, in ms. */
export const WAIT_MS = 5000;

/** Runs a callback-style call and resolves with what its callback got, or rejects after WAIT_MS. */
export function call<T>(start: (done: (error: Error | null, value: T) => void) => void): Promise<T> {
  const signal = AbortSignal.timeout(WAIT_MS);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(new Error('bittorrent-dht did not call back in time'));
    signal.addEventListener('abort', onAbort, { once: true });
    start((error, value) => {
      signal.removeEventListener('abort', onAbort);
      if (error !== null) reject(error);
      else resolve(value);
    });
  });
}
