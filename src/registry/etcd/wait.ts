import type { Etcd3 } from 'etcd3';
import type { Clock, Milliseconds } from '../../core/clock.js';
import { RegistryError } from '../errors.js';

/** Options of {@link untilDeleted}. */
export interface UntilDeletedOptions {
  readonly signal?: AbortSignal | undefined;
  /** Resolve after this long even if the key still exists (the caller looks again). @default no bound */
  readonly maxWaitMs?: Milliseconds | undefined;
}

/**
 * Resolves once `key` is deleted (watched from after `revision`), or after `maxWaitMs`; rejects
 * with `signal.reason` on abort, `BACKEND_UNAVAILABLE` when the watch fails. The watch is
 * cancelled either way.
 */
export async function untilDeleted(
  ctx: { readonly client: Etcd3; readonly clock: Clock },
  key: Buffer,
  revision: string,
  options: UntilDeletedOptions = {},
): Promise<void> {
  const { signal, maxWaitMs } = options;
  if (signal?.aborted) throw signal.reason as Error;
  const creating = ctx.client
    .watch()
    .key(key)
    .startRevision(String(BigInt(revision) + 1n))
    .create();
  let cleanup = (): void => {};
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = maxWaitMs === undefined ? undefined : ctx.clock.setTimeout(resolve, maxWaitMs);
      const onAbort = (): void => reject(signal?.reason as Error);
      signal?.addEventListener('abort', onAbort, { once: true });
      cleanup = () => {
        timer?.cancel();
        signal?.removeEventListener('abort', onAbort);
      };
      creating.then(
        (watcher) => {
          watcher.on('delete', () => resolve());
          watcher.on('error', (error) =>
            reject(RegistryError.unavailable(`the watch of ${key.toString()} failed`, error)),
          );
        },
        (error: unknown) => reject(RegistryError.unavailable(`the watch of ${key.toString()} failed`, error)),
      );
    });
  } finally {
    cleanup();
    void creating.then(
      (watcher) => watcher.cancel(),
      () => {},
    );
  }
}
