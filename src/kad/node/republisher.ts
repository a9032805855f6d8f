import type { Milliseconds } from '../../core/clock.js';
import { isKadError, KadError } from '../errors.js';
import type { MaintenanceContext } from './maintenance-context.js';
import type { Publication } from './publications.js';

/** Longest wait before a failed republish is tried again, ms. */
const MAX_RETRY_MS: Milliseconds = 5 * 60_000;

/**
 * Keeps alive what this node published: each tick it puts again the items due (every
 * `republishMs`, exactly as stored: a mutable item keeps its `seq` and signature, so no secret
 * key is needed) and announces again the info-hashes due (every `reannounceMs`, before the
 * storing nodes forget the peer), one at a time. A failure is tried again a few minutes later;
 * an item the nodes refuse because they hold a newer one under the same key (`SEQ_TOO_LOW`,
 * `CAS_MISMATCH`) is no longer republished. Both end with `event: republish:failed`.
 * @internal
 */
export class Republisher {
  readonly #ctx: MaintenanceContext;
  #running = false;

  constructor(ctx: MaintenanceContext) {
    this.#ctx = ctx;
  }

  /** Starts republishing what is due unless a previous round still runs. */
  tick(): void {
    const { counters, publications } = this.#ctx;
    if (this.#running || counters.offline) return;
    const due = publications.due();
    if (due.length === 0) return;
    this.#running = true;
    this.#run(due)
      .catch(() => undefined) // closing aborts it
      .finally(() => {
        this.#running = false;
      });
  }

  async #run(due: readonly Publication[]): Promise<void> {
    const { counters, lifetime } = this.#ctx;
    for (const entry of due) {
      if (lifetime.aborted || counters.offline) return;
      try {
        await this.#publish(entry);
        this.#ctx.publications.published(entry);
      } catch (error) {
        lifetime.throwIfAborted();
        this.#failed(entry, error);
      }
    }
  }

  async #publish(entry: Publication): Promise<void> {
    const { counters, dht } = this.#ctx;
    if (entry.kind === 'item') {
      const result = await dht.put(entry.item);
      counters.republishRequests += result.queried + result.storedOn.length + result.failed.length;
      counters.republished++;
      return;
    }
    const options = entry.impliedPort ? { impliedPort: true, port: entry.port } : { port: entry.port };
    const result = await dht.announce(entry.infoHash, options);
    counters.republishRequests += result.queried + result.storedOn.length + result.failed.length;
    counters.reannounced++;
  }

  #failed(entry: Publication, cause: unknown): void {
    const { clock, counters, emit, options, publications } = this.#ctx;
    const error = cause instanceof KadError ? cause : KadError.notStored('republish failed', cause);
    counters.republishFailed++;
    const superseded = isKadError(error, 'SEQ_TOO_LOW') || isKadError(error, 'CAS_MISMATCH');
    if (superseded) publications.remove(entry);
    else {
      const interval = entry.kind === 'item' ? options.republishMs : options.reannounceMs;
      publications.postpone(entry, clock.now() + Math.min(MAX_RETRY_MS, interval));
    }
    emit('republish:failed', { publication: entry, error, outcome: superseded ? 'dropped' : 'postponed' });
  }
}
