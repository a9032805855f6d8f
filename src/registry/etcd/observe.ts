import type { IKeyValue, IWatchResponse } from 'etcd3';
import { RegistryError } from '../errors.js';
import type { OperationOptions } from '../registry.js';
import { checkOpen } from '../validation.js';
import { rangeEnd, toRegistryError, withDeadline } from './calls.js';
import { checkName, type ElectionContext, type Leader, type LeaderChange, leaderOf, prefixOf } from './election.js';

/** Options of {@link EtcdRegistry.observe}. */
export type ObserveOptions = OperationOptions;

/**
 * The leaders of election `name`: first the leader now (or `undefined`), then every change of
 * leader or of its value, in etcd's order. One linearizable read of the contenders, then a
 * watch of their entries from the revision after it (etcd3's watcher, which resumes from its
 * last revision when its stream breaks). Ends when the loop breaks or `signal` aborts (the
 * loop rejects with its reason); a registry closed meanwhile rejects it with `CLOSED`.
 */
export async function* observeLeaders(
  ctx: ElectionContext,
  name: string,
  options: ObserveOptions = {},
): AsyncGenerator<LeaderChange> {
  const { signal } = options;
  checkOpen(ctx.isClosed(), signal);
  checkName(name);
  const prefix = prefixOf(ctx, name);
  const initial = await withDeadline(ctx.clock, ctx.timeoutMs, signal, 'observe', () =>
    ctx.client.kv.range({ key: prefix, range_end: rangeEnd(prefix) }),
  );
  // the contenders: entry key → entry (each put carries its creation revision)
  const entries = new Map<string, IKeyValue>();
  for (const kv of initial.kvs) entries.set(kv.key.toString('latin1'), kv);
  const pending: LeaderChange[] = [];
  let failure: Error | undefined;
  let wake: (() => void) | undefined;
  const notify = (): void => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  let last: Leader | undefined;
  let emitted = false;
  const oldest = (): IKeyValue | undefined => {
    let best: IKeyValue | undefined;
    for (const kv of entries.values()) {
      if (best === undefined || BigInt(kv.create_revision) < BigInt(best.create_revision)) best = kv;
    }
    return best;
  };
  const push = (revision: string): void => {
    const kv = oldest();
    const leader = kv === undefined ? undefined : leaderOf(name, kv);
    const unchanged =
      leader?.token === last?.token &&
      (leader === undefined || Buffer.compare(leader.value, (last as Leader).value) === 0);
    if (emitted && unchanged) return;
    emitted = true;
    last = leader;
    pending.push({ leader, revision });
  };
  push(initial.header.revision);
  const watcher = await ctx.client
    .watch()
    .prefix(prefix)
    .startRevision(String(BigInt(initial.header.revision) + 1n))
    .create()
    .catch((error: unknown) => {
      throw toRegistryError(error, 'observe');
    });
  watcher.on('data', (response: IWatchResponse) => {
    for (const event of response.events) {
      const key = event.kv.key.toString('latin1');
      if (event.type === 'Put') entries.set(key, event.kv);
      else entries.delete(key);
      push(event.kv.mod_revision);
    }
    notify();
  });
  watcher.on('error', (error) => {
    failure ??= RegistryError.unavailable(`observing election "${name}" failed`, error);
    notify();
  });
  signal?.addEventListener('abort', notify);
  ctx.closers.add(notify);
  try {
    for (;;) {
      checkOpen(ctx.isClosed(), signal);
      const next = pending.shift();
      if (next !== undefined) {
        yield next;
        continue;
      }
      if (failure !== undefined) throw failure;
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
    }
  } finally {
    ctx.closers.delete(notify);
    signal?.removeEventListener('abort', notify);
    await watcher.cancel().catch(() => {});
  }
}
