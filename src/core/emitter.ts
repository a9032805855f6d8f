/** A listener for one event of a map `M`. */
export type Listener<T> = (event: T) => void;

/**
 * A small typed event emitter. A listener that throws does not interrupt the operation that
 * emitted (the store stays consistent); its error is rethrown on a later microtask, where it
 * surfaces as an uncaught exception like any other bug.
 */
export class Emitter<M extends object> {
  // created with the first listener: hundreds of emitters (one per node, table, transport…)
  // without listeners cost no map
  #listeners: Map<keyof M, Listener<never>[]> | undefined;
  readonly #onListenerError: (error: unknown) => void;

  /** @param onListenerError where errors thrown by listeners go; default: rethrown on a microtask */
  constructor(onListenerError: (error: unknown) => void = rethrowAsync) {
    this.#onListenerError = onListenerError;
  }

  /** Adds `listener` for `event`. */
  on<E extends keyof M>(event: E, listener: Listener<M[E]>): this {
    const listeners = (this.#listeners ??= new Map<keyof M, Listener<never>[]>());
    const list = listeners.get(event);
    // copy-on-write, so an emit in progress is not affected by (un)subscribing
    listeners.set(event, list === undefined ? [listener] : [...list, listener]);
    return this;
  }

  /** Removes one registration of `listener` for `event`. */
  off<E extends keyof M>(event: E, listener: Listener<M[E]>): this {
    const listeners = this.#listeners;
    const list = listeners?.get(event);
    if (listeners === undefined || list === undefined) return this;
    const index = list.lastIndexOf(listener);
    if (index === -1) return this;
    const next = list.filter((_, i) => i !== index);
    if (next.length === 0) listeners.delete(event);
    else listeners.set(event, next);
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
    return this.#listeners?.get(event)?.length ?? 0;
  }

  /** Whether anything listens to `event`; cheap enough to guard building a payload. */
  protected listening(event: keyof M): boolean {
    return this.#listeners?.has(event) ?? false;
  }

  /** Calls every listener of `event` with `payload`. */
  protected emit<E extends keyof M>(event: E, payload: M[E]): void {
    const list = this.#listeners?.get(event) as Listener<M[E]>[] | undefined;
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
