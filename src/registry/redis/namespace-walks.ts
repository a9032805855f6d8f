import type { Clock } from '../../core/clock.js';
import type { RegistryRecord } from '../registry.js';
import type { Coalescer } from './coalescer.js';
import type { Deadlines } from './deadlines.js';
import type { RecordReads } from './record-reads.js';
import type { Expired, RecordStore, WalkFetch } from './record-store.js';
import type { RecordWrites } from './record-writes.js';

/** What {@link NamespaceWalks} runs on: the parts of a `RedisRegistry`. @internal */
export interface NamespaceWalksDeps {
  readonly store: RecordStore;
  readonly reads: RecordReads;
  readonly writes: RecordWrites;
  readonly batcher: Coalescer;
  readonly deadlines: Deadlines;
  readonly clock: Clock;
  /** Throws unless the registry is open and `signal` not aborted. */
  readonly enter: (signal: AbortSignal | undefined) => void;
}

/**
 * The operations of a `RedisRegistry` that walk its whole namespace, page by page (`SCAN` on
 * every master): `scan`, `size` and `clear`, validated by the registry first. Every round trip
 * runs under the registry's deadline and the caller's signal, after the gets coalesced so far
 * are sent; the expired records a page meets are removed (with their events). @internal
 */
export class NamespaceWalks {
  readonly #deps: NamespaceWalksDeps;

  constructor(deps: NamespaceWalksDeps) {
    this.#deps = deps;
  }

  /** The live records under `prefix` (see `RedisRegistry.scan`). */
  async *scan(prefix: string, signal: AbortSignal | undefined): AsyncGenerator<RegistryRecord> {
    const { clock, reads, deadlines, enter } = this.#deps;
    for await (const page of this.#walk(prefix, 'GET', signal)) {
      const now = clock.now();
      const { live, expired } = reads.scanPage(page, now);
      if (expired.length > 0) await deadlines.run(reads.reap(expired, now), signal);
      for (const record of live) {
        enter(signal);
        yield record;
      }
    }
  }

  /** The number of live records (see `RedisRegistry.size`). */
  async size(signal: AbortSignal | undefined): Promise<number> {
    const { clock, reads, deadlines } = this.#deps;
    let count = 0;
    for await (const page of this.#walk('', 'GETRANGE', signal)) {
      const now = clock.now();
      const expired: Expired[] = [];
      count += reads.sizePage(page, now, expired);
      if (expired.length > 0) await deadlines.run(reads.reap(expired, now), signal);
    }
    return count;
  }

  /** Removes every record, each with reason `clear` (see `RedisRegistry.clear`). */
  async clear(signal: AbortSignal | undefined): Promise<void> {
    for await (const page of this.#walk('', undefined, signal)) {
      await this.#deps.writes.deleteMany(
        page.map(([key]) => key),
        'clear',
        signal,
      );
    }
  }

  /** Pages of the namespace under `prefix`, every round trip under the deadline and `signal`. */
  #walk(prefix: string, fetch: WalkFetch, signal: AbortSignal | undefined): AsyncGenerator<[string, Buffer | null][]> {
    const { store, batcher, deadlines, enter } = this.#deps;
    return store.walk(prefix, fetch, (work) => {
      enter(signal);
      batcher.flush();
      return deadlines.run(work(), signal);
    });
  }
}
