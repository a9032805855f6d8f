import type { Milliseconds } from '../../core/clock.js';
import { sleep } from '../../core/pacing.js';
import { isKadError } from '../errors.js';
import { compareDistance, idToHex, type NodeId } from '../id.js';
import type { StoredItemEntry } from '../serve/storage.js';
import { bdecode, type BencodeValue } from '../wire/bencode.js';
import type { Contact } from '../wire/compact.js';
import { writeGetArgs, writePutArgs } from '../wire/krpc-args.js';
import type { FamilyStack } from './family-stack.js';
import type { MaintenanceContext } from './maintenance-context.js';
import type { RequestBudget } from './request-budget.js';

/**
 * Least share of its lifetime an item must have left to be replicated: a quarter, 30 of BEP 44's
 * 120 minutes, so the copies made within 20 minutes of a death still reach the nodes that became
 * the k closest even when the publisher (which re-puts hourly) died with it.
 */
const FRESH_SHARE = 0.25;

/**
 * Share of the item lifetime for which a node known to hold an item is not asked again: a
 * quarter, 30 of the 120 minutes.
 */
const HOLDER_TRUST_SHARE = 0.25;

/**
 * Rounds in a row that are run again, one tick after the last, because a contact did not answer
 * (a `get` or `put` lost on a lossy link even after the RPC's retransmission): a live contact
 * gets the item then; a dead one has left the table by the time they are spent (liveness evicts
 * a contact silent for 15 minutes), so a dead neighbour costs at most this many extra rounds.
 */
const RETRY_ROUNDS = 3;

/** One check to do: a stored item and a node that is one of its k closest and may lack it. */
interface Task {
  readonly stack: FamilyStack;
  readonly contact: Contact;
  readonly entry: StoredItemEntry;
  /** Who holds the item (in that family), as far as this node knows, and until when it counts on that. */
  readonly holders: Map<number, Milliseconds>;
  /**
   * Put even onto a node that holds the item: this node is the closest to the target it knows, or
   * the node entered the k closest since this node's first round for the item.
   */
  readonly renew: boolean;
}

/**
 * Replication of the items this node stores for others (Kademlia §2.5, the "redistributing
 * lost data" of the seed). After the routing tables changed (a contact came or went), the next
 * tick looks at every stored item this node is one of the k closest to (by its own table): each
 * of the item's k closest contacts not known to hold it (a closer node joined, or one of the k
 * closest left and the next one moved up) gets a `get` (for the write token, and to see whether
 * it holds the item or a newer seq) and, lacking it, a `put` of the stored bytes, signature
 * unchanged; a contact that entered the k closest after this node's first round for the item
 * gets the `put` even when it holds the item, since it may hold an old copy (it moved up as
 * others left) and BEP 44 tells no copy's age. A contact that did not answer is asked again on
 * the next tick, for up to {@link RETRY_ROUNDS} rounds in a row. Who holds it is remembered per
 * item (a 32-bit fingerprint of each id) for {@link HOLDER_TRUST_SHARE} of the item lifetime, so
 * a stable neighbourhood costs little. Its k closest contacts leave out itself, as the lookup of
 * Kademlia's republish does: the node ranked k + 1 holds a copy too, the standby that moves up
 * first when one of the k leaves (with copies on k nodes only, gets at 10 000 simulated nodes
 * were 11–19 ms slower at p50 on each of three seeds).
 *
 * The node closest to the target (by its table) puts the item on its k closest even where they
 * hold it, and again once that share of the lifetime passed: it renews copies of unknown age,
 * among them those its publisher's republish missed (a lookup on a lossy network does not reach
 * every one of the k closest each time). The others ask again, as often, the nodes closer to the
 * target than themselves, so a closest node that lost the item gets it back.
 *
 * Only items with at least {@link FRESH_SHARE} of their lifetime left. A copy starts a lifetime
 * of its own (BEP 44 carries no expiry), so an item its publisher stopped re-putting lives on
 * while nodes keep joining next to its target; where none does, it is gone within about three
 * lifetimes (the closest node's own copy is renewed by no one). Never announcements (a node
 * cannot announce a peer on its behalf). Within a budget of requests per minute. @internal
 */
export class Replicator {
  readonly #ctx: MaintenanceContext;
  readonly #budget: RequestBudget;
  /** Per family and target: fingerprints of the contacts known to hold the item, and until when. */
  #holders: Map<string, Map<number, Milliseconds>> | undefined; // made with the first item to look after
  #dirty = false;
  #running = false;
  /** Whether a contact timed out in the last (or running) round. */
  #timedOut = false;
  /** Rounds run again in a row because a contact timed out (up to {@link RETRY_ROUNDS}). */
  #retries = 0;

  constructor(ctx: MaintenanceContext, budget: RequestBudget) {
    this.#ctx = ctx;
    this.#budget = budget;
    if (!ctx.options.replicate) return;
    const changed = (): void => {
      this.#dirty = true;
    };
    for (const stack of ctx.stacks) {
      stack.table.table.on('node:added', changed);
      stack.table.table.on('node:removed', changed);
    }
  }

  /**
   * Starts a replication round if the tables changed since the last one, or a contact timed out
   * in the last one (a few rounds in a row at most), and none runs.
   */
  tick(): void {
    const { counters, options } = this.#ctx;
    if (!options.replicate || this.#running || counters.offline) return;
    const retry = !this.#dirty && this.#timedOut && this.#retries < RETRY_ROUNDS;
    if (!this.#dirty && !retry) return;
    // a round for a change starts the count of retries afresh
    this.#retries = retry ? this.#retries + 1 : 0;
    this.#dirty = false;
    this.#timedOut = false;
    this.#running = true;
    this.#round()
      .catch(() => undefined) // closing aborts it
      .finally(() => {
        this.#running = false;
      });
  }

  async #round(): Promise<void> {
    const { clock, lifetime, stacks, storage } = this.#ctx;
    const freshFor = storage.itemTtlMs * FRESH_SHARE;
    const tasks: Task[] = [];
    const seen = new Set<string>();
    const now = clock.now();
    for await (const entry of storage.items({ signal: lifetime })) {
      if (entry.expiresAt !== undefined && entry.expiresAt - now < freshFor) continue;
      for (const stack of stacks) {
        const key = `${stack.family}:${idToHex(entry.target)}`;
        seen.add(key);
        for (const task of this.#tasks(stack, key, entry)) tasks.push(task);
      }
    }
    // items gone (expired, evicted) or no longer fresh: forget who holds them
    const holders = this.#holders;
    if (holders !== undefined) for (const key of holders.keys()) if (!seen.has(key)) holders.delete(key);
    if (holders?.size === 0) this.#holders = undefined;
    for (const task of tasks) await this.#replicate(task);
  }

  /**
   * The k closest contacts of `stack` to the item that may lack it: never known to hold it, or
   * (for the node closest to the target only) not for a while. None unless this node is one of
   * the k closest.
   */
  #tasks(stack: FamilyStack, key: string, entry: StoredItemEntry): Task[] {
    const { clock, id, k } = this.#ctx;
    const closest: Contact[] = stack.table.table.closest(entry.target, k);
    const last = closest[k - 1];
    if (last !== undefined && compareDistance(entry.target, last.id, id) < 0) {
      // k nodes are closer than us: theirs to hand on
      this.#holders?.delete(key);
      return [];
    }
    const byKey = (this.#holders ??= new Map<string, Map<number, Milliseconds>>());
    let holders = byKey.get(key);
    // the first round for an item finds its k closest as they were when it came (holding it, as a rule)
    const firstRound = holders === undefined;
    if (holders === undefined) byKey.set(key, (holders = new Map<number, Milliseconds>()));
    const current = new Set(closest.map((c) => fingerprint(c.id)));
    for (const f of holders.keys()) if (!current.has(f)) holders.delete(f);
    const now = clock.now();
    const closer = (c: Contact): boolean => compareDistance(entry.target, c.id, id) < 0;
    // the closest node of all (by its table) renews every copy; the others look after the nodes
    // they do not know to hold it, and ask again, now and then, those closer than themselves
    const closestOfAll = !closest.some(closer);
    const known = holders;
    const tasks: Task[] = [];
    for (const contact of closest) {
      const until = known.get(fingerprint(contact.id));
      const due = until === undefined || (until <= now && (closestOfAll || closer(contact)));
      // a contact that entered the k closest since the first round may hold an old copy: renewed
      const renew = closestOfAll || (until === undefined && !firstRound);
      if (due) tasks.push({ stack, contact, entry, holders: known, renew });
    }
    return tasks;
  }

  /** `get` (token, and whether it holds the item already), then `put` of the stored bytes. */
  async #replicate({ stack, contact, entry, holders, renew }: Task): Promise<void> {
    const { counters, id, lifetime } = this.#ctx;
    const { item, target } = entry;
    let v: BencodeValue;
    try {
      v = bdecode(item.v);
    } catch {
      return; // a corrupt record of a shared registry: nothing to replicate
    }
    try {
      await this.#spend(1);
      const { values } = await stack.query(contact, 'get', writeGetArgs({ id, target }), lifetime);
      const holds = item.mutable ? values.seq !== undefined && values.seq >= item.seq : values.v !== undefined;
      // a newer seq there: our put would be refused, and the newer item is not ours to renew
      const newer = item.mutable && values.seq !== undefined && values.seq > item.seq;
      if ((holds && !renew) || newer) {
        this.#trust(holders, contact);
        return;
      }
      if (values.token === undefined) return;
      const token = values.token;
      const args = item.mutable
        ? writePutArgs({
            kind: 'mutable',
            id,
            token,
            v,
            k: item.k,
            sig: item.sig,
            seq: item.seq,
            ...(item.salt.length === 0 ? {} : { salt: item.salt }),
          })
        : writePutArgs({ kind: 'immutable', id, token, v });
      await this.#spend(1);
      await stack.query(contact, 'put', args, lifetime);
      this.#trust(holders, contact);
      counters.replicated++;
    } catch (error) {
      lifetime.throwIfAborted();
      // silent: asked again next tick (a lost datagram) until it answers or, dead, leaves the
      // table and the round after that finds the next one; refusing: left alone
      if (isKadError(error, 'TIMEOUT')) this.#timedOut = true;
    }
  }

  /** Notes that `contact` holds the item, which this node counts on for a while. */
  #trust(holders: Map<number, Milliseconds>, contact: Contact): void {
    const { clock, storage } = this.#ctx;
    holders.set(fingerprint(contact.id), clock.now() + storage.itemTtlMs * HOLDER_TRUST_SHARE);
  }

  /** Waits until the budget allows `requests` more, then charges them. */
  async #spend(requests: number): Promise<void> {
    const { clock, counters, lifetime, options } = this.#ctx;
    while (this.#budget.available() < requests) {
      await sleep(clock, Math.ceil(60_000 / options.replicateRequestsPerMinute), lifetime);
    }
    this.#budget.charge(requests);
    counters.replicationRequests += requests;
  }
}

/** The first 32 bits of an id: enough to tell the k closest of a target apart. */
function fingerprint(id: NodeId): number {
  return (((id[0] as number) << 24) | ((id[1] as number) << 16) | ((id[2] as number) << 8) | (id[3] as number)) >>> 0;
}
