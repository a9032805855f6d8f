import { sleep } from '../../core/pacing.js';
import { compareDistance, idToHex, type NodeId } from '../id.js';
import type { StoredItemEntry } from '../serve/storage.js';
import { bdecode, type BencodeValue } from '../wire/bencode.js';
import type { Contact } from '../wire/compact.js';
import { writeGetArgs, writePutArgs } from '../wire/krpc-args.js';
import type { FamilyStack } from './family-stack.js';
import type { MaintenanceContext } from './maintenance-context.js';
import type { RequestBudget } from './request-budget.js';

/** One put to do: a stored item onto a node that is one of its k closest and may lack it. */
interface Task {
  readonly stack: FamilyStack;
  readonly contact: Contact;
  readonly entry: StoredItemEntry;
  /** What this node knows holds the item (in that family). */
  readonly holders: Set<number>;
}

/**
 * Replication of the items this node stores for others (Kademlia §2.5, the "redistributing
 * lost data" of the seed). After the routing tables changed (a contact came or went), the next
 * tick looks at every stored item this node is one of the k closest to (by its own table): each
 * of the item's k closest contacts not yet known to hold it (a closer node joined, or one of the
 * k closest left and the next one moved up) gets a `get` (for the write token, and to skip a
 * node that already holds it or a newer one), then a `put` of the stored bytes, signature
 * unchanged. What answered is remembered per item (a 32-bit fingerprint of each id), so a
 * stable neighbourhood costs nothing. Only items re-put by their publisher within the last half
 * of their lifetime, so an abandoned item still expires; never announcements (a node cannot
 * announce a peer on its behalf). Within a budget of requests per minute. @internal
 */
export class Replicator {
  readonly #ctx: MaintenanceContext;
  readonly #budget: RequestBudget;
  /** Per family and target: fingerprints of the contacts known to hold the item. */
  readonly #holders = new Map<string, Set<number>>();
  #dirty = false;
  #running = false;

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

  /** Starts a replication round if the tables changed since the last one and none runs. */
  tick(): void {
    const { counters, options } = this.#ctx;
    if (!options.replicate || this.#running || counters.offline || !this.#dirty) return;
    this.#dirty = false;
    this.#running = true;
    this.#round()
      .catch(() => undefined) // closing aborts it
      .finally(() => {
        this.#running = false;
      });
  }

  async #round(): Promise<void> {
    const { clock, lifetime, stacks, storage } = this.#ctx;
    const freshFor = storage.itemTtlMs / 2;
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
    for (const key of this.#holders.keys()) if (!seen.has(key)) this.#holders.delete(key);
    for (const task of tasks) await this.#replicate(task);
  }

  /** The k closest contacts of `stack` to the item not known to hold it; none unless this node is one of them. */
  #tasks(stack: FamilyStack, key: string, entry: StoredItemEntry): Task[] {
    const { id, k } = this.#ctx;
    const closest: Contact[] = stack.table.table.closest(entry.target, k);
    const last = closest[k - 1];
    if (last !== undefined && compareDistance(entry.target, last.id, id) < 0) {
      // k nodes are closer than us: theirs to hand on
      this.#holders.delete(key);
      return [];
    }
    let holders = this.#holders.get(key);
    if (holders === undefined) this.#holders.set(key, (holders = new Set()));
    const current = new Set(closest.map((c) => fingerprint(c.id)));
    for (const f of holders) if (!current.has(f)) holders.delete(f);
    const known = holders;
    return closest
      .filter((c) => !known.has(fingerprint(c.id)))
      .map((contact) => ({ stack, contact, entry, holders: known }));
  }

  /** `get` (token, and whether it holds the item already), then `put` of the stored bytes. */
  async #replicate({ stack, contact, entry, holders }: Task): Promise<void> {
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
      if (holds) holders.add(fingerprint(contact.id));
      if (holds || values.token === undefined) return;
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
      holders.add(fingerprint(contact.id));
      counters.replicated++;
    } catch {
      lifetime.throwIfAborted();
      // silent or refusing: a dead node leaves the table, and the round after that finds the next one
    }
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
