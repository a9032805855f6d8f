import type { Etcd3, ILeaseKeepAliveResponse } from 'etcd3';
import type { Clock, Milliseconds, Timer } from '../../core/clock.js';
import { RegistryError } from '../errors.js';
import { checkTtl, MAX_TIMER_MS } from '../validation.js';
import { isLeaseGone, withDeadline } from './calls.js';

/** What a session needs from its registry. */
export interface SessionContext {
  readonly client: Etcd3;
  readonly clock: Clock;
  readonly timeoutMs: Milliseconds;
  /** Run when the registry closes: a session then stops renewing and reports itself lost. */
  readonly closers: Set<() => void>;
}

type KeepAliveStream = Awaited<ReturnType<Etcd3['leaseClient']['leaseKeepAlive']>>;

// a keep-alive stream that has left this many renewals unanswered is dropped for another
// (its member may be paused: the TCP connection stays up and nothing errors)
const UNANSWERED_LIMIT = 2;
const REOPEN_DELAY_MS = 100;

/**
 * The longest session TTL, in ms: 2_147_483_000 (~24.8 days), the longest whole number of
 * seconds (etcd grants leases in seconds) within a Node.js timer's delay, since the session
 * arms a timer for the lease's whole TTL to report it lost. etcd's own limit is far above
 * (9e9 s).
 */
export const MAX_SESSION_TTL_MS = Math.floor(MAX_TIMER_MS / 1000) * 1000;

/**
 * Checks the `ttlMs` of a lock or campaign: a positive safe integer (else `INVALID_TTL`) of at
 * most {@link MAX_SESSION_TTL_MS} (else `INVALID_OPTION`).
 */
export function checkSessionTtl(ttlMs: unknown): asserts ttlMs is Milliseconds {
  checkTtl(ttlMs);
  if (ttlMs > MAX_SESSION_TTL_MS) {
    throw RegistryError.invalidOptionValue('ttlMs', `at most ${MAX_SESSION_TTL_MS} ms (~24.8 days)`, ttlMs);
  }
}

/**
 * An etcd lease this process keeps alive (a renewal every third of its TTL), with a `lost`
 * signal that aborts no later than etcd itself could have let the lease run out: at the send
 * time of the last renewal etcd answered plus the TTL it answered with (on this machine's clock;
 * clock drift between client and server is not accounted for). etcd saying the lease is gone
 * aborts it at once. A lost session stays lost: its owner opens another.
 */
export class Session {
  /** The lease id (decimal). */
  readonly id: string;
  readonly #ctx: SessionContext;
  readonly #lost = new AbortController();
  readonly #intervalMs: Milliseconds;
  /** Send times of the renewals the current stream has not answered yet, oldest first. */
  #unanswered: number[] = [];
  #stream: KeepAliveStream | undefined;
  #tick: Timer | undefined;
  #deadline: Timer | undefined;
  #connecting = false;
  #closed = false;

  private constructor(ctx: SessionContext, id: string, ttlMs: Milliseconds, grantedAt: number) {
    this.#ctx = ctx;
    this.id = id;
    this.#intervalMs = Math.max(100, Math.floor(ttlMs / 3));
    this.#extend(grantedAt, ttlMs);
    this.#schedule(0);
    ctx.closers.add(this.#onClose);
  }

  readonly #onClose = (): void => {
    if (this.#lost.signal.aborted) return;
    this.#stop();
    this.#lost.abort(RegistryError.closed());
  };

  /** Grants a lease of `ttlMs` (rounded up to whole seconds) and starts keeping it alive. */
  static async open(ctx: SessionContext, ttlMs: Milliseconds, signal: AbortSignal | undefined): Promise<Session> {
    const sentAt = ctx.clock.now();
    const granted = await withDeadline(ctx.clock, ctx.timeoutMs, signal, 'lease grant', () =>
      ctx.client.leaseClient.leaseGrant({ TTL: Math.max(1, Math.ceil(ttlMs / 1000)) }),
    );
    const session = new Session(ctx, String(granted.ID), Number(granted.TTL) * 1000, sentAt);
    if (signal?.aborted) {
      await session.close();
      throw signal.reason as Error;
    }
    return session;
  }

  /** Aborts (with a `BACKEND_UNAVAILABLE` reason) once the lease may have run out. */
  get lost(): AbortSignal {
    return this.#lost.signal;
  }

  /** Stops renewing and revokes the lease (best effort: unrevoked, it runs out by itself). */
  async close(options: { signal?: AbortSignal | undefined } = {}): Promise<void> {
    if (this.#closed) return;
    this.#stop();
    await withDeadline(this.#ctx.clock, this.#ctx.timeoutMs, options.signal, 'lease revoke', () =>
      this.#ctx.client.leaseClient.leaseRevoke({ ID: this.id }),
    ).catch((error: unknown) => {
      // a lease etcd no longer has is as good as revoked
      if (!isLeaseGone((error as { cause?: unknown }).cause ?? error)) throw error;
    });
  }

  #stop(): void {
    this.#closed = true;
    this.#ctx.closers.delete(this.#onClose);
    this.#tick?.cancel();
    this.#deadline?.cancel();
    this.#drop();
  }

  #lose(reason: string, cause?: unknown): void {
    if (this.#lost.signal.aborted) return;
    this.#stop();
    this.#lost.abort(RegistryError.unavailable(`the lease ${this.id} was lost: ${reason}`, cause));
  }

  /** etcd holds the lease at least until `sentAt + ttlMs`: lost past that without a renewal. */
  #extend(sentAt: number, ttlMs: Milliseconds): void {
    this.#deadline?.cancel();
    const left = sentAt + ttlMs - this.#ctx.clock.now();
    this.#deadline = this.#ctx.clock.setTimeout(() => this.#lose(`not renewed within ${ttlMs} ms`), Math.max(0, left));
  }

  #schedule(delayMs: Milliseconds): void {
    this.#tick = this.#ctx.clock.setTimeout(() => {
      if (this.#closed) return;
      this.#renew();
      this.#schedule(this.#intervalMs);
    }, delayMs);
  }

  #renew(): void {
    if (this.#unanswered.length >= UNANSWERED_LIMIT) this.#drop();
    const stream = this.#stream;
    if (stream === undefined) {
      if (!this.#connecting) this.#connect();
      return;
    }
    this.#unanswered.push(this.#ctx.clock.now());
    stream.write({ ID: this.id });
  }

  #drop(): void {
    const stream = this.#stream;
    this.#stream = undefined;
    this.#unanswered = [];
    if (stream !== undefined) {
      // its listeners ignore a stream that is no longer current; cancelling frees the call
      // even on a member that does not answer
      stream.on('error', () => {});
      (stream as unknown as { cancel(): void }).cancel();
    }
  }

  #connect(): void {
    this.#connecting = true;
    this.#ctx.client.leaseClient.leaseKeepAlive().then(
      (stream) => {
        this.#connecting = false;
        if (this.#closed) {
          stream.on('error', () => {});
          (stream as unknown as { cancel(): void }).cancel();
          return;
        }
        this.#stream = stream;
        stream.on('data', (response: ILeaseKeepAliveResponse) => this.#answered(stream, response));
        const broken = (): void => {
          if (this.#stream !== stream) return;
          this.#drop();
          this.#tick?.cancel();
          this.#schedule(REOPEN_DELAY_MS);
        };
        stream.on('error', broken);
        stream.on('end', broken);
        this.#renew();
      },
      () => {
        this.#connecting = false;
        this.#tick?.cancel();
        if (!this.#closed) this.#schedule(REOPEN_DELAY_MS);
      },
    );
  }

  #answered(stream: KeepAliveStream, response: ILeaseKeepAliveResponse): void {
    if (this.#stream !== stream || this.#closed) return;
    const sentAt = this.#unanswered.shift();
    const ttlMs = Number(response.TTL) * 1000;
    if (ttlMs <= 0) {
      this.#lose('etcd no longer has it');
      return;
    }
    if (sentAt !== undefined) this.#extend(sentAt, ttlMs);
  }
}
