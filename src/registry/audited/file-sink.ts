import { type FileHandle, open } from 'node:fs/promises';
import { type Clock, systemClock, type Milliseconds } from '../../core/clock.js';
import { RegistryError } from '../errors.js';
import { integerOption, oneOfOption } from '../validation.js';
import { AuditChain, type AuditEvent, type ChainHead, GENESIS_HASH, parseLine } from './chain.js';
import { type AuditSink, type CheckpointOptions, checkpointSigner } from './sink.js';

/**
 * When a file sink forces its writes to the disk (`fdatasync`) before acknowledging:
 * - `always`: every batch of entries is synced before its changes are acknowledged: nothing
 *   acknowledged is lost even if the machine loses power;
 * - `interval`: a batch is synced when `fsyncIntervalMs` passed since the last sync (checked
 *   on each batch, and on close); an acknowledged entry is in the kernel (it survives a crash
 *   of the process, kill -9 included) but up to that long of them can be lost with the machine;
 * - `never`: left to the OS; same guarantee against a process crash.
 */
export type FsyncPolicy = 'always' | 'interval' | 'never';

/** Options of {@link FileAuditSink.open}. */
export interface FileAuditSinkOptions {
  /** The JSON-lines file; created if absent, continued (its chain too) if present. */
  readonly path: string;
  /** @default 'always' */
  readonly fsync?: FsyncPolicy | undefined;
  /** Longest time between syncs with `fsync: 'interval'`, ms. @default 1000 */
  readonly fsyncIntervalMs?: Milliseconds | undefined;
  /** Sign the chain head periodically. */
  readonly checkpoint?: CheckpointOptions | undefined;
  /** Time of the checkpoints' interval checks. @default systemClock */
  readonly clock?: Clock | undefined;
}

/** The defaults of {@link FileAuditSinkOptions}. */
export const DEFAULT_FILE_AUDIT_SINK_OPTIONS = Object.freeze({ fsync: 'always', fsyncIntervalMs: 1000 });

interface Pending {
  readonly lines: string[];
  readonly resolve: () => void;
  readonly reject: (error: RegistryError) => void;
}

/** How much of a file's end is read to find its last entry, bytes (more if one line is longer). */
const TAIL_CHUNK_BYTES = 64 * 1024;

/**
 * An append-only JSON-lines audit log file (see `verifyAuditLog` for what can be proved from it).
 * Appends that arrive while a write is in progress are written (and synced) together: one
 * `write` and at most one `fdatasync` per batch. Opening a file whose last line was cut short
 * by a crash drops that line (it was never acknowledged) and continues the chain from the entry
 * before it.
 */
export class FileAuditSink implements AuditSink {
  readonly #file: FileHandle;
  readonly #chain: AuditChain;
  readonly #fsync: FsyncPolicy;
  readonly #intervalMs: number;
  readonly #clock: Clock;
  #queue: Pending[] = [];
  #writing = false;
  #lastSync: number;
  #failure: RegistryError | undefined;
  #closed = false;

  private constructor(file: FileHandle, chain: AuditChain, fsync: FsyncPolicy, intervalMs: number, clock: Clock) {
    this.#file = file;
    this.#chain = chain;
    this.#fsync = fsync;
    this.#intervalMs = intervalMs;
    this.#clock = clock;
    this.#lastSync = clock.now();
  }

  /**
   * Opens (or creates) the log at `options.path`.
   * @throws {RegistryError} `INVALID_OPTION` for bad options; `AUDIT_FAILED` when the file cannot
   *   be opened or its last complete line is not an entry (verify it: it may have been tampered with).
   */
  static async open(options: FileAuditSinkOptions): Promise<FileAuditSink> {
    const fsync = oneOfOption('fsync', options.fsync, DEFAULT_FILE_AUDIT_SINK_OPTIONS.fsync, [
      'always',
      'interval',
      'never',
    ]);
    const intervalMs = integerOption(
      'fsyncIntervalMs',
      options.fsyncIntervalMs,
      DEFAULT_FILE_AUDIT_SINK_OPTIONS.fsyncIntervalMs,
    );
    const signer = checkpointSigner(options.checkpoint);
    if (typeof options.path !== 'string' || options.path === '') {
      throw RegistryError.invalidOptionValue('path', 'a file path', options.path);
    }
    let file: FileHandle;
    try {
      file = await open(options.path, 'a+');
    } catch (cause) {
      throw RegistryError.auditFailed(`cannot open the audit log ${options.path}`, cause);
    }
    try {
      const head = await readHead(file, options.path);
      return new FileAuditSink(file, new AuditChain(head, signer), fsync, intervalMs, options.clock ?? systemClock);
    } catch (error) {
      await file.close();
      throw error;
    }
  }

  get failure(): RegistryError | undefined {
    return this.#failure;
  }

  /** The last entry chained (written or about to be). */
  get head(): ChainHead {
    return this.#chain.head;
  }

  append(events: readonly AuditEvent[]): Promise<void> {
    if (this.#closed) return Promise.reject(RegistryError.auditFailed('the audit log is closed'));
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    return this.#enqueue(this.#chain.append(events));
  }

  async checkpoint(time: number): Promise<void> {
    if (this.#failure !== undefined) throw this.#failure;
    return this.#enqueue([this.#chain.checkpoint(time)]);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    while (this.#writing || this.#queue.length > 0) await this.#drain();
    try {
      if (this.#failure === undefined && this.#fsync !== 'never') await this.#file.datasync();
    } finally {
      await this.#file.close();
    }
  }

  #enqueue(lines: string[]): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ lines, resolve, reject });
      if (!this.#writing) void this.#drain();
    });
  }

  async #drain(): Promise<void> {
    if (this.#writing) return;
    this.#writing = true;
    try {
      while (this.#queue.length > 0) {
        const batch = this.#queue;
        this.#queue = [];
        if (this.#failure !== undefined) {
          for (const p of batch) p.reject(this.#failure);
          continue;
        }
        try {
          await writeAll(this.#file, Buffer.from(`${batch.flatMap((p) => p.lines).join('\n')}\n`));
          if (this.#fsync === 'always' || (this.#fsync === 'interval' && this.#dueForSync())) {
            await this.#file.datasync();
            this.#lastSync = this.#clock.now();
          }
          for (const p of batch) p.resolve();
        } catch (cause) {
          this.#failure = RegistryError.auditFailed(
            `the audit log cannot be written: ${(cause as Error).message}`,
            cause,
          );
          for (const p of batch) p.reject(this.#failure);
        }
      }
    } finally {
      this.#writing = false;
    }
  }

  #dueForSync(): boolean {
    return this.#clock.now() - this.#lastSync >= this.#intervalMs;
  }
}

async function writeAll(file: FileHandle, data: Buffer): Promise<void> {
  let offset = 0;
  while (offset < data.length) {
    const { bytesWritten } = await file.write(data, offset, data.length - offset);
    offset += bytesWritten;
  }
}

/** The head of the chain in `file`: its last complete line, after dropping a torn tail. */
async function readHead(file: FileHandle, path: string): Promise<ChainHead> {
  const { size } = await file.stat();
  if (size === 0) return { seq: 0, hash: GENESIS_HASH };
  let start = size;
  let tail = Buffer.alloc(0);
  // read backwards until the text holds the last newline and the one before it (or the start)
  for (;;) {
    const length = Math.min(TAIL_CHUNK_BYTES, start);
    start -= length;
    const chunk = Buffer.alloc(length);
    await file.read(chunk, 0, length, start);
    tail = Buffer.concat([chunk, tail]);
    const lastNewline = tail.lastIndexOf(0x0a);
    const previous = lastNewline <= 0 ? -1 : tail.lastIndexOf(0x0a, lastNewline - 1);
    if ((lastNewline !== -1 && previous !== -1) || start === 0) break;
  }
  const lastNewline = tail.lastIndexOf(0x0a);
  if (lastNewline !== tail.length - 1) {
    // a torn last line: a write the crash cut short, never acknowledged
    await file.truncate(start + lastNewline + 1);
  }
  if (lastNewline === -1) return { seq: 0, hash: GENESIS_HASH };
  const previous = lastNewline === 0 ? -1 : tail.lastIndexOf(0x0a, lastNewline - 1);
  const { entry, problem } = parseLine(tail.subarray(previous + 1, lastNewline).toString('utf8'));
  if (entry === undefined || problem !== undefined) {
    throw RegistryError.auditFailed(
      `the last entry of ${path} is not valid (${problem ?? 'unreadable'}): verify the log`,
    );
  }
  return { seq: entry.seq, hash: entry.hash };
}
