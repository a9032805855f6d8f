import type { Milliseconds } from '../../core/clock.js';
import { sleep } from '../../core/pacing.js';
import { bytesEqual, ID_BITS, randomIdInBucket } from '../id.js';
import { drainLookup } from '../lookup/lookup.js';
import type { RoutingContact } from '../routing/routing-types.js';
import { writePingArgs } from '../wire/krpc-args.js';
import type { FamilyStack } from './family-stack.js';
import { type MaintenanceContext, trafficIn } from './maintenance-context.js';
import type { RequestBudget } from './request-budget.js';

/** Most liveness pings of one tick, per family (the budget bounds them further). */
const MAX_PINGS_PER_TICK = 16;
/** Most refresh lookups of one tick. */
const MAX_REFRESHES_PER_TICK = 2;
/** Failed pings in a row, with nothing else arriving, after which the node believes it is offline. */
const OFFLINE_AFTER_FAILED_PINGS = 4;
/** An empty bucket's refresh that finds no one is repeated at most this many times less often. */
const MAX_EMPTY_BACKOFF = 8;
/** Contacts of each family an offline node probes per attempt: the most recently seen. */
const PROBES_PER_FAMILY = 3;

/**
 * The upkeep of a node's routing tables (policy over the tables' mechanism): on every tick it
 * pings the contacts that turned questionable (silent 15 min) or bad, oldest first; an answer
 * makes a contact good again (and its bucket fresh), a contact that fails twice is bad and, as
 * long as other contacts answer, leaves the table (a cached replacement takes its place). Then
 * it refreshes the buckets nothing touched for `refreshMs` with a lookup of a random id in their
 * range, and now and then looks up its own id. All of it within a budget of requests per
 * minute.
 *
 * When every ping fails and nothing at all arrives, the node has lost the network, not its
 * contacts: it says so (`network:lost`), keeps its table, and probes its freshest contacts (and
 * joins again through its bootstrap nodes) with backoff until one answers (`network:restored`).
 * @internal
 */
export class TableUpkeep {
  readonly #ctx: MaintenanceContext;
  readonly #budget: RequestBudget;
  /**
   * Last refresh of each bucket index (a bucket that was never created has no time of its own),
   * and the wait before the next: `refreshMs`, doubled each time a refresh of an empty bucket
   * found no one (a range of the id space where a small network has no node), up to
   * {@link MAX_EMPTY_BACKOFF} times.
   */
  #refreshed: Map<number, { at: Milliseconds; waitMs: Milliseconds }> | undefined; // made by the first refresh
  #lastSelfLookup: Milliseconds;
  #silentFailures = 0;
  /** What {@link trafficIn} counted when last read, and when it last grew: the node was online then. */
  #traffic = 0;
  #heardAt: Milliseconds = Number.NEGATIVE_INFINITY;
  #running = false;

  constructor(ctx: MaintenanceContext, budget: RequestBudget) {
    this.#ctx = ctx;
    this.#budget = budget;
    // joining looks up the own id: the first periodic one is due a whole interval later
    this.#lastSelfLookup = ctx.clock.now();
  }

  /** Starts the work of one tick unless the previous one still runs. */
  tick(): void {
    if (this.#running || this.#ctx.counters.offline) return;
    this.#running = true;
    this.#run()
      .catch(() => undefined) // closing aborts it; nothing else rejects
      .finally(() => {
        this.#running = false;
      });
  }

  async #run(): Promise<void> {
    await this.#liveness();
    if (this.#ctx.counters.offline || this.#ctx.lifetime.aborted) return;
    await this.#refresh();
    await this.#selfLookup();
  }

  /** Pings questionable and bad contacts; evicts the dead ones, or finds the node offline. */
  async #liveness(): Promise<void> {
    const { counters, stacks } = this.#ctx;
    this.#listen();
    const rounds = stacks.map((stack) => ({ stack, due: this.#due(stack) })).filter((r) => r.due.length > 0);
    if (rounds.length === 0) return;
    const outcomes = await Promise.all(
      rounds.map(async ({ stack, due }) => {
        const alive = await Promise.all(due.map((contact) => this.#ping(stack, contact)));
        return { stack, failed: due.filter((_, i) => !alive[i]) };
      }),
    );
    // anything that arrived within the last tick (our pings' answers included) shows the node is online
    this.#listen();
    const online = this.#ctx.clock.now() - this.#heardAt <= this.#ctx.options.tickMs;
    let failedPings = 0;
    for (const { stack, failed } of outcomes) {
      failedPings += failed.length;
      const table = stack.table.table;
      for (const contact of failed) {
        // the table replaces a contact that turns bad with a cached candidate, if one fits
        const state = table.markFailed(contact.id);
        if (state !== 'bad' || !online) continue;
        table.remove(contact.id);
        counters.evicted++;
      }
    }
    if (online) this.#silentFailures = 0;
    else this.#silentFailures += failedPings;
    if (this.#silentFailures >= OFFLINE_AFTER_FAILED_PINGS)
      void this.#offline(this.#silentFailures).catch(() => undefined);
  }

  /** Notes whether anything arrived since the last look. */
  #listen(): void {
    const traffic = trafficIn(this.#ctx.stacks);
    if (traffic > this.#traffic) this.#heardAt = this.#ctx.clock.now();
    this.#traffic = traffic;
  }

  /** Contacts of `stack` to ping now: questionable or bad, least recently seen first, within the budget. */
  #due(stack: FamilyStack): RoutingContact[] {
    // a bucket whose least recently seen contact is good gives none (one that turned bad since
    // it was last seen is due once it is questionable too)
    const due = stack.table.table.notGood();
    if (due.length === 0) return due;
    due.sort((a, b) => a.lastSeen - b.lastSeen);
    const allowed = Math.min(MAX_PINGS_PER_TICK, this.#budget.available());
    if (allowed < due.length) this.#ctx.counters.deferred++;
    return due.slice(0, allowed);
  }

  /** Pings `contact`; true when that very node answered. Counted, and charged to the budget. */
  async #ping(stack: FamilyStack, contact: RoutingContact, charge = true): Promise<boolean> {
    const { counters, id, lifetime } = this.#ctx;
    counters.pings++;
    counters.requests++;
    if (charge) this.#budget.charge(1);
    try {
      const readOnly = this.#ctx.probeWritable() ? false : undefined;
      const { values } = await stack.query(contact, 'ping', writePingArgs({ id }), lifetime, undefined, readOnly);
      if (bytesEqual(values.id, contact.id)) return true;
    } catch {
      // silent, refused or closed: a failure (closing also ends the round)
    }
    counters.pingsFailed++;
    return false;
  }

  /** Lookups of a random id in each idle bucket's range (any family's), a few per tick. */
  async #refresh(): Promise<void> {
    const { clock, counters, dht, id, options, randomBytes, stacks } = this.#ctx;
    const now = clock.now();
    const stale = new Set<number>();
    for (const stack of stacks) {
      const own = ownBucketStart(stack, this.#ctx.k);
      for (const index of stack.table.table.staleBuckets(options.refreshMs)) {
        if (index >= own) break; // the own id's range: the self lookup refreshes it
        const last = this.#refreshed?.get(index);
        if (last === undefined || now - last.at >= last.waitMs) stale.add(index);
      }
    }
    let done = 0;
    for (const index of stale) {
      if (done >= MAX_REFRESHES_PER_TICK || this.#budget.available() === 0) {
        counters.deferred++;
        return;
      }
      done++;
      const lookup = await drainLookup(dht.query(randomIdInBucket(id, index, randomBytes), { method: 'find_node' }));
      this.#charge(lookup.queried);
      counters.refreshLookups++;
      const empty = stacks.every((stack) => stack.table.table.bucketSize(index) === 0);
      const waitMs = empty
        ? Math.min(
            (this.#refreshed?.get(index)?.waitMs ?? options.refreshMs / 2) * 2,
            MAX_EMPTY_BACKOFF * options.refreshMs,
          )
        : options.refreshMs;
      (this.#refreshed ??= new Map()).set(index, { at: clock.now(), waitMs });
      for (const stack of stacks) stack.table.table.touchBucket(index);
    }
  }

  /** The periodic lookup of the node's own id. */
  async #selfLookup(): Promise<void> {
    const { clock, counters, dht, options, stacks } = this.#ctx;
    if (clock.now() - this.#lastSelfLookup < options.selfLookupMs) return;
    if (stacks.every((stack) => stack.table.size === 0)) return;
    if (this.#budget.available() === 0) {
      counters.deferred++;
      return;
    }
    this.#lastSelfLookup = clock.now();
    const lookup = await dht.selfLookup([], []);
    this.#charge(lookup.queried);
    counters.selfLookups++;
  }

  #charge(requests: number): void {
    this.#budget.charge(requests);
    this.#ctx.counters.requests += requests;
  }

  /**
   * Offline: probes the freshest contacts (and joins again through the bootstrap nodes, if any)
   * with backoff until something answers. Rejects only when the node closes.
   */
  async #offline(failedPings: number): Promise<void> {
    const { clock, counters, lifetime, retryMaxMs } = this.#ctx;
    if (counters.offline) return;
    counters.offline = true;
    const since = clock.now();
    this.#ctx.emit('network:lost', { failedPings });
    const stop = new AbortController();
    const signal = AbortSignal.any([stop.signal, lifetime]);
    let joined = false;
    const rejoin = this.#ctx.rejoin?.(signal).then(
      () => {
        joined = true;
      },
      () => undefined,
    );
    let delay = this.#ctx.retryMs;
    let attempts = 0;
    try {
      while (!joined) {
        attempts++;
        if (await this.#probe()) break;
        const wait = sleep(clock, delay, signal);
        await (rejoin === undefined ? wait : Promise.race([wait, rejoin]));
        delay = Math.min(delay * 2, retryMaxMs);
      }
    } finally {
      stop.abort();
    }
    lifetime.throwIfAborted();
    counters.offline = false;
    this.#silentFailures = 0;
    // back online: look around at the next tick
    this.#lastSelfLookup = Number.NEGATIVE_INFINITY;
    this.#ctx.emit('network:restored', { offlineMs: clock.now() - since, attempts });
  }

  /** Pings the most recently seen contacts of each family (failures not held against them). */
  async #probe(): Promise<boolean> {
    const { stacks } = this.#ctx;
    const before = trafficIn(stacks);
    const pings = stacks.flatMap((stack) =>
      [...stack.table.table.contacts()]
        .sort((a, b) => b.lastSeen - a.lastSeen)
        .slice(0, PROBES_PER_FAMILY)
        .map((contact) => this.#ping(stack, contact, false)),
    );
    const answered = await Promise.all(pings);
    return answered.includes(true) || trafficIn(stacks) > before;
  }
}

/**
 * The first bucket of the own id's range as BEP 5's splitting table has it: the deepest buckets
 * that together hold at most k contacts form one bucket there (the one holding the own id,
 * never split further), refreshed by looking up the own id; the buckets before it each cover a
 * range of their own.
 */
function ownBucketStart(stack: FamilyStack, k: number): number {
  const table = stack.table.table;
  let held = 0;
  let start = ID_BITS;
  for (let index = ID_BITS - 1; index >= 0; index--) {
    held += table.bucketSize(index);
    if (held > k) break;
    start = index;
  }
  return start;
}
