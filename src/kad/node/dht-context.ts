import type { Clock } from '../../core/clock.js';
import { KadError } from '../errors.js';
import type { NodeId, RandomBytes } from '../id.js';
import type { LookupDoneEvent } from '../lookup/events.js';
import type { ResolvedLookupOptions } from '../lookup/options.js';
import type { FamilyStack } from './family-stack.js';

/** What the DHT operations of a node run on. @internal */
export interface DhtContext {
  readonly id: NodeId;
  /** Bucket size: the number of closest nodes a lookup must hear from, and a store writes to, per family. */
  readonly k: number;
  readonly clock: Clock;
  /** One per family the node runs. */
  readonly stacks: readonly FamilyStack[];
  /** Aborted with `CLOSED` when the node closes. */
  readonly lifetime: AbortSignal;
  readonly options: ResolvedLookupOptions;
  /** Source of the random targets of bucket refreshes (`KadNodeOptions.randomBytes`), if not the CSPRNG. */
  readonly randomBytes?: RandomBytes | undefined;
}

/** The `NO_CONTACTS` error of a lookup that no node answered. @internal */
export function noContacts(done: LookupDoneEvent): KadError {
  return KadError.noContacts(
    done.queried === 0
      ? 'no node to ask: the routing table is empty (bootstrap first)'
      : `none of the ${done.queried} nodes asked answered`,
  );
}
