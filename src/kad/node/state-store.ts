import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { mkdir, open, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { MAX_STATE_BYTES } from './state-format.js';

/** Options of every {@link StateStore} call. */
export interface StateStoreCallOptions {
  /** Aborts the call: it rejects with `signal.reason`. */
  readonly signal?: AbortSignal;
}

/**
 * Where a node keeps its saved state (id, routing table, publications): the only file I/O a
 * node does, injected like its `Transport` so tests can keep the state in memory
 * (`MemoryStateStore` in `nautilus/testing`). The default, from the `stateDir` option, is
 * {@link FileStateStore}.
 */
export interface StateStore {
  /** The saved bytes, or `undefined` when nothing was saved yet. */
  read(options?: StateStoreCallOptions): Promise<Uint8Array | undefined>;
  /** Replaces the saved bytes atomically: a crash leaves the old state or the new one, never a mix. */
  write(data: Uint8Array, options?: StateStoreCallOptions): Promise<void>;
  /**
   * Moves the saved bytes aside under `tag` (kept for inspection, never read again), so the next
   * `read` finds nothing. Resolves with where they went, or `undefined` when nothing was saved.
   */
  setAside(tag: string, options?: StateStoreCallOptions): Promise<string | undefined>;
}

/** Name of the state file in its directory. */
export const STATE_FILE_NAME = 'kad-state.json';

/**
 * A {@link StateStore} on one file, `<dir>/kad-state.json`, written atomically: to a temporary
 * file in the same directory, flushed to disk (fsync), renamed over the old one, and the
 * directory flushed so the rename itself survives a power cut. A set-aside file is renamed to
 * `kad-state.json.<tag>` beside it. The directory is created on the first write (mode 0700, the
 * file 0600); one directory belongs to one node at a time.
 */
export class FileStateStore implements StateStore {
  /** The directory. */
  readonly dir: string;
  /** The state file's path. */
  readonly path: string;
  readonly #temporary: string;

  constructor(dir: string) {
    this.dir = dir;
    this.path = join(dir, STATE_FILE_NAME);
    this.#temporary = `${this.path}.tmp`;
  }

  /**
   * Reads the file synchronously, once, at start: a state file is a few tens of KiB, and the
   * four thread-pool round trips of an asynchronous read (open, stat, read, close) were a good
   * part of a warm restart on a busy machine, each waiting for the event loop to come round.
   * At most {@link MAX_STATE_BYTES} + 1 bytes are read: a larger file is refused as corrupt
   * whatever its length.
   */
  async read(options: StateStoreCallOptions = {}): Promise<Uint8Array | undefined> {
    options.signal?.throwIfAborted();
    let fd: number;
    try {
      fd = openSync(this.path, 'r');
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
    try {
      const bytes = new Uint8Array(Math.min(fstatSync(fd).size, MAX_STATE_BYTES + 1));
      let length = 0;
      while (length < bytes.length) {
        const read = readSync(fd, bytes, length, bytes.length - length, length);
        if (read === 0) break;
        length += read;
      }
      return bytes.subarray(0, length);
    } finally {
      closeSync(fd);
    }
  }

  async write(data: Uint8Array, options: StateStoreCallOptions = {}): Promise<void> {
    const { signal } = options;
    signal?.throwIfAborted();
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const file = await open(this.#temporary, 'w', 0o600);
    try {
      try {
        await file.writeFile(data, signal === undefined ? {} : { signal });
        await file.sync();
      } finally {
        await file.close();
      }
      signal?.throwIfAborted();
      await rename(this.#temporary, this.path);
    } catch (error) {
      await unlink(this.#temporary).catch(() => undefined);
      throw error;
    }
    await syncDirectory(this.dir);
  }

  async setAside(tag: string, options: StateStoreCallOptions = {}): Promise<string | undefined> {
    options.signal?.throwIfAborted();
    const aside = `${this.path}.${tag.replace(/[^\w-]/g, '_')}`;
    try {
      await rename(this.path, aside);
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
    await syncDirectory(this.dir);
    return aside;
  }
}

/** Flushes a directory's entries (a rename in it) to disk; a no-op where directories cannot be opened (Windows). */
async function syncDirectory(dir: string): Promise<void> {
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch {
    // EISDIR / EPERM on platforms without directory fsync: the rename is still atomic
  } finally {
    await handle?.close();
  }
}

function isMissing(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | null)?.code === 'ENOENT';
}
