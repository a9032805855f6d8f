import { RegistryError } from '../errors.js';
import type { RegistryRecord, RestoreResult, SetOptions } from '../registry.js';
import type { ShardedCore } from './core.js';
import { handOffKey } from './migration.js';
import { fanOut } from './requests.js';
import { isShardFailure, type Shard } from './shard.js';
import { isNewer } from '../validation.js';

/*
 * Verbatim copies between the shards of a sharded registry, with `restore` on backends that have
 * it (so a copy keeps its version, createdAt and updatedAt): the shard-level halves of
 * `ShardedRegistry.restore` and `set` (primary write, then verbatim replicas), and read repair.
 * Migrations and hand-backs copy through `copyTo` (migration.ts), which uses `Shard.restore` too.
 */

/**
 * `ShardedRegistry.restore` once validated: the record goes verbatim to every target of its key
 * (its owners, or stand-ins). A backend without `restore` gets a plain `set` with the remaining
 * TTL (its copy's version restarts). Resolves to the first target's answer.
 */
export async function restoreOnOwners(
  core: ShardedCore,
  record: RegistryRecord,
  options: { readonly ifNewer: boolean; readonly signal: AbortSignal | undefined },
): Promise<RestoreResult> {
  const { key } = record;
  const { ifNewer, signal } = options;
  return fanOut(core, {
    key,
    plan: core.writePlan(key),
    operation: 'restore',
    hint: 'set',
    signal,
    send: async (shard, s) => {
      const backend = shard.registry;
      if (typeof backend.restore === 'function') return backend.restore(record, { ifNewer, signal: s });
      const ttlMs = record.expiresAt === undefined ? undefined : record.expiresAt - core.clock.now();
      if (ttlMs !== undefined && ttlMs <= 0) return 'kept';
      await shard.registry.set(key, record.value, {
        ttlMs: ttlMs === undefined ? undefined : Math.ceil(ttlMs),
        signal: s,
      });
      return 'written';
    },
  });
}

/**
 * `ShardedRegistry.set` once validated. When every replica can `restore`, the primary (first
 * target) takes the `set` — compare-and-set included — and the other targets get a verbatim
 * copy of the record it returned, so all replicas carry the same version and times (two round
 * trips instead of one parallel one). If the primary fails, a plain write goes to the next
 * target as primary and the failed one is hinted. Without `restore` on the replicas, every
 * target replays the same `set` as before.
 */
export async function replicatedSet(
  core: ShardedCore,
  key: string,
  value: Uint8Array,
  options: SetOptions,
): Promise<RegistryRecord> {
  const { ttlMs, ifVersion, signal } = options;
  const plan = core.writePlan(key);
  const setOn = (shard: Shard, s: AbortSignal, primary: boolean): Promise<RegistryRecord> =>
    shard.registry.set(key, value, { ttlMs, ifVersion: primary ? ifVersion : undefined, signal: s });
  const targets = plan.targets;
  if (targets.length === 1 || !targets.slice(1).every((s) => s.canRestore)) {
    return fanOut(core, {
      key,
      plan,
      operation: 'set',
      hint: 'set',
      signal,
      primaryFirst: ifVersion !== undefined,
      send: setOn,
    });
  }
  if (ifVersion !== undefined && !plan.authoritative) {
    throw RegistryError.unavailable(`the owner of "${key}" is unavailable: its version cannot be checked`);
  }
  // a plain write whose primary fails goes to the next target as primary (the failed ones are
  // hinted once it landed); a compare-and-set only ever goes to the first
  let record: RegistryRecord | undefined;
  let next = 0;
  for (; record === undefined; next++) {
    const primary = targets[next] as Shard;
    try {
      record = await primary.call('set', signal, (s) => setOn(primary, s, true));
    } catch (error) {
      if (ifVersion !== undefined || !isShardFailure(error) || signal?.aborted === true || next === targets.length - 1)
        throw error;
    }
  }
  const written = record;
  const failed = targets.slice(0, next - 1);
  const rest = targets.slice(next);
  const settled = await Promise.allSettled(
    rest.map(async (replica) => {
      const result = await replica.restore(written, true, signal);
      // expired in between: the replica must not keep serving the value it had before
      if (result === 'kept' && written.expiresAt !== undefined && written.expiresAt <= core.clock.now()) {
        await replica.silently(key, () =>
          replica.call('delete', signal, (s) => replica.registry.delete(key, { signal: s })),
        );
      }
    }),
  );
  settled.forEach((outcome, i) => {
    if (outcome.status === 'fulfilled') return;
    if (!isShardFailure(outcome.reason) || signal?.aborted === true) throw outcome.reason as Error;
    failed.push(rest[i] as Shard);
  });
  for (const shard of failed) shard.hint(key, 'set');
  for (const owner of plan.skipped) owner.hint(key, 'set');
  return written;
}

/**
 * Read repair of a sharded registry (see `ShardedRegistryOptions.readRepair`): a sample of the
 * keys read are checked on their other owners in the background, bounded by
 * `readRepairConcurrency`, and stale or missing copies get the newest one verbatim. The caller's
 * read never waits for it; failures are counted on the shards and reported as `shard:error`.
 */
export class ReadRepair {
  readonly #core: ShardedCore;
  readonly #random: () => number;
  readonly #stop = new AbortController();
  readonly #running = new Set<Promise<void>>();
  /** Repairs past the comparison (writing copies, under the stop signal). */
  readonly #writing = new Set<Promise<void>>();

  constructor(core: ShardedCore, random: () => number) {
    this.#core = core;
    this.#random = random;
  }

  /** After a read of `key` answered `record` (from its read target): maybe checks the other owners. */
  sample(key: string, record: RegistryRecord | undefined): void {
    const core = this.#core;
    const { readRepair, readRepairConcurrency } = core.options;
    if (readRepair === 0 || core.current.r < 2) return;
    if (readRepair < 1 && this.#random() >= readRepair) return;
    if (this.#stop.signal.aborted || core.previous !== undefined || this.#running.size >= readRepairConcurrency) return;
    const run: Promise<void> = core
      .run(() => this.#repair(key, record))
      .catch((error: unknown) => {
        // backend failures were counted and reported by the shard that failed
        if (this.#stop.signal.aborted || isShardFailure(error)) return;
        core.emit('shard:error', { shard: core.current.readTarget(key)?.name ?? '', operation: 'read-repair', error });
      })
      .finally(() => this.#running.delete(run));
    this.#running.add(run);
  }

  /** Resolves once the repairs started so far have finished. */
  async settled(): Promise<void> {
    while (this.#running.size > 0) await Promise.allSettled([...this.#running]);
  }

  /**
   * Stops repairs: those writing are aborted and awaited; those still comparing copies stop
   * after their reads, which the backends' own close ends.
   */
  async close(): Promise<void> {
    this.#stop.abort(RegistryError.closed());
    await Promise.allSettled([...this.#writing]);
  }

  /** Marks a repair as writing until the returned function is called. */
  #writingDone(): () => void {
    let done!: () => void;
    const writing = new Promise<void>((resolve) => (done = resolve));
    this.#writing.add(writing);
    return () => {
      this.#writing.delete(writing);
      done();
    };
  }

  async #repair(key: string, known: RegistryRecord | undefined): Promise<void> {
    const core = this.#core;
    const topology = core.current;
    const owners = topology.owners(key);
    const first = topology.readTarget(key);
    // a stand-in answered: the owners' copies are the hand-back's business
    if (first === undefined || first !== owners[0]) return;
    const signal = this.#stop.signal;
    // owners that know they missed writes of this key: hand the key back to them now
    for (const owner of owners) {
      if (owner === first || owner.health !== 'up' || owner.resyncing || !owner.hints.has(key) || signal.aborted)
        continue;
      const done = this.#writingDone();
      try {
        if ((await handOffKey(core, owner, key, signal)) && !owner.hints.has(key)) owner.countReadRepair();
      } finally {
        done();
      }
    }
    // a key the primary lacks may have been deleted or expired: never recreate it
    if (known === undefined) return;
    const others = owners.filter((owner) => owner !== first && owner.servesKey(key));
    // the common case (every copy agrees) runs without the stop signal: combining signals costs
    // more than the read on a memory shard; a read left pending by close() ends with the backend
    if ((await compareCopies(first, known, others, undefined)).stale.length === 0 || signal.aborted) return;
    const done = this.#writingDone();
    const release = await core.lock(key);
    try {
      // the copies again, under the lock and once the deletes and forced restores of the key in
      // flight have landed everywhere: a write that landed since the first comparison (a forced
      // restore to a lower version, which the newest copy read before it would undo) is the truth
      await core.rewindsSettled(key, signal);
      const current = await first.call('get', signal, (s) => first.registry.get(key, { signal: s }));
      if (current === undefined) return;
      const { newest, stale } = await compareCopies(first, current, others, signal);
      const settled = await Promise.allSettled(
        stale.map(async (shard) => {
          const result = await shard.silently(key, () => shard.restore(newest, true, signal));
          if (result === 'written') shard.countReadRepair();
        }),
      );
      for (const outcome of settled)
        if (outcome.status === 'rejected' && !isShardFailure(outcome.reason)) throw outcome.reason as Error;
    } finally {
      release();
      done();
    }
  }
}

/**
 * Reads `others`' copies of `primaryRecord`'s key and compares them with it: the newest record
 * (version, then `updatedAt`) and the shards whose copy is older or missing, the primary among
 * them when another copy is newer. A shard that failed the read is left out.
 */
async function compareCopies(
  primary: Shard,
  primaryRecord: RegistryRecord,
  others: readonly Shard[],
  signal: AbortSignal | undefined,
): Promise<{ newest: RegistryRecord; stale: Shard[] }> {
  const { key } = primaryRecord;
  const copies = await Promise.allSettled(
    others.map((o) => o.call('get', signal, (s) => o.registry.get(key, { signal: s }))),
  );
  let newest = primaryRecord;
  for (const outcome of copies) {
    if (outcome.status === 'rejected') continue; // counted on the shard; nothing to compare
    const copy = outcome.value;
    if (copy !== undefined && isNewer(copy.version, copy.updatedAt, newest.version, newest.updatedAt)) newest = copy;
  }
  const stale: Shard[] = [];
  copies.forEach((outcome, i) => {
    if (outcome.status === 'rejected') return;
    const copy = outcome.value;
    if (copy === undefined || isNewer(newest.version, newest.updatedAt, copy.version, copy.updatedAt))
      stale.push(others[i] as Shard);
  });
  if (newest !== primaryRecord) stale.push(primary);
  return { newest, stale };
}
