import type { ICompare, IRequestOp, ITxnResponse } from 'etcd3';
import { RegistryError } from '../errors.js';
import type { RegistryRecord, RestoreResult, SetEntry } from '../registry.js';
import { isNewer } from '../validation.js';
import { encodeRecord, int64Words, isLeaseGone } from './calls.js';
import { type Fence, fenceGuards, fenceHolds } from './fence.js';
import type { EtcdKv, Known } from './kv.js';
import { type GrantedLease, NO_LEASE } from './leases.js';
import { REQUEST_SLACK_BYTES, recordRequestBytes } from './options.js';

/** What a guarded put of `key` with `value` adds to a transaction, in bytes (see {@link recordRequestBytes}). */
function putBytes(kv: EtcdKv, key: string, value: Uint8Array): number {
  return recordRequestBytes(kv.options.keyPrefix, Buffer.byteLength(key), value.byteLength);
}

/** One write a transaction makes: the record, and what it was computed from. */
export interface PlannedWrite {
  readonly record: RegistryRecord;
  readonly basis: Known;
}

// a write whose guarded transaction keeps losing to other writers gives up with TIMEOUT
// instead of looping; each round is one round trip and sees the newest state
export const MAX_ROUNDS = 64;

function sameRecord(a: RegistryRecord | undefined, b: RegistryRecord): boolean {
  return (
    a !== undefined &&
    a.version === b.version &&
    a.createdAt === b.createdAt &&
    a.updatedAt === b.updatedAt &&
    a.expiresAt === b.expiresAt &&
    Buffer.compare(a.value, b.value) === 0
  );
}

/**
 * Writes `entries` in order, each as the next version of its key, in transactions of at most
 * `maxTxnOps` keys and `maxRequestBytes` bytes (a key repeated in a batch starts a new
 * transaction). With `ifVersion`
 * (single writes only) the stored version must equal it; with `fence`, the fence must hold.
 */
export async function writeEntries(
  kv: EtcdKv,
  entries: readonly SetEntry[],
  signal: AbortSignal | undefined,
  ifVersion?: number,
  fence?: Fence,
): Promise<RegistryRecord[]> {
  if (entries.length === 1) return writeChunk(kv, entries, signal, ifVersion, fence);
  const out: RegistryRecord[] = [];
  let chunk: SetEntry[] = [];
  let bytes = 0;
  const budget = kv.options.maxRequestBytes - REQUEST_SLACK_BYTES;
  const keys = new Set<string>();
  const flush = async (): Promise<void> => {
    if (chunk.length === 0) return;
    out.push(...(await writeChunk(kv, chunk, signal, ifVersion, fence)));
    chunk = [];
    bytes = 0;
    keys.clear();
  };
  for (const entry of entries) {
    const size = putBytes(kv, entry.key, entry.value);
    if (keys.has(entry.key) || chunk.length === kv.options.maxTxnOps || bytes + size > budget) await flush();
    chunk.push(entry);
    bytes += size;
    keys.add(entry.key);
  }
  await flush();
  return out;
}

async function writeChunk(
  kv: EtcdKv,
  chunk: readonly SetEntry[],
  signal: AbortSignal | undefined,
  ifVersion: number | undefined,
  fence: Fence | undefined,
): Promise<RegistryRecord[]> {
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const now = kv.clock.now();
    const plan: PlannedWrite[] = [];
    for (const { key, value, ttlMs } of chunk) {
      const basis = kv.seenOf(key);
      const live = kv.liveRecord(basis.record, now);
      const version = live?.version ?? 0;
      if (ifVersion !== undefined && ifVersion !== version) {
        // a conflict is decided on what etcd holds, not on a cached (or "absent") guess
        if (round === 0) break;
        throw RegistryError.versionConflict(key, ifVersion, version);
      }
      if (version === Number.MAX_SAFE_INTEGER) throw RegistryError.versionExhausted(key, version);
      const record: RegistryRecord = {
        key,
        value,
        version: version + 1,
        createdAt: live?.createdAt ?? now,
        updatedAt: now,
        expiresAt: ttlMs === undefined ? undefined : now + ttlMs,
      };
      plan.push({ record, basis });
    }
    if (plan.length < chunk.length) {
      await kv.readAll(
        chunk.map((e) => e.key),
        signal,
      );
      continue;
    }
    const done =
      plan.length === 1 && fence === undefined
        ? await groupOf(kv).commit(plan[0] as PlannedWrite, signal)
        : await commit(kv, plan, signal, fence);
    if (done) {
      for (const { record } of plan) kv.events.set(record);
      return plan.map((p) => p.record);
    }
  }
  throw RegistryError.timeout(`write of ${chunk.length} keys lost ${MAX_ROUNDS} rounds to concurrent writers`);
}

/**
 * Restores `copy` as it is (its own version and times): `'kept'` when it is already past its
 * deadline, or (with `ifNewer`) when the live record is as new or newer, decided on what etcd
 * holds, not on the cache.
 */
export async function restoreRecord(
  kv: EtcdKv,
  copy: RegistryRecord,
  ifNewer: boolean,
  signal: AbortSignal | undefined,
): Promise<RestoreResult> {
  if (copy.expiresAt !== undefined && copy.expiresAt <= kv.clock.now()) return 'kept';
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const basis = kv.seenOf(copy.key);
    const live = kv.liveRecord(basis.record);
    if (live !== undefined && ifNewer && !isNewer(copy.version, copy.updatedAt, live.version, live.updatedAt)) {
      // the cached view may be stale: decide on what etcd holds
      if (round === 0 && kv.seen.has(copy.key)) {
        await kv.read(copy.key, signal);
        continue;
      }
      return 'kept';
    }
    if (await commit(kv, [{ record: copy, basis }], signal)) {
      kv.events.set(copy);
      return 'written';
    }
  }
  throw RegistryError.timeout(`restore of "${copy.key}" lost ${MAX_ROUNDS} rounds to concurrent writers`);
}

/**
 * The puts of `plan`, each record under the lease of its expiry window (`leaseOf`); `undefined`
 * when one is not known. Synchronous: the common case (leases granted) costs no turn of the
 * event loop.
 */
function puts(
  kv: EtcdKv,
  plan: readonly PlannedWrite[],
  leases: string[],
  leaseOf: (expiresAt: number) => GrantedLease | undefined,
): IRequestOp[] | undefined {
  leases.length = 0;
  const ops: IRequestOp[] = [];
  for (const { record } of plan) {
    const lease = record.expiresAt === undefined ? NO_LEASE : leaseOf(record.expiresAt);
    if (lease === undefined) return undefined;
    leases.push(lease.id);
    // the id's words, not its decimal string: see `Int64Words`
    const put = { key: kv.etcdKey(record.key), value: encodeRecord(record), lease: lease.words as unknown as string };
    ops.push({ request_put: put });
  }
  return ops;
}

/** The lease of every expiry window `plan` needs, granting those not granted yet. */
async function grantLeases(kv: EtcdKv, plan: readonly PlannedWrite[]): Promise<Map<number, GrantedLease>> {
  const out = new Map<number, GrantedLease>();
  for (const { record } of plan) {
    if (record.expiresAt === undefined) continue;
    const id = await kv.leases.leaseFor(record.expiresAt);
    out.set(record.expiresAt, id === '0' ? NO_LEASE : { id, words: int64Words(id) });
  }
  return out;
}

/**
 * One transaction: every record of `plan` put if its key's `mod_revision` is still the one
 * its basis saw (and the fence holds). Resolves `false` (having learned the current state,
 * unless `learn` is false) when one was not; rejects with `FENCED` when the fence no longer holds.
 */
export async function commit(
  kv: EtcdKv,
  plan: readonly PlannedWrite[],
  signal: AbortSignal | undefined,
  fence?: Fence,
  learn = true,
): Promise<boolean> {
  for (let attempt = 0; ; attempt++) {
    const leases: string[] = [];
    let guessed = puts(kv, plan, leases, (expiresAt) => kv.leases.granted(expiresAt));
    if (guessed === undefined) {
      const granted = await grantLeases(kv, plan);
      guessed = puts(kv, plan, leases, (expiresAt) => granted.get(expiresAt) ?? NO_LEASE);
    }
    const ops: IRequestOp[] = guessed ?? [];
    let response: ITxnResponse;
    try {
      const guards: ICompare[] = plan.map(({ basis }, i) => kv.guard(ops[i]?.request_put?.key as Buffer, basis));
      if (fence !== undefined) guards.push(...fenceGuards(fence));
      response = await kv.txn(
        guards,
        ops,
        // one key: its current state comes back with the failure; a batch reads it after one
        // (smaller requests for the common case, where the guess holds)
        plan.length === 1 ? [{ request_range: { key: ops[0]?.request_put?.key as Buffer } }] : [],
        signal,
        'write',
      );
    } catch (error) {
      // a lease etcd no longer has (it restarted without it, or it ran out early): grant anew
      if (attempt === 0 && isLeaseGone((error as { cause?: unknown }).cause ?? error)) {
        for (const lease of leases) kv.leases.forget(lease);
        continue;
      }
      throw error;
    }
    if (response.succeeded) {
      const revision = response.header.revision;
      for (const { record } of plan) kv.remember(record.key, revision, record);
      return true;
    }
    if (!learn) return false;
    if (fence !== undefined && !(await kv.call(signal, 'fence', () => fenceHolds(kv.client, fence)))) {
      throw RegistryError.fenced(plan[0]?.record.key ?? '', fence.token);
    }
    const current =
      plan.length === 1
        ? [kv.learn(plan[0]?.record.key as string, response.responses[0]?.response_range.kvs[0])]
        : await kv.readAll(
            plan.map((p) => p.record.key),
            signal,
          );
    // the client resends a request whose answer was lost (a member died): if etcd holds exactly
    // what this write put, byte for byte, the write was applied, and its guard failed on itself
    return plan.every(({ record }, i) => sameRecord(current[i]?.record, record));
  }
}

/** A single-key write waiting for the next group. */
interface Queued {
  readonly write: PlannedWrite;
  readonly signal: AbortSignal | undefined;
  readonly resolve: (committed: boolean) => void;
  readonly reject: (error: unknown) => void;
  onAbort?: () => void;
}

// transactions of grouped writes in flight at once: one filling while one is answered
const MAX_GROUPS_IN_FLIGHT = 2;

/**
 * Group commit of single-key writes: while {@link MAX_GROUPS_IN_FLIGHT} transactions are in
 * flight, further writes wait and go together in the next, one transaction of up to
 * `maxTxnOps` distinct keys and `maxRequestBytes` bytes, each still guarded by its own `mod_revision` (one Raft entry
 * instead of one per write). A lone writer never waits. When the group's transaction fails
 * (some guard did not hold) nothing of it was written, and each write is committed alone,
 * which tells the one that lost from the others.
 */
class GroupCommit {
  readonly #kv: EtcdKv;
  #queue: Queued[] = [];
  #inFlight = 0;

  constructor(kv: EtcdKv) {
    this.#kv = kv;
  }

  commit(write: PlannedWrite, signal: AbortSignal | undefined): Promise<boolean> {
    if (this.#inFlight < MAX_GROUPS_IN_FLIGHT && this.#queue.length === 0) {
      return this.#track(commit(this.#kv, [write], signal));
    }
    return new Promise<boolean>((resolve, reject) => {
      const queued: Queued = { write, signal, resolve, reject };
      if (signal !== undefined) {
        queued.onAbort = () => {
          const at = this.#queue.indexOf(queued);
          if (at < 0) return;
          this.#queue.splice(at, 1);
          reject(signal.reason as Error);
        };
        signal.addEventListener('abort', queued.onAbort, { once: true });
      }
      this.#queue.push(queued);
    });
  }

  #track(running: Promise<boolean>): Promise<boolean> {
    this.#inFlight++;
    const settle = (): void => {
      this.#inFlight--;
      this.#next();
    };
    running.then(settle, settle);
    return running;
  }

  #next(): void {
    if (this.#queue.length === 0 || this.#inFlight >= MAX_GROUPS_IN_FLIGHT) return;
    // distinct keys only (etcd refuses a transaction naming a key twice): the rest wait
    // and within etcd's request size
    const keys = new Set<string>();
    const group: Queued[] = [];
    const rest: Queued[] = [];
    let bytes = 0;
    let full = false;
    const budget = this.#kv.options.maxRequestBytes - REQUEST_SLACK_BYTES;
    for (const queued of this.#queue) {
      const { key, value } = queued.write.record;
      if (!full && !keys.has(key)) {
        const size = putBytes(this.#kv, key, value);
        // once full, every later write waits too (a later write of a waiting key stays after it)
        full = group.length === this.#kv.options.maxTxnOps || (group.length > 0 && bytes + size > budget);
        if (!full) {
          keys.add(key);
          group.push(queued);
          bytes += size;
          continue;
        }
      }
      rest.push(queued);
    }
    this.#queue = rest;
    for (const queued of group) {
      if (queued.onAbort !== undefined) queued.signal?.removeEventListener('abort', queued.onAbort);
    }
    void this.#track(this.#send(group));
  }

  /** Commits `group` in one transaction, or each alone when that one fails; never rejects. */
  async #send(group: readonly Queued[]): Promise<boolean> {
    const alone = (queued: Queued): Promise<void> =>
      commit(this.#kv, [queued.write], queued.signal).then(queued.resolve, queued.reject);
    if (group.length === 1) {
      await alone(group[0] as Queued);
      return true;
    }
    let committed: boolean;
    try {
      committed = await commit(
        this.#kv,
        group.map((queued) => queued.write),
        undefined,
        undefined,
        false,
      );
    } catch (error) {
      for (const queued of group) queued.reject(error);
      return false;
    }
    if (committed) {
      for (const queued of group) queued.resolve(true);
      return true;
    }
    await Promise.all(group.map(alone));
    return false;
  }
}

const groups = new WeakMap<EtcdKv, GroupCommit>();

function groupOf(kv: EtcdKv): GroupCommit {
  let group = groups.get(kv);
  if (group === undefined) {
    group = new GroupCommit(kv);
    groups.set(kv, group);
  }
  return group;
}
