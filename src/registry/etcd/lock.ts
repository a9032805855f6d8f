import type { Etcd3, IKeyValue } from 'etcd3';
import type { Clock, Milliseconds } from '../../core/clock.js';
import { RegistryError } from '../errors.js';
import type { OperationOptions } from '../registry.js';
import { checkOpen, checkTtl } from '../validation.js';
import { rangeEnd, withDeadline } from './calls.js';

/** Options of {@link EtcdRegistry.lock}. */
export interface LockOptions extends OperationOptions {
  /**
   * Lifetime of the holder's lease in ms (rounded up to whole seconds, at least etcd's minimum):
   * kept alive while the holder's process runs; a holder that stops (crashed, paused, cut off)
   * loses the lock this long after its last keep-alive, and the next contender takes it.
   * @default 10_000
   */
  readonly ttlMs?: Milliseconds;
}

/**
 * A fencing token with what a write needs to check it: the holder's lock entry in etcd, which
 * must still exist with this creation revision. Pass it as `fence` to {@link EtcdRegistry.set}.
 */
export interface Fence {
  /** The holder's lock entry (an etcd key). */
  readonly entry: string;
  /** The fencing token: the etcd revision that created the entry; increases with every holder. */
  readonly token: string;
}

/** A held lock. */
export interface LockHandle {
  readonly name: string;
  /** The fencing token: larger for every later holder of the same lock. */
  readonly token: string;
  /** The token with its entry, for fenced writes. */
  readonly fence: Fence;
  /** Aborts when the lease is lost (not renewed in time): the lock may then be someone else's. */
  readonly lost: AbortSignal;
  /** Gives the lock up (revokes its lease). Releasing twice resolves. */
  release(options?: OperationOptions): Promise<void>;
}

/** What a lock needs from its registry. */
export interface LockContext {
  readonly client: Etcd3;
  readonly clock: Clock;
  readonly timeoutMs: Milliseconds;
  /** Where the registry's locks live: outside its records' key range. */
  readonly lockPrefix: string;
  isClosed(): boolean;
}

const DEFAULT_LOCK_TTL_MS = 10_000;

/**
 * Takes lock `name`: etcd's lock recipe. Each contender puts an entry under the lock's prefix
 * bound to its own lease; the entry with the lowest creation revision holds the lock, and
 * every other contender waits for the deletion of the entry just before its own (no herd).
 * The holder's creation revision is its fencing token.
 */
export async function takeLock(ctx: LockContext, name: string, options: LockOptions = {}): Promise<LockHandle> {
  const { signal } = options;
  checkOpen(ctx.isClosed(), signal);
  if (typeof name !== 'string' || name === '')
    throw RegistryError.invalidOptionValue('name', 'a non-empty string', name);
  const ttlMs = options.ttlMs ?? DEFAULT_LOCK_TTL_MS;
  checkTtl(ttlMs);
  const call = <T>(what: string, run: () => Promise<T>): Promise<T> =>
    withDeadline(ctx.clock, ctx.timeoutMs, signal, what, run);
  const lease = ctx.client.lease(Math.max(1, Math.ceil(ttlMs / 1000)));
  const lost = new AbortController();
  lease.on('lost', (error) => lost.abort(RegistryError.unavailable(`the lease of lock "${name}" was lost`, error)));
  try {
    const id = await call('lock', () => lease.grant());
    const prefix = Buffer.from(`${ctx.lockPrefix}${name}/`);
    const entry = Buffer.concat([prefix, Buffer.from(id)]);
    const created = await call('lock', () =>
      ctx.client.kv.txn({
        compare: [{ key: entry, target: 'Create', result: 'Equal', create_revision: '0' }],
        success: [{ request_put: { key: entry, value: Buffer.alloc(0), lease: id } }],
      }),
    );
    const token = created.header.revision;
    for (;;) {
      checkOpen(ctx.isClosed(), signal);
      // the entry created just before this one: it goes first
      const before = await call('lock', () =>
        ctx.client.kv.range({
          key: prefix,
          range_end: rangeEnd(prefix),
          sort_order: 'Descend',
          sort_target: 'Create',
          max_create_revision: String(Number(token) - 1),
          limit: 1,
        }),
      );
      const ahead = before.kvs[0];
      if (ahead === undefined) break;
      await deleted(ctx, ahead, Number(before.header.revision), signal);
    }
    const fence: Fence = { entry: entry.toString('latin1'), token };
    let released = false;
    return {
      name,
      token,
      fence,
      lost: lost.signal,
      release: async (releaseOptions?: OperationOptions): Promise<void> => {
        if (released) return;
        released = true;
        await withDeadline(ctx.clock, ctx.timeoutMs, releaseOptions?.signal, 'unlock', () => lease.revoke());
      },
    };
  } catch (error) {
    await lease.revoke().catch(() => {});
    throw error;
  }
}

/** Resolves once `kv` is deleted (watched from `revision` on), or rejects on abort / close. */
async function deleted(ctx: LockContext, kv: IKeyValue, revision: number, signal: AbortSignal | undefined) {
  const watcher = await ctx.client
    .watch()
    .key(kv.key)
    .startRevision(String(revision + 1))
    .create();
  try {
    await new Promise<void>((resolve, reject) => {
      const onAbort = (): void => reject((signal as AbortSignal).reason as Error);
      signal?.addEventListener('abort', onAbort, { once: true });
      watcher.on('delete', () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      });
      watcher.on('error', (error) => {
        signal?.removeEventListener('abort', onAbort);
        reject(RegistryError.unavailable('the watch of a lock entry failed', error));
      });
    });
  } finally {
    await watcher.cancel();
  }
}
