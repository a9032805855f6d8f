import { isRegistryError, RegistryError } from '../errors.js';
import type { Registry } from '../registry.js';
import { integerOption, stringOption } from '../validation.js';
import { AuditChain, type AuditEvent, type ChainHead, GENESIS_HASH, parseLine } from './chain.js';
import { type AuditSink, type CheckpointOptions, checkpointSigner } from './sink.js';

/** Options of {@link RegistryAuditSink.open}. */
export interface RegistryAuditSinkOptions {
  /** Where the log lives (Redis, etcd…: any registry several writers share). */
  readonly registry: Registry<Uint8Array>;
  /** Key prefix of the log: entries are `<prefix><seq, 16 digits>`, the head hint `<prefix>head`. @default 'audit:' */
  readonly prefix?: string | undefined;
  /** Sign the chain head periodically. */
  readonly checkpoint?: CheckpointOptions | undefined;
  /** Times one entry is chained again after other writers took its seq, before `AUDIT_FAILED`. @default 32 */
  readonly maxRetries?: number | undefined;
}

/** The defaults of {@link RegistryAuditSinkOptions}. */
export const DEFAULT_REGISTRY_AUDIT_SINK_OPTIONS = Object.freeze({ prefix: 'audit:', maxRetries: 32 });

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const SEQ_DIGITS = 16;
const CATCH_UP_BATCH = 64;

/**
 * An audit log kept in a registry, shared by every writer that opens it with the same prefix:
 * each entry is created with compare-and-set "only if absent" under its seq, so two writers
 * never take one seq; a writer that loses the race reads the entries it missed and chains
 * its entry after them. The log is as durable as the registry's writes.
 */
export class RegistryAuditSink implements AuditSink {
  readonly #registry: Registry<Uint8Array>;
  readonly #prefix: string;
  readonly #chain: AuditChain;
  readonly #maxRetries: number;
  #tail: Promise<void> = Promise.resolve();
  #failure: RegistryError | undefined;

  private constructor(registry: Registry<Uint8Array>, prefix: string, chain: AuditChain, maxRetries: number) {
    this.#registry = registry;
    this.#prefix = prefix;
    this.#chain = chain;
    this.#maxRetries = maxRetries;
  }

  /** Opens the log under `prefix`, continuing its chain. @throws {RegistryError} `INVALID_OPTION`, `AUDIT_FAILED`. */
  static async open(options: RegistryAuditSinkOptions): Promise<RegistryAuditSink> {
    const { registry } = options;
    if (typeof registry !== 'object' || registry === null || typeof registry.set !== 'function') {
      throw RegistryError.invalidOptionValue('registry', 'a Registry', registry);
    }
    const defaults = DEFAULT_REGISTRY_AUDIT_SINK_OPTIONS;
    const prefix = stringOption('prefix', options.prefix, defaults.prefix);
    const maxRetries = integerOption('maxRetries', options.maxRetries, defaults.maxRetries, { min: 0 });
    const sink = new RegistryAuditSink(
      registry,
      prefix,
      new AuditChain({ seq: 0, hash: GENESIS_HASH }, checkpointSigner(options.checkpoint)),
      maxRetries,
    );
    try {
      const hint = await registry.get(`${prefix}head`);
      const seq = hint === undefined ? 0 : Number(decoder.decode(hint.value));
      await sink.#catchUp(Number.isSafeInteger(seq) && seq > 0 ? seq : 0);
    } catch (cause) {
      throw RegistryError.auditFailed(`cannot read the audit log under "${prefix}"`, cause);
    }
    return sink;
  }

  get failure(): RegistryError | undefined {
    return this.#failure;
  }

  /** The key of the entry at `seq`. */
  keyOf(seq: number): string {
    return `${this.#prefix}${String(seq).padStart(SEQ_DIGITS, '0')}`;
  }

  append(events: readonly AuditEvent[]): Promise<void> {
    return this.#serial(async () => {
      for (const event of events) await this.#appendOne(() => this.#chain.append([event]));
      await this.#registry
        .set(`${this.#prefix}head`, encoder.encode(String(this.#chain.head.seq)))
        .catch(() => undefined);
    });
  }

  checkpoint(time: number): Promise<void> {
    return this.#serial(() => this.#appendOne(() => [this.#chain.checkpoint(time)]));
  }

  async close(): Promise<void> {
    await this.#tail.catch(() => undefined);
  }

  #serial(work: () => Promise<void>): Promise<void> {
    const run = this.#tail.then(async () => {
      if (this.#failure !== undefined) throw this.#failure;
      try {
        await work();
      } catch (cause) {
        this.#failure = isRegistryError(cause, 'AUDIT_FAILED')
          ? cause
          : RegistryError.auditFailed(`the audit log cannot be written: ${(cause as Error).message}`, cause);
        throw this.#failure;
      }
    });
    this.#tail = run.catch(() => undefined);
    return run;
  }

  /** Writes the lines `chain()` makes (an entry, maybe a checkpoint), chaining again after a lost race. */
  async #appendOne(chain: () => string[]): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      const [entry, checkpoint] = chain();
      const head = this.#chain.head;
      const entrySeq = checkpoint === undefined ? head.seq : head.seq - 1;
      try {
        await this.#registry.set(this.keyOf(entrySeq), encoder.encode(entry), { ifVersion: 0 });
      } catch (error) {
        if (!isRegistryError(error, 'VERSION_CONFLICT') || attempt >= this.#maxRetries) throw error;
        await this.#catchUp(entrySeq - 1);
        continue;
      }
      if (checkpoint === undefined) return;
      try {
        await this.#registry.set(this.keyOf(head.seq), encoder.encode(checkpoint), { ifVersion: 0 });
      } catch (error) {
        // another writer came first: its entry follows ours, the checkpoint waits for the next turn
        if (!isRegistryError(error, 'VERSION_CONFLICT')) throw error;
        await this.#catchUp(entrySeq);
      }
      return;
    }
  }

  /** Moves the chain to the last entry written, reading forward from the one at `from` (0: the start). */
  async #catchUp(from: number): Promise<void> {
    let head: ChainHead = { seq: 0, hash: GENESIS_HASH };
    let seq = from;
    if (from > 0) {
      const known = await this.#registry.get(this.keyOf(from));
      if (known === undefined) seq = 0;
      else head = this.#headOf(known.value);
    }
    for (;;) {
      const keys = Array.from({ length: CATCH_UP_BATCH }, (_, i) => this.keyOf(seq + 1 + i));
      const records = await this.#registry.getMany(keys);
      const found = records.findIndex((r) => r === undefined);
      for (const record of found === -1 ? records : records.slice(0, found)) {
        if (record !== undefined) head = this.#headOf(record.value);
      }
      if (found !== -1) break;
      seq += CATCH_UP_BATCH;
    }
    this.#chain.reset(head);
  }

  #headOf(bytes: Uint8Array): ChainHead {
    const { entry, problem } = parseLine(decoder.decode(bytes));
    if (entry === undefined || problem !== undefined) {
      throw RegistryError.auditFailed(`an entry of the audit log under "${this.#prefix}" is not valid: verify the log`);
    }
    return { seq: entry.seq, hash: entry.hash };
  }
}

/**
 * The log under `prefix` of `registry` as JSON-lines text, in seq order, for `verifyAuditLog`
 * (every entry key the scan finds, so a gap shows as removed entries).
 */
export async function readRegistryAuditLog(registry: Registry<Uint8Array>, prefix = 'audit:'): Promise<string> {
  const lines: [string, string][] = [];
  const entryKey = new RegExp(`^\\d{${SEQ_DIGITS}}$`);
  for await (const record of registry.scan({ prefix })) {
    if (entryKey.test(record.key.slice(prefix.length))) lines.push([record.key, decoder.decode(record.value)]);
  }
  lines.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return lines.map(([, line]) => `${line}\n`).join('');
}
