import type { Listener } from '../../core/emitter.js';
import { type Clock, type Milliseconds, systemClock } from '../../core/clock.js';
import { RegistryError, type RegistryErrorCode } from '../../registry/errors.js';
import type { RegistryEvents } from '../../registry/events.js';
import type {
  DeleteOptions,
  OperationOptions,
  Registry,
  RegistryChange,
  RegistryRecord,
  RestoreOptions,
  RestoreResult,
  ScanOptions,
  SetEntry,
  SetOptions,
  WatchOptions,
} from '../../registry/registry.js';

/** The operations of a {@link Registry} a fault can target (`close` is never faulted). */
export type FaultOperation =
  | 'get'
  | 'has'
  | 'set'
  | 'delete'
  | 'touch'
  | 'getMany'
  | 'setMany'
  | 'deleteMany'
  | 'scan'
  | 'size'
  | 'clear'
  | 'restore';

/** Every {@link FaultOperation}. */
export const FAULT_OPERATIONS: readonly FaultOperation[] = Object.freeze([
  'get',
  'has',
  'set',
  'delete',
  'touch',
  'getMany',
  'setMany',
  'deleteMany',
  'scan',
  'size',
  'clear',
  'restore',
]);

/** A fault to inject into calls of a {@link FaultRegistry}. */
export type Fault =
  /** Reject at once with a `RegistryError` of `code` (default `BACKEND_UNAVAILABLE`); nothing reaches the backend. */
  | { readonly type: 'error'; readonly code?: RegistryErrorCode }
  /**
   * Never answer: the call stays pending until the caller's signal aborts (rejecting with its
   * reason) or the fault is healed (the call then proceeds to the backend).
   */
  | { readonly type: 'hang' }
  /** Wait `ms` on the injected clock, then proceed to the backend. The caller's signal still aborts. */
  | { readonly type: 'latency'; readonly ms: Milliseconds };

/** Injected collaborators of a {@link FaultRegistry}. */
export interface FaultRegistryDeps {
  /** Time source for `latency` faults. @default systemClock */
  readonly clock?: Clock;
}

/**
 * A {@link Registry} wrapper that injects faults a real backend rarely produces on demand:
 * errors, hangs and slow responses, per operation kind, switchable at runtime. Everything else
 * (and every event) is the wrapped registry's.
 *
 * @example
 * const shard = new FaultRegistry(new MemoryRegistry(), { clock });
 * shard.inject({ type: 'hang' });          // every operation hangs until its deadline
 * shard.inject({ type: 'error' }, ['set']); // writes fail with BACKEND_UNAVAILABLE
 * shard.heal();                             // back to normal; hung calls proceed
 */
export class FaultRegistry implements Registry {
  readonly #inner: Registry;
  readonly #clock: Clock;
  readonly #faults = new Map<FaultOperation, Fault>();
  readonly #hung = new Set<() => void>();
  readonly #calls = new Map<FaultOperation, number>();

  /** Present only when the wrapped registry has `restore`; faultable as `'restore'`. */
  declare readonly restore?: (record: RegistryRecord, options?: RestoreOptions) => Promise<RestoreResult>;
  /** Present only when the wrapped registry has `watch`; the wrapped feed, never faulted. */
  declare readonly watch?: (options?: WatchOptions) => AsyncIterableIterator<RegistryChange>;
  /** Present with `watch`: the wrapped registry's, never faulted. */
  declare readonly cursor?: (options?: OperationOptions) => Promise<string>;

  constructor(inner: Registry, deps: FaultRegistryDeps = {}) {
    this.#inner = inner;
    this.#clock = deps.clock ?? systemClock;
    if (typeof inner.restore === 'function') {
      const restore = inner.restore.bind(inner);
      Object.defineProperty(this, 'restore', {
        value: async (record: RegistryRecord, options?: RestoreOptions): Promise<RestoreResult> => {
          await this.#gate('restore', options?.signal);
          return restore(record, options);
        },
      });
    }
    if (typeof inner.watch === 'function' && typeof inner.cursor === 'function') {
      Object.defineProperty(this, 'watch', { value: inner.watch.bind(inner) });
      Object.defineProperty(this, 'cursor', { value: inner.cursor.bind(inner) });
    }
  }

  /** The wrapped registry. */
  get inner(): Registry {
    return this.#inner;
  }

  /** Injects `fault` into `operations` (default: all of them), replacing any fault they had. */
  inject(fault: Fault, operations: readonly FaultOperation[] = FAULT_OPERATIONS): this {
    for (const op of operations) this.#faults.set(op, fault);
    return this;
  }

  /** Removes the faults of `operations` (default: all) and lets their hung calls proceed. */
  heal(operations: readonly FaultOperation[] = FAULT_OPERATIONS): this {
    for (const op of operations) this.#faults.delete(op);
    const hung = [...this.#hung];
    this.#hung.clear();
    for (const release of hung) release();
    return this;
  }

  /** The fault currently injected into `operation`, if any. */
  faultOf(operation: FaultOperation): Fault | undefined {
    return this.#faults.get(operation);
  }

  /** How many calls of `operation` arrived (faulted or not) since construction. */
  calls(operation: FaultOperation): number {
    return this.#calls.get(operation) ?? 0;
  }

  async get(key: string, options?: OperationOptions): Promise<RegistryRecord | undefined> {
    await this.#gate('get', options?.signal);
    return this.#inner.get(key, options);
  }

  async has(key: string, options?: OperationOptions): Promise<boolean> {
    await this.#gate('has', options?.signal);
    return this.#inner.has(key, options);
  }

  async set(key: string, value: Uint8Array, options?: SetOptions): Promise<RegistryRecord> {
    await this.#gate('set', options?.signal);
    return this.#inner.set(key, value, options);
  }

  async delete(key: string, options?: DeleteOptions): Promise<boolean> {
    await this.#gate('delete', options?.signal);
    return this.#inner.delete(key, options);
  }

  async touch(key: string, ttlMs: Milliseconds, options?: OperationOptions): Promise<boolean> {
    await this.#gate('touch', options?.signal);
    return this.#inner.touch(key, ttlMs, options);
  }

  async getMany(keys: readonly string[], options?: OperationOptions): Promise<(RegistryRecord | undefined)[]> {
    await this.#gate('getMany', options?.signal);
    return this.#inner.getMany(keys, options);
  }

  async setMany(entries: readonly SetEntry[], options?: OperationOptions): Promise<RegistryRecord[]> {
    await this.#gate('setMany', options?.signal);
    return this.#inner.setMany(entries, options);
  }

  async deleteMany(keys: readonly string[], options?: OperationOptions): Promise<number> {
    await this.#gate('deleteMany', options?.signal);
    return this.#inner.deleteMany(keys, options);
  }

  async *scan(options?: ScanOptions): AsyncIterableIterator<RegistryRecord> {
    await this.#gate('scan', options?.signal);
    yield* this.#inner.scan(options);
  }

  async size(options?: OperationOptions): Promise<number> {
    await this.#gate('size', options?.signal);
    return this.#inner.size(options);
  }

  async clear(options?: OperationOptions): Promise<void> {
    await this.#gate('clear', options?.signal);
    return this.#inner.clear(options);
  }

  /** Closes the wrapped registry (never faulted) and releases hung calls. */
  async close(options?: OperationOptions): Promise<void> {
    this.heal();
    return this.#inner.close(options);
  }

  on<E extends keyof RegistryEvents>(event: E, listener: Listener<RegistryEvents[E]>): this {
    this.#inner.on(event, listener);
    return this;
  }

  off<E extends keyof RegistryEvents>(event: E, listener: Listener<RegistryEvents[E]>): this {
    this.#inner.off(event, listener);
    return this;
  }

  /** Applies the fault of `op`, if any: rejects, hangs or delays before the call proceeds. */
  async #gate(op: FaultOperation, signal: AbortSignal | undefined): Promise<void> {
    this.#calls.set(op, (this.#calls.get(op) ?? 0) + 1);
    const fault = this.#faults.get(op);
    if (fault === undefined) return;
    signal?.throwIfAborted();
    if (fault.type === 'error') {
      const code = fault.code ?? 'BACKEND_UNAVAILABLE';
      throw new RegistryError(code, `injected fault: ${op} failed with ${code}`);
    }
    await new Promise<void>((resolve, reject) => {
      let timer: { cancel(): void } | undefined;
      const done = (): void => {
        this.#hung.delete(done);
        timer?.cancel();
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      const onAbort = (): void => {
        this.#hung.delete(done);
        timer?.cancel();
        reject(signal?.reason as Error);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      if (fault.type === 'hang') this.#hung.add(done);
      else timer = this.#clock.setTimeout(done, fault.ms);
    });
  }
}
