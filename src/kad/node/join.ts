import { setMaxListeners } from 'node:events';
import { raceAbort } from '../../core/abort.js';
import type { Clock, Milliseconds } from '../../core/clock.js';
import { sleep } from '../../core/pacing.js';
import { KadError } from '../errors.js';
import type { NodeId } from '../id.js';
import { type Endpoint, endpointKey } from '../transport/transport.js';
import { type AddressFamily, type Contact, familyOf } from '../wire/compact.js';
import { type Want, writeFindNodeArgs } from '../wire/krpc-args.js';
import { type BootstrapEntry, type HostResolver, parseBootstrapString } from './bootstrap-entries.js';
import { type FamilyStack, stackFor } from './family-stack.js';
import type { Lookup } from '../lookup/lookup.js';
import type { BootstrapRetryEvent } from './operation-types.js';
import { MAX_BOOTSTRAP_CONTACTS } from './options.js';
import { type SelfLookup, warmStart } from './warm-start.js';

/** What a {@link Join} runs on. @internal */
export interface JoinInit {
  readonly id: NodeId;
  readonly stacks: readonly FamilyStack[];
  readonly clock: Clock;
  /** Aborted with `CLOSED` when the node closes: joining stops. */
  readonly lifetime: AbortSignal;
  readonly resolver: HostResolver;
  /** Deadline of the bootstrap round of one attempt, ms (the self-lookup has the lookup deadline). */
  readonly timeoutMs: Milliseconds;
  /** Delay before the first retry, ms; it doubles on each failure, up to `retryMaxMs`. */
  readonly retryMs: Milliseconds;
  readonly retryMaxMs: Milliseconds;
  /** The lookup of this node's own id (see `DhtOperations.selfLookup`). */
  readonly selfLookup: SelfLookup;
  readonly onRetry: (event: BootstrapRetryEvent) => void;
  /**
   * The tables hold contacts saved by an earlier run: the node joins through them first, and the
   * bootstrap nodes are asked only if none of them answers.
   */
  readonly warm?: boolean;
}

/**
 * The Kademlia join of a node: a `find_node` for its own id to each bootstrap contact (at most
 * 32 per family, DNS names resolved), then, from the first answer on, an iterative lookup of its
 * own id (the answers that come later join it), which fills the routing table(s) with the nodes
 * closest to it and makes them learn of it. While nothing answers, it tries again after a delay that doubles up to a cap, on the
 * node's clock. A warm start (a table restored from saved state) joins through the saved
 * contacts first (see `warmStart`) and sends nothing to the bootstrap nodes unless none of them
 * answers.
 * @internal
 */
export class Join {
  /** Resolves with the contacts in the tables once the first attempt ended (never rejects). */
  readonly bootstrapped: Promise<number>;
  /** Resolves once a self-lookup finished through at least one live node; rejects with `CLOSED` on close. */
  readonly ready: Promise<void>;
  readonly #init: JoinInit;

  constructor(entries: readonly BootstrapEntry[], init: JoinInit) {
    this.#init = init;
    if (entries.length === 0 && init.warm !== true) {
      // nothing to join: a first node is ready at once
      this.bootstrapped = Promise.resolve(0);
      this.ready = Promise.resolve();
      return;
    }
    let first: (size: number) => void = () => undefined;
    this.bootstrapped = new Promise((resolve) => {
      first = resolve;
    });
    this.ready = this.#run(entries, first);
    this.ready.catch(() => undefined); // closing before ready is not an unhandled rejection
  }

  async #run(entries: readonly BootstrapEntry[], first: (size: number) => void): Promise<void> {
    const { clock, lifetime, retryMs, retryMaxMs } = this.#init;
    try {
      // a warm start: through the saved contacts (warm-start.ts); with no bootstrap node to fall
      // back on, a node whose saved contacts are all gone is ready after trying them, like a first node
      if (this.#init.warm === true && ((await warmStart(this.#init)) || entries.length === 0)) return;
      for (let attempt = 1; ; attempt++) {
        const reason = await this.#attempt(entries);
        if (attempt === 1) first(this.#size());
        if (reason === undefined) return;
        lifetime.throwIfAborted();
        const delayMs = Math.min(retryMaxMs, retryMs * 2 ** Math.min(attempt - 1, 30));
        this.#init.onRetry({ attempt, delayMs, reason });
        await sleep(clock, delayMs, lifetime);
      }
    } finally {
      first(this.#size());
    }
  }

  /** One attempt: `undefined` when it reached a live node, else why not. Rejects only on close. */
  async #attempt(entries: readonly BootstrapEntry[]): Promise<KadError | undefined> {
    const { clock, lifetime, timeoutMs } = this.#init;
    const deadline = new AbortController();
    const timer = clock.setTimeout(() => deadline.abort(KadError.timeout('bootstrap timed out')), timeoutMs);
    const signal = AbortSignal.any([deadline.signal, lifetime]);
    // one listener per concurrent call: up to MAX_BOOTSTRAP_CONTACTS per family at once
    setMaxListeners(2 * MAX_BOOTSTRAP_CONTACTS * this.#init.stacks.length + 8, signal);
    try {
      const endpoints = this.#perFamily(await this.#resolve(entries, signal));
      const responded: Contact[] = [];
      const seeds: Contact[] = [];
      // answers that come once the self-lookup runs go to it (a bootstrap node that answered
      // late is one it need not ask again)
      let late: Lookup | undefined;
      let answered: () => void = () => undefined;
      const firstAnswer = new Promise<void>((resolve) => {
        answered = resolve;
      });
      const want: Want[] | undefined = this.#init.stacks.length > 1 ? ['n4', 'n6'] : undefined;
      const args = writeFindNodeArgs({
        id: this.#init.id,
        target: this.#init.id,
        ...(want === undefined ? {} : { want }),
      });
      const asked = Promise.allSettled(
        endpoints.map(async (to) => {
          const { values, from } = await (this.#stackOf(to) as FamilyStack).query(to, 'find_node', args, signal);
          const contact: Contact = { id: values.id, host: from.host, port: from.port };
          const found = [...(values.nodes ?? []), ...(values.nodes6 ?? [])];
          if (late === undefined) {
            responded.push(contact);
            seeds.push(...found);
          } else late.addSeeds(found, [contact]);
          answered();
        }),
      );
      // the self-lookup starts at the first answer, not the slowest
      await Promise.race([firstAnswer, asked]);
      lifetime.throwIfAborted();
      // nodes that reached us meanwhile are in the table: the lookup may start from them as well
      if (responded.length === 0 && this.#size() === 0) {
        return KadError.noContacts(
          endpoints.length === 0
            ? 'no bootstrap entry gave an address of a family this node runs'
            : `none of the ${endpoints.length} bootstrap nodes answered`,
        );
      }
      const done = await this.#init.selfLookup(seeds, responded, lifetime, undefined, (lookup) => {
        late = lookup;
      });
      return done.closest.length > 0 ? undefined : KadError.noContacts('the lookup of our own id reached no live node');
    } finally {
      timer.cancel();
    }
  }

  /** The endpoints of `entries`, DNS names resolved (a name that fails to resolve is left out). */
  async #resolve(entries: readonly BootstrapEntry[], signal: AbortSignal): Promise<Endpoint[]> {
    const lists = await Promise.all(
      entries.map(async (entry): Promise<Endpoint[]> => {
        if (typeof entry !== 'string') return [entry];
        const parsed = parseBootstrapString(entry);
        if (!parsed.name) return [{ host: parsed.host, port: parsed.port }];
        try {
          const hosts = await raceAbort(this.#init.resolver(parsed.host), signal);
          return hosts.filter((host) => familyOf(host) !== undefined).map((host) => ({ host, port: parsed.port }));
        } catch {
          return [];
        }
      }),
    );
    return lists.flat();
  }

  /** Distinct endpoints of the families this node runs, at most {@link MAX_BOOTSTRAP_CONTACTS} per family. */
  #perFamily(endpoints: readonly Endpoint[]): Endpoint[] {
    const seen = new Set<string>();
    const counts = new Map<AddressFamily, number>();
    const out: Endpoint[] = [];
    for (const endpoint of endpoints) {
      const family = familyOf(endpoint.host);
      if (family === undefined || this.#stackOf(endpoint) === undefined) continue;
      const key = endpointKey(endpoint);
      const count = counts.get(family) ?? 0;
      if (seen.has(key) || count >= MAX_BOOTSTRAP_CONTACTS) continue;
      seen.add(key);
      counts.set(family, count + 1);
      out.push(endpoint);
    }
    return out;
  }

  #stackOf(endpoint: Endpoint): FamilyStack | undefined {
    return stackFor(this.#init.stacks, familyOf(endpoint.host));
  }

  #size(): number {
    return this.#init.stacks.reduce((sum, stack) => sum + stack.table.size, 0);
  }
}
