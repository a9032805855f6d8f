import type { Etcd3 } from 'etcd3';
import type { Clock, Milliseconds } from '../../core/clock.js';
import type { OperationOptions } from '../registry.js';
import { campaign } from './election.js';
import type { Fence } from './fence.js';

/** Options of {@link EtcdRegistry.lock}. */
export interface LockOptions extends OperationOptions {
  /**
   * Lifetime of the holder's lease in ms (rounded up to whole seconds, at least etcd's minimum):
   * renewed every third of it while the holder's process runs; a holder that stops (crashed,
   * paused, cut off) loses the lock this long after its last renewal etcd answered (`lost`
   * aborts), and the next contender takes it once etcd lets the lease run out. A positive
   * integer (else `INVALID_TTL`) of at most 2_147_483_000 (~24.8 days, see `MAX_SESSION_TTL_MS`;
   * else `INVALID_OPTION`).
   * @default 10_000
   */
  readonly ttlMs?: Milliseconds;
}

/** A held lock. */
export interface LockHandle {
  readonly name: string;
  /** The fencing token: larger for every later holder of the same lock. */
  readonly token: string;
  /** The token with its entry, for fenced writes. */
  readonly fence: Fence;
  /** Aborts when the lease may be lost (not renewed in time): the lock may then be someone else's. */
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
  readonly closers: Set<() => void>;
}

const NO_VALUE = new Uint8Array(0);

/**
 * Takes lock `name`: an election (see `campaign`) whose leader holds the lock. Each contender
 * puts an entry under the lock's prefix bound to its own lease; the entry with the lowest
 * creation revision holds the lock, every other contender waits for the deletion of the entry
 * just before its own (no herd), and the holder's creation revision is its fencing token.
 */
export async function takeLock(ctx: LockContext, name: string, options: LockOptions = {}): Promise<LockHandle> {
  const held = await campaign({ ...ctx, electionPrefix: ctx.lockPrefix }, name, NO_VALUE, options);
  return { name, token: held.token, fence: held.fence, lost: held.lost, release: (o) => held.resign(o) };
}
