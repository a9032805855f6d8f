/** Why a record left a registry. */
export type RemovalReason =
  /** Removed by `delete`, `deleteMany` or a conditional delete. */
  | 'delete'
  /** Its deadline passed (found on access, by the sweeper, or under capacity pressure). */
  | 'expire'
  /** Pushed out as least recently used to respect `maxEntries` / `maxBytes`. */
  | 'evict'
  /** Removed by `clear()`. */
  | 'clear'
  /** Its only copy lived on a shard that was lost (sharded registries). */
  | 'shard-lost';

/** Payload of `record:set`: a record was created or overwritten. */
export interface RecordSetEvent {
  readonly key: string;
  /** The new version; 1 when the record was created. */
  readonly version: number;
  /** Absolute deadline in epoch ms, or `undefined` when the record does not expire. */
  readonly expiresAt: number | undefined;
}

/** Payload of `record:removed`: fired exactly once for every record that leaves the store. */
export interface RecordRemovedEvent {
  readonly key: string;
  readonly reason: RemovalReason;
  /** The version the record had when it was removed. */
  readonly version: number;
}

/** The events every registry emits. */
export interface RegistryEvents {
  'record:set': RecordSetEvent;
  'record:removed': RecordRemovedEvent;
}

/** A listener for one event of a map `M`. */
export type Listener<T> = (event: T) => void;

/**
 * A small typed event emitter. A listener that throws does not interrupt the operation that
 * emitted (the store stays consistent); its error is rethrown on a later microtask, where it
 * surfaces as an uncaught exception like any other bug.
 */
export class Emitter<M extends object> {
  readonly #listeners = new Map<keyof M, Listener<never>[]>();
  readonly #onListenerError: (error: unknown) => void;

  /** @param onListenerError where errors thrown by listeners go; default: rethrown on a microtask */
  constructor(onListenerError: (error: unknown) => void = rethrowAsync) {
    this.#onListenerError = onListenerError;
  }

  /** Adds `listener` for `event`. */
  on<E extends keyof M>(event: E, listener: Listener<M[E]>): this {
    const list = this.#listeners.get(event);
    // copy-on-write, so an emit in progress is not affected by (un)subscribing
    this.#listeners.set(event, list === undefined ? [listener] : [...list, listener]);
    return this;
  }

  /** Removes one registration of `listener` for `event`. */
  off<E extends keyof M>(event: E, listener: Listener<M[E]>): this {
    const list = this.#listeners.get(event);
    if (list === undefined) return this;
    const index = list.lastIndexOf(listener);
    if (index === -1) return this;
    const next = list.filter((_, i) => i !== index);
    if (next.length === 0) this.#listeners.delete(event);
    else this.#listeners.set(event, next);
    return this;
  }

  /** Adds a listener that removes itself after its first call. */
  once<E extends keyof M>(event: E, listener: Listener<M[E]>): this {
    const wrapper: Listener<M[E]> = (payload) => {
      this.off(event, wrapper);
      listener(payload);
    };
    return this.on(event, wrapper);
  }

  /** Number of listeners for `event`. */
  listenerCount(event: keyof M): number {
    return this.#listeners.get(event)?.length ?? 0;
  }

  /** Whether anything listens to `event`; cheap enough to guard building a payload. */
  protected listening(event: keyof M): boolean {
    return this.#listeners.has(event);
  }

  /** Calls every listener of `event` with `payload`. */
  protected emit<E extends keyof M>(event: E, payload: M[E]): void {
    const list = this.#listeners.get(event) as Listener<M[E]>[] | undefined;
    if (list === undefined) return;
    for (const listener of list) {
      try {
        listener(payload);
      } catch (error) {
        this.#onListenerError(error);
      }
    }
  }
}

function rethrowAsync(error: unknown): void {
  queueMicrotask(() => {
    throw error;
  });
}
