/**
 * Decides whether a record read from (or written to) the far tier may be copied into the near
 * tier: only if no write of that key through this tier was in flight meanwhile, and no other
 * write or invalidation of it ended meanwhile — else the copy could be older than what the far
 * tier holds, and the near copy is dropped instead. Per-key state lives only while something
 * on the key is in flight. @internal
 */
export class FillGuard {
  readonly #keys = new Map<string, { writes: number; loads: number; epoch: number }>();

  /** Marks the start of a write; pass the token to {@link endWrite}. */
  beginWrite(key: string): number {
    const state = this.#state(key);
    state.writes++;
    return state.epoch;
  }

  /** Ends a write; whether its record may fill the near tier. */
  endWrite(key: string, token: number): boolean {
    const state = this.#state(key);
    state.writes--;
    state.epoch++;
    const fill = state.writes === 0 && state.epoch === token + 1;
    this.#release(key, state);
    return fill;
  }

  /** Marks the start of a far read; pass the token to {@link endLoad}. */
  beginLoad(key: string): number {
    const state = this.#state(key);
    state.loads++;
    return state.writes > 0 ? -1 : state.epoch;
  }

  /** Ends a far read; whether its result may fill the near tier. */
  endLoad(key: string, token: number): boolean {
    const state = this.#state(key);
    state.loads--;
    const fill = token !== -1 && state.writes === 0 && state.epoch === token;
    this.#release(key, state);
    return fill;
  }

  /** A change from elsewhere: reads and writes in flight on `key` (all keys: `undefined`) must not fill. */
  invalidate(key: string | undefined): void {
    if (key === undefined) for (const state of this.#keys.values()) state.epoch++;
    else {
      const state = this.#keys.get(key);
      if (state !== undefined) state.epoch++;
    }
  }

  #state(key: string): { writes: number; loads: number; epoch: number } {
    let state = this.#keys.get(key);
    if (state === undefined) {
      state = { writes: 0, loads: 0, epoch: 0 };
      this.#keys.set(key, state);
    }
    return state;
  }

  #release(key: string, state: { writes: number; loads: number }): void {
    if (state.writes === 0 && state.loads === 0) this.#keys.delete(key);
  }
}
