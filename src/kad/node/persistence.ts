import type { Clock, Milliseconds, Timer } from '../../core/clock.js';
import { bytesEqual, idToHex, type NodeId } from '../id.js';
import type { AddressFamily } from '../wire/compact.js';
import type { FamilyStack } from './family-stack.js';
import type { KadNodeEvents } from './operation-types.js';
import { Publications, type PublicationsOptions } from './publications.js';
import { decodeState, encodeState, type SavedContact, type SavedState } from './state-format.js';
import { FileStateStore, type StateStore } from './state-store.js';

/** Defaults of the state options of a node (`stateDir`, `stateStore`, `stateSaveIntervalMs`). */
export const DEFAULT_KAD_NODE_STATE_OPTIONS = Object.freeze({
  /** A table changes slowly; a write of a few tens of KiB once a minute costs nothing. */
  stateSaveIntervalMs: 60_000,
});

/** What a node found in its state store at start. @internal */
export type StateLoad =
  | { readonly kind: 'none' }
  | {
      readonly kind: 'restored';
      readonly state: SavedState;
      /** The saved publications, checked (signatures, targets), when the state had them. */
      readonly publications: Publications | undefined;
    }
  | { readonly kind: 'discarded'; readonly event: KadNodeEvents['state:discarded'] };

/**
 * Reads the saved state of a node. A file that is damaged, of another version, unreadable or
 * (when `id` is given) of another id is set aside and reported, never thrown; only an abort of
 * `signal` rejects. @internal
 */
export async function loadState(
  store: StateStore,
  init: {
    readonly id: NodeId | undefined;
    readonly clock: Clock;
    readonly signal: AbortSignal | undefined;
    /** Intervals of the book of publications read back. */
    readonly publications?: PublicationsOptions | undefined;
  },
): Promise<StateLoad> {
  const { signal } = init;
  const options = signal === undefined ? {} : { signal };
  let bytes: Uint8Array | undefined;
  let decoded: ReturnType<typeof decodeState>;
  try {
    bytes = await store.read(options);
    if (bytes === undefined) return { kind: 'none' };
    decoded = decodeState(bytes);
  } catch (error) {
    signal?.throwIfAborted();
    decoded = { ok: false, reason: 'unreadable', detail: (error as Error).message };
  }
  if (decoded.ok) {
    const { state } = decoded;
    if (init.id !== undefined && !bytesEqual(init.id, state.id)) {
      decoded = { ok: false, reason: 'other-id', detail: `saved by ${idToHex(state.id)}, not ${idToHex(init.id)}` };
    } else {
      try {
        const publications =
          state.publications === undefined
            ? undefined
            : Publications.fromJSON(state.publications, init.publications ?? {}, { clock: init.clock });
        return { kind: 'restored', state, publications };
      } catch (error) {
        // CORRUPT_STATE: an item whose signature or target is wrong, an entry out of shape
        decoded = { ok: false, reason: 'corrupt', detail: (error as Error).message };
      }
    }
  }
  const { reason, detail } = decoded;
  let keptAs: string | undefined;
  let why = detail;
  try {
    keptAs = await store.setAside(`${reason}-${init.clock.now()}`, options);
  } catch (error) {
    signal?.throwIfAborted();
    why = `${detail}; could not set it aside: ${(error as Error).message}`;
  }
  return { kind: 'discarded', event: { reason, detail: why, keptAs } };
}

/**
 * The state store the options ask for (`stateStore`, or a {@link FileStateStore} on `stateDir`)
 * and what it holds, or `undefined` without either. @internal
 */
export async function openState(
  options: {
    readonly stateDir?: string;
    readonly stateStore?: StateStore;
    readonly id?: NodeId;
    readonly maintenance?: PublicationsOptions;
  },
  clock: Clock,
  signal: AbortSignal | undefined,
): Promise<{ readonly store: StateStore; readonly loaded: StateLoad } | undefined> {
  const store =
    options.stateStore ?? (options.stateDir === undefined ? undefined : new FileStateStore(options.stateDir));
  if (store === undefined) return undefined;
  const loaded = await loadState(store, { id: options.id, clock, signal, publications: options.maintenance });
  return { store, loaded };
}

/** What a {@link NodePersistence} works on. @internal */
export interface NodePersistenceInit {
  readonly store: StateStore;
  readonly clock: Clock;
  readonly intervalMs: Milliseconds;
  readonly id: NodeId;
  readonly stacks: readonly FamilyStack[];
  /** The node's book of what it published: saved with the tables. */
  readonly publications: Publications;
  readonly loaded: StateLoad;
  readonly emit: <E extends keyof KadNodeEvents>(event: E, payload: KadNodeEvents[E]) => void;
}

/**
 * The saved state of a running node: puts the saved contacts back into the routing tables at
 * start, then writes id, tables and publications every `intervalMs` and on close (one write at
 * a time; a failed write is a `state:error` event, and the next one tries again). @internal
 */
export class NodePersistence {
  readonly #init: NodePersistenceInit;
  #timer: Timer | undefined;
  #writing: Promise<void> = Promise.resolve();
  /** A write queued behind the one in flight: later callers share it. */
  #queued: Promise<void> | undefined;
  #closed = false;

  constructor(init: NodePersistenceInit) {
    this.#init = init;
  }

  /** Puts the saved contacts of each family the node runs into its table. @returns how many went in. */
  restore(): number {
    const { loaded, stacks } = this.#init;
    if (loaded.kind !== 'restored') return 0;
    let restored = 0;
    for (const stack of stacks) {
      const saved = [...(loaded.state.contacts[stack.family] ?? [])].sort((a, b) => a.lastSeen - b.lastSeen);
      for (const c of saved) {
        const contact = { id: c.id, host: c.host, port: c.port };
        if (stack.table.table.restore(contact, c.lastSeen).status === 'added') restored++;
      }
    }
    return restored;
  }

  /** Reports what was found at start (just after `createNode` resolves) and starts the periodic writes. */
  start(restored: number): void {
    const { loaded, clock, emit } = this.#init;
    // on the node's clock, so a listener added right after `await createNode()` hears it
    clock.setTimeout(() => {
      if (loaded.kind === 'discarded') emit('state:discarded', loaded.event);
      if (loaded.kind === 'restored') {
        const publications = loaded.publications?.size ?? 0;
        emit('state:restored', { savedAt: loaded.state.savedAt, contacts: restored, publications });
      }
    }, 0);
    this.#arm();
  }

  /** Writes the state now (after any write in flight); nothing once closed. Never rejects: failures are `state:error` events. */
  save(): Promise<void> {
    return this.#closed ? this.#writing : this.#save();
  }

  #save(): Promise<void> {
    if (this.#queued !== undefined) return this.#queued;
    const next = this.#writing.then(async () => {
      this.#queued = undefined;
      try {
        await this.#init.store.write(encodeState(this.snapshot()));
      } catch (error) {
        this.#init.emit('state:error', { error: error instanceof Error ? error : new Error(String(error)) });
      }
    });
    this.#queued = next;
    this.#writing = next;
    return next;
  }

  /** The state as it would be written now. */
  snapshot(): SavedState {
    const contacts: Partial<Record<AddressFamily, SavedContact[]>> = {};
    for (const stack of this.#init.stacks) {
      const table = stack.table.table;
      const live = [...table.contacts()].filter((c) => table.state(c) !== 'bad');
      contacts[stack.family] = live
        .sort((a, b) => a.lastSeen - b.lastSeen)
        .map((c) => ({ id: c.id, host: c.host, port: c.port, lastSeen: c.lastSeen }));
    }
    return {
      id: this.#init.id,
      savedAt: this.#init.clock.now(),
      contacts,
      publications: this.#init.publications.toJSON(),
    };
  }

  /** Stops the periodic writes and writes a last time. */
  async close(): Promise<void> {
    if (this.#closed) return this.#writing;
    this.#closed = true;
    this.#timer?.cancel();
    await this.#save();
  }

  #arm(): void {
    if (this.#closed) return;
    this.#timer = this.#init.clock.setTimeout(() => {
      void this.#save().then(() => this.#arm());
    }, this.#init.intervalMs);
  }
}
