import type { Etcd3, IKeyValue, IRangeResponse } from 'etcd3';
import type { Clock, Milliseconds } from '../../core/clock.js';
import { isRegistryError, RegistryError } from '../errors.js';
import type { OperationOptions } from '../registry.js';
import { checkOpen } from '../validation.js';
import { rangeEnd, withDeadline } from './calls.js';
import { type Fence, fenceGuards } from './fence.js';
import { checkSessionTtl, Session } from './session.js';
import { untilDeleted } from './wait.js';

/** Options of {@link EtcdRegistry.campaign}. */
export interface CampaignOptions extends OperationOptions {
  /**
   * Lifetime of the contender's lease in ms (rounded up to whole seconds): renewed every third
   * of it while this process runs. A leader that stops renewing (crashed, paused, cut off from
   * etcd) loses leadership by this long after its last renewal etcd answered: its handle's
   * `lost` aborts then, and the next contender is elected once etcd lets the lease run out.
   * A waiting contender whose lease is lost campaigns again with a new one (and a new place);
   * while etcd does not answer (`TIMEOUT`, `BACKEND_UNAVAILABLE`) the campaign retries with
   * backoff (50 ms to 1 s) until `signal` aborts or the registry closes. A positive integer
   * (else `INVALID_TTL`) of at most 2_147_483_000 (~24.8 days, see `MAX_SESSION_TTL_MS`; else
   * `INVALID_OPTION`).
   * @default 10_000
   */
  readonly ttlMs?: Milliseconds;
}

/** The leader of an election as etcd holds it. */
export interface Leader {
  readonly name: string;
  /** The value the leader campaigned with or last proclaimed. */
  readonly value: Uint8Array;
  /** The leader's fencing token (the etcd revision that created its entry). */
  readonly token: string;
}

/** One step of {@link EtcdRegistry.observe}: the leader from `revision` on (`undefined`: none). */
export interface LeaderChange {
  readonly leader: Leader | undefined;
  /** The etcd revision at which this leader took over (or the election emptied). */
  readonly revision: string;
}

/** Leadership of an election, won by {@link EtcdRegistry.campaign}. */
export interface LeadershipHandle {
  readonly name: string;
  /** The fencing token: larger for every later leader of the same election. */
  readonly token: string;
  /** The token with its entry, for fenced writes (`registry.set(key, value, { fence })`). */
  readonly fence: Fence;
  /**
   * Aborts (reason `BACKEND_UNAVAILABLE`) once leadership may be lost: the lease was not renewed
   * in time or etcd dropped it. From then on another contender may lead and the fence is refused.
   */
  readonly lost: AbortSignal;
  /** Resolves with the reason once `lost` aborts (never, after `resign`). */
  readonly whenLost: Promise<RegistryError>;
  /** Replaces the leader's value; `FENCED` (nothing written) when no longer the leader. */
  proclaim(value: Uint8Array, options?: OperationOptions): Promise<void>;
  /** Gives leadership up (revokes the lease: the next contender is elected). Twice resolves. */
  resign(options?: OperationOptions): Promise<void>;
}

/** What an election needs from its registry. */
export interface ElectionContext {
  readonly client: Etcd3;
  readonly clock: Clock;
  readonly timeoutMs: Milliseconds;
  /** Where the registry's elections live: outside its records' key range. */
  readonly electionPrefix: string;
  isClosed(): boolean;
  /** Callbacks run when the registry closes (each waiting observer wakes to reject with `CLOSED`). */
  readonly closers: Set<() => void>;
}

const DEFAULT_CAMPAIGN_TTL_MS = 10_000;
const RETRY_FIRST_MS = 50;
const RETRY_MAX_MS = 1000;

function checkName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || name === '') {
    throw RegistryError.invalidOptionValue('name', 'a non-empty string', name);
  }
}

function checkValue(value: unknown): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array)) throw RegistryError.invalidOptionValue('value', 'a Uint8Array', value);
}

const prefixOf = (ctx: ElectionContext, name: string): Buffer => Buffer.from(`${ctx.electionPrefix}${name}/`);

const leaderOf = (name: string, kv: IKeyValue): Leader => ({
  name,
  value: Uint8Array.from(kv.value),
  token: kv.create_revision,
});

/**
 * Campaigns in election `name` until elected: etcd's election recipe on leases and creation
 * revisions. Each contender puts an entry bound to its own lease; the oldest entry leads, and
 * every other contender waits for the deletion of the entry just before its own. Election is
 * decided on one linearizable read of both (never on a watch event, a watch error or a
 * reconnect, which is how etcd3's `Election` came to elect two leaders after an etcd restart):
 * elected only while its own entry exists and no older one does.
 */
export async function campaign(
  ctx: ElectionContext,
  name: string,
  value: Uint8Array,
  options: CampaignOptions = {},
): Promise<LeadershipHandle> {
  const { signal } = options;
  checkOpen(ctx.isClosed(), signal);
  checkName(name);
  checkValue(value);
  const ttlMs = options.ttlMs ?? DEFAULT_CAMPAIGN_TTL_MS;
  checkSessionTtl(ttlMs);
  const prefix = prefixOf(ctx, name);
  for (let delayMs = RETRY_FIRST_MS; ; delayMs = Math.min(RETRY_MAX_MS, delayMs * 2)) {
    try {
      const won = await round(ctx, prefix, name, value, ttlMs, signal);
      if (won !== undefined) return won;
      delayMs = RETRY_FIRST_MS;
    } catch (error) {
      // etcd unreachable or leaderless (restarting, failing over): campaign on once it answers
      if (!isRegistryError(error, 'TIMEOUT') && !isRegistryError(error, 'BACKEND_UNAVAILABLE')) throw error;
      await sleepOn(ctx, delayMs, signal);
    }
  }
}

/**
 * One round of a campaign: a new lease and entry, then the wait for its turn. Resolves
 * `undefined` when the lease was lost before the turn came (the caller starts another round).
 */
async function round(
  ctx: ElectionContext,
  prefix: Buffer,
  name: string,
  value: Uint8Array,
  ttlMs: Milliseconds,
  signal: AbortSignal | undefined,
): Promise<LeadershipHandle | undefined> {
  checkOpen(ctx.isClosed(), signal);
  const session = await Session.open(ctx, ttlMs, signal);
  const entry = Buffer.concat([prefix, Buffer.from(session.id)]);
  try {
    const created = await withDeadline(ctx.clock, ctx.timeoutMs, signal, 'campaign', () =>
      ctx.client.kv.txn({
        compare: [{ key: entry, target: 'Create', result: 'Equal', create_revision: '0' }],
        success: [{ request_put: { key: entry, value: Buffer.from(value), lease: session.id } }],
      }),
    );
    const token = created.header.revision;
    if (await waitTurn(ctx, session, prefix, entry, token, ttlMs, signal)) {
      return leadership(ctx, name, session, { entry: entry.toString('latin1'), token });
    }
    // the lease was lost while waiting: a new lease, a new entry, the back of the queue
    await session.close().catch(() => {});
    return undefined;
  } catch (error) {
    await session.close().catch(() => {});
    throw error;
  }
}

/** Resolves after `delayMs`; rejects with the reason on abort, `CLOSED` once the registry closes. */
async function sleepOn(ctx: ElectionContext, delayMs: Milliseconds, signal: AbortSignal | undefined): Promise<void> {
  await new Promise<void>((resolve) => {
    const timer = ctx.clock.setTimeout(done, delayMs);
    function done(): void {
      timer?.cancel();
      signal?.removeEventListener('abort', done);
      ctx.closers.delete(done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
    ctx.closers.add(done);
  });
  checkOpen(ctx.isClosed(), signal);
}

/**
 * Waits until `entry` (created at `token`) is the oldest of `prefix`: resolves `true` once a
 * linearizable read sees it so, `false` once the session is lost or the entry gone.
 */
async function waitTurn(
  ctx: ElectionContext,
  session: Session,
  prefix: Buffer,
  entry: Buffer,
  token: string,
  ttlMs: Milliseconds,
  signal: AbortSignal | undefined,
): Promise<boolean> {
  for (;;) {
    checkOpen(ctx.isClosed(), signal);
    if (session.lost.aborted) return false;
    const read = await withDeadline(ctx.clock, ctx.timeoutMs, signal, 'campaign', () =>
      ctx.client.kv.txn({
        success: [
          { request_range: { key: entry } },
          {
            request_range: {
              key: prefix,
              range_end: rangeEnd(prefix),
              sort_order: 'Descend',
              sort_target: 'Create',
              max_create_revision: String(BigInt(token) - 1n),
              limit: 1,
            },
          },
        ],
      }),
    );
    const own = read.responses[0]?.response_range.kvs[0];
    if (own === undefined || own.create_revision !== token) return false;
    const ahead = read.responses[1]?.response_range.kvs[0];
    if (ahead === undefined) return !session.lost.aborted;
    // woken by the deletion, a lost session or, at the latest, after a TTL (a watch that hangs on
    // a paused member must not stall the campaign): every wake reads again
    await untilDeleted(ctx, ahead.key, read.header.revision, {
      signal: AbortSignal.any([...(signal ? [signal] : []), session.lost]),
      maxWaitMs: ttlMs,
    }).catch((error: unknown) => {
      if (signal?.aborted) throw signal.reason as Error;
      if (!session.lost.aborted && !(error instanceof RegistryError)) throw error;
    });
  }
}

function leadership(ctx: ElectionContext, name: string, session: Session, fence: Fence): LeadershipHandle {
  let resigned = false;
  const whenLost = new Promise<RegistryError>((resolve) => {
    session.lost.addEventListener('abort', () => resolve(session.lost.reason as RegistryError), { once: true });
  });
  return {
    name,
    token: fence.token,
    fence,
    lost: session.lost,
    whenLost,
    proclaim: async (value: Uint8Array, options?: OperationOptions): Promise<void> => {
      checkValue(value);
      const key = Buffer.from(fence.entry, 'latin1');
      const response = await withDeadline(ctx.clock, ctx.timeoutMs, options?.signal, 'proclaim', () =>
        ctx.client.kv.txn({
          compare: fenceGuards(fence),
          success: [{ request_put: { key, value: Buffer.from(value), lease: session.id } }],
        }),
      );
      if (!response.succeeded) throw RegistryError.fenced(`election ${name}`, fence.token);
    },
    resign: async (options?: OperationOptions): Promise<void> => {
      if (resigned) return;
      resigned = true;
      await session.close(options);
    },
  };
}

/** The leader of election `name` now (linearizable), or `undefined` when nobody campaigns. */
export async function currentLeader(
  ctx: ElectionContext,
  name: string,
  options: OperationOptions = {},
): Promise<Leader | undefined> {
  checkOpen(ctx.isClosed(), options.signal);
  checkName(name);
  const prefix = prefixOf(ctx, name);
  const oldest: IRangeResponse = await withDeadline(ctx.clock, ctx.timeoutMs, options.signal, 'leader', () =>
    ctx.client.kv.range({
      key: prefix,
      range_end: rangeEnd(prefix),
      sort_order: 'Ascend',
      sort_target: 'Create',
      limit: 1,
    }),
  );
  const kv = oldest.kvs[0];
  return kv === undefined ? undefined : leaderOf(name, kv);
}

export { leaderOf, prefixOf, checkName };
