import type { Etcd3 } from 'etcd3';
import type { Clock, Milliseconds } from '../../core/clock.js';
import { type Int64Words, int64Words } from './calls.js';

/** A granted lease: its id (decimal, as etcd3 gives it) and the same id as a put request takes it. */
export interface GrantedLease {
  readonly id: string;
  readonly words: Int64Words;
}

/** The lease of a record that etcd never expires (past etcd's longest lease, or no TTL). */
export const NO_LEASE: GrantedLease = Object.freeze({ id: '0', words: int64Words('0') });

// etcd's MaxLeaseTTL, in seconds
const MAX_LEASE_TTL_S = 9_000_000_000;

/**
 * The etcd leases records expire by, one per expiry window: a record whose deadline falls in
 * `(end - windowMs, end]` is put under the lease of window `end`, granted to last until
 * `end + graceMs`. So the number of live leases is bounded by the spread of deadlines over
 * `windowMs` (a 30-minute TTL with 10 s windows: at most ~180), not by the number of records;
 * etcd deletes a window's records together when its lease runs out. The registry's own
 * read-time check against the injected clock decides expiry; the lease only reclaims space.
 */
export class LeasePool {
  readonly #client: Etcd3;
  readonly #clock: Clock;
  readonly #windowMs: Milliseconds;
  readonly #graceMs: Milliseconds;
  /** Window end (epoch ms) → the lease id (decimal), or its pending grant. */
  readonly #leases = new Map<number, Promise<string>>();
  /** Window end → lease, once granted: a write finds it without waiting a turn. */
  readonly #granted = new Map<number, GrantedLease>();

  constructor(client: Etcd3, clock: Clock, windowMs: Milliseconds, graceMs: Milliseconds) {
    this.#client = client;
    this.#clock = clock;
    this.#windowMs = windowMs;
    this.#graceMs = graceMs;
  }

  /** Leases held (granted or being granted) now. */
  get size(): number {
    return this.#leases.size;
  }

  /**
   * The lease (decimal id) for a record due at `expiresAt`, granting it on first use; `'0'`
   * (no lease: the registry alone expires it) past etcd's longest lease, ~285 years.
   */
  leaseFor(expiresAt: Milliseconds): Promise<string> {
    return this.#leases.get(this.#end(expiresAt)) ?? this.#grant(expiresAt);
  }

  /** The lease for a record due at `expiresAt` if it is granted already. */
  granted(expiresAt: Milliseconds): GrantedLease | undefined {
    return this.#granted.get(this.#end(expiresAt));
  }

  #end(expiresAt: Milliseconds): number {
    return Math.ceil(expiresAt / this.#windowMs) * this.#windowMs;
  }

  #grant(expiresAt: Milliseconds): Promise<string> {
    const end = this.#end(expiresAt);
    const known = this.#leases.get(end);
    if (known !== undefined) return known;
    this.#prune();
    const ttlSeconds = Math.max(1, Math.ceil((end - this.#clock.now() + this.#graceMs) / 1000));
    if (ttlSeconds > MAX_LEASE_TTL_S) return Promise.resolve('0');
    const grant = this.#client.leaseClient.leaseGrant({ TTL: ttlSeconds }).then((response) => String(response.ID));
    this.#leases.set(end, grant);
    grant.then(
      (id) => {
        if (this.#leases.get(end) === grant) this.#granted.set(end, { id, words: int64Words(id) });
      },
      // a failed grant is not kept: the next write of that window asks again
      () => {
        if (this.#leases.get(end) === grant) this.#leases.delete(end);
      },
    );
    return grant;
  }

  /** Forgets `lease` (etcd said it is gone: expired early, revoked, or lost with the data). */
  forget(lease: string): void {
    for (const [end, grant] of this.#leases) {
      void grant.then(
        (id) => {
          if (id === lease && this.#leases.get(end) === grant) {
            this.#leases.delete(end);
            this.#granted.delete(end);
          }
        },
        () => {},
      );
    }
  }

  /** Drops the windows whose leases have run out. */
  #prune(): void {
    const now = this.#clock.now();
    for (const end of this.#leases.keys()) {
      if (end + this.#graceMs > now) continue;
      this.#leases.delete(end);
      this.#granted.delete(end);
    }
  }
}
