import { HrwRouter } from './hrw.js';
import type { Shard } from './shard.js';

/**
 * One membership of a sharded registry: its shards, their HRW router and the replication
 * factor. Immutable; a membership change builds a new one (the old one is kept while a
 * migration runs, so reads can check the previous owner on a miss).
 */
export class Topology {
  readonly members: readonly Shard[];
  readonly router: HrwRouter;
  /** Effective replication factor: `replicas` capped by the number of members. */
  readonly r: number;
  readonly #scratch: number[] = [];
  readonly #skipFor: (index: number) => boolean;
  #key = '';

  constructor(members: readonly Shard[], replicas: number) {
    this.members = members;
    this.router = new HrwRouter(members.map((s) => ({ name: s.name, weight: s.weight })));
    this.r = Math.min(replicas, members.length);
    // one closure for the life of the topology: routing allocates nothing per call
    this.#skipFor = (i) => !(this.members[i] as Shard).servesKey(this.#key);
  }

  /** Whether every member serves every key (no open circuit, no pending hand-back). */
  healthy(): boolean {
    for (const s of this.members) if (s.health !== 'up' || s.resyncing || s.hints.size !== 0) return false;
    return true;
  }

  /** The R owners of `key` by membership alone, ignoring health (where the key belongs). */
  owners(key: string): Shard[] {
    const out = this.#scratch;
    this.router.top(key, this.r, out);
    return out.map((i) => this.members[i] as Shard);
  }

  /**
   * Where operations on `key` go now: the R top-scoring members that serve it. When an owner is
   * unavailable, the next shard in HRW order stands in (a fallback).
   */
  targets(key: string): Shard[] {
    const out = this.#scratch;
    if (this.healthy()) this.router.top(key, this.r, out);
    else this.#serving(key, this.r, out);
    return out.map((i) => this.members[i] as Shard);
  }

  /** The first member serving `key` (where reads go), or `undefined` when none does. */
  readTarget(key: string): Shard | undefined {
    if (this.healthy()) return this.members[this.router.first(key)];
    const out = this.#scratch;
    this.#serving(key, 1, out);
    return out.length === 0 ? undefined : this.members[out[0] as number];
  }

  /**
   * Whether a miss on `target` is the truth for `key`: it is an owner, or every owner it stands
   * in for missed the key's last writes while away (so the stand-in saw them).
   */
  missIsAuthoritative(key: string, target: Shard): boolean {
    if (this.healthy()) return true;
    const owners = this.owners(key);
    if (owners.includes(target)) return true;
    return owners.every((o) => o.servesKey(key) || o.hints.has(key));
  }

  #serving(key: string, r: number, out: number[]): void {
    this.#key = key;
    this.router.top(key, r, out, this.#skipFor);
  }
}
