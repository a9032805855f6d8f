import type { Milliseconds } from '../../core/clock.js';
import { boolean, integerAtLeast, optionError, positiveOrInfinite } from '../option-checks.js';
import { DEFAULT_PUBLICATIONS_OPTIONS, type PublicationsOptions } from './publications.js';

/**
 * Background upkeep of a node, all on its clock: refreshing and checking its routing table,
 * republishing what it published, replicating what it stores for others, and watching whether
 * it is reachable (BEP 43). Every field is optional.
 */
export interface MaintenanceOptions extends PublicationsOptions {
  /**
   * Run maintenance at all. Off, the node does none of it: no refresh, no liveness pings, no
   * republishing, no replication, no firewall check (what `put`/`announce` stored is still
   * recorded, see `node.published()`).
   * @default true
   */
  readonly enabled?: boolean;
  /**
   * How often maintenance looks at the table, the publications and the stored items, ms. Work
   * found due is done then, within the budgets; the first look comes at a point of the
   * first interval, so nodes started together do not act together.
   * @default 60_000 (1 minute)
   */
  readonly tickMs?: Milliseconds;
  /**
   * A bucket whose contacts have neither answered nor changed for this long is refreshed with a
   * lookup of a random id in its range, ms (a contact that answers a liveness ping keeps its
   * bucket fresh, so a healthy bucket costs no lookup).
   * @default 900_000 (15 minutes)
   * @see BEP 5 "Routing Table"
   */
  readonly refreshMs?: Milliseconds;
  /**
   * How often the node looks up its own id, ms: it finds the nodes that joined near it and
   * makes them learn of it.
   * @default 1_800_000 (30 minutes)
   */
  readonly selfLookupMs?: Milliseconds;
  /**
   * Budget of table upkeep (liveness pings, refresh and self lookups), in requests per minute:
   * work beyond it waits for a later tick (counted as `stats().maintenance.deferred`). A lookup
   * is charged the queries it sent, so one may overdraw the budget by its own size.
   * @default 60
   */
  readonly requestsPerMinute?: number;
  /**
   * Replicate the items this node stores for others (BEP 44 items only; announcements cannot
   * be made on another's behalf): when a node closer to an item's target than its k-th closest
   * joins, or one of the k closest goes, the item is put, signed bytes unchanged, on the nodes
   * that became its k closest (a `get` first, for the token and to skip nodes that hold it).
   * The node closest to an item also renews the copies of its k closest every half hour (while
   * the tables change), which mends what a republish on a lossy network missed. Only items with
   * at least a quarter of their lifetime left (30 of the 120 minutes) are replicated; a copy
   * starts a lifetime of its own (BEP 44 carries no expiry), so an item its publisher no longer
   * re-puts lives on while nodes keep joining next to its target, and is gone within about three
   * lifetimes where none does.
   * @default true
   */
  readonly replicate?: boolean;
  /** Budget of replication, in requests per minute (`get` and `put` each count one). @default 60 */
  readonly replicateRequestsPerMinute?: number;
  /**
   * A node that has contacts but receives no unsolicited query (one from an address it has not
   * sent to in the last 2 minutes, which a NAT would have let in) for this long is
   * `firewalled`: `stats().maintenance.firewalled` and the event `firewall:changed`. With
   * `readOnly: 'auto'` it then runs read-only (BEP 43), until an unsolicited query arrives.
   * `Infinity` turns the check off. Half an hour, because a node of a small quiet network may
   * go a quarter of an hour without a query it did not invite.
   * @default 1_800_000 (30 minutes)
   * @see BEP 43
   */
  readonly firewallCheckMs?: Milliseconds;
}

/** Defaults of {@link MaintenanceOptions}. */
export const DEFAULT_MAINTENANCE_OPTIONS = Object.freeze({
  ...DEFAULT_PUBLICATIONS_OPTIONS,
  enabled: true,
  tickMs: 60_000,
  refreshMs: 15 * 60_000,
  selfLookupMs: 30 * 60_000,
  requestsPerMinute: 60,
  replicate: true,
  replicateRequestsPerMinute: 60,
  firewallCheckMs: 30 * 60_000,
} satisfies Required<MaintenanceOptions>);

/** {@link MaintenanceOptions} with every default applied. @internal */
export type ResolvedMaintenanceOptions = Readonly<Required<MaintenanceOptions>>;

/**
 * Validates `options` (the node's `maintenance`) and applies the defaults; messages name
 * `maintenance.<field>`. @throws {KadError} `INVALID_OPTION`. @internal
 */
export function resolveMaintenanceOptions(options: MaintenanceOptions | undefined): ResolvedMaintenanceOptions {
  if (options === undefined) return DEFAULT_MAINTENANCE_OPTIONS;
  if (typeof options !== 'object' || options === null) throw optionError('maintenance', 'an object', options);
  const d = DEFAULT_MAINTENANCE_OPTIONS;
  const ms = (name: keyof MaintenanceOptions & `${string}Ms`): number =>
    integerAtLeast(`maintenance.${name}`, options[name], d[name], 1);
  const perMinute = (name: 'requestsPerMinute' | 'replicateRequestsPerMinute'): number =>
    positiveOrInfinite(`maintenance.${name}`, options[name], d[name]);
  const firewallCheckMs =
    options.firewallCheckMs === Number.POSITIVE_INFINITY ? Number.POSITIVE_INFINITY : ms('firewallCheckMs');
  return Object.freeze({
    republishMs: ms('republishMs'),
    reannounceMs: ms('reannounceMs'),
    enabled: boolean('maintenance.enabled', options.enabled, d.enabled),
    tickMs: ms('tickMs'),
    refreshMs: ms('refreshMs'),
    selfLookupMs: ms('selfLookupMs'),
    requestsPerMinute: perMinute('requestsPerMinute'),
    replicate: boolean('maintenance.replicate', options.replicate, d.replicate),
    replicateRequestsPerMinute: perMinute('replicateRequestsPerMinute'),
    firewallCheckMs,
  });
}
