import { sleep } from '../../core/pacing.js';
import { compareDistance, idToHex, type NodeId } from '../id.js';
import type { StoredItemEntry } from '../serve/storage.js';
import { bdecode, type BencodeValue } from '../wire/bencode.js';
import type { AddressFamily, Contact } from '../wire/compact.js';
import { writeGetArgs, writePutArgs } from '../wire/krpc-args.js';
import type { FamilyStack } from './family-stack.js';
import type { MaintenanceContext } from './maintenance-context.js';
import type { RequestBudget } from './request-budget.js';

/** Table changes remembered between rounds; beyond it a round treats every item as changed. */
const MAX_CHANGES = 256;

/** Contacts that entered or left the tables since the last round, per family and id. */
interface Changes {
  readonly joined: Map<AddressFamily, Map<string, Contact>>;
  readonly left: Map<AddressFamily, Map<string, Contact>>;
  overflow: boolean;
  count: number;
}

/** One put to do: a stored item onto a node that became one of its k closest. */
interface Task {
  readonly stack: FamilyStack;
  readonly contact: Contact;
  readonly entry: StoredItemEntry;
}

/**
 * Replication of the items this node stores for others (Kademlia §2.5, the "redistributing
 * lost data" of the seed): the routing tables report contacts that came and went; on the next
 * tick, for every stored item this node is one of the k closest to (by its own table), the
 * nodes that are now among the item's k closest and were not before (a closer node joined, or
 * one of the k closest left) get it: a `get` first (for the write token, and to skip a node that
 * already holds it or a newer one), then the `put`, signed bytes unchanged. Only items re-put by
 * their publisher within the last half of their lifetime, so an abandoned item still expires;
 * never announcements (a node cannot announce a peer on its behalf). Within a budget of
 * requests per minute. @internal
 */
export class Replicator {
  readonly #ctx: MaintenanceContext;
  readonly #budget: RequestBudget;
  #changes: Changes = emptyChanges();
  #running = false;

  constructor(ctx: MaintenanceContext, budget: RequestBudget) {
    this.#ctx = ctx;
    this.#budget = budget;
    if (!ctx.options.replicate) return;
    for (const stack of ctx.stacks) {
      const { family } = stack;
      stack.table.table.on('node:added', (contact) => this.#note('joined', family, contact));
      stack.table.table.on('node:removed', ({ contact }) => this.#note('left', family, contact));
    }
  }

  /** Starts a replication round if the tables changed since the last one and none runs. */
  tick(): void {
    const { counters, options } = this.#ctx;
    if (!options.replicate || this.#running || counters.offline || this.#changes.count === 0) return;
    const changes = this.#changes;
    this.#changes = emptyChanges();
    this.#running = true;
    this.#round(changes)
      .catch(() => undefined) // closing aborts it
      .finally(() => {
        this.#running = false;
      });
  }

  #note(kind: 'joined' | 'left', family: AddressFamily, contact: Contact): void {
    const changes = this.#changes;
    if (changes.overflow) return;
    const key = idToHex(contact.id);
    // a contact that came and went (or went and came back) since the last round changed nothing
    const other = changes[kind === 'joined' ? 'left' : 'joined'].get(family);
    if (other?.delete(key) === true) {
      changes.count--;
      return;
    }
    let list = changes[kind].get(family);
    if (list === undefined) changes[kind].set(family, (list = new Map<string, Contact>()));
    list.set(key, { id: contact.id, host: contact.host, port: contact.port });
    if (++changes.count > MAX_CHANGES) {
      this.#changes = { ...emptyChanges(), overflow: true, count: 1 };
    }
  }

  async #round(changes: Changes): Promise<void> {
    const { clock, lifetime, stacks, storage } = this.#ctx;
    const freshFor = storage.itemTtlMs / 2;
    const tasks: Task[] = [];
    const now = clock.now();
    for await (const entry of storage.items({ signal: lifetime })) {
      if (entry.expiresAt !== undefined && entry.expiresAt - now < freshFor) continue;
      for (const stack of stacks) {
        for (const contact of this.#entrants(stack, entry.target, changes)) tasks.push({ stack, contact, entry });
      }
    }
    for (const task of tasks) await this.#replicate(task);
  }

  /** The contacts of `stack` that became one of the k closest to `target`; none unless this node is one. */
  #entrants(stack: FamilyStack, target: NodeId, changes: Changes): Contact[] {
    const { id, k } = this.#ctx;
    const table = stack.table.table;
    const closest: Contact[] = table.closest(target, k);
    const last = closest[k - 1];
    if (last !== undefined && compareDistance(target, last.id, id) < 0) return []; // k nodes are closer than us
    if (changes.overflow) return closest;
    const joined = changes.joined.get(stack.family);
    const left = changes.left.get(stack.family);
    if ((joined?.size ?? 0) === 0 && (left?.size ?? 0) === 0) return [];
    // the k closest as they were: today's without the newcomers, with those that left
    const before = (table.closest(target, 2 * k) as Contact[])
      .filter((c) => joined?.has(idToHex(c.id)) !== true)
      .concat(left === undefined ? [] : [...left.values()])
      .sort((a, b) => compareDistance(target, a.id, b.id))
      .slice(0, k);
    const was = new Set(before.map((c) => idToHex(c.id)));
    return closest.filter((c) => !was.has(idToHex(c.id)));
  }

  /** `get` (token, and whether it holds the item already), then `put` of the stored bytes. */
  async #replicate({ stack, contact, entry }: Task): Promise<void> {
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

function emptyChanges(): Changes {
  return { joined: new Map(), left: new Map(), overflow: false, count: 0 };
}
