import type { Timer } from '../../core/clock.js';
import type { FirewallWatch } from './firewall-watch.js';
import type { MaintenanceContext } from './maintenance-context.js';
import type { MaintenanceStats } from './maintenance-types.js';
import { Replicator } from './replicator.js';
import { Republisher } from './republisher.js';
import { RequestBudget } from './request-budget.js';
import { TableUpkeep } from './table-upkeep.js';

/**
 * The background upkeep of a node, on its clock: one timer, every `tickMs` (the first at a
 * point of the first interval its id picks), hands each part its turn; each part runs at most one
 * round at a time, so a slow round (a lookup on a lossy network) delays only itself.
 *
 * - table upkeep (table-upkeep.ts): liveness pings, refresh and self lookups, offline detection
 *   and recovery, within `requestsPerMinute`;
 * - republishing (republisher.ts) of what the node published;
 * - replication (replicator.ts) of what it stores for others, within `replicateRequestsPerMinute`;
 * - the firewall check (firewall-watch.ts, BEP 43).
 *
 * Everything stops when the node closes (its lifetime signal aborts) or on {@link stop}.
 * @internal
 */
export class Maintenance {
  readonly #ctx: MaintenanceContext;
  readonly #watch: FirewallWatch;
  readonly #upkeep: TableUpkeep;
  readonly #republisher: Republisher;
  readonly #replicator: Replicator;
  #timer: Timer | undefined;

  constructor(ctx: MaintenanceContext, watch: FirewallWatch) {
    this.#ctx = ctx;
    this.#watch = watch;
    const { clock, options } = ctx;
    this.#upkeep = new TableUpkeep(ctx, new RequestBudget(options.requestsPerMinute, clock));
    this.#republisher = new Republisher(ctx);
    this.#replicator = new Replicator(ctx, new RequestBudget(options.replicateRequestsPerMinute, clock));
    // the first tick at a point of [0.5, 1.5) intervals taken from the id: nodes started together
    // do not act together, and a network of the same ids behaves the same on every run
    const spread = ((ctx.id[0] ?? 0) * 256 + (ctx.id[1] ?? 0)) / 65_536;
    if (options.enabled) this.#schedule(Math.ceil(options.tickMs * (0.5 + spread)));
  }

  /** The counters and states of maintenance. */
  stats(): MaintenanceStats {
    return { ...this.#ctx.counters };
  }

  /** Cancels the timer; rounds in flight end with the node's lifetime. Idempotent. */
  stop(): void {
    this.#timer?.cancel();
    this.#timer = undefined;
  }

  #schedule(delayMs: number): void {
    this.#timer = this.#ctx.clock.setTimeout(() => this.#tick(), delayMs);
  }

  #tick(): void {
    const { lifetime, options, stacks } = this.#ctx;
    this.#timer = undefined;
    if (lifetime.aborted) return;
    this.#schedule(options.tickMs);
    this.#watch.check(stacks.some((stack) => stack.table.size > 0));
    this.#upkeep.tick();
    this.#replicator.tick();
    this.#republisher.tick();
  }
}
