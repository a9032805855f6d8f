import type { StateStore, StateStoreCallOptions } from '../kad/node/state-store.js';

/**
 * A {@link StateStore} in memory, for restart tests on a `MemoryNetwork`: pass the same store to
 * the node and to its restarted successor (`createNode({ stateStore })`). It keeps what was set
 * aside, and can be made to fail.
 */
export class MemoryStateStore implements StateStore {
  /** The saved bytes, as the last write left them (replace them to test a damaged state). */
  data: Uint8Array | undefined;
  /** What `setAside` moved away, by tag, oldest first. */
  readonly asides = new Map<string, Uint8Array>();
  /** Writes that completed. */
  writes = 0;
  /** When set, every call rejects with it (a full or unreadable disk). */
  failWith: Error | undefined;

  constructor(data?: Uint8Array) {
    this.data = data;
  }

  async read(options: StateStoreCallOptions = {}): Promise<Uint8Array | undefined> {
    options.signal?.throwIfAborted();
    if (this.failWith !== undefined) throw this.failWith;
    return this.data === undefined ? undefined : Uint8Array.from(this.data);
  }

  async write(data: Uint8Array, options: StateStoreCallOptions = {}): Promise<void> {
    options.signal?.throwIfAborted();
    if (this.failWith !== undefined) throw this.failWith;
    this.data = Uint8Array.from(data);
    this.writes++;
  }

  async setAside(tag: string, options: StateStoreCallOptions = {}): Promise<string | undefined> {
    options.signal?.throwIfAborted();
    if (this.failWith !== undefined) throw this.failWith;
    if (this.data === undefined) return undefined;
    this.asides.set(tag, this.data);
    this.data = undefined;
    return `memory:${tag}`;
  }

  /** The saved state as text (it is JSON), or `undefined`. */
  text(): string | undefined {
    return this.data === undefined ? undefined : new TextDecoder().decode(this.data);
  }
}
