import type { SetEntry } from '../registry.js';
import type { RecordStore, WriteManyResult } from './record-store.js';

type Deferred<T> = { resolve: (value: T) => void; reject: (error: unknown) => void };

/**
 * Coalesces single-key `get`s and unconditional `set`s issued in the same tick into one batch,
 * sent on the next microtask: 100 concurrent `get`s cost one `MGET` (or, in a cluster, one read
 * script per master) instead of 100 `GET`s, and 100 `set`s one write script per server instead
 * of 100 (about 1.5–2× the throughput on a standalone server, for no added latency). Each
 * operation keeps its own deadline, result and error.
 *
 * Never reorders: only one batch (reads or writes) is open at a time; an operation of the other
 * kind, or any operation sent directly ({@link flush} first), sends the open batch first, so
 * commands reach each server in the order they were issued.
 */
export class Coalescer {
  readonly #store: RecordStore;
  readonly #grace: string;
  #kind: 'read' | 'write' | undefined;
  #generation = 0;
  #keys: string[] = [];
  #reads: Promise<(Buffer | null)[]> | undefined;
  #readDeferred: Deferred<(Buffer | null)[]> | undefined;
  #entries: SetEntry[] = [];
  #now = 0;
  #writes: Promise<WriteManyResult> | undefined;
  #writeDeferred: Deferred<WriteManyResult> | undefined;

  constructor(store: RecordStore, grace: string) {
    this.#store = store;
    this.#grace = grace;
  }

  /** Queues a read of `key`; `replies[index]` will be its stored bytes (or null). */
  read(key: string): { replies: Promise<(Buffer | null)[]>; index: number } {
    if (this.#kind === 'write') this.flush();
    if (this.#reads === undefined) {
      this.#reads = new Promise((resolve, reject) => {
        this.#readDeferred = { resolve, reject };
      });
      this.#open('read');
    }
    return { replies: this.#reads, index: this.#keys.push(key) - 1 };
  }

  /**
   * Queues an unconditional write; `result.replies[index]` will be its reply. `now` is the time
   * of the batch (taken from the clock by the first write of the tick).
   */
  write(entry: SetEntry, now: () => number): { result: Promise<WriteManyResult>; index: number; now: number } {
    if (this.#kind === 'read') this.flush();
    if (this.#writes === undefined) {
      this.#writes = new Promise((resolve, reject) => {
        this.#writeDeferred = { resolve, reject };
      });
      this.#now = now();
      this.#open('write');
    }
    return { result: this.#writes, index: this.#entries.push(entry) - 1, now: this.#now };
  }

  /** Sends the open batch now, if any. */
  flush(): void {
    const kind = this.#kind;
    if (kind === undefined) return;
    this.#kind = undefined;
    this.#generation++;
    if (kind === 'read') this.#flushReads();
    else this.#flushWrites();
  }

  #open(kind: 'read' | 'write'): void {
    this.#kind = kind;
    const generation = this.#generation;
    queueMicrotask(() => {
      if (this.#generation === generation) this.flush();
    });
  }

  #flushReads(): void {
    const keys = this.#keys;
    const deferred = this.#readDeferred as Deferred<(Buffer | null)[]>;
    this.#keys = [];
    this.#reads = undefined;
    this.#readDeferred = undefined;
    try {
      const { groups, replies } = this.#store.mget(keys);
      replies.then((byGroup) => {
        // one group holds every key, in order
        if (byGroup.length === 1) return deferred.resolve(byGroup[0] as (Buffer | null)[]);
        const out = new Array<Buffer | null>(keys.length);
        for (let g = 0; g < groups.length; g++) {
          const group = groups[g] as number[];
          const reply = byGroup[g] as (Buffer | null)[];
          for (let j = 0; j < group.length; j++) out[group[j] as number] = reply[j] ?? null;
        }
        deferred.resolve(out);
      }, deferred.reject);
    } catch (error) {
      deferred.reject(error);
    }
  }

  #flushWrites(): void {
    const entries = this.#entries;
    const deferred = this.#writeDeferred as Deferred<WriteManyResult>;
    this.#entries = [];
    this.#writes = undefined;
    this.#writeDeferred = undefined;
    this.#store.writeMany(entries, this.#now, this.#grace).then(deferred.resolve, deferred.reject);
  }
}
