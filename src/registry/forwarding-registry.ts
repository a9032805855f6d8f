import type { Milliseconds } from '../core/clock.js';
import type { Listener } from '../core/emitter.js';
import type { RegistryEvents } from './events.js';
import type {
  DeleteOptions,
  OperationOptions,
  Registry,
  RegistryRecord,
  ScanOptions,
  SetEntry,
  SetOptions,
} from './registry.js';

/**
 * A registry that hands every call to the one it wraps, events included: the base of the
 * wrappers (signed, audited, tiered), which override what they change. `restore` is not
 * forwarded: a wrapper defines it only when the wrapped registry has it.
 */
export abstract class ForwardingRegistry implements Registry<Uint8Array> {
  /** The registry underneath. */
  protected readonly inner: Registry<Uint8Array>;

  protected constructor(inner: Registry<Uint8Array>) {
    this.inner = inner;
  }

  /** The registry underneath. */
  get backend(): Registry<Uint8Array> {
    return this.inner;
  }

  get(key: string, options?: OperationOptions): Promise<RegistryRecord | undefined> {
    return this.inner.get(key, options);
  }

  has(key: string, options?: OperationOptions): Promise<boolean> {
    return this.inner.has(key, options);
  }

  set(key: string, value: Uint8Array, options?: SetOptions): Promise<RegistryRecord> {
    return this.inner.set(key, value, options);
  }

  delete(key: string, options?: DeleteOptions): Promise<boolean> {
    return this.inner.delete(key, options);
  }

  touch(key: string, ttlMs: Milliseconds, options?: OperationOptions): Promise<boolean> {
    return this.inner.touch(key, ttlMs, options);
  }

  getMany(keys: readonly string[], options?: OperationOptions): Promise<(RegistryRecord | undefined)[]> {
    return this.inner.getMany(keys, options);
  }

  setMany(entries: readonly SetEntry[], options?: OperationOptions): Promise<RegistryRecord[]> {
    return this.inner.setMany(entries, options);
  }

  deleteMany(keys: readonly string[], options?: OperationOptions): Promise<number> {
    return this.inner.deleteMany(keys, options);
  }

  scan(options?: ScanOptions): AsyncIterableIterator<RegistryRecord> {
    return this.inner.scan(options);
  }

  size(options?: OperationOptions): Promise<number> {
    return this.inner.size(options);
  }

  clear(options?: OperationOptions): Promise<void> {
    return this.inner.clear(options);
  }

  close(options?: OperationOptions): Promise<void> {
    return this.inner.close(options);
  }

  on<E extends keyof RegistryEvents>(event: E, listener: Listener<RegistryEvents[E]>): this {
    this.inner.on(event, listener);
    return this;
  }

  off<E extends keyof RegistryEvents>(event: E, listener: Listener<RegistryEvents[E]>): this {
    this.inner.off(event, listener);
    return this;
  }
}
