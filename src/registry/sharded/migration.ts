import type { Clock } from '../../core/clock.js';
import { Pacer } from '../../core/pacing.js';
import { isRegistryError } from '../errors.js';
import type { RegistryRecord } from '../registry.js';
import type { MigrationKind, MigrationResult } from './options.js';
import type { Topology } from './topology.js';
import { isShardFailure, type Shard } from './shard.js';

/** What migrations need from the registry that runs them. */
export interface MigrationHost {
  readonly clock: Clock;
  readonly rate: number;
  readonly batchSize: number;
  /** Current membership. */
  readonly current: Topology;
  /** Waits until no other move holds `key`, then holds it until the returned release is called. */
  lock(key: string): Promise<() => void>;
  /** Resolves once no delete or forced restore of `key` is in flight (they take no key lock). */
  rewindsSettled(key: string, signal: AbortSignal | undefined): Promise<void>;
  progress(event: { kind: MigrationKind; shard: string; scanned: number; moved: number }): void;
}

/** One membership change to carry out: whose records move, from which shards. */
export interface Move {
  readonly kind: MigrationKind;
  /** The shard the change is about (added, removed, drained or lost). */
  readonly shard: string;
  /** The shards whose records are streamed. */
  readonly sources: readonly Shard[];
  readonly from: Topology;
  readonly to: Topology;
}

/** Where one key moves from, for {@link moveKey}: a shard holding it, and the memberships before and after. */
export interface KeyMove {
  readonly source: Shard;
  readonly from: Topology;
  readonly to: Topology;
}

/** How {@link copyTo} copies. */
interface CopyOptions {
  readonly signal: AbortSignal | undefined;
  /** Replace what the target holds (a hand-back brings the truth) instead of yielding to it. @default false */
  readonly overwrite?: boolean;
}

/**
 * Copies `record` onto `target`: verbatim (`restore`, so version and times survive the move)
 * when its backend can, else with `set` (the copy's version restarts at 1). Unless `overwrite`,
 * the copy is conditional, so a write that landed on `target` first wins: with `restore` it
 * lands only over an absent or older record, with `set` only over an absent one. A target that
 * cannot take it is hinted, so the hand-back brings it later.
 */
export async function copyTo(
  host: MigrationHost,
  target: Shard,
  record: RegistryRecord,
  options: CopyOptions,
): Promise<'copied' | 'skipped' | 'failed'> {
  const { signal, overwrite = false } = options;
  const ttlMs = record.expiresAt === undefined ? undefined : record.expiresAt - host.clock.now();
  if (ttlMs !== undefined && ttlMs <= 0) return 'skipped';
  if (target.health !== 'up') {
    target.hint(record.key, 'set');
    return 'failed';
  }
  try {
    if (target.canRestore) {
      const result = await target.silently(record.key, () => target.restore(record, !overwrite, signal));
      if (result === 'kept') return 'skipped';
    } else {
      await target.silently(record.key, () =>
        target.call('set', signal, (s) =>
          target.registry.set(record.key, record.value, { ttlMs, ifVersion: overwrite ? undefined : 0, signal: s }),
        ),
      );
    }
    target.countMigratedIn();
    return 'copied';
  } catch (error) {
    if (isRegistryError(error, 'VERSION_CONFLICT')) return 'skipped';
    if (signal?.aborted === true) throw error;
    target.hint(record.key, 'set');
    return 'failed';
  }
}

/** Deletes an internal copy of `key` from `shard` without reporting a logical removal. */
export async function dropFrom(
  host: MigrationHost,
  shard: Shard,
  key: string,
  signal: AbortSignal | undefined,
): Promise<void> {
  await shard.silently(key, () => shard.call('delete', signal, (s) => shard.registry.delete(key, { signal: s })));
  shard.countMigratedOut();
}

/**
 * Moves one key from `source` after a membership change from `from` to `to`: under the key's
 * lock, once the deletes and forced restores of it in flight have landed, re-reads it, copies it
 * to every new owner that was not an owner before, and deletes it from `source` and the other
 * former owners that no longer own it. Returns whether anything moved.
 */
export async function moveKey(
  host: MigrationHost,
  key: string,
  move: KeyMove,
  signal: AbortSignal | undefined,
): Promise<boolean> {
  const { source, from, to } = move;
  const release = await host.lock(key);
  try {
    // a delete or forced restore in flight may not have reached the source yet: the copy would
    // bring back what it replaced
    await host.rewindsSettled(key, signal);
    const record = await source.call('get', signal, (s) => source.registry.get(key, { signal: s }));
    if (record === undefined) return false;
    const before = from.owners(key);
    const after = to.owners(key);
    // a source hinted to drop the key (see below) holds a copy that must not spread
    const stale = source.hints.get(key) === 'delete';
    let moved = false;
    for (const target of after) {
      if (!stale && target !== source && !before.includes(target))
        moved = (await copyTo(host, target, record, { signal })) === 'copied' || moved;
    }
    if (!after.includes(source)) {
      await dropFrom(host, source, key, signal);
      if (stale) source.hints.drop(key);
      moved = true;
    }
    // the other former owners' copies go too: left behind, a later pass would copy them back
    // over a delete made meanwhile. One that cannot drop it now is hinted to: reads of the old
    // membership skip it, and a later pass drops its copy instead of spreading it
    for (const former of before) {
      if (former === source || after.includes(former)) continue;
      if (former.health !== 'up') {
        former.hint(key, 'delete');
        continue;
      }
      try {
        await dropFrom(host, former, key, signal);
      } catch (error) {
        if (!isShardFailure(error) || signal?.aborted === true) throw error;
        former.hint(key, 'delete');
      }
    }
    return moved;
  } finally {
    release();
  }
}

/** Whether `key`'s owner set differs between two memberships. */
function ownersChanged(key: string, from: Topology, to: Topology): boolean {
  const before = from.owners(key);
  const after = to.owners(key);
  return before.some((s) => !after.includes(s)) || after.some((s) => !before.includes(s));
}

/**
 * Streams every record of the move's `sources` and moves exactly those whose owner set changes
 * from `from` to `to`, in batches of `batchSize`, paced to `rate` records/s, with a progress
 * event after each batch. An abort of `signal` stops it between records (`cancelled: true`).
 */
export async function migrate(
  host: MigrationHost,
  move: Move,
  signal: AbortSignal | undefined,
): Promise<MigrationResult> {
  const { kind, shard, sources, from, to } = move;
  const pacer = new Pacer(host.clock, host.rate);
  let scanned = 0;
  let moved = 0;
  try {
    for (const source of sources) {
      // with replicas, a down source's records are copied from the other owners it shared them with
      if (source.health !== 'up' && from.r > 1) continue;
      const step: KeyMove = { source, from, to };
      let batch: string[] = [];
      const flush = async (): Promise<void> => {
        const results = await Promise.all(batch.map((key) => moveKey(host, key, step, signal)));
        const count = results.filter(Boolean).length;
        moved += count;
        batch = [];
        host.progress({ kind, shard, scanned, moved });
        await pacer.take(count, signal);
      };
      for await (const record of source.registry.scan({ signal })) {
        scanned++;
        if (!ownersChanged(record.key, from, to)) continue;
        batch.push(record.key);
        if (batch.length >= host.batchSize) await flush();
      }
      if (batch.length > 0) await flush();
    }
  } catch (error) {
    // stopped by the signal, or a shard failed: rebalance() resumes where the data still is
    if (signal?.aborted === true || isShardFailure(error)) return { kind, shard, scanned, moved, cancelled: true };
    throw error;
  }
  return { kind, shard, scanned, moved, cancelled: false };
}

/**
 * Hands one hinted key back to `shard`, which missed its writes while away: under the key's lock,
 * reads the truth from the shards that stood in, writes it to `shard` (or deletes its stale copy
 * when the key is gone), then drops the stand-ins' copies that are not owners. Returns whether
 * the key was settled; `false` leaves the hint for the next recovery.
 */
export async function handOffKey(
  host: MigrationHost,
  shard: Shard,
  key: string,
  signal: AbortSignal | undefined,
): Promise<boolean> {
  const release = await host.lock(key);
  try {
    // a delete or forced restore in flight may not have reached the holder yet: the copy would
    // bring back what it replaced
    await host.rewindsSettled(key, signal);
    if (!shard.hints.has(key)) return true;
    const topology = host.current;
    const owners = topology.owners(key);
    if (!topology.members.includes(shard) || !owners.includes(shard)) {
      shard.hints.drop(key);
      return true;
    }
    const holders = topology.targets(key);
    const holder = holders[0];
    if (holder === undefined || shard.health !== 'up') return false;
    const record = await holder.call('get', signal, (s) => holder.registry.get(key, { signal: s }));
    // a miss means "deleted meanwhile" only if no other owner that may hold the key is away
    if (record === undefined && !topology.missIsAuthoritative(key, holder)) return false;
    if (record === undefined) await dropFrom(host, shard, key, signal);
    else if ((await copyTo(host, shard, record, { signal, overwrite: true })) === 'failed') return false;
    shard.hints.drop(key);
    for (const stand of holders) if (!owners.includes(stand)) await dropFrom(host, stand, key, signal);
    return true;
  } finally {
    release();
  }
}

/**
 * Hands back everything `shard` missed while away: its hinted keys, or — when its hints
 * overflowed — every key it owns found on the other members. Paced and cancellable like
 * {@link migrate}; stops at the first batch that leaves a key unsettled (keeping its hints), or
 * if the shard fails again. With `cautious` (a retry after such a failure) the first batch holds
 * one key, so a shard that still fails costs one call.
 */
export async function handBack(
  host: MigrationHost,
  shard: Shard,
  options: { readonly signal: AbortSignal | undefined; readonly cautious: boolean },
): Promise<MigrationResult> {
  const { signal, cautious } = options;
  const pacer = new Pacer(host.clock, host.rate);
  const kind: MigrationKind = 'hand-back';
  let scanned = 0;
  let moved = 0;
  const run = async (keys: string[]): Promise<boolean> => {
    // counted first: a batch a shard failure stops shows as scanned and not moved (so it is retried later)
    scanned += keys.length;
    const settled = await Promise.all(keys.map((key) => handOffKey(host, shard, key, signal)));
    const count = settled.filter(Boolean).length;
    moved += count;
    host.progress({ kind, shard: shard.name, scanned, moved });
    await pacer.take(count, signal);
    return count === keys.length;
  };
  try {
    if (shard.hints.takeOverflowed()) {
      // a full pass cut short (a key left unsettled, a shard that failed or was down, an abort)
      // must be made again: the records of the members not scanned were never hinted
      let whole = false;
      let skipped = false;
      try {
        const topology = host.current;
        for (const other of topology.members) {
          if (other === shard) continue;
          if (other.health !== 'up') {
            skipped = true;
            continue;
          }
          let batch: string[] = [];
          for await (const record of other.registry.scan({ signal })) {
            if (!topology.owners(record.key).includes(shard)) continue;
            shard.hints.addForResync(record.key);
            batch.push(record.key);
            if (batch.length >= host.batchSize) {
              if (!(await run(batch))) return { kind, shard: shard.name, scanned, moved, cancelled: false };
              batch = [];
            }
          }
          if (batch.length > 0 && !(await run(batch)))
            return { kind, shard: shard.name, scanned, moved, cancelled: false };
        }
        whole = !skipped;
      } finally {
        if (!whole) shard.hints.markOverflowed();
      }
    }
    for (
      let size = cautious ? 1 : host.batchSize;
      shard.hints.size > 0 && shard.health === 'up';
      size = host.batchSize
    ) {
      const batch: string[] = [];
      for (const key of shard.hints.keys()) {
        batch.push(key);
        if (batch.length >= size) break;
      }
      if (!(await run(batch))) break;
    }
  } catch (error) {
    if (signal?.aborted === true) return { kind, shard: shard.name, scanned, moved, cancelled: true };
    // the shard failed again: its circuit reopens and the next recovery resumes from the hints
    if (!isShardFailure(error)) throw error;
  }
  return { kind, shard: shard.name, scanned, moved, cancelled: false };
}
