import { isKadError } from '../errors.js';
import { ID_BITS, type NodeId } from '../id.js';
import type { LookupDoneEvent, LookupEvent } from '../lookup/events.js';
import type { Lookup } from '../lookup/lookup.js';
import type { RoutingTable } from '../routing/routing-table.js';
import type { RoutingContact } from '../routing/routing-types.js';
import type { Contact } from '../wire/compact.js';
import { writePingArgs } from '../wire/krpc-args.js';
import type { FamilyStack } from './family-stack.js';

/**
 * Saved contacts pinged at a warm start, per family. One from each bucket first: a quarter of
 * the network gone leaves all 8 dead about once in 65 000 restarts, and even when the part of
 * the network closest to us left, the contacts of the other buckets still answer.
 */
export const WARM_START_PINGS = 8;

/**
 * The lookup of a node's own id from `seeds` and its table (see `DhtOperations.selfLookup`);
 * `onStart` gets the lookup as soon as it exists, to feed it contacts that arrive later. @internal
 */
export type SelfLookup = (
  seeds: readonly Contact[],
  responded: readonly Contact[],
  signal: AbortSignal,
  onEvent?: (event: LookupEvent) => void,
  onStart?: (lookup: Lookup) => void,
) => Promise<LookupDoneEvent>;

/** What a warm start runs on. @internal */
export interface WarmStartInit {
  readonly id: NodeId;
  readonly stacks: readonly FamilyStack[];
  /** Aborted with `CLOSED` when the node closes. */
  readonly lifetime: AbortSignal;
  readonly selfLookup: SelfLookup;
}

/**
 * Joins through the contacts restored from saved state: a ping to up to {@link WARM_START_PINGS}
 * of them per family (spread over the buckets, most recently seen first), then a lookup of our
 * own id through the table. Resolves `true` at the first answer: the table is already full, so
 * the node is joined, and `ready` is not held by saved contacts that are gone (a silent one costs
 * a whole RPC timeout, 1.5 s before any RTT is known). The lookup starts at that first answer
 * (or once every ping failed, when it is the last chance) and goes on in the background,
 * refreshing the table and telling our neighbours we are back; started beside the pings, its
 * α `find_node`s would only compete with them for the first answer (their replies are the
 * bigger ones to make and to read). The pongs give the RPC layer its first RTT samples.
 * Resolves `false` when nothing answered; rejects only on close.
 * @internal
 */
export function warmStart(init: WarmStartInit): Promise<boolean> {
  const { lifetime, stacks } = init;
  return new Promise<boolean>((resolve, reject) => {
    let lookupStarted = false;
    const lookup = (): void => {
      if (lookupStarted) return;
      lookupStarted = true;
      init
        .selfLookup([], [], lifetime, (event) => {
          if (event.type === 'response') resolve(true);
        })
        .then(
          (done) => resolve(done.closest.length > 0),
          (error: unknown) => reject(error as Error),
        );
    };
    let pending = 0;
    const ping = writePingArgs({ id: init.id });
    for (const stack of stacks) {
      for (const contact of probes(stack.table.table, WARM_START_PINGS)) {
        pending++;
        stack.query(contact, 'ping', ping, lifetime, 0).then(
          () => {
            resolve(true);
            lookup();
          },
          (error: unknown) => {
            // silent: one failure towards bad, as a lookup counts it
            if (isKadError(error, 'TIMEOUT')) stack.table.table.markFailed(contact.id);
            if (--pending === 0) {
              if (lifetime.aborted) reject(lifetime.reason as Error);
              else lookup();
            }
          },
        );
      }
    }
    if (pending === 0) lookup();
  });
}

/** Up to `count` contacts of `table`: the most recently seen of each bucket, then the next ones. */
function probes(table: RoutingTable, count: number): RoutingContact[] {
  const buckets: (readonly RoutingContact[])[] = [];
  for (let i = 0; i < ID_BITS; i++) {
    const bucket = table.bucket(i);
    if (bucket.length > 0) buckets.push(bucket);
  }
  const out: RoutingContact[] = [];
  for (let depth = 1; out.length < count && buckets.some((b) => b.length >= depth); depth++) {
    for (const bucket of buckets) {
      const contact = bucket[bucket.length - depth];
      if (contact !== undefined && out.length < count) out.push(contact);
    }
  }
  return out;
}
